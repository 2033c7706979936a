"""The segment operations of `PinpointProvider` (engagement spec section 5)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from openpinpoint.core import apps, jobs, segments
from openpinpoint.core.segment_shapes import SegmentResponse, SegmentsResponse, WriteSegmentRequest
from openpinpoint.core.shapes import ExportJobsResponse, ImportJobsResponse
from openpinpoint.core.values import decode_page_token, new_resource_id
from openpinpoint.store.base import ReadTx, WriteTx

if TYPE_CHECKING:
    from openpinpoint.core.provider import RequestContext

T = TypeVar("T")


class SegmentOperations:
    """CreateSegment ... GetSegmentExportJobs, over the provider's store and jobs."""

    if TYPE_CHECKING:  # supplied by PinpointProvider

        async def _read_in_app(
            self, ctx: RequestContext, app_id: str, fn: Callable[[ReadTx], T]
        ) -> T: ...

        async def _write_in_app(
            self, ctx: RequestContext, app_id: str, fn: Callable[[WriteTx], T]
        ) -> T: ...

    async def create_segment(
        self, ctx: RequestContext, application_id: str, body: WriteSegmentRequest
    ) -> SegmentResponse:
        segment_id, now = new_resource_id(), ctx.stamp.now

        def create(tx: WriteTx) -> SegmentResponse:
            app = apps.require_app(tx, application_id)
            return segments.create(tx, app, segment_id, body, now)

        return await self._write_in_app(ctx, application_id, create)

    async def get_segment(
        self, ctx: RequestContext, application_id: str, segment_id: str
    ) -> SegmentResponse:
        return await self._read_in_app(
            ctx, application_id, lambda tx: segments.get(tx, application_id, segment_id)
        )

    async def get_segments(
        self,
        ctx: RequestContext,
        application_id: str,
        page_size: str | None = None,
        token: str | None = None,
    ) -> SegmentsResponse:
        size = apps.page_size(page_size)
        return await self._read_in_app(
            ctx, application_id, lambda tx: segments.list_segments(tx, application_id, size, token)
        )

    async def update_segment(
        self,
        ctx: RequestContext,
        application_id: str,
        segment_id: str,
        body: WriteSegmentRequest,
    ) -> SegmentResponse:
        now = ctx.stamp.now
        return await self._write_in_app(
            ctx,
            application_id,
            lambda tx: segments.update(tx, application_id, segment_id, body, now),
        )

    async def delete_segment(
        self, ctx: RequestContext, application_id: str, segment_id: str
    ) -> SegmentResponse:
        return await self._write_in_app(
            ctx, application_id, lambda tx: segments.delete(tx, application_id, segment_id)
        )

    async def get_segment_version(
        self, ctx: RequestContext, application_id: str, segment_id: str, version: str
    ) -> SegmentResponse:
        number = segments.version_number(version)
        return await self._read_in_app(
            ctx, application_id, lambda tx: segments.get(tx, application_id, segment_id, number)
        )

    async def get_segment_versions(
        self,
        ctx: RequestContext,
        application_id: str,
        segment_id: str,
        page_size: str | None = None,
        token: str | None = None,
    ) -> SegmentsResponse:
        size = apps.page_size(page_size)
        return await self._read_in_app(
            ctx,
            application_id,
            lambda tx: segments.list_versions(tx, application_id, segment_id, size, token),
        )

    async def get_segment_import_jobs(
        self,
        ctx: RequestContext,
        application_id: str,
        segment_id: str,
        page_size: str | None = None,
        token: str | None = None,
    ) -> ImportJobsResponse:
        return await self._segment_jobs(
            ctx,
            jobs.import_jobs,
            "IMPORT",
            application_id,
            segment_id=segment_id,
            page_size=page_size,
            token=token,
        )

    async def get_segment_export_jobs(
        self,
        ctx: RequestContext,
        application_id: str,
        segment_id: str,
        page_size: str | None = None,
        token: str | None = None,
    ) -> ExportJobsResponse:
        return await self._segment_jobs(
            ctx,
            jobs.export_jobs,
            "EXPORT",
            application_id,
            segment_id=segment_id,
            page_size=page_size,
            token=token,
        )

    async def _segment_jobs(
        self,
        ctx: RequestContext,
        listing: Callable[..., T],
        job_type: str,
        application_id: str,
        *,
        segment_id: str,
        page_size: str | None,
        token: str | None,
    ) -> T:
        size = apps.page_size(page_size)
        after = decode_page_token(jobs.page_kind(job_type), token)

        def read(tx: ReadTx) -> T:
            segments.get(tx, application_id, segment_id)
            return listing(tx, application_id, size, after, segment_id=segment_id)

        return await self._read_in_app(ctx, application_id, read)
