"""The SQLite store: schema migrations, index use, and group commit isolation."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from openpinpoint.core.shapes import EndpointResponse, EndpointUser
from openpinpoint.store.base import App, ReadTx, WriteTx
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
    """A caller that gives up (a client that disconnected, Ctrl-C on the command line) has
    nothing written, and the writes after it still commit."""
    ran: list[str] = []

    def record(name: str) -> Callable[[WriteTx], None]:
        return lambda tx: ran.append(name)

    async def scenario() -> None:
        store = SQLiteStore(tmp_path / "s.db")
        given_up = asyncio.create_task(store.write(record("cancelled")))
        await asyncio.sleep(0)  # it queues its write; the group has not started yet
        given_up.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await given_up
        await store.write(record("later"))
        await store.close()

    asyncio.run(scenario())
    assert ran == ["later"]


def _numbered_app(number: int) -> App:
    return App(
        id=f"{number:032x}", name=f"app {number}", arn=f"arn:{number}", creation_date="", tags={}
    )


def _insert(number: int) -> Callable[[WriteTx], None]:
    return lambda tx: tx.insert_app(_numbered_app(number))


def _store(tmp_path: Path) -> SQLiteStore:
    return SQLiteStore(tmp_path / "group.db")


def test_a_failing_write_undoes_only_itself_among_concurrent_writes(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = _store(tmp_path)

        def insert(number: int) -> Callable[[WriteTx], int]:
            def fn(tx: WriteTx) -> int:
                tx.insert_app(_numbered_app(number))
                if number == 7:
                    raise ValueError("request 7 is refused after writing")
                return number

            return fn

        outcomes = await asyncio.gather(
            *(store.write(insert(n)) for n in range(50)), return_exceptions=True
        )
        assert [o for o in outcomes if isinstance(o, Exception)] == [outcomes[7]]
        assert isinstance(outcomes[7], ValueError)
        found = await store.read(lambda tx: tx.list_apps(0, 100))
        assert sorted(app.name for _, app in found) == sorted(
            f"app {n}" for n in range(50) if n != 7
        )
        await store.close()

    asyncio.run(scenario())


def test_every_acknowledged_write_is_visible_to_the_next_read(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = _store(tmp_path)

        async def write_then_read(number: int) -> bool:
            await store.write(lambda tx: tx.insert_app(_numbered_app(number)))
            return await store.read(lambda tx: tx.get_app(f"{number:032x}")) is not None

        assert all(await asyncio.gather(*(write_then_read(n) for n in range(100))))
        await store.close()

    asyncio.run(scenario())


def test_close_commits_the_writes_already_waiting(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = _store(tmp_path)
        pending = [asyncio.ensure_future(store.write(_insert(n))) for n in range(20)]
        await asyncio.sleep(0)
        await store.close()
        await asyncio.gather(*pending)

    asyncio.run(scenario())
    reopened = _store(tmp_path)
    try:
        found = asyncio.run(reopened.read(lambda tx: tx.list_apps(0, 100)))
        assert len(found) == 20
    finally:
        asyncio.run(reopened.close())


@pytest.mark.parametrize("size", [1, 600])
def test_groups_of_any_size_are_committed(tmp_path: Path, size: int) -> None:
    async def scenario() -> int:
        store = _store(tmp_path)
        await asyncio.gather(*(store.write(_insert(n)) for n in range(size)))
        found = await store.read(lambda tx: tx.list_apps(0, 1000))
        await store.close()
        return len(found)

    assert asyncio.run(scenario()) == size


def test_a_read_of_several_statements_sees_one_snapshot(tmp_path: Path) -> None:
    """A read runs first as one statement outside any transaction; one that goes on to a
    second statement runs again in a transaction, and a commit made between its statements
    stays unseen. A read of one statement runs once."""
    path = tmp_path / "s.db"
    app_id = "a" * 32
    attempts: dict[str, int] = {"read": 0, "one": 0}

    def commit_elsewhere(endpoint: EndpointResponse) -> None:
        async def write() -> None:
            other = SQLiteStore(path)
            try:
                await other.write(lambda tx: tx.put_endpoint(app_id, endpoint))
            finally:
                await other.close()

        # Another connection's commit, made while this read runs on the event loop.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, write()).result()

    def read(tx: ReadTx) -> tuple[int, int]:
        attempts["read"] += 1
        before = tx.count_endpoints(app_id)
        commit_elsewhere(_endpoint(f"late-{attempts['read']}"))
        return before, tx.count_endpoints(app_id)

    def one(tx: ReadTx) -> int:
        attempts["one"] += 1
        return tx.count_endpoints(app_id)

    def setup(tx: WriteTx) -> None:
        tx.insert_app(_app(app_id))
        tx.put_endpoint(app_id, _endpoint("first"))

    async def run() -> tuple[tuple[int, int], int]:
        store = SQLiteStore(path)
        try:
            await store.write(setup)
            return await store.read(read), await store.read(one)
        finally:
            await store.close()

    counts, total = asyncio.run(run())
    assert counts == (2, 2)  # the second run saw late-1, and not late-2
    assert total == 3
    assert attempts == {"read": 2, "one": 1}


def test_a_scan_runs_beside_the_loop_on_one_snapshot(tmp_path: Path) -> None:
    """A scan (a long read: a segment's page) leaves the event loop free while it runs, so
    the server's other requests go on; and, like any read, it sees one snapshot."""
    app_id = "a" * 32
    counted = concurrent.futures.Future[None]()
    loop_served = concurrent.futures.Future[bool]()

    def scan(tx: ReadTx) -> tuple[int, bool, int]:
        before = tx.count_endpoints(app_id)
        counted.set_result(None)
        # Only a loop left free can write and read meanwhile and answer.
        served = loop_served.result(timeout=30)
        return before, served, tx.count_endpoints(app_id)

    async def scenario() -> tuple[int, bool, int]:
        store = _store(tmp_path)
        await store.write(lambda tx: tx.insert_app(_app(app_id)))
        scanning = asyncio.ensure_future(store.scan(scan))
        await asyncio.wrap_future(counted)
        await store.write(lambda tx: tx.put_endpoint(app_id, _endpoint("e1")))
        loop_served.set_result(await store.read(lambda tx: tx.count_endpoints(app_id)) == 1)
        try:
            return await scanning
        finally:
            await store.close()

    assert asyncio.run(scenario()) == (0, True, 0)


def test_the_attribute_name_lookup_searches_each_name_and_never_scans_the_apps_names(
    tmp_path: Path,
) -> None:
    """Every UpdateEndpoint asks which of its names the app knows: the work must not grow
    with the names an app has (up to 250 of each kind), counted in SQLite's VM steps."""
    path = tmp_path / "names.db"
    asyncio.run(SQLiteStore(path).close())
    app = "a" * 32
    asked = {"custom": ["plan", "tier", "last_screen"], "metric": ["spend", "sessions"]}
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
        tx = SQLiteTx(conn)
        tx.add_attribute_names(app, "custom", ["plan"])
        tx.add_attribute_names(app, "metric", ["spend"])

        def steps() -> int:
            counted = [0]

            def count() -> int:
                counted[0] += 1
                return 0

            conn.set_progress_handler(count, 1)
            try:
                found = tx.known_attribute_names_by_kind(app, asked)
            finally:
                conn.set_progress_handler(None, 1)
            assert found == {"custom": {"plan"}, "metric": {"spend"}}
            return counted[0]

        with_two = steps()
        for kind in ("custom", "metric", "user"):
            tx.add_attribute_names(app, kind, [f"n{number:03d}" for number in range(250)])
        assert steps() <= with_two * 1.2
