"""The store interface the domain core is written against.

A store runs a plain function inside one transaction: `read` for lookups, `write` for
changes. A write function either returns (its changes commit, durably, before the caller
resumes) or raises (none of its changes happen). The core expresses every Pinpoint rule as
such a function over `ReadTx`/`WriteTx`, so each backend only supplies these primitives.
Either function may run more than once (a read that needs a snapshot, a write that met a
lock), so it must do nothing but call the transaction and compute.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, ClassVar, NamedTuple, Protocol, TypeVar

import msgspec
from msgspec import Struct

from openpinpoint.core.predicates import Predicate
from openpinpoint.core.shapes import EndpointResponse, encode, user_id_of
from openpinpoint.core.values import endpoint_key
from openpinpoint.store.segment_rows import SegmentRow, Split

T = TypeVar("T")

ATTRIBUTE_KINDS = ("custom", "metric", "user")
SERVER_SCOPE = ""
"""The `Resource.scope` of what belongs to the whole server rather than one application."""


class App(Struct, kw_only=True):
    """An application (Pinpoint project) as stored."""

    id: str
    name: str
    arn: str
    creation_date: str
    tags: dict[str, str]


class JobRecord(Struct, kw_only=True):
    """An import or export job as stored. `doc` is the job's state as `core.jobs` keeps it;
    the store reads only the columns it queries by. A job is run by the process named in
    `owner` until `lease_until` (seconds since the epoch) passes without renewal."""

    app_id: str
    id: str
    type: str
    status: str
    owner: str = ""
    lease_until: float = 0.0
    doc: str

    COLUMNS: ClassVar[str] = "app_id, id, type, status, owner, lease_until, doc"
    """The SQL stores' columns of a job, in the order `from_row` reads them."""

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> JobRecord:
        app_id, job_id, job_type, status, owner, lease_until, doc = row
        return cls(
            app_id=app_id,
            id=job_id,
            type=job_type,
            status=status,
            owner=owner,
            lease_until=lease_until,
            doc=doc,
        )


class Resource(Struct, kw_only=True):
    """One version of a small, named document that the engagement layer keeps: a message
    template, a channel, a segment. `scope` is the application id, or `SERVER_SCOPE` for
    what belongs to the whole server (templates, T1); `kind` names the family ("segment", ...);
    `version` counts from 1 (0 for documents that have no versions, or a family's own head
    record). The store reads only these keys; `doc` is the core's business."""

    scope: str
    kind: str
    name: str
    version: int = 0
    doc: str

    COLUMNS: ClassVar[str] = "scope, kind, name, version, doc"
    """The SQL stores' columns of a resource, in the order `from_row` reads them."""

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Resource:
        scope, kind, name, version, doc = row
        return cls(scope=scope, kind=kind, name=name, version=version, doc=doc)


class StoredEndpoint(NamedTuple):
    """One endpoint as a store keeps it: the columns it looks endpoints up by, and the JSON
    document exactly as stored. `migrate-store` moves these from store to store without
    decoding and encoding each document again. A named tuple, not a frozen dataclass: made
    straight from a row, it costs 0.3 µs against 1.1 µs, a tenth of a second a copy of
    200,000 endpoints spends on nothing else."""

    key: str
    """The case-folded id (`values.endpoint_key`)."""
    user_id: str | None
    address: str | None
    status: str
    doc: str


ACTIVE_ENDPOINT_ROWS_SQL = (
    "SELECT app_id, id_key, user_id, address, status, doc FROM endpoints"
    " WHERE status = 'ACTIVE' ORDER BY app_id"
)
"""Every active endpoint as stored, with its app: what the migrations that add segment rows
read (`by_app` groups a batch of its rows)."""


def by_app(rows: Iterable[Sequence[Any]]) -> dict[str, list[StoredEndpoint]]:
    """Rows of ACTIVE_ENDPOINT_ROWS_SQL, grouped by app."""
    found: dict[str, list[StoredEndpoint]] = {}
    for app_id, *stored in rows:
        found.setdefault(app_id, []).append(StoredEndpoint(*stored))
    return found


def stored_endpoint(endpoint: EndpointResponse) -> StoredEndpoint:
    """The record a store keeps for `endpoint` (one with an id and a status, as the core
    writes them)."""
    assert isinstance(endpoint.id, str)
    assert isinstance(endpoint.endpoint_status, str)
    return StoredEndpoint(
        key=endpoint_key(endpoint.id),
        user_id=user_id_of(endpoint),
        address=endpoint.address if isinstance(endpoint.address, str) else None,
        status=endpoint.endpoint_status,
        doc=encode(endpoint).decode(),
    )


decode_endpoint = msgspec.json.Decoder(EndpointResponse).decode
decode_app = msgspec.json.Decoder(App).decode


def app_and_endpoints(
    rows: Sequence[Sequence[Any]],
) -> tuple[App | None, list[EndpointResponse]]:
    """The SQL stores' combined reads: rows that start with (app document, endpoint
    document or NULL), none when the app does not exist."""
    if not rows:
        return None, []
    return decode_app(rows[0][0]), [decode_endpoint(row[1]) for row in rows if row[1] is not None]


class NeedsSnapshot(Exception):
    """A read run as one statement, outside any transaction (its statement is its own
    snapshot), went on to a second statement: the store runs it again in a transaction."""


class ReadTx(Protocol):
    def get_app(self, app_id: str) -> App | None: ...

    def list_apps(self, after: int, limit: int) -> list[tuple[int, App]]:
        """Up to `limit` apps in creation order whose position is greater than `after`."""
        ...

    def get_endpoint(self, app_id: str, key: str) -> EndpointResponse | None:
        """The endpoint whose case-folded id is `key` (see `values.endpoint_key`)."""
        ...

    def user_endpoints(self, app_id: str, user_id: str) -> list[EndpointResponse]: ...

    # The hot reads, each with its app in one statement (one round trip to a database
    # server); `require_app` followed by the read, with the same answers.
    def get_app_and_endpoint(
        self, app_id: str, key: str
    ) -> tuple[App | None, EndpointResponse | None]: ...

    def get_app_and_user_endpoints(
        self, app_id: str, user_id: str
    ) -> tuple[App | None, list[EndpointResponse]]: ...

    def list_endpoints(self, app_id: str, after_key: str, limit: int) -> list[EndpointResponse]:
        """Up to `limit` of the app's endpoints whose case-folded id sorts (byte-wise) after
        `after_key`, in that order; `after_key=""` starts at the first."""
        ...

    def list_stored_endpoints(
        self, app_id: str, after_key: str, limit: int
    ) -> list[StoredEndpoint]:
        """`list_endpoints`, as stored."""
        ...

    def list_segment_rows(
        self, app_id: str, after_key: str, last_key: str
    ) -> list[SegmentRow] | None:
        """The segment rows of the app's endpoints whose case-folded ids sort after
        `after_key` and not after `last_key`, in that order, exactly as `segment_rows` made
        them (for copying a store: reading them costs a third of making them again). None
        from a store that keeps them in another form, whose rows must be made again."""
        ...

    def count_endpoints(self, app_id: str) -> int: ...

    def get_job(self, app_id: str, job_id: str) -> JobRecord | None: ...

    def list_jobs(
        self, app_id: str, job_type: str, after: int, limit: int
    ) -> list[tuple[int, JobRecord]]:
        """Up to `limit` jobs of one type in creation order whose position is after `after`."""
        ...

    def unfinished_jobs(self) -> list[JobRecord]:
        """Every job, in any app, whose status is CREATED or PROCESSING."""
        ...

    def count_users(self, app_id: str) -> int:
        """How many distinct user ids the app's endpoints carry."""
        ...

    def attribute_names(self, app_id: str, kind: str) -> list[str]: ...

    def count_attribute_names(self, app_id: str) -> int: ...

    def get_resource(
        self, scope: str, kind: str, name: str, version: int | None = None
    ) -> Resource | None:
        """That version of the resource, or its highest version when `version` is None."""
        ...

    def list_resources(
        self, scope: str, kind: str, after: str, limit: int, prefix: str = ""
    ) -> list[Resource]:
        """The highest version of up to `limit` resources of `kind` whose names start with
        `prefix` and sort (byte-wise) after `after`, in name order."""
        ...

    def resource_versions(self, scope: str, kind: str, name: str) -> list[Resource]:
        """Every version of one resource, lowest first."""
        ...

    def scope_resources(self, scope: str) -> list[Resource]:
        """Every version of every resource in the scope (for copying a store)."""
        ...

    def segment_members(
        self,
        app_id: str,
        predicate: Predicate,
        after_key: str,
        limit: int,
        until_key: str | None = None,
    ) -> list[EndpointResponse]:
        """Up to `limit` ACTIVE endpoints of the app that satisfy `predicate`, in the order
        and from the position of `list_endpoints`, none after `until_key` when it is given;
        evaluated by the database (S8)."""
        ...

    def segment_window_end(self, app_id: str, after_key: str, rows: int) -> str | None:
        """The key of the `rows`-th ACTIVE endpoint after `after_key`, in key order, or
        None when fewer follow: the end of a window of the app that one reader can pass
        over while another reads the next (`segment_members` with `until_key`)."""
        ...

    def count_segment(self, app_id: str, predicate: Predicate) -> dict[str, int]:
        """How many ACTIVE endpoints satisfy `predicate`, per ChannelType."""
        ...


class WriteTx(ReadTx, Protocol):
    """One write transaction. Every app, endpoint, user, address and resource it reads or
    writes is held until it ends: a second write transaction that touches the same one runs
    after it (SQLite runs one write at a time; PostgreSQL takes advisory locks and reruns
    the transaction on a conflict), so a read-then-write in `core` is never interleaved."""

    def insert_app(self, app: App) -> None: ...

    def update_app(self, app: App) -> None: ...

    def delete_app(self, app_id: str) -> None:
        """Delete the app and everything in it, its resources included."""
        ...

    def read_ahead(
        self,
        app_id: str,
        *,
        names: Mapping[str, Iterable[str]],
        addresses: Iterable[str],
        users: Iterable[str],
    ) -> None:
        """A hint, before a write's first read: it may go on to ask
        `known_attribute_names_by_kind(app_id, names)`, and `active_endpoints_with_address`
        and `user_endpoints` of each of `addresses` and `users`. A store whose every read is
        a round trip (PostgreSQL) sends them with the next read and answers from what came
        back, until the transaction writes; the default does nothing."""
        return

    def active_endpoints_with_address(
        self, app_id: str, address: str
    ) -> list[EndpointResponse]: ...

    def related_endpoints(
        self,
        app_id: str,
        keys: Collection[str],
        users: Collection[str] = (),
        addresses: Collection[str] = (),
    ) -> list[EndpointResponse]:
        """In one statement, each once: the app's endpoints whose case-folded id is one of
        `keys`, those of `users`, and the ACTIVE ones whose address is one of `addresses`
        (what a run of updates reads, `core.staged`). On PostgreSQL more than
        `BULK_ENDPOINTS` keys hold the app exclusively, for the rest of the transaction,
        instead of a lock for each key, user and address."""
        ...

    def put_endpoint(self, app_id: str, endpoint: EndpointResponse) -> None:
        """Insert or replace the endpoint stored under its case-folded id."""
        ...

    def put_endpoints(
        self, app_id: str, endpoints: Iterable[StoredEndpoint], rows: Split | None = None
    ) -> None:
        """Insert or replace each (`stored_endpoint` makes one of an `EndpointResponse`),
        in order, in as few statements as the backend allows, with its segment row or
        without one (`segment_rows.split`). `rows` is that split of `endpoints`, when the
        caller made it already (outside the transaction, where it holds up no write)."""
        ...

    def delete_endpoints(self, app_id: str, keys: Iterable[str]) -> None: ...

    def known_attribute_names(self, app_id: str, kind: str, names: Iterable[str]) -> set[str]:
        """Those of `names` already registered for the app under `kind`."""
        ...

    def known_attribute_names_by_kind(
        self, app_id: str, names: Mapping[str, Iterable[str]]
    ) -> dict[str, set[str]]:
        """`known_attribute_names` of each kind in `names`. Both stores answer in one
        statement (SQLite one per PAIRS_PER_STATEMENT pairs); this default asks kind by kind."""
        return {kind: self.known_attribute_names(app_id, kind, n) for kind, n in names.items()}

    def add_attribute_names(self, app_id: str, kind: str, names: Iterable[str]) -> None: ...

    def remove_attribute_names(self, app_id: str, kind: str, names: Iterable[str]) -> None: ...

    def put_job(self, job: JobRecord) -> None:
        """Insert the job, or replace the one stored under its id."""
        ...

    def put_resource(self, resource: Resource) -> None:
        """Insert that version of the resource, or replace it."""
        ...

    def delete_resource(self, scope: str, kind: str, name: str, version: int | None = None) -> None:
        """Delete one version of the resource, or every version when `version` is None."""
        ...


class Store(Protocol):
    url: str

    async def read(self, fn: Callable[[ReadTx], T]) -> T:
        """`fn`'s answer from one consistent view of the store. `fn` may run more than once,
        from the start (`NeedsSnapshot`, a lost connection): it only reads, through `tx`."""
        ...

    async def scan(self, fn: Callable[[ReadTx], T]) -> T:
        """`read`, for a read that passes over much of an app (a page of a segment's
        members): run beside the server's other work, so that it neither holds up their
        requests nor waits for the caller's own work between pages."""
        ...

    async def write(self, fn: Callable[[WriteTx], T]) -> T: ...

    async def close(self) -> None: ...
