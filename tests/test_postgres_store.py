"""The PostgreSQL store's own machinery: migrations, retries, several servers starting."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import os
import resource
import socket
import threading
import weakref
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import greenlet
import psycopg
import pytest
from botocore.exceptions import ClientError
from msgspec import UNSET
from psycopg import errors, waiting

from conftest import STORES, PostgresDatabases, RunningServer, new_store_url, start_servers
from openpinpoint.core import endpoints
from openpinpoint.core.endpoints import Stamp
from openpinpoint.core.errors import InternalServerError, ServiceUnavailable, TooManyRequests
from openpinpoint.core.shapes import EndpointRequest, EndpointResponse, EndpointUser
from openpinpoint.store.base import App, ReadTx, WriteTx, stored_endpoint
from openpinpoint.store.open import open_store
from openpinpoint.store.postgres import (
    BULK_ENDPOINTS,
    SCHEMA_VERSION,
    Locks,
    PostgresStore,
    PostgresTx,
    _GreenConnection,
    _pipeline_results,
    _ready_now,
    _wait_on_loop,
    migrate,
    redact,
)

APP = "0" * 32


@pytest.fixture
def postgres_url(postgres_databases: PostgresDatabases) -> str:
    return postgres_databases.create()


@pytest.mark.postgres
def test_migrations_run_at_once_by_many_servers_apply_once(postgres_url: str) -> None:
    """Advisory-locked migrations: six processes' worth of connections migrating a new
    database at the same moment all succeed, and each version is applied exactly once."""
    start = threading.Barrier(6)

    def run_migrate(_: int) -> int:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            start.wait()
            return migrate(conn)

    with ThreadPoolExecutor(6) as pool:
        assert list(pool.map(run_migrate, range(6))) == [SCHEMA_VERSION] * 6
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        applied = conn.execute("SELECT version, applied_at FROM schema_migrations").fetchall()
        assert [version for version, _ in applied] == list(range(1, SCHEMA_VERSION + 1))
        assert migrate(conn) == SCHEMA_VERSION
        assert conn.execute("SELECT version, applied_at FROM schema_migrations").fetchall() == (
            applied
        )


@pytest.mark.parametrize("kind", STORES)
def test_two_servers_starting_at_once_on_a_new_store_share_it(
    kind: str, request: pytest.FixtureRequest, tmp_path: Any
) -> None:
    url = new_store_url(kind, request, tmp_path)
    first, second = start_servers(url, 2)
    try:
        app = first.client().create_app(CreateApplicationRequest={"Name": "shared"})
        app_id = app["ApplicationResponse"]["Id"]
        assert second.client().get_app(ApplicationId=app_id)["ApplicationResponse"]["Name"] == (
            "shared"
        )
    finally:
        first.stop()
        second.stop()
    assert " ERROR " not in first.log + second.log


def _endpoint(endpoint_id: str, n: float) -> EndpointResponse:
    return EndpointResponse(id=endpoint_id, endpoint_status="ACTIVE", metrics={"n": n})


@pytest.mark.postgres
def test_a_transaction_that_loses_a_conflict_is_rerun_from_the_start(postgres_url: str) -> None:
    """Only the attempt that commits leaves anything behind."""
    attempts = Counter[str]()

    def write(tx: WriteTx) -> str:
        attempts["write"] += 1
        if attempts["write"] == 1:
            tx.put_endpoint(APP, _endpoint("first-attempt", 1))
            raise errors.SerializationFailure("could not serialize access")
        tx.put_endpoint(APP, _endpoint("second-attempt", 2))
        return "committed"

    async def run() -> tuple[str, Any, Any]:
        # postgres:// is accepted as well as postgresql://.
        store = open_store(postgres_url.replace("postgresql://", "postgres://", 1))
        assert isinstance(store, PostgresStore)
        try:
            result = await store.write(write)
            first = await store.read(lambda tx: tx.get_endpoint(APP, "first-attempt"))
            second = await store.read(lambda tx: tx.get_endpoint(APP, "second-attempt"))
            return result, first, second
        finally:
            await store.close()

    result, first, second = asyncio.run(run())
    assert (result, first, second) == ("committed", None, _endpoint("second-attempt", 2))
    assert attempts["write"] == 2


def _put(endpoint: EndpointResponse, tx: WriteTx) -> None:
    tx.put_endpoint(APP, endpoint)


def _wait_for(event: asyncio.Event) -> None:
    """From a transaction (a greenlet on the event loop): wait for `event`, as a transaction
    waits for the database, while the other transactions go on."""
    _wait_on_loop(asyncio.wait_for(event.wait(), 30))


@pytest.mark.postgres
def test_a_writer_that_finds_an_endpoint_locked_reruns_after_the_holder_commits(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real read-modify-write race: B reads the counter while A, having read it, has not
    written it yet. B must not see the old value: it starts again once A has committed, and
    both increments count. B's failed attempt is rolled back and its connection reused, not
    closed. (Transactions run on the event loop, each in a greenlet: one waits for the other
    through the loop, as it waits for the database.)"""
    a_has_read, b_has_tried = asyncio.Event(), asyncio.Event()
    attempts = Counter[str]()
    connect = _GreenConnection.connect

    def counting_connect(*args: Any, **kwargs: Any) -> _GreenConnection:
        attempts["connection"] += 1
        return connect(*args, **kwargs)

    monkeypatch.setattr(_GreenConnection, "connect", counting_connect)

    def increment(tx: WriteTx, name: str) -> None:
        attempts[name] += 1
        if name == "b" and attempts[name] == 1:
            _wait_for(a_has_read)
            try:
                found = tx.get_endpoint(APP, "counter")
            finally:
                b_has_tried.set()
        else:
            found = tx.get_endpoint(APP, "counter")
        if name == "a":
            a_has_read.set()
            _wait_for(b_has_tried)
        assert found is not None
        assert isinstance(found.metrics, dict)
        tx.put_endpoint(APP, _endpoint("counter", found.metrics["n"] + 1))

    async def run() -> float:
        store = PostgresStore(postgres_url)
        try:
            await store.write(lambda tx: tx.put_endpoint(APP, _endpoint("counter", 0)))
            await asyncio.gather(
                store.write(lambda tx: increment(tx, "a")),
                store.write(lambda tx: increment(tx, "b")),
            )
            found = await store.read(lambda tx: tx.get_endpoint(APP, "counter"))
            assert found is not None
            assert isinstance(found.metrics, dict)
            return found.metrics["n"]
        finally:
            await store.close()

    assert asyncio.run(run()) == 2
    assert attempts == {"a": 1, "b": 2, "connection": 2}


@pytest.mark.postgres
def test_a_bulk_write_holds_its_app_and_replaces_what_is_stored(postgres_url: str) -> None:
    """A write of more than BULK_ENDPOINTS endpoints takes its app's lock exclusively instead
    of one lock per endpoint, user and address: it runs again once a writer in the same app
    has committed, and then replaces that writer's endpoint rather than failing on its key."""
    writer_in_app, bulk_tried = asyncio.Event(), asyncio.Event()
    attempts = Counter[str]()
    page = [stored_endpoint(_endpoint(f"e-{n}", 2)) for n in range(BULK_ENDPOINTS + 1)]

    def single(tx: WriteTx) -> None:
        attempts["single"] += 1
        tx.get_app(APP)
        writer_in_app.set()
        _wait_for(bulk_tried)
        tx.put_endpoint(APP, _endpoint("e-0", 1))

    def bulk(tx: WriteTx) -> None:
        attempts["bulk"] += 1
        _wait_for(writer_in_app)
        try:
            tx.put_endpoints(APP, page)
        finally:
            bulk_tried.set()

    async def run() -> list[EndpointResponse]:
        store = PostgresStore(postgres_url)
        try:
            await asyncio.gather(store.write(single), store.write(bulk))
            return await store.read(lambda tx: tx.list_endpoints(APP, "", 1000))
        finally:
            await store.close()

    found = asyncio.run(run())
    assert sorted(found, key=lambda e: str(e.id)) == sorted(
        (_endpoint(f"e-{n}", 2) for n in range(BULK_ENDPOINTS + 1)), key=lambda e: str(e.id)
    )
    assert attempts == {"single": 1, "bulk": 2}


@pytest.mark.postgres
def test_a_read_of_several_statements_sees_one_snapshot(postgres_url: str) -> None:
    """A read runs first as one statement outside any transaction (first in a batch of
    reads, which takes only text statements: one that is not runs again at once, before
    any statement, on a connection of its own); one that goes on to a second statement
    runs again in a transaction, and a commit made between its statements stays unseen. A
    read of one text statement runs once."""
    attempts = Counter[str]()

    def read(tx: ReadTx) -> tuple[int, int]:
        attempts["read"] += 1
        before = tx.count_endpoints(APP)
        late = _endpoint(f"late-{attempts['read']}", 0)
        # Another store, on a loop of its own: this read holds the event loop's thread.
        with ThreadPoolExecutor(1) as elsewhere:
            elsewhere.submit(
                asyncio.run, commit_elsewhere(lambda other: other.put_endpoint(APP, late))
            ).result()
        return before, tx.count_endpoints(APP)

    async def commit_elsewhere(fn: Callable[[WriteTx], None]) -> None:
        other = PostgresStore(postgres_url, size=1)
        try:
            await other.write(fn)
        finally:
            await other.close()

    async def run() -> tuple[tuple[int, int], int]:
        store = PostgresStore(postgres_url)
        try:
            await store.write(lambda tx: tx.put_endpoint(APP, _endpoint("first", 0)))
            counts = await store.read(read)
            attempts["one"] = 0

            def one(tx: ReadTx) -> int:
                attempts["one"] += 1
                return len(tx.get_app_and_user_endpoints(APP, "nobody")[1])

            return counts, await store.read(one)
        finally:
            await store.close()

    counts, total = asyncio.run(run())
    assert counts == (2, 2)  # the last run saw late-2, and not late-3
    assert total == 0
    assert attempts == {"read": 3, "one": 1}


@pytest.mark.postgres
def test_transactions_run_on_the_event_loops_thread(postgres_url: str) -> None:
    """Each transaction is a greenlet on the event loop's thread, not a store thread: there
    is no hand-over to a thread and back, and the loop serves others while one waits."""
    threads: set[str] = set()

    def write(tx: WriteTx) -> None:
        threads.add(threading.current_thread().name)
        tx.put_endpoint(APP, _endpoint("e", 0))

    def read(tx: ReadTx) -> tuple[int, App | None]:
        threads.add(threading.current_thread().name)
        return tx.count_endpoints(APP), tx.get_app(APP)  # two statements: a transaction

    async def run() -> tuple[int, App | None]:
        store = PostgresStore(postgres_url)
        try:
            await store.write(write)
            return await store.read(read)
        finally:
            await store.close()

    assert asyncio.run(run()) == (1, None)
    assert threads == {threading.main_thread().name}


@pytest.mark.postgres
def test_a_transaction_cancelled_while_it_waits_leaves_nothing_and_frees_its_connection(
    postgres_url: str,
) -> None:
    """A request cancelled (a client gone, a deadline) in the middle of a write transaction:
    its sent write is rolled back, and the store's only connection serves the next
    transactions."""
    waiting, never = asyncio.Event(), asyncio.Event()

    def stuck(tx: WriteTx) -> None:
        tx.put_endpoint(APP, _endpoint("stuck", 0))
        tx.get_endpoint(APP, "other")  # sends the write with this read
        waiting.set()
        _wait_for(never)

    async def run() -> tuple[EndpointResponse | None, int]:
        store = PostgresStore(postgres_url, size=1, wait=5)
        try:
            cancelled = asyncio.ensure_future(store.write(stuck))
            await asyncio.wait_for(waiting.wait(), 30)
            cancelled.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await cancelled
            for n in range(5):
                await store.write(functools.partial(_put, _endpoint(f"e{n}", n)))
            found = await store.read(lambda tx: tx.get_endpoint(APP, "stuck"))
            return found, await store.read(lambda tx: tx.count_endpoints(APP))
        finally:
            await store.close()

    assert asyncio.run(run()) == (None, 5)


@pytest.mark.postgres
def test_at_most_the_pool_size_of_transactions_hold_a_connection(postgres_url: str) -> None:
    """Two hundred reads at once on a store of two connections all answer, over two
    connections: the rest wait their turn."""

    async def run() -> tuple[list[int], int]:
        store = PostgresStore(postgres_url, size=2)
        try:
            await store.write(lambda tx: tx.put_endpoint(APP, _endpoint("e", 0)))
            before = _backends(postgres_url)
            counts = await asyncio.gather(
                *(store.read(lambda tx: tx.count_endpoints(APP)) for _ in range(200))
            )
            return counts, _backends(postgres_url) - before
        finally:
            await store.close()

    assert asyncio.run(run()) == ([1] * 200, 1)  # one was open already, for the write


@pytest.mark.postgres
def test_a_transaction_that_waits_too_long_for_a_connection_is_told_to_retry(
    postgres_url: str,
) -> None:
    """With every connection held past the pool wait, the next transaction answers 429
    (TooManyRequests, "connections are busy") instead of waiting for ever; once the holder
    finishes, its connection serves the next one."""
    holding, release = asyncio.Event(), asyncio.Event()

    def hold(tx: ReadTx) -> int:
        count = tx.count_endpoints(APP)
        holding.set()
        _wait_for(release)
        return count

    async def run() -> tuple[str, int, int]:
        store = PostgresStore(postgres_url, size=1, wait=0.2)
        try:
            holder = asyncio.ensure_future(store.read(hold))
            await asyncio.wait_for(holding.wait(), 30)
            with pytest.raises(TooManyRequests) as refused:
                await asyncio.wait_for(store.read(lambda tx: tx.count_endpoints(APP)), 10)
            release.set()
            return (
                refused.value.message,
                await holder,
                await store.read(lambda tx: tx.count_endpoints(APP)),
            )
        finally:
            await store.close()

    message, held, after = asyncio.run(run())
    assert "connections are busy" in message
    assert (held, after) == (0, 0)


def _backends(postgres_url: str) -> int:
    """Connections to the database, besides the one asking."""
    return _over_other_backends(postgres_url, "count(*)")


def _over_other_backends(postgres_url: str, aggregate: str) -> int:
    """`aggregate` over the database's other connections (pid: each one's backend)."""
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        found = admin.execute(
            f"SELECT {aggregate} FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    assert found is not None
    return int(found[0])


@pytest.mark.postgres
def test_requests_succeed_after_the_database_closes_the_servers_connections(
    postgres_url: str,
) -> None:
    """As after a PostgreSQL restart or failover: every pooled connection is dead, and the
    next requests run on new ones instead of failing."""
    server = RunningServer(postgres_url)
    try:
        client = server.client(retries={"total_max_attempts": 1})
        app_id = client.create_app(CreateApplicationRequest={"Name": "survivor"})[
            "ApplicationResponse"
        ]["Id"]
        with ThreadPoolExecutor(8) as pool:  # open several pooled connections
            list(pool.map(lambda _: client.get_app(ApplicationId=app_id), range(32)))
        assert _terminate_backends(postgres_url) >= 1

        for n in range(4):
            client.update_endpoint(
                ApplicationId=app_id, EndpointId=f"e{n}", EndpointRequest={"Address": f"a{n}"}
            )
        assert client.get_app(ApplicationId=app_id)["ApplicationResponse"]["Name"] == "survivor"
    finally:
        server.stop()
    assert "database connection lost" in server.log


def _terminate_backends(postgres_url: str) -> int:
    return _over_other_backends(postgres_url, "count(pg_terminate_backend(pid))")


@pytest.mark.postgres
def test_defect5_connections_lost_before_commit_never_give_a_500(postgres_url: str) -> None:
    """Backends terminated again and again under a load of writes: every request lost
    before COMMIT runs again on a new connection. Only a connection lost during COMMIT (the
    outcome unknown) may answer 500, and then says so. The client never retries."""
    server = RunningServer(postgres_url)
    outcomes: Counter[str] = Counter()
    done = threading.Event()
    progress = threading.Semaphore(0)
    try:
        client = server.client(retries={"total_max_attempts": 1})
        app_id = client.create_app(CreateApplicationRequest={"Name": "load"})[
            "ApplicationResponse"
        ]["Id"]

        def write(worker: int) -> None:
            n = 0
            while not done.is_set():
                n += 1
                request = {"Address": f"a{worker}-{n}", "User": {"UserId": f"u{n % 7}"}}
                try:
                    client.update_endpoint(
                        ApplicationId=app_id,
                        EndpointId=f"e{worker}-{n % 5}",
                        EndpointRequest=request,
                    )
                    outcomes["ok"] += 1
                except ClientError as error:
                    status = error.response["ResponseMetadata"]["HTTPStatusCode"]
                    message = error.response["Error"]["Message"]
                    lost_in_commit = status == 500 and "while committing" in message
                    outcomes["lost in COMMIT" if lost_in_commit else f"{status}: {message}"] += 1
                progress.release()

        with ThreadPoolExecutor(6) as pool:
            workers = [pool.submit(write, worker) for worker in range(6)]
            for _ in range(8):
                for _ in range(30):  # some writes between two terminations
                    progress.acquire()
                _terminate_backends(postgres_url)
            done.set()
            for worker in workers:
                worker.result()
    finally:
        done.set()
        server.stop()
    assert set(outcomes) <= {"ok", "lost in COMMIT"}, outcomes
    assert "database connection lost" in server.log


class Relay:
    """A TCP relay to PostgreSQL that can cut every connection and refuse new ones: a
    database outage, as the server sees it."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                near, _ = self._listener.accept()
            except OSError:
                return
            far = socket.create_connection(self._target)
            self._sockets += [near, far]
            for source, sink in ((near, far), (far, near)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept(), which close() would not
        self._listener.close()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@pytest.mark.postgres
def test_also_a_database_outage_is_a_503_that_says_so(postgres_url: str) -> None:
    asyncio.run(PostgresStore(postgres_url).close())  # migrated before the relay is in the way
    parts = urlsplit(postgres_url)
    assert parts.hostname is not None
    relay = Relay(parts.hostname, parts.port or 5432)
    relayed = parts._replace(netloc=f"{parts.username}@127.0.0.1:{relay.port}").geturl()

    async def run() -> None:
        store = PostgresStore(relayed, size=2, wait=1.0)
        try:
            assert await store.read(lambda tx: tx.get_app(APP)) is None
            relay.cut()
            with pytest.raises(ServiceUnavailable) as caught:
                await store.read(lambda tx: tx.get_app(APP))
            assert "database is unreachable" in caught.value.message
        finally:
            await store.close()

    asyncio.run(run())


def test_logged_urls_hide_the_password() -> None:
    assert redact("postgresql://app:s3cret@db.internal:5432/pinpoint") == (
        "postgresql://app:***@db.internal:5432/pinpoint"
    )
    assert redact("postgresql://app@db/pinpoint") == "postgresql://app@db/pinpoint"


@pytest.mark.postgres
def test_endpoint_writes_take_few_round_trips(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lock attempts, BEGIN and writes travel with the next statement that is read, or with
    COMMIT, and UpdateEndpoint reads ahead what its request names: it reads the app and
    endpoint, the attribute names, the address and the user at once, then writes and
    commits. An update that sends no address, or rewrites the user's other endpoints (user
    attributes) before G5, needs no second look at the address of an endpoint that is
    ACTIVE there already. DeleteUserEndpoints reads, then deletes and commits."""
    stamp = Stamp(request_id="r", now="2026-12-03T00:00:00.000Z")
    sent: list[str] = []
    wait = _GreenConnection.wait

    def counting_wait(self: _GreenConnection, gen: Any, *args: Any, **kwargs: Any) -> Any:
        # Leaving `with conn:` on an idle connection waits on a commit that sends nothing.
        idle = self.pgconn.transaction_status == psycopg.pq.TransactionStatus.IDLE
        if not (idle and gen.gi_code.co_name == "_commit_gen"):
            sent.append(gen.gi_code.co_name)
        return wait(self, gen, *args, **kwargs)

    def update(
        endpoint_id: str, user_id: str, user_attributes: dict[str, list[str]] | None = None
    ) -> Callable[[WriteTx], Any]:
        request = EndpointRequest(
            address=f"{endpoint_id}@example.com",
            attributes={"plan": ["free"]},
            metrics={"sessions": 1.0},
            user=EndpointUser(user_id=user_id, user_attributes=user_attributes or UNSET),
        )
        return lambda tx: endpoints.update_endpoint_in_app(tx, APP, endpoint_id, request, stamp)

    async def run() -> list[int]:
        store = PostgresStore(postgres_url, size=1)
        try:
            app = App(id=APP, name="n", arn="arn", creation_date=stamp.now, tags={})
            await store.write(lambda tx: tx.insert_app(app))
            for n in range(3):
                await store.write(update(f"e{n}", "leaver", {"tier": ["silver"]}))
            counts = []
            monkeypatch.setattr(_GreenConnection, "wait", counting_wait)
            for fn in (
                update("e0", "leaver"),
                update("joining", "leaver"),
                update("e1", "leaver", {"tier": ["gold"]}),
                lambda tx: endpoints.update_endpoint_in_app(
                    tx, APP, "e2", EndpointRequest(attributes={"plan": ["pro"]}), stamp
                ),
                lambda tx: endpoints.delete_user_endpoints_in_app(tx, APP, "leaver"),
            ):
                sent.clear()
                await store.write(fn)
                counts.append(len(sent))
            return counts
        finally:
            monkeypatch.undo()
            await store.close()

    assert asyncio.run(run()) == [2, 2, 2, 2, 2]


def _found_id(n: int) -> Callable[[ReadTx], str | None]:
    """A read of one statement: GetEndpoint's, for endpoint `e{n}`."""

    def read(tx: ReadTx) -> str | None:
        found = tx.get_app_and_endpoint(APP, f"e{n}")[1]
        return None if found is None else str(found.id)

    return read


async def _store_with_endpoints(postgres_url: str, count: int) -> PostgresStore:
    store = PostgresStore(postgres_url, size=1)
    app = App(id=APP, name="n", arn="arn", creation_date="2026-12-05T00:00:00.000Z", tags={})
    await store.write(lambda tx: tx.insert_app(app))
    for n in range(count):
        await store.write(functools.partial(_put, _endpoint(f"e{n}", n)))
    return store


@pytest.mark.postgres
def test_reads_of_one_statement_asked_at_once_travel_in_one_message(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twenty GetEndpoint reads of twenty requests at once reach the database in one
    message (a pipeline, with the statement's PREPARE the first time) on one connection,
    and each read gets its own answer."""
    sent: list[str] = []
    wait = _GreenConnection.wait

    def counting_wait(self: _GreenConnection, gen: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(gen.gi_code.co_name)
        return wait(self, gen, *args, **kwargs)

    async def run() -> list[list[str | None]]:
        store = await _store_with_endpoints(postgres_url, 3)
        try:
            monkeypatch.setattr(_GreenConnection, "wait", counting_wait)
            answers = []
            for _ in range(2):  # the second time, prepared already
                reads = (store.read(_found_id(n % 4)) for n in range(20))
                answers.append(await asyncio.gather(*reads))
            return answers
        finally:
            monkeypatch.undo()
            await store.close()

    expected = ["e0", "e1", "e2", None] * 5
    assert asyncio.run(run()) == [expected, expected]
    assert sent == ["_pipeline_results", "_pipeline_results"]


@pytest.mark.postgres
def test_a_read_that_fails_in_a_message_of_reads_fails_alone(postgres_url: str) -> None:
    """A statement that fails stops the message there: the reads before it keep their
    answers, those after it run again, and only the failed one raises."""

    def failing(tx: ReadTx) -> object:
        assert isinstance(tx, PostgresTx)
        return tx._text_rows("SELECT (1 / %s::int)::text", ("0",))

    async def run() -> list[object]:
        store = await _store_with_endpoints(postgres_url, 4)
        try:
            reads = [_found_id(0), _found_id(1), failing, _found_id(2), _found_id(3)]
            return await asyncio.gather(*map(store.read, reads), return_exceptions=True)
        finally:
            await store.close()

    first, second, failed, *after = asyncio.run(run())
    assert (first, second, after) == ("e0", "e1", ["e2", "e3"])
    assert isinstance(failed, errors.DivisionByZero)


@pytest.mark.postgres
def test_a_read_cancelled_in_a_message_of_reads_leaves_the_others_their_answers(
    postgres_url: str,
) -> None:
    """A request cancelled (its client gone) while its read waits in a message: the other
    reads of the message answer, and the connection serves the next ones."""

    async def run() -> tuple[list[str | None], str | None]:
        store = await _store_with_endpoints(postgres_url, 3)
        try:
            tasks = [asyncio.ensure_future(store.read(_found_id(n))) for n in range(3)]
            await asyncio.sleep(0)  # one step: each read is asked for, none is sent yet
            tasks[1].cancel()
            with pytest.raises(asyncio.CancelledError):
                await tasks[1]
            answers = [await tasks[0], await tasks[2]]
            return answers, await store.read(_found_id(1))
        finally:
            await store.close()

    assert asyncio.run(run()) == (["e0", "e2"], "e1")


@pytest.mark.postgres
def test_reads_whose_message_lost_its_connection_run_again(postgres_url: str) -> None:
    """The database ends the store's only connection (a restart, a failover) between two
    messages of reads: the next message's reads run again on a new connection and answer."""

    async def run() -> tuple[list[str | None], int]:
        store = await _store_with_endpoints(postgres_url, 3)
        try:
            await store.read(_found_id(0))
            terminated = _terminate_backends(postgres_url)
            return list(await asyncio.gather(*map(store.read, map(_found_id, range(3))))), (
                terminated
            )
        finally:
            await store.close()

    assert asyncio.run(run()) == (["e0", "e1", "e2"], 1)


@pytest.mark.postgres
def test_a_message_whose_connection_ends_inside_it_fails_as_a_lost_connection(
    postgres_url: str,
) -> None:
    """The backend ends in the middle of a message (here by its own hand): reading its
    answers fails with the error that ended the connection, which the store handles as a
    lost connection (the transaction or the reads run again), not with fewer answers."""
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        pgconn = conn.pgconn
        pgconn.enter_pipeline_mode()
        pgconn.send_query_params(b"SELECT pg_terminate_backend(pg_backend_pid())", None)
        pgconn.send_query_params(b"SELECT 1", None)
        pgconn.pipeline_sync()
        with pytest.raises(errors.AdminShutdown):
            conn.wait(_pipeline_results(pgconn, 2))


@pytest.mark.postgres
def test_reads_answer_after_the_connections_prepared_statements_are_deallocated(
    postgres_url: str,
) -> None:
    """psycopg deallocates every prepared statement of a connection after a rollback; the
    reads that prepare their own statements (`text_rows`) prepare them again and answer,
    alone or in a transaction of several statements."""
    stamp = Stamp(request_id="r", now="2026-12-03T00:00:00.000Z")
    app = App(id=APP, name="kept", arn="arn", creation_date=stamp.now, tags={})

    def forget(tx: ReadTx) -> None:
        assert isinstance(tx, PostgresTx)
        tx._conn.execute("DEALLOCATE ALL")

    def both(tx: ReadTx) -> tuple[str | None, int]:
        found = tx.get_app(APP)
        return (found.name if found else None), tx.count_endpoints(APP)

    async def run() -> list[object]:
        store = PostgresStore(postgres_url, size=1)  # one connection: always the same one
        try:
            await store.write(lambda tx: tx.insert_app(app))
            await store.write(lambda tx: tx.put_endpoint(APP, _endpoint("e", 0)))
            answers: list[object] = []
            for read in (
                lambda tx: (tx.get_app_and_endpoint(APP, "e")[1] or _endpoint("none", 0)).id,
                both,
            ):
                answers.append(await store.read(read))  # prepares
                await store.read(forget)
                answers.append(await store.read(read))
            return answers
        finally:
            await store.close()

    assert asyncio.run(run()) == ["e", "e", ("kept", 1), ("kept", 1)]


@pytest.mark.postgres
def test_a_connection_stays_watched_by_the_loop_from_one_statement_to_the_next(
    postgres_url: str,
) -> None:
    """The socket is registered with the event loop once, not for every statement's wait
    (two system calls and a timer a round trip, as psycopg's `wait_async` does)."""
    registered: list[int] = []

    async def run() -> int:
        loop = asyncio.get_running_loop()
        add_reader = loop.add_reader

        def counting(fd: Any, callback: Callable[..., object], *args: Any) -> None:
            registered.append(fd)
            add_reader(fd, callback, *args)

        loop.add_reader = counting  # type: ignore[method-assign,assignment]
        store = PostgresStore(postgres_url, size=1)
        try:
            await store.write(lambda tx: tx.put_endpoint(APP, _endpoint("e", 0)))
            for _ in range(20):
                await store.read(lambda tx: tx.get_app_and_endpoint(APP, "e"))
                await store.read(lambda tx: tx.count_endpoints(APP))
            return await store.read(lambda tx: tx.count_endpoints(APP))
        finally:
            await store.close()

    assert asyncio.run(run()) == 1
    assert len(registered) == 1


@pytest.mark.postgres
def test_a_wait_whose_socket_the_loop_stopped_watching_ends_by_looking_at_the_socket(
    postgres_url: str,
) -> None:
    """uvloop stops watching a socket that reports an error without calling back (a server
    that closed the connection): the wait must not last for ever. Here the loop is told to
    forget the socket behind the store's back, and the next reads answer all the same."""

    async def run() -> list[int]:
        loop = asyncio.get_running_loop()
        store = PostgresStore(postgres_url, size=1)
        try:
            await store.write(lambda tx: tx.put_endpoint(APP, _endpoint("e", 0)))
            counts = []
            for _ in range(3):
                counts.append(await store.read(_count))  # the socket is watched again
                (conn,) = store._connections._free
                assert conn._watched is not None
                loop.remove_reader(conn._watched[1])
                counts.append(await asyncio.wait_for(store.read(_count), 30))
            return counts
        finally:
            await store.close()

    assert asyncio.run(run()) == [1] * 6


def _count(tx: ReadTx) -> int:
    return tx.count_endpoints(APP)


def test_a_socket_is_looked_at_whatever_its_descriptors_number() -> None:
    """A wait that must send first looks at the socket at once (`_ready_now`); a server with
    many clients has descriptors past 1023, which select() refuses."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft <= 1500:
        pytest.skip(f"this process may open only {soft} descriptors")
    ours, theirs = socket.socketpair()
    high = os.dup2(ours.fileno(), 1500)
    try:
        quiet = _ready_now(high, waiting.WAIT_R)
        theirs.send(b"x")
        assert (quiet, _ready_now(high, waiting.WAIT_R), _ready_now(high, waiting.WAIT_RW)) == (
            0,
            waiting.READY_R,
            waiting.READY_RW,
        )
    finally:
        os.close(high)
        ours.close()
        theirs.close()


@pytest.mark.postgres
def test_transactions_reuse_their_greenlets_and_keep_nothing_of_the_last_one(
    postgres_url: str,
) -> None:
    """Making a greenlet and running it to its end costs 6-12 µs, a switch to a waiting one
    0.4 µs: one transaction after another runs in the same greenlet. Between them that
    greenlet holds nothing of the last transaction, neither what it returned nor what it
    raised."""

    class Answer:
        pass

    class Refused(Exception):
        pass

    runners: set[int] = set()

    def answer(tx: ReadTx) -> Answer:
        runners.add(id(greenlet.getcurrent()))
        tx.count_endpoints(APP)
        return Answer()

    def refuse(tx: ReadTx) -> None:
        runners.add(id(greenlet.getcurrent()))
        tx.count_endpoints(APP)
        raise Refused

    async def run() -> list[bool]:
        store = PostgresStore(postgres_url, size=1)
        try:
            returned = weakref.ref(await store.read(answer))
            raised = None
            with pytest.raises(Refused) as caught:
                await store.read(refuse)
            raised = weakref.ref(caught.value)
            del caught
            for _ in range(20):
                await store.read(answer)
            gc.collect()
            return [returned() is None, raised() is None]
        finally:
            await store.close()

    assert asyncio.run(run()) == [True, True]
    assert len(runners) == 1


@pytest.mark.postgres
def test_a_write_that_fails_keeps_the_connections_prepared_statements(
    postgres_url: str,
) -> None:
    """A write transaction that fails is rolled back without psycopg seeing a ROLLBACK:
    psycopg would deallocate every statement prepared on the connection (its own and the
    store's), and each read after it would prepare its statement again."""

    class Refused(Exception):
        pass

    def refuse(tx: WriteTx) -> None:
        tx.get_endpoint(APP, "e")  # BEGIN, the lock and the read are sent
        raise Refused

    async def run() -> tuple[int, int]:
        store = PostgresStore(postgres_url, size=1)  # one connection: always the same one
        try:
            await store.write(lambda tx: tx.put_endpoint(APP, _endpoint("e", 0)))
            for _ in range(6):  # psycopg prepares a statement run five times
                await store.read(_count)
            await store.read(lambda tx: tx.get_app_and_endpoint(APP, "e"))
            before = await store.read(functools.partial(_prepared, "read"))
            with pytest.raises(Refused):
                await store.write(refuse)
            await store.read(_count)  # psycopg's next statement sends what it has queued
            return before, await store.read(functools.partial(_prepared, "read"))
        finally:
            await store.close()

    assert asyncio.run(run()) == (1, 1)


def _prepared(kind: str, tx: ReadTx) -> int:
    """How many of the store's statements of `kind` (read, write) are prepared on the
    connection `tx` runs on."""
    assert isinstance(tx, PostgresTx)
    row = tx._conn.execute(
        "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE %s",
        (f"openpinpoint_{kind}%",),
    ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.postgres
def test_a_write_transactions_statements_are_prepared_once_per_connection(
    postgres_url: str,
) -> None:
    """PostgreSQL parses and plans a write's statements once per connection: updates
    after the first prepare nothing more."""
    stamp = Stamp(request_id="r", now="2026-12-03T00:00:00.000Z")

    def update(n: int) -> Callable[[WriteTx], Any]:
        request = EndpointRequest(address=f"e{n}@example.com", metrics={"sessions": float(n)})
        return lambda tx: endpoints.update_endpoint_in_app(tx, APP, "e", request, stamp)

    async def run() -> list[int]:
        store = PostgresStore(postgres_url, size=1)  # one connection: always the same one
        try:
            app = App(id=APP, name="n", arn="arn", creation_date=stamp.now, tags={})
            await store.write(lambda tx: tx.insert_app(app))
            counts = []
            for n in range(4):
                await store.write(update(n))
                counts.append(await store.read(functools.partial(_prepared, "write")))
            return counts
        finally:
            await store.close()

    first, *after = asyncio.run(run())
    assert first > 0
    assert after == [first] * 3


@pytest.mark.postgres
def test_statements_prepared_in_a_message_that_failed_are_prepared_again(
    postgres_url: str,
) -> None:
    """A message stops at its first failing statement: a PREPARE before it ran, one after it
    did not. Neither is taken as known, so the next transaction prepares both again and
    runs at once."""

    def locks(tx: WriteTx) -> Locks:
        assert isinstance(tx, PostgresTx)
        assert tx._locks is not None
        return tx._locks

    def failing(tx: WriteTx) -> None:
        locks(tx).queue("SELECT 1 / %s", (0,))  # prepared, then fails
        locks(tx).send("SELECT 2 / %s", (1,))  # its PREPARE never runs

    runs: list[WriteTx] = []

    def working(tx: WriteTx) -> list[tuple[Any, ...]]:
        runs.append(tx)
        locks(tx).queue("SELECT 1 / %s", (1,))
        return locks(tx).send("SELECT 2 / %s", (1,)).fetchall()

    async def run() -> list[tuple[Any, ...]]:
        store = PostgresStore(postgres_url, size=1)
        try:
            with pytest.raises(errors.DivisionByZero):
                await store.write(failing)
            return await store.write(working)
        finally:
            await store.close()

    assert asyncio.run(run()) == [(2,)]
    assert len(runs) == 1  # not run again after finding a statement missing


@pytest.mark.postgres
def test_writes_answer_after_the_connections_prepared_statements_are_deallocated(
    postgres_url: str,
) -> None:
    """A write whose prepared statements were deallocated behind the store's back (psycopg
    does it after a rollback of its own) runs again and prepares them anew."""

    def forget(tx: ReadTx) -> None:
        assert isinstance(tx, PostgresTx)
        tx._conn.execute("DEALLOCATE ALL")

    async def run() -> int:
        store = PostgresStore(postgres_url, size=1)  # one connection: always the same one
        try:
            await store.write(lambda tx: tx.put_endpoint(APP, _endpoint("e", 0)))
            await store.read(forget)
            await store.write(lambda tx: tx.put_endpoint(APP, _endpoint("f", 1)))
            return await store.read(_count)
        finally:
            await store.close()

    assert asyncio.run(run()) == 2


@pytest.mark.postgres
def test_statements_that_keep_vanishing_end_in_an_error_that_says_why(postgres_url: str) -> None:
    """A pooler in transaction mode hands each transaction another session, where the
    statements prepared before do not exist. The store runs a transaction again a few
    times, then answers 500 and names the cause, rather than trying for ever."""
    runs: list[ReadTx] = []

    def vanishing(tx: ReadTx) -> None:
        assert isinstance(tx, PostgresTx)
        runs.append(tx)
        tx.get_app(APP)  # prepared on first use, then known
        tx._conn.execute("DEALLOCATE ALL")
        tx.get_app(APP)

    async def run() -> None:
        store = PostgresStore(postgres_url, size=1)
        try:
            await store.read(vanishing)
        finally:
            await store.close()

    with pytest.raises(InternalServerError, match="session mode"):
        asyncio.run(run())
    # In a batch of reads, as one statement on a connection, then the first try and three more.
    assert len(runs) == 6
