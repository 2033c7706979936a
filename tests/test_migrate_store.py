"""`openpinpoint migrate-store`: copying a populated store to another backend and back."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from conftest import STORES, RunningServer, new_store_url, run_cli, sqlite_url
from openpinpoint.store import copy
from openpinpoint.store.base import (
    ATTRIBUTE_KINDS,
    SERVER_SCOPE,
    App,
    ReadTx,
    Resource,
    StoredEndpoint,
    WriteTx,
)
from openpinpoint.store.copy import PAGE, all_apps
from openpinpoint.store.open import open_store

T = TypeVar("T")

# More endpoints than one copy page, so that paging is exercised.
BIG_APP_ENDPOINTS = PAGE + 100


def migrate(source: str, target: str) -> subprocess.CompletedProcess[str]:
    return run_cli("migrate-store", "--from", source, "--to", target)


def populate(url: str) -> None:
    """Apps with tags, endpoints of every kind, users with attributes, and an attribute-name
    registry that differs from what the endpoints hold (a name removed, values kept)."""
    server = RunningServer(url)
    client = server.client()
    try:
        apps = [
            client.create_app(CreateApplicationRequest={"Name": name, "tags": tags})[
                "ApplicationResponse"
            ]["Id"]
            for name, tags in [("big", {"team": "growth", "env": "prod"}), ("small", {}), ("x", {})]
        ]
        big, small, _empty = apps
        for start in range(0, BIG_APP_ENDPOINTS, 100):
            client.update_endpoints_batch(
                ApplicationId=big,
                EndpointBatchRequest={
                    "Item": [
                        {
                            "Id": f"Endpoint-{n:04d}",
                            "ChannelType": "GCM" if n % 2 else "EMAIL",
                            "Address": f"address-{n % 250}",
                            "Attributes": {"plan": [f"p{n % 3}"], "obsolete": ["yes"]},
                            "Metrics": {"score": n / 7},
                            "Location": {"City": "Lyon", "Latitude": 45.76},
                            "User": {"UserId": f"user-{n // 10}"},
                        }
                        for n in range(start, min(start + 100, BIG_APP_ENDPOINTS))
                    ]
                },
            )
        client.update_endpoint(
            ApplicationId=big,
            EndpointId="Endpoint-0001",
            EndpointRequest={"User": {"UserAttributes": {"tier": ["gold", "vip"]}}},
        )
        client.remove_attributes(
            ApplicationId=big,
            AttributeType="endpoint-custom-attributes",
            UpdateAttributesRequest={"Blacklist": ["obsolete"]},
        )
        client.update_endpoint(
            ApplicationId=small,
            EndpointId="ünïcode-é",
            EndpointRequest={"ChannelType": "SMS", "Address": "+33600000000", "OptOut": "ALL"},
        )
    finally:
        server.stop()
    asyncio.run(put_resources(url, big))


async def put_resources(url: str, app_id: str) -> None:
    """Resources of the server and of an app, with versions (templates, channels and
    segments are kept as such); written to the store directly, to test the copy alone."""
    store = open_store(url)
    try:

        def put(tx: WriteTx) -> None:
            for scope, kind, name, version in [
                (SERVER_SCOPE, "template", "welcome/EMAIL", 1),
                (SERVER_SCOPE, "template", "welcome/EMAIL", 2),
                (app_id, "channel", "email", 0),
                (app_id, "segment", "0123abcd", 1),
            ]:
                doc = f'{{"v": {version}, "text": "é\\u0000"}}'
                resource = Resource(scope=scope, kind=kind, name=name, version=version, doc=doc)
                tx.put_resource(resource)

        await store.write(put)
    finally:
        await store.close()


def dump(url: str) -> dict[str, Any]:
    """Everything a store holds, app by app, in a comparable form."""

    async def read() -> dict[str, Any]:
        store = open_store(url)
        try:
            contents: dict[str, Any] = {}
            for app in await all_apps(store):

                def app_contents(tx: Any, app_id: str = app.id) -> dict[str, Any]:
                    names = {kind: tx.attribute_names(app_id, kind) for kind in ATTRIBUTE_KINDS}
                    return {
                        "names": names,
                        "endpoints": tx.list_endpoints(app_id, "", 10**6),
                        "resources": tx.scope_resources(app_id),
                    }

                contents[app.id] = {"app": app, **await store.read(app_contents)}
            contents["server"] = await store.read(lambda tx: tx.scope_resources(SERVER_SCOPE))
            return contents
        finally:
            await store.close()

    return asyncio.run(read())


@pytest.fixture
def original(tmp_path: Path) -> str:
    """A populated SQLite store."""
    url = sqlite_url(tmp_path / "original.db")
    populate(url)
    return url


@pytest.mark.parametrize("middle", STORES)
def test_round_trip_through_another_store_keeps_everything(
    original: str, middle: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    there = new_store_url(middle, request, tmp_path)
    back = sqlite_url(tmp_path / "back.db")

    forth_run = migrate(original, there)
    assert forth_run.returncode == 0, forth_run.stderr
    back_run = migrate(there, back)
    assert back_run.returncode == 0, back_run.stderr

    expected = dump(original)
    assert len(expected) == 4
    assert len(expected["server"]) == 2
    apps = [contents for key, contents in expected.items() if key != "server"]
    assert sum(len(app["endpoints"]) for app in apps) == BIG_APP_ENDPOINTS + 1
    assert sum(len(app["resources"]) for app in apps) == 2
    assert dump(there) == expected
    assert dump(back) == expected
    assert (
        f"copied and checked 3 applications, {BIG_APP_ENDPOINTS + 1} endpoints, "
        f"{BIG_APP_ENDPOINTS // 10} users, 3 attribute names and 4 templates, channels and "
        "segments (versions counted)" in " ".join(back_run.stderr.split())
    )

    # The copy serves: app order (GetApps) and user lookups are those of the original.
    server = RunningServer(back)
    try:
        client = server.client()
        apps = client.get_apps()["ApplicationsResponse"]["Item"]
        assert [a["Name"] for a in apps] == ["big", "small", "x"]
        assert apps[0]["tags"] == {"team": "growth", "env": "prod"}
        members = client.get_user_endpoints(ApplicationId=apps[0]["Id"], UserId="user-0")
        assert len(members["EndpointsResponse"]["Item"]) == 10
        assert all(
            e["User"]["UserAttributes"] == {"tier": ["gold", "vip"]}
            for e in members["EndpointsResponse"]["Item"]
        )
    finally:
        server.stop()


def stored(url: str, app_id: str) -> list[StoredEndpoint]:
    async def read() -> list[StoredEndpoint]:
        store = open_store(url)
        try:
            return await store.read(lambda tx: tx.list_stored_endpoints(app_id, "", 10**6))
        finally:
            await store.close()

    return asyncio.run(read())


@pytest.mark.parametrize("middle", STORES)
def test_endpoints_move_as_stored_byte_for_byte(
    middle: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Documents are copied as the source holds them, not decoded and encoded again: one
    written with spaces and its keys in an order the encoder would not choose comes out
    the same, as does an address holding NUL (escaped in PostgreSQL's column)."""
    source = sqlite_url(tmp_path / "source.db")
    app = App(id="a" * 32, name="raw", arn="arn", creation_date="2026-01-01T00:00:00Z", tags={})
    endpoints = [
        StoredEndpoint(
            key="e-1",
            user_id="u-1",
            address="+33600000000",
            status="ACTIVE",
            doc='{"ChannelType": "SMS", "Id": "E-1", "EndpointStatus": "ACTIVE",'
            ' "Address": "+33600000000", "User": {"UserId": "u-1"}}',
        ),
        StoredEndpoint(
            key="e-2",
            user_id=None,
            address="nul\x00é",
            status="INACTIVE",
            doc='{"Id":"e-2","Address":"nul\\u0000é","EndpointStatus":"INACTIVE"}',
        ),
    ]

    async def put() -> None:
        store = open_store(source)
        try:

            def write(tx: WriteTx) -> None:
                tx.insert_app(app)
                tx.put_endpoints(app.id, endpoints)

            await store.write(write)
        finally:
            await store.close()

    asyncio.run(put())
    there = new_store_url(middle, request, tmp_path)
    back = sqlite_url(tmp_path / "back.db")
    assert migrate(source, there).returncode == 0
    assert migrate(there, back).returncode == 0

    assert stored(source, app.id) == endpoints
    assert stored(there, app.id) == endpoints
    assert stored(back, app.id) == endpoints


@pytest.mark.parametrize("target_kind", STORES)
def test_refuses_a_target_that_is_not_empty(
    original: str, target_kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    target = new_store_url(target_kind, request, tmp_path)
    assert migrate(original, target).returncode == 0
    before = dump(target)

    again = migrate(original, target)

    assert again.returncode == 1
    assert "is not empty" in again.stderr
    assert dump(target) == before


def test_refuses_a_missing_sqlite_source(tmp_path: Path) -> None:
    result = migrate(sqlite_url(tmp_path / "typo.db"), sqlite_url(tmp_path / "target.db"))
    assert result.returncode == 2
    assert "no SQLite database" in result.stderr
    assert not (tmp_path / "typo.db").exists()


class _Recorded:
    """A store whose page reads, write functions run and writes done are noted in `events`."""

    def __init__(self, url: str, events: list[str]) -> None:
        self._store = open_store(url)
        self.url = url
        self._events = events

    async def read(self, fn: Callable[[ReadTx], T]) -> T:
        found = await self._store.read(fn)
        if isinstance(found, list) and found and isinstance(found[0], StoredEndpoint):
            self._events.append(f"read {found[0].key}")
        return found

    async def scan(self, fn: Callable[[ReadTx], T]) -> T:
        return await self._store.scan(fn)

    async def write(self, fn: Callable[[WriteTx], T]) -> T:
        def noted(tx: WriteTx) -> T:
            result = fn(tx)
            self._events.append("written")
            return result

        result = await self._store.write(noted)
        self._events.append("committed")
        return result

    async def close(self) -> None:
        await self._store.close()


@pytest.mark.parametrize("target_kind", STORES)
def test_the_next_page_is_read_while_the_last_one_commits(
    target_kind: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Once a page's write function has run, the copy reads and prepares the next page
    while the store commits the last (on SQLite an fsync, on a worker thread)."""
    monkeypatch.setattr(copy, "PAGE", 2)
    source_url = sqlite_url(tmp_path / "source.db")
    target_url = new_store_url(target_kind, request, tmp_path)
    app = App(id="a" * 32, name="pages", arn="arn", creation_date="2026-01-01T00:00:00Z", tags={})
    endpoints = [
        StoredEndpoint(f"e{n}", None, None, "ACTIVE", f'{{"Id":"e{n}"}}') for n in range(5)
    ]
    events: list[str] = []

    async def run() -> None:
        source = open_store(source_url)
        try:
            await source.write(lambda tx: tx.insert_app(app))
            await source.write(lambda tx: tx.put_endpoints(app.id, endpoints))
        finally:
            await source.close()
        recorded = _Recorded(source_url, events), _Recorded(target_url, events)
        try:
            await copy.copy_store(*recorded)
        finally:
            for store in recorded:
                await store.close()

    asyncio.run(run())
    assert events[events.index("read e0") :] == [
        "read e0",
        "written",
        "read e2",
        "committed",
        "written",
        "read e4",
        "committed",
        "written",
        "committed",
    ]
