"""The embedded SQLite store.

Writes are committed in *groups*: one writer per process takes every write waiting, runs
each inside its own SAVEPOINT (so a request that fails undoes only itself), commits once,
and only then answers the callers. That keeps each request all-or-nothing and durable when
acknowledged (G12) while paying one fsync for many requests. Reads run on the caller's
thread on a separate connection; in WAL mode they never wait for the writer and always see
every commit acknowledged before them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import msgspec

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]


from openpinpoint.core.predicates import Predicate
from openpinpoint.core.shapes import EndpointResponse, encode
from openpinpoint.core.values import endpoint_key
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
from openpinpoint.store.segment_sql import SqliteSegmentSql

T = TypeVar("T")
log = logging.getLogger("openpinpoint.store")

SCHEMA_VERSION = 4
MIGRATIONS: dict[int, tuple[str | Callable[[sqlite3.Connection], None], ...]] = {
    1: (
        """CREATE TABLE apps (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            doc TEXT NOT NULL
        )""",
        """CREATE TABLE endpoints (
            app_id TEXT NOT NULL,
            id_key TEXT NOT NULL,
            user_id TEXT,
            address TEXT,
            status TEXT NOT NULL,
            doc TEXT NOT NULL,
            PRIMARY KEY (app_id, id_key)
        ) WITHOUT ROWID""",
        "CREATE INDEX endpoints_by_user ON endpoints (app_id, user_id) WHERE user_id IS NOT NULL",
        "CREATE INDEX endpoints_by_address ON endpoints (app_id, address, status)"
        " WHERE address IS NOT NULL",
        """CREATE TABLE attribute_names (
            app_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            name TEXT NOT NULL,
            PRIMARY KEY (app_id, kind, name)
        ) WITHOUT ROWID""",
    ),
    2: (
        """CREATE TABLE jobs (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            app_id TEXT NOT NULL,
            type TEXT NOT NULL,
            status TEXT NOT NULL,
            owner TEXT NOT NULL,
            lease_until REAL NOT NULL,
            doc TEXT NOT NULL
        )""",
        "CREATE INDEX jobs_by_app ON jobs (app_id, type, seq)",
        "CREATE INDEX jobs_unfinished ON jobs (status) WHERE status IN ('CREATED', 'PROCESSING')",
    ),
    3: (
        """CREATE TABLE resources (
            scope TEXT NOT NULL,
            kind TEXT NOT NULL,
            name TEXT NOT NULL,
            version INTEGER NOT NULL,
            doc TEXT NOT NULL,
            PRIMARY KEY (scope, kind, name, version)
        ) WITHOUT ROWID""",
    ),
    4: (
        # What segments test, one narrow row per ACTIVE endpoint (store/segment_rows.py).
        """CREATE TABLE segment_fields (
            app_id TEXT NOT NULL,
            k TEXT NOT NULL,
            user_id TEXT,
            channel TEXT,
            app_version TEXT,
            make TEXT,
            model TEXT,
            platform TEXT,
            country TEXT,
            latitude REAL,
            longitude REAL,
            effective TEXT,
            terms TEXT NOT NULL,
            attributes TEXT,
            user_attributes TEXT,
            metrics TEXT,
            PRIMARY KEY (app_id, k)
        ) WITHOUT ROWID""",
        # A lambda: the function is defined below, with the rest of the segment_fields code.
        lambda conn: _fill_segment_fields(conn),  # noqa: PLW0108
    ),
}

# A group commit never holds more than this many requests, so one slow group cannot
# delay the answers to thousands of callers.
MAX_GROUP = 512
BUSY_TIMEOUT_MS = 30_000
SCAN_THREADS = min(4, os.cpu_count() or 1)
"""Scans (`SQLiteStore.scan`) that may run at once, each on its own thread and connection."""

# Without statistics SQLite's planner prefers the primary key's `app_id` prefix, a scan of
# the whole app, over these indexes; INDEXED BY keeps each user and address lookup
# O(rows of that user/address) however large the app grows.
USER_ENDPOINTS_SQL = (
    "SELECT doc FROM endpoints INDEXED BY endpoints_by_user"
    " WHERE app_id = ? AND user_id = ? ORDER BY id_key"
)
ACTIVE_WITH_ADDRESS_SQL = (
    "SELECT doc FROM endpoints INDEXED BY endpoints_by_address"
    " WHERE app_id = ? AND address = ? AND status = 'ACTIVE'"
)
# What a run of updates reads: three index lookups, each over the values bound as one JSON
# array. json_each cuts a string at NUL, so values holding one are looked up one by one.
_RELATED_PARTS = (
    "SELECT id_key, doc FROM endpoints WHERE app_id = ?1 AND id_key {}",
    "SELECT id_key, doc FROM endpoints INDEXED BY endpoints_by_user"
    " WHERE app_id = ?1 AND user_id {}",
    "SELECT id_key, doc FROM endpoints INDEXED BY endpoints_by_address"
    " WHERE app_id = ?1 AND address {} AND status = 'ACTIVE'",
)
RELATED_ENDPOINTS_SQL = " UNION ALL ".join(
    part.format(f"IN (SELECT value FROM json_each(?{n}))")
    for n, part in enumerate(_RELATED_PARTS, start=2)
)
APP_AND_ENDPOINT_SQL = (
    "SELECT apps.doc, (SELECT doc FROM endpoints WHERE app_id = apps.id AND id_key = ?)"
    " FROM apps WHERE id = ?"
)
APP_AND_USER_ENDPOINTS_SQL = (
    "SELECT apps.doc, endpoints.doc FROM apps LEFT JOIN endpoints INDEXED BY endpoints_by_user"
    " ON endpoints.app_id = apps.id AND endpoints.user_id = ? WHERE apps.id = ?"
    " ORDER BY endpoints.id_key"
)
PAIRS_PER_STATEMENT = 5_000
"""(kind, name) pairs bound in one lookup: SQLite binds at most 32,766 values a statement
by default."""
PUT_ENDPOINT_SQL = (
    "INSERT INTO endpoints (app_id, id_key, user_id, address, status, doc)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (app_id, id_key) DO UPDATE SET"
    " user_id = excluded.user_id, address = excluded.address,"
    " status = excluded.status, doc = excluded.doc"
)
DELETE_ENDPOINT_SQL = "DELETE FROM endpoints WHERE app_id = ? AND id_key = ?"
PUT_SEGMENT_FIELDS_SQL = (
    f"INSERT OR REPLACE INTO segment_fields (app_id, {segment_rows.COLUMNS})"
    f" VALUES ({', '.join('?' * (len(segment_rows.SegmentRow._fields) + 1))})"
)
DELETE_SEGMENT_FIELDS_SQL = "DELETE FROM segment_fields WHERE app_id = ? AND k = ?"
LIST_SEGMENT_FIELDS_SQL = (
    f"SELECT {segment_rows.COLUMNS} FROM segment_fields"
    " WHERE app_id = ? AND k > ? AND k <= ? ORDER BY k"
)

RESOURCE_SQL = f"SELECT {Resource.COLUMNS} FROM resources WHERE scope = ? AND kind = ? AND name = ?"
RESOURCE_LATEST_SQL = RESOURCE_SQL + " ORDER BY version DESC LIMIT 1"


def _json_array(values: Iterable[str]) -> str:
    return msgspec.json.encode(list(values)).decode()


class _OneStatement:
    """The reader connection, for a read that must stay one statement (`NeedsSnapshot`)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self.ran = False

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        if self.ran:
            raise NeedsSnapshot
        self.ran = True
        return self._conn.execute(sql, params)


def _as_null(none: None) -> None:
    return none


# The sqlite3 module binds int, float and str as they are but looks every None up as an
# object to adapt, two attribute lookups that fail, before it binds NULL: 0.29 us a None,
# most of a segment row's binding (five of its fifteen columns are NULL for a typical
# endpoint). An adapter registered for None is found at once and binds the same NULL.
sqlite3.register_adapter(type(None), _as_null)


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    return conn


def _put_segment_fields(conn: sqlite3.Connection, app_id: str, rows: segment_rows.Split) -> None:
    """Keep `segment_fields` beside the endpoints just written: a row for each active one,
    none for the others."""
    active, inactive = rows
    conn.executemany(PUT_SEGMENT_FIELDS_SQL, [(app_id, *row) for row in active])
    conn.executemany(DELETE_SEGMENT_FIELDS_SQL, [(app_id, key) for key in inactive])


def _fill_segment_fields(conn: sqlite3.Connection) -> None:
    """Schema version 4: the segment rows of the endpoints stored before it."""
    rows = conn.execute(ACTIVE_ENDPOINT_ROWS_SQL)
    while batch := rows.fetchmany(10_000):
        for app_id, endpoints in by_app(batch).items():
            _put_segment_fields(conn, app_id, segment_rows.split(endpoints))


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema to SCHEMA_VERSION; safe to run from several processes at once."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        version: int = conn.execute("PRAGMA user_version").fetchone()[0]
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
            conn.execute(f"PRAGMA user_version = {target}")
            log.info("migrated SQLite schema to version %d", target)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return SCHEMA_VERSION


_decode_endpoints = msgspec.json.Decoder(list[EndpointResponse]).decode


class SQLiteTx(WriteTx):
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def _docs(self, sql: str, params: tuple[Any, ...]) -> list[EndpointResponse]:
        return [decode_endpoint(doc) for (doc,) in self._conn.execute(sql, params)]

    def _count(self, sql: str, params: tuple[Any, ...]) -> int:
        return int(self._conn.execute(sql, params).fetchone()[0])

    def get_app(self, app_id: str) -> App | None:
        row = self._conn.execute("SELECT doc FROM apps WHERE id = ?", (app_id,)).fetchone()
        return decode_app(row[0]) if row else None

    def list_apps(self, after: int, limit: int) -> list[tuple[int, App]]:
        rows = self._conn.execute(
            "SELECT seq, doc FROM apps WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)
        )
        return [(seq, decode_app(doc)) for seq, doc in rows]

    def get_endpoint(self, app_id: str, key: str) -> EndpointResponse | None:
        row = self._conn.execute(
            "SELECT doc FROM endpoints WHERE app_id = ? AND id_key = ?", (app_id, key)
        ).fetchone()
        return decode_endpoint(row[0]) if row else None

    # Without ANALYZE statistics SQLite's planner prefers the primary key's app_id prefix,
    # a scan of the whole app, to the partial indexes; INDEXED BY keeps the user and
    # address lookups at the few rows they match, whatever the table's size.
    def user_endpoints(self, app_id: str, user_id: str) -> list[EndpointResponse]:
        return self._docs(USER_ENDPOINTS_SQL, (app_id, user_id))

    def get_app_and_endpoint(
        self, app_id: str, key: str
    ) -> tuple[App | None, EndpointResponse | None]:
        app, found = app_and_endpoints(
            self._conn.execute(APP_AND_ENDPOINT_SQL, (key, app_id)).fetchall()
        )
        return app, found[0] if found else None

    def get_app_and_user_endpoints(
        self, app_id: str, user_id: str
    ) -> tuple[App | None, list[EndpointResponse]]:
        return app_and_endpoints(
            self._conn.execute(APP_AND_USER_ENDPOINTS_SQL, (user_id, app_id)).fetchall()
        )

    def list_endpoints(self, app_id: str, after_key: str, limit: int) -> list[EndpointResponse]:
        return self._docs(
            "SELECT doc FROM endpoints WHERE app_id = ? AND id_key > ? ORDER BY id_key LIMIT ?",
            (app_id, after_key, limit),
        )

    def list_stored_endpoints(
        self, app_id: str, after_key: str, limit: int
    ) -> list[StoredEndpoint]:
        rows = self._conn.execute(
            "SELECT id_key, user_id, address, status, doc FROM endpoints"
            " WHERE app_id = ? AND id_key > ? ORDER BY id_key LIMIT ?",
            (app_id, after_key, limit),
        )
        return list(map(StoredEndpoint._make, rows))

    def list_segment_rows(self, app_id: str, after_key: str, last_key: str) -> list[SegmentRow]:
        return segment_rows.as_rows(
            self._conn.execute(LIST_SEGMENT_FIELDS_SQL, (app_id, after_key, last_key))
        )

    def count_endpoints(self, app_id: str) -> int:
        return self._count("SELECT count(*) FROM endpoints WHERE app_id = ?", (app_id,))

    def count_users(self, app_id: str) -> int:
        # The user index holds every user id, so the count reads it and not the documents.
        return self._count(
            "SELECT count(DISTINCT user_id) FROM endpoints INDEXED BY endpoints_by_user"
            " WHERE app_id = ? AND user_id IS NOT NULL",
            (app_id,),
        )

    def get_job(self, app_id: str, job_id: str) -> JobRecord | None:
        row = self._conn.execute(
            f"SELECT {JobRecord.COLUMNS} FROM jobs WHERE app_id = ? AND id = ?", (app_id, job_id)
        ).fetchone()
        return JobRecord.from_row(row) if row else None

    def list_jobs(
        self, app_id: str, job_type: str, after: int, limit: int
    ) -> list[tuple[int, JobRecord]]:
        rows = self._conn.execute(
            f"SELECT seq, {JobRecord.COLUMNS} FROM jobs WHERE app_id = ? AND type = ? AND seq > ?"
            " ORDER BY seq LIMIT ?",
            (app_id, job_type, after, limit),
        )
        return [(row[0], JobRecord.from_row(row[1:])) for row in rows]

    def unfinished_jobs(self) -> list[JobRecord]:
        rows = self._conn.execute(
            f"SELECT {JobRecord.COLUMNS} FROM jobs WHERE status IN ('CREATED', 'PROCESSING')"
            " ORDER BY seq"
        )
        return [JobRecord.from_row(row) for row in rows]

    def insert_app(self, app: App) -> None:
        self._conn.execute("INSERT INTO apps (id, doc) VALUES (?, ?)", (app.id, encode(app)))

    def update_app(self, app: App) -> None:
        self._conn.execute("UPDATE apps SET doc = ? WHERE id = ?", (encode(app), app.id))

    def delete_app(self, app_id: str) -> None:
        for table in ("endpoints", "segment_fields", "attribute_names", "jobs"):
            self._conn.execute(f"DELETE FROM {table} WHERE app_id = ?", (app_id,))
        self._conn.execute("DELETE FROM resources WHERE scope = ?", (app_id,))
        self._conn.execute("DELETE FROM apps WHERE id = ?", (app_id,))

    def active_endpoints_with_address(self, app_id: str, address: str) -> list[EndpointResponse]:
        return self._docs(ACTIVE_WITH_ADDRESS_SQL, (app_id, address))

    def related_endpoints(
        self,
        app_id: str,
        keys: Collection[str],
        users: Collection[str] = (),
        addresses: Collection[str] = (),
    ) -> list[EndpointResponse]:
        groups = (keys, users, addresses)
        params = [app_id, *(_json_array(v for v in values if "\x00" not in v) for values in groups)]
        rows = self._conn.execute(RELATED_ENDPOINTS_SQL, params).fetchall()
        for part, values in zip(_RELATED_PARTS, groups, strict=True):
            for value in values:
                if "\x00" in value:
                    rows += self._conn.execute(part.format("= ?2"), (app_id, value)).fetchall()
        found: dict[str, str] = {}
        for key, doc in rows:
            found.setdefault(key, doc)
        return [decode_endpoint(doc) for doc in found.values()]

    def put_endpoint(self, app_id: str, endpoint: EndpointResponse) -> None:
        self.put_endpoints(app_id, [stored_endpoint(endpoint)])

    def put_endpoints(
        self,
        app_id: str,
        endpoints: Iterable[StoredEndpoint],
        rows: segment_rows.Split | None = None,
    ) -> None:
        # The last of several endpoints with one key wins, as it would one after the other.
        latest = {endpoint.key: endpoint for endpoint in endpoints}
        self._conn.executemany(
            PUT_ENDPOINT_SQL,
            [(app_id, *endpoint) for endpoint in latest.values()],
        )
        _put_segment_fields(self._conn, app_id, segment_rows.rows_of(latest, rows))

    def delete_endpoints(self, app_id: str, keys: Iterable[str]) -> None:
        rows = [(app_id, key) for key in keys]
        self._conn.executemany(DELETE_ENDPOINT_SQL, rows)
        self._conn.executemany(DELETE_SEGMENT_FIELDS_SQL, rows)

    def known_attribute_names(self, app_id: str, kind: str, names: Iterable[str]) -> set[str]:
        return self.known_attribute_names_by_kind(app_id, {kind: names})[kind]

    def known_attribute_names_by_kind(
        self, app_id: str, names: Mapping[str, Iterable[str]]
    ) -> dict[str, set[str]]:
        # The (kind, name) pairs of every kind in one statement (an UpdateEndpoint asked up
        # to three: 27 µs, this 5), in batches that any build binds at once. CROSS JOIN
        # makes SQLite look each pair up by the primary key: `(kind, name) IN (VALUES ...)`
        # was planned as a scan of all the app's names (90 µs for an app at the quota).
        found: dict[str, set[str]] = {kind: set() for kind in names}
        pairs = [(kind, name) for kind, kind_names in names.items() for name in set(kind_names)]
        for first in range(0, len(pairs), PAIRS_PER_STATEMENT):
            batch = pairs[first : first + PAIRS_PER_STATEMENT]
            rows = self._conn.execute(
                f"WITH asked (kind, name) AS (VALUES {', '.join(['(?, ?)'] * len(batch))})"
                " SELECT known.kind, known.name FROM asked CROSS JOIN attribute_names AS known"
                " WHERE known.app_id = ? AND known.kind = asked.kind AND known.name = asked.name",
                (*itertools.chain.from_iterable(batch), app_id),
            )
            for kind, name in rows:
                found[kind].add(name)
        return found

    def attribute_names(self, app_id: str, kind: str) -> list[str]:
        rows = self._conn.execute(
            "SELECT name FROM attribute_names WHERE app_id = ? AND kind = ? ORDER BY name",
            (app_id, kind),
        )
        return [name for (name,) in rows]

    def count_attribute_names(self, app_id: str) -> int:
        return self._count("SELECT count(*) FROM attribute_names WHERE app_id = ?", (app_id,))

    def add_attribute_names(self, app_id: str, kind: str, names: Iterable[str]) -> None:
        self._conn.executemany(
            "INSERT OR IGNORE INTO attribute_names (app_id, kind, name) VALUES (?, ?, ?)",
            [(app_id, kind, name) for name in names],
        )

    def remove_attribute_names(self, app_id: str, kind: str, names: Iterable[str]) -> None:
        self._conn.executemany(
            "DELETE FROM attribute_names WHERE app_id = ? AND kind = ? AND name = ?",
            [(app_id, kind, name) for name in names],
        )

    def put_job(self, job: JobRecord) -> None:
        self._conn.execute(
            f"INSERT INTO jobs ({JobRecord.COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET status = excluded.status,"
            " owner = excluded.owner, lease_until = excluded.lease_until, doc = excluded.doc",
            (job.app_id, job.id, job.type, job.status, job.owner, job.lease_until, job.doc),
        )

    def get_resource(
        self, scope: str, kind: str, name: str, version: int | None = None
    ) -> Resource | None:
        if version is None:
            row = self._conn.execute(RESOURCE_LATEST_SQL, (scope, kind, name)).fetchone()
        else:
            sql = RESOURCE_SQL + " AND version = ?"
            row = self._conn.execute(sql, (scope, kind, name, version)).fetchone()
        return Resource.from_row(row) if row else None

    def list_resources(
        self, scope: str, kind: str, after: str, limit: int, prefix: str = ""
    ) -> list[Resource]:
        # The highest version per name: SQLite returns the row holding max() (documented
        # behaviour of bare columns beside max() in an aggregate query).
        rows = self._conn.execute(
            "SELECT scope, kind, name, max(version), doc FROM resources"
            " WHERE scope = ? AND kind = ? AND name > ? AND substr(name, 1, ?) = ?"
            " GROUP BY name ORDER BY name LIMIT ?",
            (scope, kind, after, len(prefix), prefix, limit),
        )
        return [Resource.from_row(row) for row in rows]

    def resource_versions(self, scope: str, kind: str, name: str) -> list[Resource]:
        rows = self._conn.execute(RESOURCE_SQL + " ORDER BY version", (scope, kind, name))
        return [Resource.from_row(row) for row in rows]

    def scope_resources(self, scope: str) -> list[Resource]:
        rows = self._conn.execute(
            f"SELECT {Resource.COLUMNS} FROM resources WHERE scope = ?"
            " ORDER BY kind, name, version",
            (scope,),
        )
        return [Resource.from_row(row) for row in rows]

    def put_resource(self, resource: Resource) -> None:
        self._conn.execute(
            f"INSERT INTO resources ({Resource.COLUMNS}) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (scope, kind, name, version) DO UPDATE SET doc = excluded.doc",
            (resource.scope, resource.kind, resource.name, resource.version, resource.doc),
        )

    def delete_resource(self, scope: str, kind: str, name: str, version: int | None = None) -> None:
        sql = "DELETE FROM resources WHERE scope = ? AND kind = ? AND name = ?"
        if version is None:
            self._conn.execute(sql, (scope, kind, name))
        else:
            self._conn.execute(sql + " AND version = ?", (scope, kind, name, version))

    # Segments: one query per segment, compiled from its predicate (store/segment_sql.py).

    def segment_members(
        self,
        app_id: str,
        predicate: Predicate,
        after_key: str,
        limit: int,
        until_key: str | None = None,
    ) -> list[EndpointResponse]:
        sql, params = SqliteSegmentSql().members_query(
            app_id, predicate, after_key, limit, until_key
        )
        # One row holding every document: SQLite passes over the app in one step, with the
        # GIL released throughout, where a row per member would take the GIL back for each
        # (and, on a scan thread, wait for it behind the loop). The aggregate keeps no
        # order, so the page is sorted again.
        (joined,) = self._conn.execute(
            f"SELECT '[' || group_concat(doc) || ']' FROM ({sql})", params
        ).fetchone()
        page = _decode_endpoints(joined) if joined else []
        page.sort(key=lambda endpoint: endpoint_key(str(endpoint.id)))
        return page

    def count_segment(self, app_id: str, predicate: Predicate) -> dict[str, int]:
        sql, params = SqliteSegmentSql().count_query(app_id, predicate)
        return {channel: count for channel, count in self._conn.execute(sql, params)}

    def segment_window_end(self, app_id: str, after_key: str, rows: int) -> str | None:
        sql, params = SqliteSegmentSql().window_end_query(app_id, after_key, rows)
        row = self._conn.execute(sql, params).fetchone()
        return str(row[0]) if row else None


class _WriterTurn:
    """Whose turn it is to write, among the processes sharing the database file.

    SQLite's own busy handler polls the write lock with sleeps of up to 100 ms, so a process
    that commits back to back can keep another waiting for seconds. An exclusive `flock` on
    a file beside the database queues the writers in the kernel instead, which wakes the
    next one as soon as the lock is free. Where `flock` does not exist the busy timeout
    alone keeps writers apart (and servers should not be started at the same moment).
    """

    def __init__(self, path: Path) -> None:
        self._fd = os.open(f"{path}-writer.lock", os.O_RDWR | os.O_CREAT, 0o644) if fcntl else -1

    def acquire(self) -> None:
        if fcntl:
            fcntl.flock(self._fd, fcntl.LOCK_EX)

    def release(self) -> None:
        if fcntl:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def __enter__(self) -> None:
        self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def close(self) -> None:
        if fcntl:
            os.close(self._fd)


_Job = tuple[Callable[[WriteTx], Any], "asyncio.Future[Any]"]


class _GroupCommitWriter:
    """Commits the waiting writes in groups, one group at a time; see the module docstring.

    The write functions run on the event loop's thread, as reads do: with a writer thread
    the GIL changed hands for every SQL statement, and each hand-over could wait out the
    interpreter's switch interval (5 ms), which cost more than the work itself. Only the
    statements that wait on something else run on a worker thread: BEGIN IMMEDIATE (for
    another process's write lock) and COMMIT (for fsync). Between two requests of a group
    the loop gets a turn, so reads and new arrivals are served while a long group runs.
    """

    def __init__(self, conn: sqlite3.Connection, turn: _WriterTurn) -> None:
        self._conn = conn
        self._turn = turn
        self._tx = SQLiteTx(conn)
        self._waiting: list[_Job] = []
        self._draining: asyncio.Task[None] | None = None

    async def write(self, fn: Callable[[WriteTx], T]) -> T:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.append((fn, future))
        if self._draining is None:
            self._draining = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                group = self._waiting[:MAX_GROUP]
                del self._waiting[:MAX_GROUP]
                await self._commit(group)
        finally:
            self._draining = None

    async def wait_idle(self) -> None:
        while self._draining is not None:
            await asyncio.shield(self._draining)

    def _begin(self) -> None:
        """Take this process's turn among the writers of the file, then the write lock."""
        self._turn.acquire()
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._turn.release()
            raise

    async def _commit(self, group: list[_Job]) -> None:
        # A caller that gave up (a cancelled task) gets nothing written.
        group = [job for job in group if not job[1].done()]
        if not group:
            return
        outcomes: list[tuple[bool, Any]] = []
        try:
            await asyncio.to_thread(self._begin)
        except Exception as error:
            log.exception("SQLite could not start a write transaction")
            self._answer(group, [(False, error)] * len(group))
            return
        try:
            for fn, _ in group:
                self._conn.execute("SAVEPOINT request")
                try:
                    outcomes.append((True, fn(self._tx)))
                except Exception as error:
                    self._conn.execute("ROLLBACK TO request")
                    outcomes.append((False, error))
                self._conn.execute("RELEASE request")
                await asyncio.sleep(0)
            await asyncio.to_thread(self._conn.execute, "COMMIT")
        except Exception as error:
            log.exception("SQLite group commit of %d requests failed", len(group))
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            outcomes = [(False, error)] * len(group)
        finally:
            self._turn.release()
        self._answer(group, outcomes)

    @staticmethod
    def _answer(group: list[_Job], outcomes: list[tuple[bool, Any]]) -> None:
        for (_, future), (ok, value) in zip(group, outcomes, strict=True):
            if future.done():  # its caller went away
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)


class SQLiteStore:
    """SQLite behind the `Store` interface, on the database file at `path` (created and
    migrated if need be)."""

    def __init__(self, path: Path) -> None:
        self.path = path.resolve()
        self.url = f"sqlite:///{self.path}"
        # A directory made for the data holds personal data (addresses): the server's user only.
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._turn = _WriterTurn(path)
        # Switching a new database to WAL needs an exclusive lock, which SQLite refuses at
        # once ("database is locked", no busy wait) when another process is doing the same;
        # servers starting together take turns instead.
        with self._turn:
            writer_conn = _connect(path)
            migrate(writer_conn)
            self._reader = _connect(path)
        self._reader.execute("PRAGMA query_only = 1")
        self._read_tx = SQLiteTx(self._reader)
        self._one_statement = _OneStatement(self._reader)
        self._single_read_tx = SQLiteTx(self._one_statement)  # type: ignore[arg-type]
        self._writer = _GroupCommitWriter(writer_conn, self._turn)
        self._writer_conn = writer_conn
        # Reads on the loop's thread hold the loop while SQLite steps; a scan steps over
        # many rows per answer, with the GIL released, on threads with connections of
        # their own, as many as there are cores to step on.
        self._scanners = threading.local()
        self._scan_conns: list[sqlite3.Connection] = []
        self._scan_threads = concurrent.futures.ThreadPoolExecutor(
            max_workers=SCAN_THREADS, thread_name_prefix="openpinpoint-scan"
        )

    async def read(self, fn: Callable[[ReadTx], T]) -> T:
        # First as one statement, its own snapshot, without BEGIN and COMMIT (two of the
        # three statements of a GetEndpoint); a read of more runs again in a transaction.
        self._one_statement.ran = False
        try:
            return fn(self._single_read_tx)
        except NeedsSnapshot:
            pass
        self._reader.execute("BEGIN")
        try:
            return fn(self._read_tx)
        finally:
            self._reader.execute("COMMIT")

    async def scan(self, fn: Callable[[ReadTx], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._scan_threads, self._scan, fn)

    def _scan(self, fn: Callable[[ReadTx], T]) -> T:
        conn: sqlite3.Connection | None = getattr(self._scanners, "conn", None)
        if conn is None:
            conn = self._scanners.conn = _connect(self.path)
            conn.execute("PRAGMA query_only = 1")
            self._scan_conns.append(conn)
        conn.execute("BEGIN")
        try:
            return fn(SQLiteTx(conn))
        finally:
            conn.execute("COMMIT")

    async def write(self, fn: Callable[[WriteTx], T]) -> T:
        return await self._writer.write(fn)

    async def close(self) -> None:
        await self._writer.wait_idle()
        self._scan_threads.shutdown()
        for conn in self._scan_conns:
            conn.close()
        self._turn.close()
        self._writer_conn.close()
        self._reader.close()
