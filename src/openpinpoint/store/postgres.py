"""The PostgreSQL store: any number of server processes, on any number of machines, on one
database.

Each `read`/`write` runs its plain domain function in a greenlet on the event loop's thread
(`_on_loop`) on a pooled psycopg 3 connection, inside one transaction that commits before
the caller resumes (G12). Reads see
one REPEATABLE READ snapshot. Writes run at READ COMMITTED under transaction-scoped advisory
locks that the transaction takes as it goes, on each endpoint id, user, address and app it
reads or writes (`PostgresTx`); that makes every rule the core checks by reading (G5
duplicate addresses, G6 fifteen endpoints per user, G9 attribute-name quota, per-key merges)
hold across any number of processes. docs/architecture.md explains the protocol and why it
was chosen over SERIALIZABLE.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import itertools
import logging
import os
import random
import re
import select
import threading
import time
from collections.abc import (
    Awaitable,
    Callable,
    Collection,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from typing import Any, NamedTuple, NoReturn, Protocol, TypeVar, cast
from urllib.parse import urlsplit, urlunsplit

import greenlet
import psycopg
from psycopg import errors, generators, waiting
from psycopg.abc import RV, Buffer, PQGen
from psycopg.adapt import PyFormat, Transformer
from psycopg.pq import ConnStatus, ExecStatus, PipelineStatus, TransactionStatus, error_message
from psycopg.pq.abc import PGconn, PGresult
from psycopg.rows import TupleRow
from psycopg.types.json import set_json_dumps

from openpinpoint.core.errors import InternalServerError, ServiceUnavailable, TooManyRequests
from openpinpoint.core.predicates import Predicate
from openpinpoint.core.shapes import EndpointResponse, encode
from openpinpoint.store import segment_rows
from openpinpoint.store.base import (
    ACTIVE_ENDPOINT_ROWS_SQL,
    App,
    JobRecord,
    NeedsSnapshot,
    ReadTx,
    Resource,
    StoredEndpoint,
    WriteTx,
    app_and_endpoints,
    by_app,
    decode_app,
    decode_endpoint,
    stored_endpoint,
)
from openpinpoint.store.segment_rows import SegmentRow
from openpinpoint.store.segment_sql import PostgresSegmentSql

T = TypeVar("T")
Connection = psycopg.Connection[TupleRow]
Query = tuple[str, tuple[Any, ...]]  # SQL and its parameters
log = logging.getLogger("openpinpoint.store")
IDLE = TransactionStatus.IDLE
BAD = ConnStatus.BAD
# A transaction open, or failed (a refused lock, an error) and awaiting its ROLLBACK; not
# ACTIVE, a statement cut off by a cancelled request, whose connection is closed instead.
ENDED_BY_ROLLBACK = (TransactionStatus.INTRANS, TransactionStatus.INERROR)
_WAIT_INTERVAL = 0.1
"""psycopg's own default for a wait's polling interval."""

POOL_SIZE_ENV = "OPENPINPOINT_DB_POOL_SIZE"
DEFAULT_POOL_SIZE = 10
CONNECT_TIMEOUT = 10
POOL_WAIT = 30.0
"""Seconds a transaction waits for a pooled connection before the request fails."""
PROBE_TIMEOUT = 2
# A request gives up (429, which AWS SDKs retry) only after this long losing conflicts.
RETRY_BUDGET_SECONDS = 20.0
FIRST_BACKOFF_SECONDS = 0.002
MAX_BACKOFF_SECONDS = 0.2
# Prepared statements vanish once in a while (psycopg's DEALLOCATE ALL); again and again
# means that something between the server and PostgreSQL changes the session under it.
MAX_FORGOTTEN = 3
# Not expected with the locking below, but a transaction that meets one is safe to rerun.
RETRYABLE = (errors.SerializationFailure, errors.DeadlockDetected)
# Any 64-bit constant that no other application is likely to use on the same database.
MIGRATION_LOCK_KEY = 0x6F70656E70696E70  # "openpinp"

MIGRATIONS: dict[int, tuple[str | Callable[[Connection], None], ...]] = {
    1: (
        # COLLATE "C" everywhere: ids and names sort and compare byte-wise, as in SQLite,
        # whatever the database's default collation.
        """CREATE TABLE apps (
            seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            id text COLLATE "C" NOT NULL UNIQUE,
            doc text NOT NULL
        )""",
        # The endpoint document is the exact JSON text the core encodes, as in SQLite:
        # jsonb would reorder its keys and refuses the \\u0000 escape that a string may hold.
        """CREATE TABLE endpoints (
            app_id text COLLATE "C" NOT NULL,
            id_key text COLLATE "C" NOT NULL,
            user_id text COLLATE "C",
            address text COLLATE "C",
            status text NOT NULL,
            doc text NOT NULL,
            PRIMARY KEY (app_id, id_key)
        )""",
        "CREATE INDEX endpoints_by_user ON endpoints (app_id, user_id) WHERE user_id IS NOT NULL",
        "CREATE INDEX endpoints_by_address ON endpoints (app_id, address, status)"
        " WHERE address IS NOT NULL",
        """CREATE TABLE attribute_names (
            app_id text COLLATE "C" NOT NULL,
            kind text COLLATE "C" NOT NULL,
            name text COLLATE "C" NOT NULL,
            PRIMARY KEY (app_id, kind, name)
        )""",
    ),
    2: (
        """CREATE TABLE jobs (
            seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            id text COLLATE "C" NOT NULL UNIQUE,
            app_id text COLLATE "C" NOT NULL,
            type text NOT NULL,
            status text NOT NULL,
            owner text NOT NULL,
            lease_until double precision NOT NULL,
            doc text NOT NULL
        )""",
        "CREATE INDEX jobs_by_app ON jobs (app_id, type, seq)",
        "CREATE INDEX jobs_unfinished ON jobs (status) WHERE status IN ('CREATED', 'PROCESSING')",
    ),
    3: (
        """CREATE TABLE resources (
            scope text COLLATE "C" NOT NULL,
            kind text COLLATE "C" NOT NULL,
            name text COLLATE "C" NOT NULL,
            version integer NOT NULL,
            doc text NOT NULL,
            PRIMARY KEY (scope, kind, name, version)
        )""",
    ),
    4: (
        # Segments (S3): an attribute value read as an ISO-8601 instant, as UTC text
        # `YYYY-MM-DDTHH:MM:SS.mmm` (core.segments.instant_key), or NULL when it is not
        # one. A function because the cast raises on impossible dates, which a query
        # over every endpoint must survive.
        """CREATE OR REPLACE FUNCTION openpinpoint_instant(value text) RETURNS text
        LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
        BEGIN
            IF value !~ ('^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}'
                         '(:[0-9]{2}([.][0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?$') THEN
                RETURN NULL;
            END IF;
            IF value ~ '(Z|[+-][0-9]{2}:[0-9]{2})$' THEN
                RETURN to_char(value::timestamptz AT TIME ZONE 'UTC',
                               'YYYY-MM-DD"T"HH24:MI:SS.MS');
            END IF;
            RETURN to_char(value::timestamp, 'YYYY-MM-DD"T"HH24:MI:SS.MS');
        EXCEPTION WHEN others THEN
            RETURN NULL;
        END
        $$""",
    ),
    5: (
        # A write transaction's lock attempts (`Locks`): failing inside the database, they
        # need no answer of their own and travel with the statements after them, which the
        # error aborts. Raises lock_not_available, which the store reads as LockConflict.
        """CREATE OR REPLACE FUNCTION openpinpoint_try_locks(keys bigint[], exclusive boolean)
        RETURNS void LANGUAGE plpgsql AS $$
        DECLARE
            key bigint;
            taken boolean;
        BEGIN
            FOREACH key IN ARRAY keys LOOP
                taken := CASE WHEN exclusive THEN pg_try_advisory_xact_lock(key)
                              ELSE pg_try_advisory_xact_lock_shared(key) END;
                IF NOT taken THEN
                    RAISE EXCEPTION 'advisory lock % is held by another transaction', key
                        USING ERRCODE = 'lock_not_available';
                END IF;
            END LOOP;
        END
        $$""",
    ),
    6: (
        # What segments test, one narrow row per ACTIVE endpoint (store/segment_rows.py).
        """CREATE TABLE segment_fields (
            app_id text COLLATE "C" NOT NULL,
            k text COLLATE "C" NOT NULL,
            user_id text COLLATE "C",
            channel text COLLATE "C",
            app_version text COLLATE "C",
            make text COLLATE "C",
            model text COLLATE "C",
            platform text COLLATE "C",
            country text COLLATE "C",
            latitude double precision,
            longitude double precision,
            effective text COLLATE "C",
            terms text COLLATE "C" NOT NULL,
            attributes jsonb,
            user_attributes jsonb,
            metrics jsonb,
            PRIMARY KEY (app_id, k)
        )""",
        # A lambda: the function is defined below, with the rest of the segment_fields code.
        lambda conn: _fill_segment_fields(conn),  # noqa: PLW0108
    ),
}
SCHEMA_VERSION = max(MIGRATIONS)
BULK_ENDPOINTS = 100
"""A write of more endpoints than this at once holds their app exclusively instead of the
locks of each (`PostgresTx._put_in_bulk`)."""


def redact(url: str) -> str:
    """The URL without its password, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def migrate(conn: Connection) -> int:
    """Bring the schema to SCHEMA_VERSION; idempotent, and safe when several servers start
    at once (they queue on one advisory lock; the first applies, the others find it done)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
        version = int(row[0]) if row else 0
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"the database has schema version {version}, newer than this OpenPinpoint "
                f"understands ({SCHEMA_VERSION}); upgrade OpenPinpoint"
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[target]:
                if isinstance(statement, str):
                    conn.execute(statement)
                else:
                    statement(conn)
            conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (target,))
            log.info("migrated PostgreSQL schema to version %d", target)
    return SCHEMA_VERSION


# PostgreSQL text cannot hold NUL, which SQLite stores and a client's JSON string may contain.
# The columns that hold client text outside the JSON document (address, attribute name) store
# such a value escaped, injectively: a value holding NUL, or starting with the mark, becomes
# the mark followed by the value with each mark doubled and each NUL written as mark + "0".
_MARK = "\x01"
_ESCAPED = re.compile("\x01(.)", re.DOTALL)


def to_column(value: str) -> str:
    if "\x00" not in value and not value.startswith(_MARK):
        return value
    return _MARK + value.replace(_MARK, _MARK * 2).replace("\x00", _MARK + "0")


def from_column(value: str) -> str:
    if not value.startswith(_MARK):
        return value
    return _ESCAPED.sub(lambda m: "\x00" if m[1] == "0" else m[1], value[1:])


def _columns(endpoint: StoredEndpoint) -> StoredEndpoint:
    """The endpoint as the columns of the `endpoints` table hold it."""
    address = endpoint.address and to_column(endpoint.address)
    return endpoint if address is endpoint.address else endpoint._replace(address=address)


def lock_key(kind: str, app_id: str, value: str = "") -> int:
    """The advisory-lock key (a signed 64-bit int) of one thing in one app. Two things that
    happen to share a key only wait for each other a little more than they need to."""
    digest = hashlib.blake2b(f"{kind}\0{app_id}\0{value}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class LockConflict(Exception):
    """A lock that a running write transaction asked for is held by another transaction."""


class Locks:
    """The advisory locks of one write transaction (docs/architecture.md, "PostgreSQL"), and
    the statements it has not sent yet.

    Running transactions only *try* locks and never wait while holding any, so they cannot
    deadlock; one that finds a lock taken starts again and first waits for every lock it
    needed, in key order. `wanted` maps each key to whether it is needed exclusively.

    A lock attempt fails inside the database (`openpinpoint_try_locks` raises
    lock_not_available, which aborts what follows it), so nobody needs its answer: it waits
    in a queue with the other statements whose answers nobody reads (BEGIN, writes), and
    they all travel in one message (libpq's pipeline mode, one Sync) with the next statement
    that is read, or with COMMIT. Each statement still runs on its own snapshot, after the
    ones before it: a read sees every commit of the previous holders of the locks queued
    before it, and the transaction's own writes.
    """

    def __init__(self, conn: _GreenConnection, wanted: dict[int, bool]) -> None:
        self.conn = conn
        self._adapter = conn.adapter
        self._answer = _Answer([])
        self._queue: list[_Queued] = []
        self._preparing: dict[str, str] = {}  # statements prepared in the queue: SQL → name
        # Queued reads whose rows go to a callback: (index in the queue, callback).
        self._answers: list[tuple[int, Callable[[list[tuple[Any, ...]]], None]]] = []
        self._begun = False  # whether BEGIN has been sent
        self.held: dict[int, bool] = {}
        self.queue("BEGIN ISOLATION LEVEL READ COMMITTED")
        for key in sorted(wanted):
            exclusive = wanted[key]
            fn = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
            self.queue(f"SELECT {fn}(%s)", (key,))
            self.held[key] = exclusive

    def queue(
        self,
        sql: str,
        params: tuple[Any, ...] = (),
        answer: Callable[[list[tuple[Any, ...]]], None] | None = None,
    ) -> None:
        """Send the statement with the next one that is read; `answer`, if given, gets its
        rows once they come back.

        A statement with parameters runs a statement prepared once per connection (prepared
        in the same message the first time): PostgreSQL then neither parses nor plans it
        again, a quarter of its CPU for an update. Its values travel as text beside it, as
        psycopg's dumpers write them: neither escaped into the statement (15 µs for an
        endpoint's write, against 3.6) nor read back out of it by PostgreSQL's parser."""
        if not params:
            self._queue.append(_Queued(None, sql.encode(), None))
        else:
            values = self._adapter.dump_sequence(params, [PyFormat.TEXT] * len(params))
            self._queue.append(_Queued(self._prepared(sql), b"", values))
        if answer is not None:
            self._answers.append((len(self._queue) - 1, answer))

    def _prepared(self, sql: str) -> bytes:
        """The name of `sql` prepared on the connection, its preparation queued if need be."""
        name = self.conn.prepared.get(sql) or self._preparing.get(sql)
        if name is None:
            name = self.conn.new_statement_name("write")
            self._queue.append(_Queued(name.encode(), _numbered(sql).encode(), None))
            self._preparing[sql] = name
        return name.encode()

    def send(self, sql: str, params: tuple[Any, ...] = ()) -> _Answer:
        """Run the queued statements, then this one, in one round trip; its answer."""
        self.queue(sql, params)
        return self.flush()

    def flush(self) -> _Answer:
        """Run the queued statements in one round trip; the last one's answer.

        Sent and read through libpq directly (psycopg's `pq` layer), the rows loaded by
        psycopg's `Transformer`: a cursor's execute costs ~25 µs of CPU more a message
        (query conversion, column objects, a result set for each statement)."""
        statements, self._queue = self._queue, []
        if not statements:
            return self._answer
        self._begun = True
        pgconn = self.conn.pgconn
        pgconn.enter_pipeline_mode()
        for name, sql, values in statements:
            if name is None:
                pgconn.send_query_params(sql, None)
            elif values is None:
                pgconn.send_prepare(name, sql)
            else:
                pgconn.send_query_prepared(name, values)
        pgconn.pipeline_sync()
        # Left in pipeline mode if the wait fails: the connection is then closed, not reused.
        results = self.conn.wait(_pipeline_results(pgconn, len(statements)))
        pgconn.exit_pipeline_mode()
        preparing, self._preparing = self._preparing, {}
        answers, self._answers = self._answers, []
        for result in results:
            if result.status not in _ANSWERED:
                # The message stopped there: its preparations after that point did not
                # run, those before it did. None is taken as known, and the next use of
                # each prepares it under a new name.
                error = errors.error_from_result(result, encoding=self.conn.info.encoding)
                if isinstance(error, errors.LockNotAvailable):
                    raise LockConflict(dict(self.held)) from None
                if isinstance(error, errors.InvalidSqlStatementName):
                    self.conn.forget_statements()
                raise error
        self.conn.prepared.update(preparing)
        for index, answer in answers:
            answer(self._load(results[index]))
        self._answer = _Answer(self._load(results[-1]))
        return self._answer

    def _load(self, result: PGresult) -> list[tuple[Any, ...]]:
        if not result.ntuples:
            return []
        self._adapter.set_pgresult(result)
        return self._adapter.load_rows(0, result.ntuples, tuple)

    def commit(self) -> None:
        """COMMIT, with what is still queued; nothing at all when nothing was sent."""
        if self._begun or len(self._queue) > 1:
            self.send("COMMIT")

    def take(
        self, keys: Iterable[int], exclusive: bool = True, then: Query | None = None
    ) -> list[tuple[Any, ...]]:
        """Try the locks; then run the statement `then` and return its rows (none for a
        statement that returns none). Without `then`, the attempt waits in the queue."""
        missing = sorted(
            {k for k in keys if k not in self.held or (exclusive and not self.held[k])}
        )
        if missing:
            # Formatted here: psycopg's dumping of a list costs ~20 µs a call (measured),
            # ~5% of an update. int() makes sure that only whole numbers reach the text,
            # whatever a caller passed.
            keys_text = ",".join(str(int(key)) for key in missing)
            values = [f"{{{keys_text}}}".encode(), b"t" if exclusive else b"f"]
            self._queue.append(_Queued(self._prepared(_TRY_LOCKS), b"", values))
            # Held from here on as far as this transaction knows: an attempt that fails
            # raises LockConflict with them, and the rerun waits for all of them.
            for key in missing:
                self.held[key] = exclusive or self.held.get(key, False)
        return _rows(self.send(*then)) if then else []


class _Queued(NamedTuple):
    """A statement waiting in `Locks`' queue: with `name` and `values`, a run of the
    prepared statement `name`; with `name` alone, the preparation of `sql` under it;
    without a name, `sql` as it is."""

    name: bytes | None
    sql: bytes
    values: Sequence[Buffer | None] | None


class _Answer:
    """The rows of the last statement of a message that `Locks` sent: what the store reads
    of a cursor."""

    __slots__ = ("_found",)
    description = ()  # unlike a cursor's, never None: a statement without rows has none

    def __init__(self, found: list[tuple[Any, ...]]) -> None:
        self._found = found

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._found

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._found[0] if self._found else None

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self._found)


_ANSWERED = (ExecStatus.COMMAND_OK, ExecStatus.TUPLES_OK, ExecStatus.EMPTY_QUERY)
_TRY_LOCKS = "SELECT openpinpoint_try_locks(%s::bigint[], %s::boolean)"
Rows = psycopg.Cursor[TupleRow] | _Answer


def _rows(cursor: Rows) -> list[tuple[Any, ...]]:
    return cursor.fetchall() if cursor.description is not None else []


class PostgresTx(WriteTx):
    """One transaction. In a write transaction every read takes, first, the lock of what it
    reads (an endpoint id, a user, an address, an app's attribute names), and every endpoint
    write the locks of its id and of its user and address before and after; so whatever a
    transaction has read stays as read until it commits (see docs/architecture.md).

    Extending it: a new read in a write transaction takes the lock of what it reads; a new
    write of endpoints goes through `_write_endpoints`; a write of anything else in an app
    relies on the app's shared lock, which `get_app` (called by every operation on an app
    through `require_app`) takes, or takes a lock of its own. `LockConflict` must be left
    to propagate.

    A read transaction made `single` runs outside any transaction block: its one statement
    is its snapshot, with no BEGIN or COMMIT to wait for; a second statement raises
    `NeedsSnapshot` so that the store runs the function again in a real transaction. Such a
    read is first tried with no connection of its own, its statement sent with other
    requests' (`_ReadBatches`)."""

    def __init__(self, conn: _Statements, locks: Locks | None, single: bool = False) -> None:
        self._conn = conn
        self._locks = locks
        self._single = single
        self._ran = False
        # (user_id, address) of endpoints read or written under lock, by (app_id, id_key).
        self._seen: dict[tuple[str, str], tuple[str | None, str | None]] = {}
        self._held: set[str] = set()  # apps whose lock this transaction holds exclusively
        # `read_ahead`'s answers, each with the count of writes before it was read: a
        # write since makes it stale.
        self._ahead: dict[tuple[object, ...], tuple[int, list[tuple[Any, ...]]]] = {}
        self._writes = 0

    def _hold(self, app_id: str) -> None:
        """Take the app's lock exclusively: from here on no other transaction writes in the
        app, and this one takes none of the locks of `_APP_KINDS` in it."""
        if self._locks is not None and app_id not in self._held:
            self._lock("app", app_id, "")
            self._held.add(app_id)

    def _lock(
        self,
        kind: str,
        app_id: str,
        *values: str | None,
        exclusive: bool = True,
        then: Query | None = None,
    ) -> list[tuple[Any, ...]]:
        """In a write transaction, the locks of `values` of `kind`; then the rows of `then`."""
        if self._locks is not None and not (kind in _APP_KINDS and app_id in self._held):
            if kind in _APP_KINDS:
                self._locks.take([lock_key("app", app_id, "")], exclusive=False)
            keys = [lock_key(kind, app_id, v) for v in values if v is not None]
            return self._locks.take(keys, exclusive, then)
        return _rows(self._execute(*then)) if then else []

    def _execute(self, sql: str, params: tuple[Any, ...] = ()) -> Rows:
        if self._locks is not None:
            return self._locks.send(sql, params)
        self._one_more_statement()
        return self._conn.execute(sql, params)

    def _text_rows(self, sql: str, params: tuple[str, ...]) -> list[tuple[str | None, ...]]:
        """A read's rows, for a statement whose parameters and columns are all text."""
        assert self._locks is None, "a write transaction's statements go through its Locks"
        self._one_more_statement()
        return self._conn.text_rows(sql, params)

    def _one_more_statement(self) -> None:
        if self._single:
            if self._ran:
                raise NeedsSnapshot
            self._ran = True

    def _endpoints(
        self, rows: Iterable[tuple[Any, ...]], locked: bool = True
    ) -> list[EndpointResponse]:
        """Endpoints from rows of `_ENDPOINTS`; `locked` when the caller holds a lock that
        keeps them as read."""
        found = []
        for app_id, key, user_id, address, doc in rows:
            if locked:
                self._seen[app_id, key] = (user_id, address and from_column(address))
            found.append(decode_endpoint(doc))
        return found

    def _count(self, sql: str, params: tuple[Any, ...]) -> int:
        row = self._execute(sql, params).fetchone()
        assert row is not None
        return int(row[0])

    def get_app(self, app_id: str) -> App | None:
        if "\x00" in app_id:  # from a URL; no stored id holds NUL
            return None
        if self._locks is None:
            rows: list[tuple[Any, ...]] = self._text_rows(_APP, (app_id,))
            return decode_app(rows[0][0]) if rows else None
        # Shared: writes in an app exclude only its update and deletion, not each other.
        rows = self._lock("app", app_id, "", exclusive=False, then=(_APP, (app_id,)))
        return decode_app(rows[0][0]) if rows else None

    def list_apps(self, after: int, limit: int) -> list[tuple[int, App]]:
        rows = self._execute(
            "SELECT seq, doc FROM apps WHERE seq > %s ORDER BY seq LIMIT %s", (after, limit)
        )
        return [(seq, decode_app(doc)) for seq, doc in rows]

    def get_endpoint(self, app_id: str, key: str) -> EndpointResponse | None:
        rows = self._lock(
            "endpoint", app_id, key, then=(f"{_ENDPOINTS} AND id_key = %s", (app_id, key))
        )
        found = self._endpoints(rows)
        if not found:
            self._seen[app_id, key] = (None, None)
        return found[0] if found else None

    def user_endpoints(self, app_id: str, user_id: str) -> list[EndpointResponse]:
        return self._related("user", app_id, user_id)

    # In a write transaction these take the locks of both reads, then read as one statement.
    def get_app_and_endpoint(
        self, app_id: str, key: str
    ) -> tuple[App | None, EndpointResponse | None]:
        app, found = self._app_and_endpoints(app_id, "endpoint", key, "e.id_key = %s", "")
        if self._locks is not None and app is not None and not found:
            self._seen[app_id, key] = (None, None)
        return app, found[0] if found else None

    def get_app_and_user_endpoints(
        self, app_id: str, user_id: str
    ) -> tuple[App | None, list[EndpointResponse]]:
        order = "ORDER BY e.id_key"
        return self._app_and_endpoints(app_id, "user", user_id, "e.user_id = %s", order)

    def _app_and_endpoints(
        self, app_id: str, kind: str, value: str, on: str, order: str
    ) -> tuple[App | None, list[EndpointResponse]]:
        if "\x00" in app_id:  # from a URL; no stored id holds NUL
            return None, []
        query = _APP_AND_ENDPOINTS.format(on=on, order=order)
        if self._locks is None:
            return app_and_endpoints(self._text_rows(query, (value, app_id)))
        if app_id in self._held:
            return app_and_endpoints(self._execute(query, (value, app_id)).fetchall())
        # The app's lock shared, as in `get_app`.
        self._locks.take([lock_key("app", app_id, "")], exclusive=False)
        rows = self._locks.take([lock_key(kind, app_id, value)], then=(query, (value, app_id)))
        for _, _, key, user_id, address in rows:
            if key is not None:
                self._seen[app_id, key] = (user_id, address and from_column(address))
        return app_and_endpoints(rows)

    def list_endpoints(self, app_id: str, after_key: str, limit: int) -> list[EndpointResponse]:
        rows = self._execute(
            f"{_ENDPOINTS} AND id_key > %s ORDER BY id_key LIMIT %s", (app_id, after_key, limit)
        )
        return self._endpoints(rows, locked=False)

    def list_stored_endpoints(
        self, app_id: str, after_key: str, limit: int
    ) -> list[StoredEndpoint]:
        rows = self._execute(
            "SELECT id_key, user_id, address, status, doc FROM endpoints"
            " WHERE app_id = %s AND id_key > %s ORDER BY id_key LIMIT %s",
            (app_id, after_key, limit),
        )
        return [
            StoredEndpoint(key, user_id, address and from_column(address), status, doc)
            for key, user_id, address, status, doc in rows
        ]

    def list_segment_rows(self, app_id: str, after_key: str, last_key: str) -> None:
        # Its JSON columns are jsonb, whose text comes back with keys reordered and spaces
        # added: copied into SQLite, which keeps the text, a row would not be the one that
        # SQLite makes. They are made again.
        return None

    def count_endpoints(self, app_id: str) -> int:
        return self._count("SELECT count(*) FROM endpoints WHERE app_id = %s", (app_id,))

    def count_users(self, app_id: str) -> int:
        return self._count(
            "SELECT count(DISTINCT user_id) FROM endpoints WHERE app_id = %s", (app_id,)
        )

    def attribute_names(self, app_id: str, kind: str) -> list[str]:
        query = "SELECT name FROM attribute_names WHERE app_id = %s AND kind = %s ORDER BY name"
        rows = self._lock("names", app_id, "", then=(query, (app_id, kind)))
        return [from_column(name) for (name,) in rows]

    def count_attribute_names(self, app_id: str) -> int:
        query = "SELECT count(*) FROM attribute_names WHERE app_id = %s"
        return int(self._lock("names", app_id, "", then=(query, (app_id,)))[0][0])

    def insert_app(self, app: App) -> None:
        self._execute("INSERT INTO apps (id, doc) VALUES (%s, %s)", (app.id, encode(app).decode()))

    def update_app(self, app: App) -> None:
        self._lock("app", app.id, "")
        self._execute("UPDATE apps SET doc = %s WHERE id = %s", (encode(app).decode(), app.id))

    def delete_app(self, app_id: str) -> None:
        self._writes += 1
        self._lock("app", app_id, "")
        for table in ("endpoints", "segment_fields", "attribute_names", "jobs"):
            self._execute(f"DELETE FROM {table} WHERE app_id = %s", (app_id,))
        self._execute("DELETE FROM resources WHERE scope = %s", (app_id,))
        self._execute("DELETE FROM apps WHERE id = %s", (app_id,))

    def read_ahead(
        self,
        app_id: str,
        *,
        names: Mapping[str, Iterable[str]],
        addresses: Iterable[str],
        users: Iterable[str],
    ) -> None:
        # Each read queued under the lock its own read would take, so the answer holds
        # until COMMIT unless this transaction writes.
        if self._locks is None or app_id in self._held or "\x00" in app_id:
            return
        wanted = _pairs(names)
        if wanted:
            self._queue_ahead(("names", app_id, wanted), self._names_query(app_id, wanted))
        for kind, values in (("address", addresses), ("user", users)):
            for value in values:
                self._lock(kind, app_id, value)
                self._queue_ahead((kind, app_id, value), _related_query(kind, app_id, value))

    def _queue_ahead(self, key: tuple[object, ...], query: Query) -> None:
        assert self._locks is not None
        writes = self._writes

        def keep(rows: list[tuple[Any, ...]]) -> None:
            self._ahead[key] = (writes, rows)

        self._locks.queue(*query, answer=keep)

    def _answer_ahead(self, key: tuple[object, ...]) -> list[tuple[Any, ...]] | None:
        """The rows read ahead under `key`, if no write of this transaction came since."""
        found = self._ahead.pop(key, None)
        return found[1] if found is not None and found[0] == self._writes else None

    def active_endpoints_with_address(self, app_id: str, address: str) -> list[EndpointResponse]:
        return self._related("address", app_id, address)

    def _related(self, kind: str, app_id: str, value: str) -> list[EndpointResponse]:
        """The endpoints of a user, or the ACTIVE ones at an address (`kind`), under its
        lock: as read ahead, or read now."""
        rows = self._answer_ahead((kind, app_id, value))
        if rows is None:
            rows = self._lock(kind, app_id, value, then=_related_query(kind, app_id, value))
        return self._endpoints(rows)

    def _write_endpoints(
        self,
        app_id: str,
        changes: dict[str, tuple[str | None, str | None]],
        write: Query,
        defer: bool = False,
    ) -> None:
        """Run `write` under the locks of the endpoints' ids (the keys of `changes`), and of
        their users and addresses before and after (the values). With `defer`, the locks and
        the write wait in the queue for the next statement that is read, or for COMMIT:
        no round trip of their own unless an endpoint's row was not read under a lock yet.
        Without it, the write runs now, on the extended protocol (binary parameters)."""
        self._writes += 1
        if self._locks is None:
            self._execute(*write)
            return
        if app_id not in self._held:
            self._lock_endpoint_changes(app_id, changes)
        if defer:
            self._locks.queue(*write)
        else:
            self._run_now(write)

    def _lock_endpoint_changes(
        self, app_id: str, changes: dict[str, tuple[str | None, str | None]]
    ) -> None:
        assert self._locks is not None
        self._lock("endpoint", app_id, *changes)
        unseen = [key for key in changes if (app_id, key) not in self._seen]
        if unseen:
            # Under their locks since the line above: what they hold now stays until COMMIT.
            query = f"{_ENDPOINTS} AND id_key = ANY(%s)"
            self._endpoints(self._execute(query, (app_id, unseen)))
            for key in unseen:
                self._seen.setdefault((app_id, key), (None, None))
        others: list[int] = []
        for key, after in changes.items():
            before = self._seen[app_id, key]
            for kind, old, new in zip(("user", "address"), before, after, strict=True):
                others += [lock_key(kind, app_id, v) for v in (old, new) if v is not None]
            self._seen[app_id, key] = after
        self._locks.take(others)

    def _run_now(self, statement: Query) -> list[tuple[Any, ...]]:
        """After what is queued, `statement` through psycopg's cursor (binary parameters,
        which a large array needs: the queue writes each value as text)."""
        self._writer.flush()
        return _rows(self._writer.conn.execute(*statement))

    @property
    def _writer(self) -> Locks:
        assert self._locks is not None, "only a write transaction writes"
        return self._locks

    def related_endpoints(
        self,
        app_id: str,
        keys: Collection[str],
        users: Collection[str] = (),
        addresses: Collection[str] = (),
    ) -> list[EndpointResponse]:
        query = (
            f"{_ENDPOINTS} AND (id_key = ANY(%b::text[]) OR user_id = ANY(%b::text[])"
            " OR (address = ANY(%b::text[]) AND status = 'ACTIVE'))"
        )
        params = (app_id, list(keys), list(users), [to_column(a) for a in addresses])
        if self._locks is None:
            rows = _rows(self._execute(query, params))
        elif app_id in self._held or len(keys) > BULK_ENDPOINTS:
            self._hold(app_id)
            rows = self._run_now((query, params))
        else:
            self._locks.take([lock_key("app", app_id, "")], exclusive=False)
            wanted = [
                lock_key(kind, app_id, value)
                for kind, values in (("endpoint", keys), ("user", users), ("address", addresses))
                for value in values
            ]
            rows = self._locks.take(wanted, then=(query.replace("%b", "%s"), params))
            for key in keys:
                self._seen[app_id, key] = (None, None)  # until a row below says otherwise
        return self._endpoints(rows, locked=app_id not in self._held)

    def put_endpoint(self, app_id: str, endpoint: EndpointResponse) -> None:
        row = stored_endpoint(endpoint)
        put = (
            "WITH e AS (INSERT INTO endpoints (app_id, id_key, user_id, address, status, doc)"
            f" VALUES (%s, %s, %s, %s, %s, %s){_UPSERT}) "
        )
        fields = segment_rows.segment_row(row.key, row.user_id, row.status, row.doc)
        also: tuple[str, tuple[Any, ...]]
        if fields is None:
            also = (_DELETE_SEGMENT_FIELDS + " = %s", (app_id, row.key))
        else:
            also = (_PUT_SEGMENT_FIELDS.format(rows=_SEGMENT_VALUES), (app_id, *fields))
        self._write_endpoints(
            app_id,
            {row.key: (row.user_id, row.address)},
            (put + also[0], (app_id, *_columns(row), *also[1])),
            defer=True,
        )

    def put_endpoints(
        self,
        app_id: str,
        endpoints: Iterable[StoredEndpoint],
        rows: segment_rows.Split | None = None,
    ) -> None:
        # One statement for all: the last of several endpoints with one key wins, as it
        # would one after the other.
        latest = {endpoint.key: endpoint for endpoint in endpoints}
        active, inactive = segment_rows.rows_of(latest, rows)
        if len(latest) > BULK_ENDPOINTS:
            self._put_in_bulk(app_id, latest, active)
            return
        self._write_endpoints(
            app_id,
            {e.key: (e.user_id, e.address) for e in latest.values()},
            (
                "WITH e AS (INSERT INTO endpoints (app_id, id_key, user_id, address, status, doc)"
                # %b: binary arrays, which psycopg writes without escaping each string.
                " SELECT %s, * FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[],"
                f" %b::text[]){_UPSERT}), gone AS ({_DELETE_SEGMENT_FIELDS} = ANY(%b::text[])) "
                + _PUT_SEGMENT_FIELDS.format(rows=_SEGMENT_ARRAYS),
                (
                    app_id,
                    [e.key for e in latest.values()],
                    [e.user_id for e in latest.values()],
                    [e.address and to_column(e.address) for e in latest.values()],
                    [e.status for e in latest.values()],
                    [e.doc for e in latest.values()],
                    app_id,
                    inactive,
                    app_id,
                    *_field_arrays(active),
                ),
            ),
        )

    def _put_in_bulk(
        self, app_id: str, rows: dict[str, StoredEndpoint], active: list[SegmentRow]
    ) -> None:
        """Many endpoints at once (`migrate-store`'s pages) under the app's lock, held
        exclusively: every other write in the app holds it shared (`get_app`), so none can
        run beside this one, and the locks of each endpoint, user and address, three per
        endpoint that would overflow PostgreSQL's lock table on a large page, are not
        needed. The rows travel by COPY, PostgreSQL's fastest way in; COPY cannot replace
        a row, so when some keys exist already they are deleted first and COPY runs again."""
        self._writes += 1
        self._hold(app_id)
        # BEGIN and the lock attempt go first: COPY and the DELETE run on the connection
        # itself, outside the queue of statements.
        self._writer.flush()
        conn = self._writer.conn
        try:
            with conn.transaction():  # a savepoint, to undo a COPY that met a key
                self._copy_endpoints(app_id, rows.values(), active)
        except errors.UniqueViolation:
            conn.execute(
                f"WITH gone AS ({_DELETE_SEGMENT_FIELDS} = ANY(%b::text[]))"
                " DELETE FROM endpoints WHERE app_id = %s AND id_key = ANY(%b::text[])",
                (app_id, list(rows), app_id, list(rows)),
            )
            self._copy_endpoints(app_id, rows.values(), active)

    def _copy_endpoints(
        self, app_id: str, rows: Collection[StoredEndpoint], active: list[SegmentRow]
    ) -> None:
        conn = self._writer.conn
        with conn.cursor().copy(
            "COPY endpoints (app_id, id_key, user_id, address, status, doc)"
            " FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["text"] * 6)
            for row in rows:
                copy.write_row((app_id, *_columns(row)))
        _copy_segment_fields(conn, app_id, active)

    def delete_endpoints(self, app_id: str, keys: Iterable[str]) -> None:
        keys = list(keys)
        self._write_endpoints(
            app_id,
            dict.fromkeys(keys, (None, None)),
            (
                f"WITH gone AS ({_DELETE_SEGMENT_FIELDS} = ANY(%s))"
                " DELETE FROM endpoints WHERE app_id = %s AND id_key = ANY(%s)",
                (app_id, keys, app_id, keys),
            ),
            defer=True,
        )

    def known_attribute_names(self, app_id: str, kind: str, names: Iterable[str]) -> set[str]:
        return self.known_attribute_names_by_kind(app_id, {kind: names}).get(kind, set())

    def known_attribute_names_by_kind(
        self, app_id: str, names: Mapping[str, Iterable[str]]
    ) -> dict[str, set[str]]:
        wanted = _pairs(names)
        ahead = self._answer_ahead(("names", app_id, wanted))
        known = self._known_names(app_id, wanted) if ahead is None else _known(ahead, wanted)
        if known != wanted and self._locks is not None and app_id not in self._held:
            # About to register new names: from here on the app's registry must hold still.
            self._locks.take([lock_key("names", app_id, "")])
            known = self._known_names(app_id, wanted)
        found: dict[str, set[str]] = {kind: set() for kind in names}
        for kind, name in known:
            found[kind].add(name)
        return found

    def _known_names(
        self, app_id: str, names: frozenset[tuple[str, str]]
    ) -> frozenset[tuple[str, str]]:
        return _known(self._execute(*self._names_query(app_id, names)), names)

    @staticmethod
    def _names_query(app_id: str, names: frozenset[tuple[str, str]]) -> Query:
        # Any of the kinds with any of the names, the pairs picked by `_known`: PostgreSQL
        # plans this in ~80 µs less of its CPU than a join on the pairs (measured).
        return (
            "SELECT kind, name FROM attribute_names"
            " WHERE app_id = %s AND kind = ANY(%s) AND name = ANY(%s)",
            (app_id, list({kind for kind, _ in names}), [to_column(name) for _, name in names]),
        )

    def add_attribute_names(self, app_id: str, kind: str, names: Iterable[str]) -> None:
        self._writes += 1
        self._lock("names", app_id, "")
        self._execute(
            "INSERT INTO attribute_names (app_id, kind, name)"
            " SELECT %s, %s, unnest(%s::text[]) ON CONFLICT DO NOTHING",
            (app_id, kind, [to_column(name) for name in names]),
        )

    def remove_attribute_names(self, app_id: str, kind: str, names: Iterable[str]) -> None:
        self._writes += 1
        self._lock("names", app_id, "")
        self._execute(
            "DELETE FROM attribute_names WHERE app_id = %s AND kind = %s AND name = ANY(%s)",
            (app_id, kind, [to_column(name) for name in names]),
        )

    # Jobs. In a write transaction a job is read and written under its own lock, so that
    # claiming its lease and saving its progress are each atomic across servers.

    def get_job(self, app_id: str, job_id: str) -> JobRecord | None:
        query = f"SELECT {JobRecord.COLUMNS} FROM jobs WHERE app_id = %s AND id = %s"
        rows = self._lock("job", app_id, job_id, then=(query, (app_id, job_id)))
        return JobRecord.from_row(rows[0]) if rows else None

    def list_jobs(
        self, app_id: str, job_type: str, after: int, limit: int
    ) -> list[tuple[int, JobRecord]]:
        rows = self._execute(
            f"SELECT seq, {JobRecord.COLUMNS} FROM jobs"
            " WHERE app_id = %s AND type = %s AND seq > %s ORDER BY seq LIMIT %s",
            (app_id, job_type, after, limit),
        )
        return [(row[0], JobRecord.from_row(row[1:])) for row in rows]

    def unfinished_jobs(self) -> list[JobRecord]:
        rows = self._execute(
            f"SELECT {JobRecord.COLUMNS} FROM jobs WHERE status IN ('CREATED', 'PROCESSING')"
            " ORDER BY seq"
        )
        return [JobRecord.from_row(row) for row in rows]

    def put_job(self, job: JobRecord) -> None:
        self._lock("job", job.app_id, job.id)
        self._execute(
            f"INSERT INTO jobs ({JobRecord.COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET status = excluded.status,"
            " owner = excluded.owner, lease_until = excluded.lease_until, doc = excluded.doc",
            (job.app_id, job.id, job.type, job.status, job.owner, job.lease_until, job.doc),
        )

    # Resources. In a write transaction each resource (all its versions) is read and
    # written under its own lock, so that "create unless it exists" and "add the next
    # version" are atomic across servers.

    def _resource_rows(
        self, scope: str, kind: str, name: str, query: Query | None = None
    ) -> list[Any]:
        return self._lock("resource", scope, f"{kind}\0{name}", then=query)

    def get_resource(
        self, scope: str, kind: str, name: str, version: int | None = None
    ) -> Resource | None:
        if version is None:
            query: Query = (_RESOURCE + " ORDER BY version DESC LIMIT 1", (scope, kind, name))
        else:
            query = (_RESOURCE + " AND version = %s", (scope, kind, name, version))
        rows = self._resource_rows(scope, kind, name, query)
        return Resource.from_row(rows[0]) if rows else None

    def list_resources(
        self, scope: str, kind: str, after: str, limit: int, prefix: str = ""
    ) -> list[Resource]:
        rows = self._execute(
            f"SELECT DISTINCT ON (name) {Resource.COLUMNS} FROM resources"
            " WHERE scope = %s AND kind = %s AND name > %s AND left(name, %s) = %s"
            " ORDER BY name, version DESC LIMIT %s",
            (scope, kind, after, len(prefix), prefix, limit),
        )
        return [Resource.from_row(row) for row in rows]

    def resource_versions(self, scope: str, kind: str, name: str) -> list[Resource]:
        query = (_RESOURCE + " ORDER BY version", (scope, kind, name))
        return [Resource.from_row(row) for row in self._resource_rows(scope, kind, name, query)]

    def scope_resources(self, scope: str) -> list[Resource]:
        rows = self._execute(
            f"SELECT {Resource.COLUMNS} FROM resources WHERE scope = %s"
            " ORDER BY kind, name, version",
            (scope,),
        )
        return [Resource.from_row(row) for row in rows]

    def put_resource(self, resource: Resource) -> None:
        self._resource_rows(resource.scope, resource.kind, resource.name)
        self._execute(
            f"INSERT INTO resources ({Resource.COLUMNS}) VALUES (%s, %s, %s, %s, %s)"
            " ON CONFLICT (scope, kind, name, version) DO UPDATE SET doc = excluded.doc",
            (resource.scope, resource.kind, resource.name, resource.version, resource.doc),
        )

    def delete_resource(self, scope: str, kind: str, name: str, version: int | None = None) -> None:
        self._resource_rows(scope, kind, name)
        sql = "DELETE FROM resources WHERE scope = %s AND kind = %s AND name = %s"
        if version is None:
            self._execute(sql, (scope, kind, name))
        else:
            self._execute(sql + " AND version = %s", (scope, kind, name, version))

    # Segments: one query per segment, compiled from its predicate (store/segment_sql.py).

    def segment_members(
        self,
        app_id: str,
        predicate: Predicate,
        after_key: str,
        limit: int,
        until_key: str | None = None,
    ) -> list[EndpointResponse]:
        sql, params = PostgresSegmentSql().members_query(
            app_id, predicate, after_key, limit, until_key
        )
        self._walk_the_key()
        return [decode_endpoint(doc) for (doc,) in self._execute(sql, tuple(params))]

    def count_segment(self, app_id: str, predicate: Predicate) -> dict[str, int]:
        sql, params = PostgresSegmentSql().count_query(app_id, predicate)
        return {channel: count for channel, count in self._execute(sql, tuple(params))}

    def segment_window_end(self, app_id: str, after_key: str, rows: int) -> str | None:
        sql, params = PostgresSegmentSql().window_end_query(app_id, after_key, rows)
        self._walk_the_key()
        row = self._execute(sql, tuple(params)).fetchone()
        return str(row[0]) if row else None

    def _walk_the_key(self) -> None:
        """Plan this transaction's pages and windows of a segment as walks along the
        primary key. The planner cannot estimate a segment's condition, and guesses that
        sorting every match beats walking the key in order; the walk stops after `limit`
        members or at the window's end, so a page costs the rows it passes over, not a
        scan of the app. Nor are workers started for a page: the export reads windows
        side by side itself, and starting them cost more than the page."""
        self._execute(
            "SELECT set_config('enable_sort', 'off', true),"
            " set_config('max_parallel_workers_per_gather', '0', true)"
        )


_ENDPOINTS = "SELECT app_id, id_key, user_id, address, doc FROM endpoints WHERE app_id = %s"
_USER_ENDPOINTS = f"{_ENDPOINTS} AND user_id = %s ORDER BY id_key"
_ACTIVE_AT_ADDRESS = f"{_ENDPOINTS} AND address = %s AND status = 'ACTIVE'"


def _related_query(kind: str, app_id: str, value: str) -> Query:
    """`PostgresTx._related`'s statement: a user's endpoints, or an address's ACTIVE ones."""
    if kind == "user":
        return _USER_ENDPOINTS, (app_id, value)
    assert kind == "address", kind
    return _ACTIVE_AT_ADDRESS, (app_id, to_column(value))


def _pairs(names: Mapping[str, Iterable[str]]) -> frozenset[tuple[str, str]]:
    return frozenset((kind, name) for kind, kind_names in names.items() for name in kind_names)


def _known(
    rows: Iterable[tuple[Any, ...]], names: frozenset[tuple[str, str]]
) -> frozenset[tuple[str, str]]:
    """Those of `names` among the rows of `_names_query`."""
    return frozenset((kind, from_column(name)) for kind, name in rows) & names


_APP_KINDS = frozenset({"endpoint", "user", "address", "names"})
"""The locks that a transaction holding their app's lock exclusively (`PostgresTx._hold`)
does without: each is taken with the app's lock shared."""
_APP = "SELECT doc FROM apps WHERE id = %s"
# The endpoint's key, user and address only for a write transaction's `_seen`.
_APP_AND_ENDPOINTS = (
    "SELECT a.doc, e.doc, e.id_key, e.user_id, e.address FROM apps a"
    " LEFT JOIN endpoints e ON e.app_id = a.id AND {on} WHERE a.id = %s {order}"
)
# put_endpoint's; put_endpoints' statement says the same for many rows.
_UPSERT = (
    " ON CONFLICT (app_id, id_key) DO UPDATE SET user_id = excluded.user_id,"
    " address = excluded.address, status = excluded.status, doc = excluded.doc"
)
_RESOURCE = f"SELECT {Resource.COLUMNS} FROM resources WHERE scope = %s AND kind = %s AND name = %s"

# segment_fields beside the endpoints a statement writes (store/segment_rows.py).
_DELETE_SEGMENT_FIELDS = "DELETE FROM segment_fields WHERE app_id = %s AND k"
_FIELD_NAMES = segment_rows.SegmentRow._fields
_FIELD_TYPES = ["text"] * 8 + ["float8"] * 2 + ["text"] * 2 + ["jsonb"] * 3
"""The SQL types of SegmentRow's fields, in order."""
_PUT_SEGMENT_FIELDS = (
    f"INSERT INTO segment_fields (app_id, {segment_rows.COLUMNS}) {{rows}}"
    " ON CONFLICT (app_id, k) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in segment_rows.COLUMN_NAMES[1:])
)
_SEGMENT_VALUES = "VALUES (%s, " + ", ".join(f"%s::{t}" for t in _FIELD_TYPES) + ")"
_SEGMENT_ARRAYS = (
    "SELECT %s, "
    + ", ".join(f"{c}::{t}" for c, t in zip(_FIELD_NAMES, _FIELD_TYPES, strict=True))
    + " FROM unnest("
    # jsonb travels as text: each element is cast once unnested.
    + ", ".join(f"%b::{'text' if t == 'jsonb' else t}[]" for t in _FIELD_TYPES)
    + f") AS t({', '.join(_FIELD_NAMES)})"
)


def _field_arrays(rows: list[SegmentRow]) -> list[list[Any]]:
    return (
        [list(column) for column in zip(*rows, strict=True)] if rows else [[]] * len(_FIELD_NAMES)
    )


def _copy_segment_fields(conn: Connection, app_id: str, rows: Iterable[SegmentRow]) -> None:
    cursor = conn.cursor()
    # The jsonb columns take the JSON text of the row as it is, not quoted as a string;
    # set for the cursor, not wrapped value by value (a third of the copy's own work).
    set_json_dumps(_as_is, cursor)
    with cursor.copy(
        f"COPY segment_fields (app_id, {segment_rows.COLUMNS}) FROM STDIN (FORMAT BINARY)"
    ) as copy:
        copy.set_types(["text", *_FIELD_TYPES])
        for row in rows:
            copy.write_row((app_id, *row))


def _as_is(text: str) -> str:
    return text


def _fill_segment_fields(conn: Connection) -> None:
    """Schema version 6: the segment rows of the endpoints stored before it."""
    with conn.cursor(name="openpinpoint_fill_segment_fields") as endpoints:
        endpoints.execute(ACTIVE_ENDPOINT_ROWS_SQL)
        while batch := endpoints.fetchmany(10_000):
            for app_id, stored_rows in by_app(batch).items():
                _copy_segment_fields(conn, app_id, segment_rows.split(stored_rows)[0])


def _lost(conn: Connection, error: psycopg.OperationalError) -> bool:
    """Whether `error` means the connection is gone, not that the server refused a statement.

    psycopg does not always know it yet: a backend terminated while a pipeline is busy
    surfaces as "cannot exit pipeline mode while busy", raised by libpq on this side
    (without a SQLSTATE) before the connection is marked broken.
    """
    return conn.broken or error.sqlstate is None or isinstance(error, errors.AdminShutdown)


def pool_size() -> int:
    value = os.environ.get(POOL_SIZE_ENV, "")
    if not value:
        return DEFAULT_POOL_SIZE
    if not value.isdigit() or int(value) < 1:
        raise RuntimeError(f"${POOL_SIZE_ENV} must be a whole number of at least 1, not {value!r}")
    return int(value)


def _wait_on_loop(awaitable: Awaitable[T]) -> T:
    """From a transaction's greenlet: wait for `awaitable` on the event loop, which goes
    on serving other requests meanwhile (see `_on_loop`)."""
    loop_side = greenlet.getcurrent().parent
    assert loop_side is not None, "a store connection used outside a transaction's greenlet"
    return cast(T, loop_side.switch(awaitable))


async def _on_loop(fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` in a greenlet of its own, on the event loop's thread: where psycopg's
    blocking API would wait for the database (`_GreenConnection.wait`), the greenlet hands
    the wait to this coroutine and is resumed with its outcome. The domain's functions stay
    plain functions, and no thread stands between the loop and the database.

    The greenlets are kept and reused (`_runners`): making one and running it to its end
    costs 6-12 µs, a switch to a waiting one 0.4 µs."""
    idle = _idle_runners()
    if idle:
        runner = idle.pop()
    else:
        runner = greenlet.greenlet(_run_transactions)
        runner.switch()  # to where it waits for work: it is started with nothing to keep
    outcome: list[_Finished] = []
    wanted = runner.switch(fn, args, outcome)
    while wanted is not _FINISHED:
        try:
            answer = await wanted
        except BaseException as error:  # cancelled, or the wait failed: the greenlet decides
            wanted = runner.throw(error)
        else:
            wanted = runner.switch(answer)
    idle.append(runner)
    ((result, failure),) = outcome
    if failure is not None:
        raise failure
    return cast(T, result)


class _Finished(NamedTuple):
    """How a runner's function finished: what it returned, or what it raised."""

    result: Any
    error: BaseException | None


_FINISHED = object()  # what a runner hands back once it has put its `_Finished` in place
_runners = threading.local()


def _idle_runners() -> list[greenlet.greenlet]:
    """This thread's runners that wait for a function (a greenlet runs only in the thread
    that made it)."""
    try:
        return cast(list[greenlet.greenlet], _runners.idle)
    except AttributeError:
        _runners.idle = []
        return cast(list[greenlet.greenlet], _runners.idle)


def _run_transactions() -> None:
    """A runner's life: run each function it is given, put how it finished where it was
    told, and wait for the next, holding nothing of the last one meanwhile."""
    parent = greenlet.getcurrent().parent
    assert parent is not None
    work = parent.switch(_FINISHED)
    while True:
        fn, args, outcome = work
        del work
        try:
            outcome.append(_Finished(fn(*args), None))
        except greenlet.GreenletExit:
            raise  # the runner itself is being discarded
        except BaseException as error:
            outcome.append(_Finished(None, error))
        del fn, args, outcome
        work = parent.switch(_FINISHED)


class _GreenConnection(psycopg.Connection[TupleRow]):
    """psycopg's blocking connection whose every wait for the server (a statement, a COPY,
    a transaction's BEGIN or COMMIT) is awaited on the event loop instead (`_on_loop`).

    The socket stays registered with the loop from one statement to the next (`_readable`),
    where psycopg's own `wait_async` registers it, arms a timer and unregisters it for each
    statement: two system calls and a timer a round trip, a sixth of a read's CPU. One timer
    a connection (`_check`) stands in for psycopg's per-wait timer: uvloop drops a socket's
    registration without a word when the socket reports an error (a server that closed the
    connection), and only a look at the socket then ends the wait."""

    _answer: asyncio.Future[int] | None = None
    _watched: tuple[asyncio.AbstractEventLoop, int] | None = None  # the loop, the socket
    _checking: asyncio.TimerHandle | None = None
    _checked: asyncio.Future[int] | None = None  # the answer awaited at the last check

    def wait(
        self, gen: PQGen[RV], interval: float = _WAIT_INTERVAL, timeout: float | None = None
    ) -> RV:
        if timeout is not None:  # only psycopg's notifies() waits with a timeout
            self._unwatch()  # wait_async registers the socket itself, and unregisters it
            return _wait_on_loop(
                waiting.wait_async(gen, self.pgconn.socket, interval=interval, timeout=timeout)
            )
        try:
            state = next(gen)
            while True:
                if state & waiting.WAIT_W:
                    # Output left to send: the socket is nearly always writable at once.
                    ready = _ready_now(self.pgconn.socket, state)
                    if not ready:
                        self._unwatch()  # as above
                        ready = _wait_on_loop(
                            waiting.wait_async(
                                _one_wait(state), self.pgconn.socket, interval=interval
                            )
                        )
                else:
                    ready = _wait_on_loop(self._readable(interval))
                state = gen.send(ready)
        except StopIteration as done:
            if self.pgconn.status == BAD:
                self._unwatch()
            return cast(RV, done.value)
        except BaseException:
            # libpq closes the socket of a lost connection (in the generator): the loop must
            # forget it, or a new socket given the same number would never be watched.
            self._unwatch()
            raise

    _statements_named = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.prepared: dict[str, str] = {}
        """The store's statements prepared on this connection (`text_rows`, `Locks`): SQL →
        name."""
        self.adapter = Transformer(self)
        """Writes parameters as literals and loads rows for `Locks`; made once, since a
        Transformer keeps the dumpers and loaders it has looked up."""

    def text_rows(self, sql: str, params: tuple[str, ...]) -> list[tuple[str | None, ...]]:
        """The rows of `sql` (parameters `%s`), whose parameters and columns are all text,
        through libpq directly (psycopg's `pq` layer) and a statement prepared once on this
        connection. psycopg's cursor (its query conversion, adaptation, column objects and
        row loading) costs ~25 µs of CPU a statement, a quarter of a PostgreSQL read;
        text needs none of it."""
        pgconn = self.pgconn
        encoding = self.info.encoding
        name = self.prepared.get(sql)
        if name is None:
            name = self.new_statement_name("read")
            pgconn.send_prepare(name.encode(), _numbered(sql).encode(encoding))
            self._result(ExecStatus.COMMAND_OK)
            self.prepared[sql] = name
        pgconn.send_query_prepared(name.encode(), [param.encode(encoding) for param in params])
        try:
            result = self._result(ExecStatus.TUPLES_OK)
        except errors.InvalidSqlStatementName:
            self.forget_statements()
        return _text_values(result, encoding)

    def forget_statements(self) -> NoReturn:
        """The store's statements were found deallocated (psycopg ends its own with
        DEALLOCATE ALL, after a rollback say, and these go with them): the transaction runs
        again and prepares them anew."""
        self.prepared.clear()
        raise _StatementsForgotten

    def _result(self, status: ExecStatus) -> PGresult:
        """The one result of the statement sent, which must have `status`; else its error,
        raised."""
        results: list[PGresult] = self.wait(generators.execute(self.pgconn))
        (result,) = results
        if result.status != status:
            raise errors.error_from_result(result, encoding=self.info.encoding)
        return result

    def new_statement_name(self, kind: str) -> str:
        """A name no statement on this connection has had (one prepared in a message that
        failed may or may not exist, so names are never used twice)."""
        self._statements_named += 1
        return f"openpinpoint_{kind}_{self._statements_named}"

    def roll_back(self) -> None:
        """ROLLBACK, sent through libpq: psycopg, seeing a ROLLBACK go through its cursor (or
        its own `rollback()`), deallocates every statement prepared on the connection, the
        store's (`text_rows`) with its own."""
        self.pgconn.send_query(b"ROLLBACK")
        self._result(ExecStatus.COMMAND_OK)

    def _readable(self, interval: float) -> asyncio.Future[int]:
        loop = asyncio.get_running_loop()
        if self._watched is None or self._watched[0] is not loop:
            self._unwatch()
            socket = self.pgconn.socket
            loop.add_reader(socket, self._on_readable)
            self._watched = (loop, socket)
        self._answer = answer = loop.create_future()
        if self._checking is None:
            self._checking = loop.call_later(interval, self._check, interval)
        return answer

    def _on_readable(self) -> None:
        answer, self._answer = self._answer, None
        if answer is not None and not answer.done():
            answer.set_result(waiting.READY_R)
        elif _ready_now(self.pgconn.socket, waiting.WAIT_R):
            # Nobody waits and something came (a notice, or the server closing): stop
            # watching until asked, or the loop would call again at once, and again.
            self._unwatch()
        # Else the socket was readable when the loop looked, and the wait it woke has read
        # it since (the loop looks again before it runs what it woke).

    def _check(self, interval: float) -> None:
        """A wait that has lasted a whole interval is woken to look at the socket itself
        (a needless look reads nothing and waits again), and the socket is registered anew."""
        self._checking = None
        answer = self._answer
        if answer is None or answer.done():
            return
        if answer is self._checked:
            self._unwatch()
            self._answer = None
            answer.set_result(waiting.READY_R)
            return
        self._checked = answer
        self._checking = asyncio.get_running_loop().call_later(interval, self._check, interval)

    def _unwatch(self) -> None:
        if self._watched is not None:
            loop, socket = self._watched
            self._watched = None
            loop.remove_reader(socket)

    def close(self) -> None:
        self._unwatch()  # before the descriptor can be reused by another socket
        if self._checking is not None:
            self._checking.cancel()
            self._checking = None
        super().close()


def _text_values(result: PGresult, encoding: str) -> list[tuple[str | None, ...]]:
    columns = range(result.nfields)
    return [
        tuple(
            None if (value := result.get_value(row, column)) is None else value.decode(encoding)
            for column in columns
        )
        for row in range(result.ntuples)
    ]


class _Statements(Protocol):
    """What a transaction runs its statements on: a connection, or `_ReadBatches`."""

    def execute(self, query: str, params: tuple[Any, ...] = ...) -> Rows: ...

    def text_rows(self, sql: str, params: tuple[str, ...]) -> list[tuple[str | None, ...]]: ...


class _ReadBatches:
    """The reads that are one statement each (GetEndpoint, GetUserEndpoints, GetApp: see
    `PostgresTx`), of all requests at once, sent together: those asked for while no
    connection is at hand travel in one message on the next connection that is (libpq's
    pipeline mode), and their answers come back together.

    A round trip, not the database's work, was most of a read's cost to the server: the
    send, the wake-up on the answer, the wait handed to the loop and back (~45 µs of ~100).
    In a batch each read's statement still runs alone, on its own snapshot, after the
    statements before it; a failed one ends the batch there, and the reads after it run
    again in the next. A read that needs more than a text statement (`execute`) runs
    again on a connection of its own."""

    def __init__(self, connections: _Connections) -> None:
        self._connections = connections
        self._waiting: list[_Read] = []
        self._sender: asyncio.Task[None] | None = None

    def execute(self, query: str, params: tuple[Any, ...] = ()) -> Rows:
        raise _NeedsConnection

    def text_rows(self, sql: str, params: tuple[str, ...]) -> list[tuple[str | None, ...]]:
        """From a transaction's greenlet: the rows of `sql`, as `_GreenConnection.text_rows`
        reads them, once a batch has brought them."""
        loop = asyncio.get_running_loop()
        read = _Read(sql, params, loop.create_future())
        self._waiting.append(read)
        if self._sender is None:
            self._sender = loop.create_task(self._send())
        return _wait_on_loop(read.answer)

    async def _send(self) -> None:
        """Take a connection, then send every read waiting by then."""
        try:
            conn = await self._connections.take()
        except BaseException as error:
            self._sender = None
            reads, self._waiting = self._waiting, []
            _fail(reads, error)
            if not isinstance(error, Exception):
                raise
            return
        self._sender = None  # reads from here on go in the next batch
        reads, self._waiting = self._waiting, []
        try:
            await _on_loop(self._pipeline, conn, reads)
        except BaseException as error:
            conn.close()  # left in pipeline mode, or lost: no use to anyone
            if isinstance(error, psycopg.Error):
                log.warning("database connection lost; running the reads again")
                error = _TryAgain(error)
            _fail(reads, error)
            if not isinstance(error, Exception):
                raise
        finally:
            self._connections.give(conn)

    def _pipeline(self, conn: _GreenConnection, reads: list[_Read]) -> None:
        pgconn = conn.pgconn
        encoding = conn.info.encoding
        preparing: dict[str, str] = {}  # SQL → name, prepared in this batch
        sent: list[_Read | str] = []  # in order: a read, or the SQL of a PREPARE
        pgconn.enter_pipeline_mode()
        for read in reads:
            name = conn.prepared.get(read.sql) or preparing.get(read.sql)
            if name is None:
                name = preparing[read.sql] = conn.new_statement_name("read")
                pgconn.send_prepare(name.encode(), _numbered(read.sql).encode(encoding))
                sent.append(read.sql)
            params = [param.encode(encoding) for param in read.params]
            pgconn.send_query_prepared(name.encode(), params)
            sent.append(read)
        pgconn.pipeline_sync()
        results = conn.wait(_pipeline_results(pgconn, len(sent)))
        pgconn.exit_pipeline_mode()
        again: list[_Read] = []
        for item, result in zip(sent, results, strict=True):
            if result.status == ExecStatus.PIPELINE_ABORTED:
                if isinstance(item, _Read):
                    again.append(item)
                continue
            if isinstance(item, str):
                if result.status == ExecStatus.COMMAND_OK:
                    conn.prepared[item] = preparing[item]
                continue
            if result.status == ExecStatus.TUPLES_OK:
                _answer(item, _text_values(result, encoding))
                continue
            error: Exception = errors.error_from_result(result, encoding=encoding)
            if isinstance(error, errors.InvalidSqlStatementName):
                conn.prepared.clear()  # deallocated by someone else: prepared anew
                error = _StatementsForgotten()
            _fail([item], error)
        _fail(again, _TryAgain(None))


class _Read(NamedTuple):
    sql: str
    params: tuple[str, ...]
    answer: asyncio.Future[list[tuple[str | None, ...]]]


def _answer(read: _Read, rows: list[tuple[str | None, ...]]) -> None:
    if not read.answer.done():  # done: its request was cancelled meanwhile
        read.answer.set_result(rows)


def _fail(reads: Iterable[_Read], error: BaseException) -> None:
    for read in reads:
        if not read.answer.done():
            read.answer.set_exception(error)


def _pipeline_results(pgconn: PGconn, count: int) -> PQGen[list[PGresult]]:
    """Send what is queued in pipeline mode, then read the results of its `count`
    statements (one each: a statement's own, or PIPELINE_ABORTED) and of its sync.

    One generator reading every result as it comes: psycopg's `fetch_many` for each
    statement cost more than the round trip saved by sending its values as text."""
    yield from generators.send(pgconn)
    results: list[PGresult] = []
    ended = False  # whether the last thing read was the end of a statement's results
    try:
        while True:
            if pgconn.is_busy():
                while not (yield waiting.Wait.R):
                    continue
                pgconn.consume_input()
                continue
            result = pgconn.get_result()
            if result is None:
                if ended:  # two ends in a row: nothing more will come
                    break
                ended = True
                continue
            ended = False
            if result.status == ExecStatus.PIPELINE_SYNC:
                if len(results) == count:
                    return results
                break
            results.append(result)
    except errors.OperationalError as error:  # reading failed
        lost = error
    else:
        lost = errors.OperationalError(f"connection lost: {error_message(pgconn)}")
    # The connection ended before answering all (its backend terminated, say): the error
    # that ended it if one came, which the store handles as a lost connection.
    ended_by = [result for result in results if result.status == ExecStatus.FATAL_ERROR]
    raise errors.error_from_result(ended_by[-1]) if ended_by else lost


class _NeedsConnection(Exception):
    """A read tried in a batch needs a connection of its own."""


class _TryAgain(Exception):
    """A batched read did not run (its batch stopped before it, or lost its connection):
    it runs again, within the retry budget."""


def _numbered(sql: str) -> str:
    """`sql` with PostgreSQL's numbered parameters ($1, $2, ...) for psycopg's `%s`."""
    numbers = itertools.count(1)
    return re.sub("%s", lambda _: f"${next(numbers)}", sql)


def _ready_now(fileno: int, state: waiting.Wait) -> int:
    """Which of `state`'s waits the socket satisfies right now (0: none). poll(), not
    select(), which refuses descriptors past 1023 (a server with many clients has them)."""
    poll = select.poll()
    poll.register(
        fileno,
        (select.POLLIN if state & waiting.WAIT_R else 0)
        | (select.POLLOUT if state & waiting.WAIT_W else 0),
    )
    ready = 0
    for _, events in poll.poll(0):
        if events & select.POLLIN:
            ready |= waiting.READY_R
        if events & select.POLLOUT:
            ready |= waiting.READY_W
    return ready


def _one_wait(state: waiting.Wait) -> PQGen[waiting.Ready | int]:
    """A generator that asks `wait_async` for one wait on `state` and returns its outcome."""
    ready = yield state
    return ready


class _StatementsForgotten(Exception):
    """The connection's prepared statements were deallocated; the transaction runs again
    and prepares them anew."""


class _NoConnection(Exception):
    """No connection came free within the wait, or none could be opened."""


def _give_up_waiting(waiting: asyncio.Future[Any]) -> None:
    if not waiting.done():
        waiting.set_exception(_NoConnection("no connection became free"))


class _Connections:
    """The store's connections: a free list and the transactions waiting for one (at most
    `size` open). A connection comes back only idle; one left in a transaction, lost or
    closed is closed, and its place goes to the next transaction waiting."""

    def __init__(self, dsn: str, size: int, wait: float) -> None:
        self._dsn = dsn
        self._size = size
        self._wait = wait
        self._opened = 0
        self._free: list[_GreenConnection] = []
        self._waiting: collections.deque[asyncio.Future[_GreenConnection | None]] = (
            collections.deque()
        )

    async def take(self) -> _GreenConnection:
        """A connection; `_NoConnection` when none came within the wait."""
        if self._free:
            return self._free.pop()
        if self._opened >= self._size:
            loop = asyncio.get_running_loop()
            waiting: asyncio.Future[_GreenConnection | None] = loop.create_future()
            self._waiting.append(waiting)
            # One timer, not wait_for and shield: under load most transactions wait here.
            timer = loop.call_later(self._wait, _give_up_waiting, waiting)
            try:
                handed = await waiting
            except asyncio.CancelledError:
                if waiting.done() and not waiting.cancelled():
                    self.give(waiting.result())  # handed one just now: pass it on
                raise
            finally:
                timer.cancel()
            if handed is not None:
                return handed
        else:
            self._opened += 1
        try:
            return await asyncio.to_thread(
                _GreenConnection.connect,
                self._dsn,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT,
            )
        except BaseException as error:
            self.give(None)
            if isinstance(error, psycopg.OperationalError):
                raise _NoConnection(str(error)) from error
            raise

    def give(self, conn: _GreenConnection | None) -> None:
        if conn is not None and (
            conn.closed
            or conn.info.transaction_status != IDLE
            or conn.pgconn.pipeline_status != PipelineStatus.OFF
        ):
            conn.close()
            conn = None
        while self._waiting:
            waiting = self._waiting.popleft()
            if not waiting.done():
                waiting.set_result(conn)
                return
        if conn is None:
            self._opened -= 1
        else:
            self._free.append(conn)

    def close(self) -> None:
        free, self._free = self._free, []
        for conn in free:
            conn.close()
        self._opened -= len(free)


class PostgresStore:
    """PostgreSQL behind the `Store` interface; `url` is a libpq URL (postgresql://...).

    Transactions run on the event loop's thread, each in a greenlet (`_on_loop`): the
    domain's functions call psycopg's blocking API, whose waits are awaited on the loop."""

    def __init__(self, url: str, size: int | None = None, wait: float = POOL_WAIT) -> None:
        self.url = redact(url)
        self._dsn = url
        size = size or pool_size()
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT) as conn:
                migrate(conn)
        except psycopg.OperationalError as error:
            raise RuntimeError(f"cannot use PostgreSQL at {self.url}: {error}") from None
        # At most `size` transactions run at once; the rest wait for a connection.
        self._connections = _Connections(url, size, wait)
        self._batches = _ReadBatches(self._connections)

    async def read(self, fn: Callable[[ReadTx], T]) -> T:
        return await self._run(fn, write=False)

    async def scan(self, fn: Callable[[ReadTx], T]) -> T:
        # A read: the database passes over the rows in its own process while the loop goes on.
        return await self.read(fn)

    async def write(self, fn: Callable[[WriteTx], T]) -> T:
        return await self._run(fn, write=True)

    async def _run(self, fn: Callable[[PostgresTx], T], write: bool) -> T:
        """Run `fn` in one transaction, again from the start when it meets a lock held by
        another: the rerun waits for that transaction and sees what it committed."""
        deadline = time.monotonic() + RETRY_BUDGET_SECONDS
        backoff = FIRST_BACKOFF_SECONDS
        attempt = _Attempt(fn, write)
        forgotten = 0
        while True:
            conn: _GreenConnection | None = None
            try:
                if attempt.batched:
                    return await _on_loop(attempt.run, self._batches)
                conn = await self._connections.take()
                try:
                    return await _on_loop(attempt.run, conn)
                finally:
                    self._connections.give(conn)
            except _NeedsConnection:
                attempt.batched = False
                continue
            except NeedsSnapshot:
                attempt.batched = attempt.single = False
                continue
            except _TryAgain as again:
                if time.monotonic() > deadline:
                    raise again.args[0] or InternalServerError("A read kept failing") from again
                continue
            except _StatementsForgotten:
                forgotten += 1
                if forgotten > MAX_FORGOTTEN:
                    raise InternalServerError(
                        "The database keeps losing this server's prepared statements: a "
                        "connection pooler in transaction mode in front of PostgreSQL? "
                        "Use session mode (docs/scaling.md)"
                    ) from None
                continue
            except LockConflict as conflict:
                (attempt.wanted,) = conflict.args
                if time.monotonic() > deadline:
                    raise self._gave_up() from None
                log.debug("retrying a transaction after LockConflict")
                continue
            except RETRYABLE as error:
                if time.monotonic() + backoff > deadline:
                    raise self._gave_up() from error
                log.debug("retrying a transaction after %s", type(error).__name__)
            except _NoConnection as error:
                if not await asyncio.to_thread(self._reachable):
                    raise ServiceUnavailable(
                        "The database is unreachable; retry the request later", retry_after=5.0
                    ) from error
                raise TooManyRequests(
                    "All database connections are busy; retry the request", retry_after=1.0
                ) from error
            except psycopg.OperationalError as error:
                # A connection lost before COMMIT (server restart, failover, a killed
                # session) changed nothing: run again on another one. Lost during COMMIT,
                # the outcome is unknown, so the request fails and says so.
                if conn is None or not _lost(conn, error) or time.monotonic() > deadline:
                    raise
                if attempt.committing:
                    raise InternalServerError(
                        "The database connection was lost while committing; the request may "
                        "or may not have taken effect"
                    ) from error
                log.warning("database connection lost; running the transaction again")
                continue
            await asyncio.sleep(random.uniform(0, backoff))
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def _reachable(self) -> bool:
        """Whether a new connection can be made: no connection for a whole pool wait means
        either all are busy or the database cannot be reached, and the client should know
        which."""
        try:
            psycopg.connect(self._dsn, connect_timeout=PROBE_TIMEOUT).close()
        except psycopg.OperationalError:
            return False
        return True

    @staticmethod
    def _gave_up() -> TooManyRequests:
        return TooManyRequests(
            "The request kept conflicting with concurrent updates of the same endpoints or "
            "users; retry it",
            retry_after=1.0,
        )

    async def close(self) -> None:
        self._connections.close()


class _Attempt:
    """One run of a transaction's function on a connection, in its greenlet; what the
    store's retry loop needs to know of it."""

    def __init__(self, fn: Callable[[PostgresTx], Any], write: bool) -> None:
        self.fn = fn
        self.write = write
        self.single = not write  # a read is tried as one statement first (see PostgresTx)
        self.batched = self.single
        self.wanted: dict[int, bool] = {}
        self.committing = False

    def run(self, conn: _Statements) -> Any:
        self.committing = False
        if self.single:
            return self.fn(PostgresTx(conn, None, single=True))
        assert isinstance(conn, _GreenConnection)
        if self.write:
            # BEGIN and COMMIT travel with other statements (see Locks).
            locks = Locks(conn, self.wanted)
            try:
                result = self.fn(PostgresTx(conn, locks))
                self.committing = True
                locks.commit()
            except BaseException:
                if not conn.closed and conn.info.transaction_status in ENDED_BY_ROLLBACK:
                    conn.roll_back()
                raise
            return result
        # Reads take one consistent snapshot and need no locks.
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.transaction():
            return self.fn(PostgresTx(conn, None))
