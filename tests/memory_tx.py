"""A dictionary-backed `WriteTx`, to unit-test the domain rules without any database."""

from __future__ import annotations

from collections.abc import Collection, Iterable

import msgspec

from openpinpoint.core.predicates import Predicate
from openpinpoint.core.shapes import EndpointResponse, user_id_of
from openpinpoint.core.values import endpoint_key
from openpinpoint.store.base import (
    App,
    JobRecord,
    Resource,
    StoredEndpoint,
    WriteTx,
    decode_endpoint,
    stored_endpoint,
)
from openpinpoint.store.segment_rows import Split


class MemoryTx(WriteTx):
    def __init__(self) -> None:
        self.apps: dict[str, App] = {}
        self.endpoints: dict[tuple[str, str], EndpointResponse] = {}
        self.names: set[tuple[str, str, str]] = set()
        self.jobs: dict[str, JobRecord] = {}
        self.resources: dict[tuple[str, str, str, int], Resource] = {}

    def _copy(self, endpoint: EndpointResponse) -> EndpointResponse:
        # What a real store returns is a fresh decode, never the stored object itself.
        return msgspec.json.decode(msgspec.json.encode(endpoint), type=EndpointResponse)

    def get_app(self, app_id: str) -> App | None:
        return self.apps.get(app_id)

    def list_apps(self, after: int, limit: int) -> list[tuple[int, App]]:
        return list(enumerate(self.apps.values(), 1))[after : after + limit]

    def get_endpoint(self, app_id: str, key: str) -> EndpointResponse | None:
        found = self.endpoints.get((app_id, key))
        return self._copy(found) if found else None

    def user_endpoints(self, app_id: str, user_id: str) -> list[EndpointResponse]:
        return [
            self._copy(e)
            for (app, _), e in sorted(self.endpoints.items())
            if app == app_id and user_id_of(e) == user_id
        ]

    def get_app_and_endpoint(
        self, app_id: str, key: str
    ) -> tuple[App | None, EndpointResponse | None]:
        return self.get_app(app_id), self.get_endpoint(app_id, key)

    def get_app_and_user_endpoints(
        self, app_id: str, user_id: str
    ) -> tuple[App | None, list[EndpointResponse]]:
        return self.get_app(app_id), self.user_endpoints(app_id, user_id)

    def insert_app(self, app: App) -> None:
        self.apps[app.id] = app

    def update_app(self, app: App) -> None:
        self.apps[app.id] = app

    def delete_app(self, app_id: str) -> None:
        del self.apps[app_id]
        for key in [k for k in self.resources if k[0] == app_id]:
            del self.resources[key]

    def active_endpoints_with_address(self, app_id: str, address: str) -> list[EndpointResponse]:
        return [
            self._copy(e)
            for (app, _), e in self.endpoints.items()
            if app == app_id and e.address == address and e.endpoint_status == "ACTIVE"
        ]

    def related_endpoints(
        self,
        app_id: str,
        keys: Collection[str],
        users: Collection[str] = (),
        addresses: Collection[str] = (),
    ) -> list[EndpointResponse]:
        return [
            self._copy(e)
            for (app, key), e in self.endpoints.items()
            if app == app_id
            and (
                key in keys
                or user_id_of(e) in users
                or (e.address in addresses and e.endpoint_status == "ACTIVE")
            )
        ]

    def put_endpoint(self, app_id: str, endpoint: EndpointResponse) -> None:
        assert isinstance(endpoint.id, str)
        self.endpoints[(app_id, endpoint_key(endpoint.id))] = self._copy(endpoint)

    def put_endpoints(
        self, app_id: str, endpoints: Iterable[StoredEndpoint], rows: Split | None = None
    ) -> None:
        for endpoint in endpoints:
            self.endpoints[(app_id, endpoint.key)] = decode_endpoint(endpoint.doc)

    def delete_endpoints(self, app_id: str, keys: Iterable[str]) -> None:
        for key in keys:
            del self.endpoints[(app_id, key)]

    def known_attribute_names(self, app_id: str, kind: str, names: Iterable[str]) -> set[str]:
        return {n for n in names if (app_id, kind, n) in self.names}

    def attribute_names(self, app_id: str, kind: str) -> list[str]:
        return sorted(n for a, k, n in self.names if (a, k) == (app_id, kind))

    def count_attribute_names(self, app_id: str) -> int:
        return sum(1 for a, _, _ in self.names if a == app_id)

    def add_attribute_names(self, app_id: str, kind: str, names: Iterable[str]) -> None:
        self.names |= {(app_id, kind, n) for n in names}

    def remove_attribute_names(self, app_id: str, kind: str, names: Iterable[str]) -> None:
        self.names -= {(app_id, kind, n) for n in names}

    def list_endpoints(self, app_id: str, after_key: str, limit: int) -> list[EndpointResponse]:
        keys = sorted(k for a, k in self.endpoints if a == app_id and k > after_key)
        return [self._copy(self.endpoints[(app_id, k)]) for k in keys[:limit]]

    def list_stored_endpoints(
        self, app_id: str, after_key: str, limit: int
    ) -> list[StoredEndpoint]:
        return [stored_endpoint(e) for e in self.list_endpoints(app_id, after_key, limit)]

    def list_segment_rows(self, app_id: str, after_key: str, last_key: str) -> None:
        return None  # no segment rows kept: segments are evaluated over the endpoints

    def count_endpoints(self, app_id: str) -> int:
        return sum(1 for a, _ in self.endpoints if a == app_id)

    def get_job(self, app_id: str, job_id: str) -> JobRecord | None:
        job = self.jobs.get(job_id)
        return job if job is not None and job.app_id == app_id else None

    def list_jobs(
        self, app_id: str, job_type: str, after: int, limit: int
    ) -> list[tuple[int, JobRecord]]:
        numbered = [
            (n, job)
            for n, job in enumerate(self.jobs.values(), 1)
            if job.app_id == app_id and job.type == job_type and n > after
        ]
        return numbered[:limit]

    def unfinished_jobs(self) -> list[JobRecord]:
        return [j for j in self.jobs.values() if j.status in ("CREATED", "PROCESSING")]

    def put_job(self, job: JobRecord) -> None:
        self.jobs[job.id] = job

    def count_users(self, app_id: str) -> int:
        return len({user_id_of(e) for (a, _), e in self.endpoints.items() if a == app_id} - {None})

    def get_resource(
        self, scope: str, kind: str, name: str, version: int | None = None
    ) -> Resource | None:
        versions = self.resource_versions(scope, kind, name)
        if version is None:
            return versions[-1] if versions else None
        return next((r for r in versions if r.version == version), None)

    def list_resources(
        self, scope: str, kind: str, after: str, limit: int, prefix: str = ""
    ) -> list[Resource]:
        names = sorted(
            {n for s, k, n, _ in self.resources if (s, k) == (scope, kind)},
            key=lambda n: n.encode(),
        )
        chosen = [n for n in names if n.encode() > after.encode() and n.startswith(prefix)]
        found = [self.get_resource(scope, kind, n) for n in chosen[:limit]]
        return [r for r in found if r is not None]

    def resource_versions(self, scope: str, kind: str, name: str) -> list[Resource]:
        return sorted(
            (r for (s, k, n, _), r in self.resources.items() if (s, k, n) == (scope, kind, name)),
            key=lambda r: r.version,
        )

    def scope_resources(self, scope: str) -> list[Resource]:
        return [self.resources[key] for key in sorted(self.resources) if key[0] == scope]

    def put_resource(self, resource: Resource) -> None:
        key = (resource.scope, resource.kind, resource.name, resource.version)
        self.resources[key] = resource

    def delete_resource(self, scope: str, kind: str, name: str, version: int | None = None) -> None:
        for key in list(self.resources):
            if key[:3] == (scope, kind, name) and version in (None, key[3]):
                del self.resources[key]

    # Segments are evaluated by SQL; the core's tests that use this double never need them.

    def segment_members(
        self,
        app_id: str,
        predicate: Predicate,
        after_key: str,
        limit: int,
        until_key: str | None = None,
    ) -> list[EndpointResponse]:
        raise NotImplementedError("MemoryTx does not evaluate segments")

    def segment_window_end(self, app_id: str, after_key: str, rows: int) -> str | None:
        raise NotImplementedError("MemoryTx does not evaluate segments")

    def count_segment(self, app_id: str, predicate: Predicate) -> dict[str, int]:
        raise NotImplementedError("MemoryTx does not evaluate segments")
