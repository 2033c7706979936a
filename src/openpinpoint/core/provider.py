"""The Pinpoint operations: one method per operation, named after it in snake_case.

The wire layer decodes a request into the keyword arguments of one of these methods and
serialises what it returns; nothing here knows about HTTP, nothing below it about Pinpoint.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from openpinpoint.core import apps, endpoints, jobs, segments
from openpinpoint.core.access import FULL_ACCESS, Access
from openpinpoint.core.endpoints import Stamp
from openpinpoint.core.errors import BadRequest
from openpinpoint.core.messaging_api import Messaging, MessagingOperations
from openpinpoint.core.segments_api import SegmentOperations
from openpinpoint.core.shapes import (
    ApplicationResponse,
    ApplicationsResponse,
    AttributesResource,
    AttributeType,
    CreateApplicationRequest,
    EndpointBatchRequest,
    EndpointRequest,
    EndpointResponse,
    EndpointsResponse,
    ExportJobRequest,
    ExportJobResponse,
    ExportJobsResponse,
    ImportJobRequest,
    ImportJobResponse,
    ImportJobsResponse,
    MessageBody,
    TagsModel,
    UpdateAttributesRequest,
)
from openpinpoint.core.templates_api import TemplateOperations
from openpinpoint.core.values import decode_page_token, format_date, new_resource_id
from openpinpoint.defaults import DEFAULT_ACCOUNT_ID
from openpinpoint.files import Files, FileSettings
from openpinpoint.store.base import App, ReadTx, Store, WriteTx

T = TypeVar("T")

DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class RequestContext:
    """Who asked, and when: what the wire layer knows of a request besides its input."""

    request_id: str
    region: str = DEFAULT_REGION
    access: Access = FULL_ACCESS
    access_key_id: str | None = None
    """None when the server does not authenticate (`--auth none`)."""
    received: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def stamp(self) -> Stamp:
        return Stamp(request_id=self.request_id, now=format_date(self.received))


def _with_app_id(app_id: str, endpoint: EndpointResponse) -> EndpointResponse:
    endpoint.application_id = app_id
    return endpoint


class PinpointProvider(MessagingOperations, TemplateOperations, SegmentOperations):
    def __init__(
        self,
        store: Store,
        account_id: str = DEFAULT_ACCOUNT_ID,
        jobs: jobs.JobRunner | None = None,
        messaging: Messaging | None = None,
    ) -> None:
        self.store = store
        self.account_id = account_id
        self.jobs = jobs or _default_runner(store)
        self.messaging = messaging

    async def _read_in_app(self, ctx: RequestContext, app_id: str, fn: Callable[[ReadTx], T]) -> T:
        ctx.access.require_app(app_id)

        def run(tx: ReadTx) -> T:
            apps.require_app(tx, app_id)
            return fn(tx)

        return await self.store.read(run)

    async def _write_in_app(
        self, ctx: RequestContext, app_id: str, fn: Callable[[WriteTx], T]
    ) -> T:
        ctx.access.require_app(app_id)

        def run(tx: WriteTx) -> T:
            apps.require_app(tx, app_id)
            return fn(tx)

        return await self.store.write(run)

    # Applications

    async def create_app(
        self, ctx: RequestContext, body: CreateApplicationRequest
    ) -> ApplicationResponse:
        ctx.access.require_admin("create applications")
        app_id = new_resource_id()
        app = App(
            id=app_id,
            name=body.name,
            arn=apps.app_arn(ctx.region, self.account_id, app_id),
            creation_date=ctx.stamp.now,
            tags=body.tags or {},
        )
        await self.store.write(lambda tx: tx.insert_app(app))
        return apps.response(app)

    async def get_app(self, ctx: RequestContext, application_id: str) -> ApplicationResponse:
        ctx.access.require_app(application_id)
        app = await self.store.read(lambda tx: apps.require_app(tx, application_id))
        return apps.response(app)

    async def get_apps(
        self, ctx: RequestContext, page_size: str | None = None, token: str | None = None
    ) -> ApplicationsResponse:
        size, after = apps.page_size(page_size), decode_page_token("apps", token)
        found, next_token = await self.store.read(
            lambda tx: apps.list_apps(tx, size, after, lambda app: ctx.access.may_use(app.id))
        )
        page = ApplicationsResponse(item=[apps.response(app) for app in found])
        if next_token is not None:
            page.next_token = next_token
        return page

    async def delete_app(self, ctx: RequestContext, application_id: str) -> ApplicationResponse:
        ctx.access.require_admin("delete applications")
        ctx.access.require_app(application_id)

        def delete(tx: WriteTx) -> App:
            app = apps.require_app(tx, application_id)
            tx.delete_app(application_id)
            return app

        return apps.response(await self.store.write(delete))

    # Endpoints

    async def update_endpoint(
        self,
        ctx: RequestContext,
        application_id: str,
        endpoint_id: str,
        body: EndpointRequest,
    ) -> MessageBody:
        ctx.access.require_app(application_id)
        stamp = ctx.stamp
        await self.store.write(
            lambda tx: endpoints.update_endpoint_in_app(
                tx, application_id, endpoint_id, body, stamp
            )
        )
        return MessageBody(message="Accepted", request_id=ctx.request_id)

    async def update_endpoints_batch(
        self, ctx: RequestContext, application_id: str, body: EndpointBatchRequest
    ) -> MessageBody:
        stamp = ctx.stamp
        await self._write_in_app(
            ctx,
            application_id,
            lambda tx: endpoints.update_endpoints_batch(tx, application_id, body.item, stamp),
        )
        return MessageBody(message="Accepted", request_id=ctx.request_id)

    async def get_endpoint(
        self, ctx: RequestContext, application_id: str, endpoint_id: str
    ) -> EndpointResponse:
        ctx.access.require_app(application_id)
        found = await self.store.read(
            lambda tx: endpoints.get_endpoint_in_app(tx, application_id, endpoint_id)
        )
        return _with_app_id(application_id, found)

    async def delete_endpoint(
        self, ctx: RequestContext, application_id: str, endpoint_id: str
    ) -> EndpointResponse:
        deleted = await self._write_in_app(
            ctx,
            application_id,
            lambda tx: endpoints.delete_endpoint(tx, application_id, endpoint_id),
        )
        return _with_app_id(application_id, deleted)

    # Users

    async def get_user_endpoints(
        self, ctx: RequestContext, application_id: str, user_id: str
    ) -> EndpointsResponse:
        ctx.access.require_app(application_id)
        found = await self.store.read(
            lambda tx: endpoints.get_user_endpoints_in_app(tx, application_id, user_id)
        )
        return EndpointsResponse(item=[_with_app_id(application_id, e) for e in found])

    async def delete_user_endpoints(
        self, ctx: RequestContext, application_id: str, user_id: str
    ) -> EndpointsResponse:
        ctx.access.require_app(application_id)
        deleted = await self.store.write(
            lambda tx: endpoints.delete_user_endpoints_in_app(tx, application_id, user_id)
        )
        return EndpointsResponse(item=[_with_app_id(application_id, e) for e in deleted])

    # Import and export jobs

    async def create_export_job(
        self, ctx: RequestContext, application_id: str, body: ExportJobRequest
    ) -> ExportJobResponse:
        ctx.access.require_app(application_id)
        job = await self.jobs.create_export(application_id, body, ctx.stamp.now, ctx.access)
        self.jobs.launch(application_id, job.id)
        return job

    async def create_import_job(
        self, ctx: RequestContext, application_id: str, body: ImportJobRequest
    ) -> ImportJobResponse:
        ctx.access.require_app(application_id)
        job = await self.jobs.create_import(application_id, body, ctx.stamp.now, ctx.access)
        self.jobs.launch(application_id, job.id)
        return job

    async def get_export_job(
        self, ctx: RequestContext, application_id: str, job_id: str
    ) -> ExportJobResponse:
        ctx.access.require_app(application_id)
        return await self.store.read(lambda tx: jobs.export_job(tx, application_id, job_id))

    async def get_import_job(
        self, ctx: RequestContext, application_id: str, job_id: str
    ) -> ImportJobResponse:
        ctx.access.require_app(application_id)
        return await self.store.read(lambda tx: jobs.import_job(tx, application_id, job_id))

    async def get_export_jobs(
        self,
        ctx: RequestContext,
        application_id: str,
        page_size: str | None = None,
        token: str | None = None,
    ) -> ExportJobsResponse:
        return await self._jobs_page(
            ctx, jobs.export_jobs, "EXPORT", application_id, page_size=page_size, token=token
        )

    async def get_import_jobs(
        self,
        ctx: RequestContext,
        application_id: str,
        page_size: str | None = None,
        token: str | None = None,
    ) -> ImportJobsResponse:
        return await self._jobs_page(
            ctx, jobs.import_jobs, "IMPORT", application_id, page_size=page_size, token=token
        )

    async def _jobs_page(
        self,
        ctx: RequestContext,
        listing: Callable[[ReadTx, str, int, int], T],
        job_type: str,
        application_id: str,
        *,
        page_size: str | None,
        token: str | None,
    ) -> T:
        ctx.access.require_app(application_id)
        size = apps.page_size(page_size)
        after = decode_page_token(jobs.page_kind(job_type), token)
        return await self.store.read(lambda tx: listing(tx, application_id, size, after))

    # Attributes and tags

    async def remove_attributes(
        self,
        ctx: RequestContext,
        application_id: str,
        attribute_type: str,
        body: UpdateAttributesRequest,
    ) -> AttributesResource:
        kind = _attribute_type(attribute_type)
        names = await self._read_in_app(
            ctx,
            application_id,
            lambda tx: tx.attribute_names(application_id, endpoints.ATTRIBUTE_KIND_OF_TYPE[kind]),
        )
        blacklist = await asyncio.to_thread(endpoints.check_blacklist, body.blacklist or [], names)
        removed = await self._write_in_app(
            ctx,
            application_id,
            lambda tx: endpoints.remove_attributes(tx, application_id, kind, blacklist),
        )
        return AttributesResource(
            application_id=application_id, attribute_type=attribute_type, attributes=removed
        )

    async def tag_resource(self, ctx: RequestContext, resource_arn: str, body: TagsModel) -> None:
        ctx.access.require_app(apps.app_id_of_arn(resource_arn))
        owner = segments if segments.is_segment_arn(resource_arn) else apps
        await self.store.write(lambda tx: owner.tag(tx, resource_arn, body.tags))

    async def untag_resource(
        self, ctx: RequestContext, resource_arn: str, tag_keys: list[str]
    ) -> None:
        ctx.access.require_app(apps.app_id_of_arn(resource_arn))
        owner = segments if segments.is_segment_arn(resource_arn) else apps
        await self.store.write(lambda tx: owner.untag(tx, resource_arn, tag_keys))

    async def list_tags_for_resource(self, ctx: RequestContext, resource_arn: str) -> TagsModel:
        ctx.access.require_app(apps.app_id_of_arn(resource_arn))
        owner = segments if segments.is_segment_arn(resource_arn) else apps
        return TagsModel(tags=await self.store.read(lambda tx: owner.tags(tx, resource_arn)))


def _default_runner(store: Store) -> jobs.JobRunner:
    """Jobs that may use S3 (configured by the standard AWS variables) but no local files."""
    return jobs.JobRunner(store, Files(FileSettings()))


def _attribute_type(value: str) -> AttributeType:
    for known in endpoints.ATTRIBUTE_KIND_OF_TYPE:
        if value == known:
            return known
    raise BadRequest(
        f"attribute-type {value!r} is not one of "
        + ", ".join(sorted(endpoints.ATTRIBUTE_KIND_OF_TYPE))
    )
