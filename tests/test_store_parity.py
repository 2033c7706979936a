"""Behaviour that a store could get subtly wrong, checked on every store over HTTP."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest

from conftest import STORES, new_store_url, run_cli
from openpinpoint.core.shapes import EndpointResponse, EndpointUser
from openpinpoint.store import postgres, sqlite
from openpinpoint.store.base import stored_endpoint
from openpinpoint.store.open import open_store, sqlite_path


def test_user_endpoints_are_listed_in_byte_order_of_their_ids(client: Any, app_id: str) -> None:
    """Ids compare byte-wise on every store, whatever the database's collation."""
    ids = ["a_1", "z", "a-1", "é", "a1", "a.1"]
    for endpoint_id in ids:
        client.update_endpoint(
            ApplicationId=app_id,
            EndpointId=endpoint_id,
            EndpointRequest={"ChannelType": "SMS", "User": {"UserId": "sorted"}},
        )
    found = client.get_user_endpoints(ApplicationId=app_id, UserId="sorted")
    listed = [e["Id"] for e in found["EndpointsResponse"]["Item"]]
    assert listed == sorted(ids, key=lambda i: i.encode())
    assert listed == ["a-1", "a.1", "a1", "a_1", "z", "é"]


def test_nul_characters_in_addresses_and_attribute_names_are_kept(client: Any, app_id: str) -> None:
    """A JSON string may hold U+0000; PostgreSQL text cannot, so the store escapes it. G5
    still matches the address exactly, and the attribute name comes back unchanged."""
    for endpoint_id in ("first", "second"):
        client.update_endpoint(
            ApplicationId=app_id,
            EndpointId=endpoint_id,
            EndpointRequest={
                "ChannelType": "EMAIL",
                "Address": "a\x00b",
                "Attributes": {"n\x00me": ["v"], "\x01mark": ["w"]},
            },
        )
    client.update_endpoint(
        ApplicationId=app_id,
        EndpointId="other",
        EndpointRequest={"ChannelType": "EMAIL", "Address": "a\x010b"},
    )
    first = client.get_endpoint(ApplicationId=app_id, EndpointId="first")["EndpointResponse"]
    second = client.get_endpoint(ApplicationId=app_id, EndpointId="second")["EndpointResponse"]
    other = client.get_endpoint(ApplicationId=app_id, EndpointId="other")["EndpointResponse"]
    assert (first["Address"], first["EndpointStatus"]) == ("a\x00b", "INACTIVE")
    assert (second["Address"], second["EndpointStatus"]) == ("a\x00b", "ACTIVE")
    assert other["EndpointStatus"] == "ACTIVE"
    assert second["Attributes"] == {"n\x00me": ["v"], "\x01mark": ["w"]}
    removed = client.remove_attributes(
        ApplicationId=app_id,
        AttributeType="endpoint-custom-attributes",
        UpdateAttributesRequest={"Blacklist": ["n*", "\x01*"]},
    )
    assert removed["AttributesResource"]["Attributes"] == ["\x01mark", "n\x00me"]


def test_an_update_sees_its_own_writes_to_the_users_endpoints_before_g5(
    client: Any, app_id: str
) -> None:
    """G3 rewrites the user's other endpoints with the new user attributes before G5 looks
    up the address: an endpoint that both belong to the user and share the address ends
    INACTIVE *with* the new attributes (PostgreSQL reads the address ahead, and must read
    it again after those writes)."""
    for endpoint_id, tier in (("first", "silver"), ("second", "gold")):
        client.update_endpoint(
            ApplicationId=app_id,
            EndpointId=endpoint_id,
            EndpointRequest={
                "ChannelType": "EMAIL",
                "Address": "shared@example.com",
                "User": {"UserId": "u", "UserAttributes": {"tier": [tier]}},
            },
        )
    found = client.get_user_endpoints(ApplicationId=app_id, UserId="u")
    states = {
        e["Id"]: (e["EndpointStatus"], e["User"]["UserAttributes"])
        for e in found["EndpointsResponse"]["Item"]
    }
    assert states == {
        "first": ("INACTIVE", {"tier": ["gold"]}),
        "second": ("ACTIVE", {"tier": ["gold"]}),
    }


@pytest.mark.parametrize("bad_id", ["ab\x00cd", "0" * 31 + "\x00"])
def test_an_application_id_holding_nul_is_not_found(client: Any, bad_id: str) -> None:
    with pytest.raises(client.exceptions.NotFoundException):
        client.get_app(ApplicationId=bad_id)
    with pytest.raises(client.exceptions.NotFoundException):
        client.list_tags_for_resource(
            ResourceArn=f"arn:aws:mobiletargeting:us-east-1:000000000000:apps/{bad_id}"
        )
    with pytest.raises(client.exceptions.NotFoundException):
        client.get_endpoint(ApplicationId=bad_id, EndpointId="e")
    with pytest.raises(client.exceptions.NotFoundException):
        client.get_user_endpoints(ApplicationId=bad_id, UserId="u")


def test_g1_an_unknown_app_is_reported_before_an_invalid_id(client: Any, app_id: str) -> None:
    """GetEndpoint and GetUserEndpoints read the app with the endpoints in one statement;
    the errors keep their order: an unknown app first, then the id, then a missing one."""

    def get_endpoint(app: str) -> Any:
        return client.get_endpoint(ApplicationId=app, EndpointId="bad$id")

    def get_user_endpoints(app: str) -> Any:
        return client.get_user_endpoints(ApplicationId=app, UserId="bad$id")

    for read in (get_endpoint, get_user_endpoints):
        with pytest.raises(client.exceptions.NotFoundException, match="Application"):
            read("f" * 32)
        with pytest.raises(client.exceptions.BadRequestException, match="invalid"):
            read(app_id)
    with pytest.raises(client.exceptions.NotFoundException, match="Endpoint 'none'"):
        client.get_endpoint(ApplicationId=app_id, EndpointId="none")
    with pytest.raises(client.exceptions.NotFoundException, match="User 'none'"):
        client.get_user_endpoints(ApplicationId=app_id, UserId="none")


def _endpoint(endpoint_id: str, n: float) -> EndpointResponse:
    return EndpointResponse(id=endpoint_id, endpoint_status="ACTIVE", metrics={"n": n})


@pytest.mark.parametrize("kind", STORES)
def test_put_endpoints_writes_each_in_order_the_last_of_one_id_winning(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The multi-row write that `migrate-store` uses means the same as one put per endpoint."""
    url = new_store_url(kind, request, tmp_path)
    app = "0" * 32

    async def run() -> list[EndpointResponse]:
        store = open_store(url)
        try:
            page = [
                stored_endpoint(e)
                for e in [_endpoint("a", 1), _endpoint("B", 1), _endpoint("b", 2)]
            ]
            await store.write(lambda tx: tx.put_endpoints(app, page))
            return await store.read(lambda tx: tx.list_endpoints(app, "", 10))
        finally:
            await store.close()

    assert asyncio.run(run()) == [_endpoint("a", 1), _endpoint("b", 2)]


@pytest.mark.parametrize("bulk", [False, True], ids=["locks", "bulk"])
def test_related_endpoints_finds_by_key_user_and_active_address_each_once(
    empty_store_url: str, bulk: bool
) -> None:
    """The read ahead of a run of updates (`core.staged`): any endpoint whose key, user or
    ACTIVE address is asked for, once, NUL included; on PostgreSQL both below and above
    `BULK_ENDPOINTS` keys (the app's lock held exclusively)."""
    app = "0" * 32
    rows = [
        EndpointResponse(id="K1", address="a\x00b", endpoint_status="ACTIVE"),
        EndpointResponse(id="k2", address="a\x00b", endpoint_status="INACTIVE"),
        EndpointResponse(
            id="k3", address="c", endpoint_status="ACTIVE", user=EndpointUser(user_id="u\x01")
        ),
        EndpointResponse(id="k4", address="d", endpoint_status="ACTIVE"),
        EndpointResponse(id="k5", user=EndpointUser(user_id="u\x01"), endpoint_status="ACTIVE"),
    ]
    padding = [f"absent{n}" for n in range(postgres.BULK_ENDPOINTS + 1 if bulk else 0)]

    async def run() -> list[str]:
        store = open_store(empty_store_url)
        try:
            await store.write(lambda tx: tx.put_endpoints(app, map(stored_endpoint, rows)))
            found = await store.write(
                lambda tx: tx.related_endpoints(
                    app, ["k3", *padding], ["u\x01", "nobody"], ["a\x00b", "c"]
                )
            )
            return sorted(str(e.id) for e in found)
        finally:
            await store.close()

    assert asyncio.run(run()) == ["K1", "k3", "k5"]


def test_known_attribute_names_by_kind_keeps_each_kind_apart(empty_store_url: str) -> None:
    """One lookup for several kinds answers each kind with its own names only: a name
    registered under one kind is not known under another."""
    app = "0" * 32

    async def run() -> dict[str, set[str]]:
        store = open_store(empty_store_url)
        try:
            await store.write(lambda tx: tx.add_attribute_names(app, "custom", ["plan", "a\x00b"]))
            await store.write(lambda tx: tx.add_attribute_names(app, "metric", ["spend", "plan"]))
            asked = {"custom": {"plan", "spend", "a\x00b"}, "metric": {"spend"}}
            return await store.write(lambda tx: tx.known_attribute_names_by_kind(app, asked))
        finally:
            await store.close()

    assert asyncio.run(run()) == {"custom": {"plan", "a\x00b"}, "metric": {"spend"}}


def test_known_attribute_names_by_kind_takes_more_names_than_sqlite_binds_at_once(
    empty_store_url: str,
) -> None:
    """An import chunk's read ahead asks for every name its rows send, refused or not: more
    than one SQLite statement can bind (32,766 by default, 250,000 in some builds)."""
    app = "0" * 32
    many = {f"n{number}" for number in range(300_000)}

    async def run() -> dict[str, set[str]]:
        store = open_store(empty_store_url)
        try:
            await store.write(lambda tx: tx.add_attribute_names(app, "custom", ["n7", "n299999"]))
            asked = {"custom": many, "user": many}
            return await store.write(lambda tx: tx.known_attribute_names_by_kind(app, asked))
        finally:
            await store.close()

    assert asyncio.run(run()) == {"custom": {"n7", "n299999"}, "user": set()}


def _mark_newer(url: str) -> None:
    """Make the store look as if a newer OpenPinpoint had migrated it."""
    asyncio.run(open_store(url).close())
    if url.startswith("sqlite"):
        with sqlite3.connect(sqlite_path(url)) as conn:
            conn.execute(f"PRAGMA user_version = {sqlite.SCHEMA_VERSION + 1}")
    else:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO schema_migrations (version) VALUES (%s)",
                (postgres.SCHEMA_VERSION + 1,),
            )


def test_a_store_written_by_a_newer_openpinpoint_is_refused(empty_store_url: str) -> None:
    """The server will not start on it (one line, no traceback) rather than damage it."""
    _mark_newer(empty_store_url)
    with pytest.raises(RuntimeError, match="newer than this OpenPinpoint"):
        open_store(empty_store_url)
    refused = run_cli("serve", "--port", "0", "--db", empty_store_url)
    assert refused.returncode == 2
    assert "newer than this OpenPinpoint understands" in refused.stderr
    assert "Traceback" not in refused.stderr
