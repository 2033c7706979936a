"""The store interface the domain core is written against.

A store runs a plain function inside one transaction: `read` for lookups, `write` for
changes. A write function either returns (its changes commit, durably, before the caller
resumes) or raises (none of its changes happen). The core expresses every Pinpoint rule as
such a function over `ReadTx`/`WriteTx`, so each backend only supplies these primitives.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar, Protocol, TypeVar

import msgspec
from msgspec import Struct

from openpinpoint.core.shapes import EndpointResponse

T = TypeVar("T")

ATTRIBUTE_KINDS = ("custom", "metric", "user")


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


_decode_endpoint = msgspec.json.Decoder(EndpointResponse).decode
_decode_app = msgspec.json.Decoder(App).decode


def app_and_endpoints(
    rows: Sequence[Sequence[Any]],
) -> tuple[App | None, list[EndpointResponse]]:
    """The SQL stores' combined reads: rows of (app document, endpoint document or NULL),
    none when the app does not exist."""
    if not rows:
        return None, []
    return _decode_app(rows[0][0]), [_decode_endpoint(doc) for _, doc in rows if doc is not None]


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


class WriteTx(ReadTx, Protocol):
    def insert_app(self, app: App) -> None: ...

    def update_app(self, app: App) -> None: ...

    def delete_app(self, app_id: str) -> None:
        """Delete the app and everything in it."""
        ...

    def active_endpoints_with_address(
        self, app_id: str, address: str
    ) -> list[EndpointResponse]: ...

    def put_endpoint(self, app_id: str, endpoint: EndpointResponse) -> None:
        """Insert or replace the endpoint stored under its case-folded id."""
        ...

    def put_endpoints(self, app_id: str, endpoints: Iterable[EndpointResponse]) -> None:
        """`put_endpoint` of each, in order, in as few statements as the backend allows."""
        ...

    def delete_endpoints(self, app_id: str, keys: Iterable[str]) -> None: ...

    def known_attribute_names(self, app_id: str, kind: str, names: Iterable[str]) -> set[str]:
        """Those of `names` already registered for the app under `kind`."""
        ...

    def add_attribute_names(self, app_id: str, kind: str, names: Iterable[str]) -> None: ...

    def remove_attribute_names(self, app_id: str, kind: str, names: Iterable[str]) -> None: ...

    def put_job(self, job: JobRecord) -> None:
        """Insert the job, or replace the one stored under its id."""
        ...


class Store(Protocol):
    url: str

    async def read(self, fn: Callable[[ReadTx], T]) -> T: ...

    async def write(self, fn: Callable[[WriteTx], T]) -> T: ...

    async def close(self) -> None: ...
