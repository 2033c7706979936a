"""A dictionary-backed `WriteTx`, to unit-test the domain rules without any database."""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from openpinpoint.core.endpoints import user_id_of
from openpinpoint.core.shapes import EndpointResponse
from openpinpoint.core.values import endpoint_key
from openpinpoint.store.base import App, JobRecord, WriteTx


class MemoryTx(WriteTx):
    def __init__(self) -> None:
        self.apps: dict[str, App] = {}
        self.endpoints: dict[tuple[str, str], EndpointResponse] = {}
        self.names: set[tuple[str, str, str]] = set()
        self.jobs: dict[str, JobRecord] = {}

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

    def active_endpoints_with_address(self, app_id: str, address: str) -> list[EndpointResponse]:
        return [
            self._copy(e)
            for (app, _), e in self.endpoints.items()
            if app == app_id and e.address == address and e.endpoint_status == "ACTIVE"
        ]

    def put_endpoint(self, app_id: str, endpoint: EndpointResponse) -> None:
        assert isinstance(endpoint.id, str)
        self.endpoints[(app_id, endpoint_key(endpoint.id))] = self._copy(endpoint)

    def put_endpoints(self, app_id: str, endpoints: Iterable[EndpointResponse]) -> None:
        for endpoint in endpoints:
            self.put_endpoint(app_id, endpoint)

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
