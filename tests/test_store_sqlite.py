"""The SQLite store: schema migrations, index use, and group commit isolation."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from pathlib import Path

import pytest

from openpinpoint.core.errors import BadRequest
from openpinpoint.core.shapes import EndpointResponse, EndpointUser
from openpinpoint.store.base import App, WriteTx
from openpinpoint.store.sqlite import (
    ACTIVE_WITH_ADDRESS_SQL,
    DELETE_ENDPOINT_SQL,
    SCHEMA_VERSION,
    USER_ENDPOINTS_SQL,
    SQLiteStore,
    SQLiteTx,
)


def _app(app_id: str = "a" * 32) -> App:
    return App(id=app_id, name="n", arn="arn", creation_date="2024-01-01T00:00:00.000Z", tags={})


def _endpoint(endpoint_id: str, user_id: str | None = None) -> EndpointResponse:
    return EndpointResponse(
        id=endpoint_id,
        endpoint_status="ACTIVE",
        user=EndpointUser(user_id=user_id) if user_id else EndpointUser(),
    )


def test_schema_is_versioned_and_migrating_again_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    asyncio.run(SQLiteStore(path).close())
    asyncio.run(SQLiteStore(path).close())
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(RuntimeError, match="newer than this OpenPinpoint"):
        SQLiteStore(path)


@pytest.mark.parametrize(
    ("query", "search"),
    [
        (USER_ENDPOINTS_SQL, "USING INDEX endpoints_by_user (app_id=? AND user_id=?)"),
        (DELETE_ENDPOINT_SQL, "USING PRIMARY KEY (app_id=? AND id_key=?)"),
        (
            ACTIVE_WITH_ADDRESS_SQL,
            "USING INDEX endpoints_by_address (app_id=? AND address=? AND status=?)",
        ),
    ],
)
def test_user_and_address_lookups_search_an_index_never_scan_the_app(
    tmp_path: Path, query: str, search: str
) -> None:
    path = tmp_path / "plan.db"
    asyncio.run(SQLiteStore(path).close())
    with sqlite3.connect(path) as conn:
        plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + query, ("a", "b"))]
    assert plan == [f"SEARCH endpoints {search}"]


def test_a_failing_request_in_a_commit_group_undoes_only_itself(tmp_path: Path) -> None:
    async def scenario() -> list[str]:
        store = SQLiteStore(tmp_path / "group.db")
        await store.write(lambda tx: tx.insert_app(_app()))

        def ok(name: str) -> object:
            return lambda tx: tx.put_endpoint("a" * 32, _endpoint(name, "u"))

        def half_then_fail(tx: WriteTx) -> None:
            tx.put_endpoint("a" * 32, _endpoint("half", "u"))
            raise BadRequest("refused after a write")

        results = await asyncio.gather(
            store.write(ok("first")),  # type: ignore[arg-type]
            store.write(half_then_fail),
            store.write(ok("last")),  # type: ignore[arg-type]
            return_exceptions=True,
        )
        assert isinstance(results[1], BadRequest)
        assert results[0] is None
        assert results[2] is None
        found = await store.read(lambda tx: tx.user_endpoints("a" * 32, "u"))
        await store.close()
        return sorted(str(e.id) for e in found)

    assert asyncio.run(scenario()) == ["first", "last"]


def test_deleting_an_app_removes_its_endpoints_and_attribute_names(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "del.db")
    conn = sqlite3.connect(store.path)

    def fill(tx: WriteTx) -> None:
        tx.insert_app(_app())
        tx.put_endpoint("a" * 32, _endpoint("e", "u"))
        tx.add_attribute_names("a" * 32, "custom", ["x"])

    async def scenario() -> None:
        await store.write(fill)
        await store.write(lambda tx: tx.delete_app("a" * 32))
        await store.close()

    asyncio.run(scenario())
    for table in ("apps", "endpoints", "attribute_names"):
        assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0
    assert isinstance(SQLiteTx(conn).get_app("a" * 32), type(None))


def test_a_cancelled_write_is_skipped_and_the_writer_keeps_going(tmp_path: Path) -> None:
    """A caller that gives up (a client that disconnected, Ctrl-C on the command line)
    must not stop the writer thread."""

    async def scenario() -> list[str]:
        store = SQLiteStore(tmp_path / "s.db")
        gate, busy = threading.Event(), threading.Event()
        ran: list[str] = []

        def blocker(tx: WriteTx) -> None:
            busy.set()
            gate.wait(30)

        def cancelled(tx: WriteTx) -> None:
            ran.append("cancelled")

        def later(tx: WriteTx) -> None:
            ran.append("later")

        first = asyncio.create_task(store.write(blocker))
        await asyncio.to_thread(busy.wait, 30)
        second = asyncio.create_task(store.write(cancelled))
        await asyncio.sleep(0)  # let it queue its write behind the blocker
        second.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await second
        gate.set()
        await first
        await asyncio.wait_for(store.write(later), 30)
        await store.close()
        return ran

    assert asyncio.run(scenario()) == ["later"]
