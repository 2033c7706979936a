"""Import and export jobs (CreateExportJob, CreateImportJob and their Get operations).

A job is a row in the store whose document holds its Pinpoint response (status, counters,
failures) and a cursor saying how far it got. A job runs in the background of the process
that holds its lease: every step commits its progress together with a lease renewal, and
import steps commit the endpoints they wrote in that same transaction, so a job interrupted
anywhere resumes exactly where its last step ended. A process that starts, and every
running server now and then, takes over unfinished jobs whose lease ran out; a job that has
been interrupted `MAX_ATTEMPTS` times is marked FAILED with that reason instead.

Imports apply each row with `endpoints.update_endpoint`, the same rules as UpdateEndpoint:
a chunk of rows is one transaction, and when a rule refuses a row the chunk is redone in
halves (down to single rows) so that only the bad rows fail, each reported with its line
number.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import time
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TypeVar

import msgspec
from msgspec import UNSET, Struct

from openpinpoint.core import apps, endpoints, export_pieces, formats, segments
from openpinpoint.core.access import FULL_ACCESS, Access
from openpinpoint.core.endpoints import Origin, Stamp
from openpinpoint.core.errors import BadRequest, Forbidden, NotFound
from openpinpoint.core.formats import HeaderError, Row
from openpinpoint.core.segment_shapes import MAX_NAME
from openpinpoint.core.shapes import (
    ExportJobResource,
    ExportJobResponse,
    ExportJobsResponse,
    ImportFormat,
    ImportJobResource,
    ImportJobResponse,
    ImportJobsResponse,
    JobStatus,
)
from openpinpoint.core.staged import EndpointTx, StagedEndpoints
from openpinpoint.core.values import (
    check_id,
    encode_page_token,
    endpoint_key,
    format_date,
    is_resource_id,
    new_resource_id,
)
from openpinpoint.files import FileError, Files
from openpinpoint.store.base import JobRecord, ReadTx, Store, WriteTx

log = logging.getLogger("openpinpoint.jobs")

T = TypeVar("T")

UNFINISHED = ("CREATED", "PROCESSING")
IMPORT_CHUNK_ROWS = 1_000
MAX_FAILURES_LISTED = 100
MAX_ATTEMPTS = 3
DEFAULT_LEASE_SECONDS = 30.0


class ExportState(Struct, tag="EXPORT", kw_only=True):
    job: ExportJobResponse
    after_key: str = ""
    """Endpoints up to this key are in the pieces written so far."""
    attempts: int = 0


class ImportState(Struct, tag="IMPORT", kw_only=True):
    job: ImportJobResponse
    sources: list[str] | None = None
    """The files to read, fixed when the job starts processing."""
    source_index: int = 0
    line: int = 0
    """Lines of `sources[source_index]` already done."""
    attempts: int = 0
    segment: segments.Members | None = None
    """The members gathered so far when the job defines or replaces a segment (S6)."""


State = ExportState | ImportState
Progress = Callable[[State], None]

_state_decoder = msgspec.json.Decoder(State)
_encode = msgspec.json.Encoder().encode


class LeaseLost(Exception):
    """Another process took the job over (or its app was deleted): stop working on it."""


def _decode_state(doc: str | bytes) -> State:
    state: State = _state_decoder.decode(doc)
    return state


def job_record(app_id: str, state: State, owner: str, lease_until: float) -> JobRecord:
    """The job as the store keeps it."""
    return JobRecord(
        app_id=app_id,
        id=state.job.id,
        type=state.job.type,
        status=state.job.job_status,
        owner=owner,
        lease_until=lease_until,
        doc=_encode(state).decode(),
    )


def _copy(state: State) -> State:
    return _decode_state(_encode(state))


def _count(value: int | msgspec.UnsetType) -> int:
    return value if isinstance(value, int) else 0


def _add_failure(state: State, reason: str) -> None:
    job = state.job
    job.total_failures = _count(job.total_failures) + 1
    failures = job.failures if isinstance(job.failures, list) else []
    if len(failures) < MAX_FAILURES_LISTED:
        failures.append(reason)
    job.failures = failures


def _finish(state: State, status: JobStatus, reason: str, now: datetime) -> None:
    if reason:
        _add_failure(state, reason)
    state.job.job_status = status
    state.job.completion_date = format_date(now)


# Reading jobs (run inside a store transaction)


def _stored_state(tx: ReadTx, app_id: str, job_id: str, job_type: str) -> State:
    apps.require_app(tx, app_id)
    # Job ids are 32 hex characters (G8); others (a NUL, say, which PostgreSQL refuses in a
    # query) are simply unknown.
    record = tx.get_job(app_id, job_id) if is_resource_id(job_id) else None
    if record is None or record.type != job_type:
        raise NotFound(f"{job_type.title()} job {job_id!r} not found in application {app_id}")
    return _decode_state(record.doc)


def export_job(tx: ReadTx, app_id: str, job_id: str) -> ExportJobResponse:
    state = _stored_state(tx, app_id, job_id, "EXPORT")
    assert isinstance(state, ExportState)
    return state.job


def import_job(tx: ReadTx, app_id: str, job_id: str) -> ImportJobResponse:
    state = _stored_state(tx, app_id, job_id, "IMPORT")
    assert isinstance(state, ImportState)
    return state.job


def export_jobs(
    tx: ReadTx, app_id: str, size: int, after: int, segment_id: str | None = None
) -> ExportJobsResponse:
    states, token = _page(tx, app_id, "EXPORT", size, after, segment_id=segment_id)
    page = ExportJobsResponse(item=[s.job for s in states if isinstance(s, ExportState)])
    if token is not None:
        page.next_token = token
    return page


def import_jobs(
    tx: ReadTx, app_id: str, size: int, after: int, segment_id: str | None = None
) -> ImportJobsResponse:
    states, token = _page(tx, app_id, "IMPORT", size, after, segment_id=segment_id)
    page = ImportJobsResponse(item=[s.job for s in states if isinstance(s, ImportState)])
    if token is not None:
        page.next_token = token
    return page


def _page(
    tx: ReadTx, app_id: str, job_type: str, size: int, after: int, *, segment_id: str | None
) -> tuple[list[State], str | None]:
    """One page of an app's jobs of one type, oldest first, and the NextToken (G10); only
    the jobs that name `segment_id` when it is given (S7)."""
    apps.require_app(tx, app_id)
    found: list[tuple[int, State]] = []
    while True:
        rows = tx.list_jobs(app_id, job_type, after, size + 1)
        states = [(position, _decode_state(record.doc)) for position, record in rows]
        found += [
            (position, state)
            for position, state in states
            if segment_id is None or state.job.definition.segment_id == segment_id
        ]
        if len(found) > size or len(rows) <= size:
            break
        after = rows[-1][0]
    token = (
        encode_page_token(page_kind(job_type), found[size - 1][0]) if len(found) > size else None
    )
    return [state for _, state in found[:size]], token


def page_kind(job_type: str) -> str:
    """The kind of NextToken that pages through jobs of `job_type`."""
    return f"{job_type.lower()}-jobs"


# Changing jobs (run inside a store write transaction)


def _save(tx: WriteTx, app_id: str, state: State, owner: str, lease_until: float) -> None:
    """Store the job's progress, if this process still holds its lease."""
    current = tx.get_job(app_id, state.job.id)
    if current is None or current.owner != owner:
        raise LeaseLost(f"job {state.job.id} is no longer this process's to run")
    tx.put_job(job_record(app_id, state, owner, lease_until))


def _claim(tx: WriteTx, record: JobRecord, owner: str, now: float, lease: float) -> State | None:
    """Take over an unfinished job whose lease ran out; None when it is not to be had."""
    current = tx.get_job(record.app_id, record.id)
    if current is None or current.status not in UNFINISHED:
        return None
    if current.owner not in ("", owner) and current.lease_until > now:
        return None
    state = _decode_state(current.doc)
    state.attempts += 1
    if state.attempts > MAX_ATTEMPTS:
        reason = (
            f"the job was interrupted {MAX_ATTEMPTS} times before finishing (the server "
            "stopped or lost its lease each time); giving up"
        )
        _finish(state, "FAILED", reason, datetime.fromtimestamp(now, UTC))
        tx.put_job(job_record(record.app_id, state, "", 0.0))
        return None
    tx.put_job(job_record(record.app_id, state, owner, now + lease))
    return state


def _give_up(tx: WriteTx, app_id: str, job_id: str, owner: str, reason: str) -> None:
    """Mark a job this process holds FAILED: nobody is going to resume it."""
    current = tx.get_job(app_id, job_id)
    if current is None or current.owner != owner or current.status not in UNFINISHED:
        return
    state = _decode_state(current.doc)
    _finish(state, "FAILED", reason, datetime.now(UTC))
    tx.put_job(job_record(app_id, state, "", 0.0))


def _release(tx: WriteTx, app_id: str, job_id: str, owner: str) -> None:
    """Give a job up on a clean shutdown, so the next process resumes it at once; a clean
    stop does not count as a failed attempt."""
    current = tx.get_job(app_id, job_id)
    if current is None or current.owner != owner or current.status not in UNFINISHED:
        return
    state = _decode_state(current.doc)
    state.attempts = max(0, state.attempts - 1)
    tx.put_job(job_record(app_id, state, "", 0.0))


def _creates(endpoint: formats.ImportedEndpoint) -> bool:
    return bool(endpoint.address) and endpoint.channel_type is not UNSET


def _apply_row(
    tx: EndpointTx, app_id: str, endpoint: formats.ImportedEndpoint, stamp: Stamp
) -> None:
    if endpoint.id is UNSET or not endpoint.id:
        raise BadRequest("a row without Id creates an endpoint: it needs Address and ChannelType")
    endpoint_id = check_id("Id", endpoint.id)
    if not _creates(endpoint) and tx.get_endpoint(app_id, endpoint_key(endpoint_id)) is None:
        raise BadRequest(
            f"endpoint {endpoint_id!r} does not exist yet, and a new endpoint needs "
            "Address and ChannelType"
        )
    origin = Origin(
        creation_date=endpoint.creation_date or None, cohort_id=endpoint.cohort_id or None
    )
    endpoints.update_endpoint(tx, app_id, endpoint_id, endpoint, stamp, origin=origin)


def _advanced(state: ImportState, chunk: list[Row], refused: dict[int, str]) -> ImportState:
    """The job's state once the chunk is applied, its refused rows (by number) failed."""
    after = _copy(state)
    assert isinstance(after, ImportState)
    if after.segment is not None:
        _add_members(after.segment, [row for n, row in enumerate(chunk) if n not in refused])
    after.line = chunk[-1].line
    after.job.total_processed = _count(after.job.total_processed) + len(chunk)
    for number, row in enumerate(chunk):
        if row.error is not None:
            _add_failure(after, f"line {row.line}: {row.error}")
        if number in refused:
            _add_failure(after, refused[number])
    return after


def _take(rows: Iterator[Row], count: int) -> list[Row]:
    chunk: list[Row] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == count:
            break
    return chunk


def piece_url(prefix: str, job_id: str, number: int) -> str:
    return f"{prefix.rstrip('/')}/{job_id}/part-{number:05d}.json.gz"


def _default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{new_resource_id()[:8]}"


class JobRunner:
    """Creates jobs and runs them in this process's event loop."""

    def __init__(
        self,
        store: Store,
        files: Files,
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        owner: str | None = None,
    ) -> None:
        self.store = store
        self.files = files
        self.lease_seconds = lease_seconds
        self.owner = owner or _default_owner()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._sweeper: asyncio.Task[None] | None = None

    # Creating

    async def create_export(
        self, app_id: str, definition: ExportJobResource, now: str, access: Access = FULL_ACCESS
    ) -> ExportJobResponse:
        self._check_url("S3UrlPrefix", definition.s3_url_prefix, app_id, access)
        if definition.segment_id is not UNSET:
            segment_id, version = definition.segment_id, definition.segment_version or None
            await self.store.read(lambda tx: segments.get(tx, app_id, segment_id, version))
        elif definition.segment_version is not UNSET:
            raise BadRequest("SegmentVersion names a version of SegmentId, which is missing")
        job = ExportJobResponse(
            application_id=app_id,
            creation_date=now,
            id=new_resource_id(),
            job_status="CREATED",
            type="EXPORT",
            definition=definition,
        )
        await self._insert(app_id, ExportState(job=job, attempts=1))
        return job

    async def create_import(
        self, app_id: str, definition: ImportJobResource, now: str, access: Access = FULL_ACCESS
    ) -> ImportJobResponse:
        self._check_url("S3Url", definition.s3_url, app_id, access)
        segment = await self._import_target(app_id, definition)
        job = ImportJobResponse(
            application_id=app_id,
            creation_date=now,
            id=new_resource_id(),
            job_status="CREATED",
            type="IMPORT",
            definition=definition,
        )
        await self._insert(app_id, ImportState(job=job, attempts=1, segment=segment))
        return job

    async def _import_target(
        self, app_id: str, definition: ImportJobResource
    ) -> segments.Members | None:
        """Check the segment an import defines (S6) and fix its id in the definition."""
        if definition.segment_id is not UNSET:
            segment_id = definition.segment_id
            found = await self.store.read(lambda tx: segments.get(tx, app_id, segment_id))
            if found.segment_type != "IMPORT":
                raise BadRequest(
                    f"SegmentId {segment_id!r} is a DIMENSIONAL segment; an import replaces "
                    "the members of IMPORT segments only"
                )
        elif definition.define_segment is True:
            if not definition.segment_name:
                raise BadRequest("SegmentName is required when DefineSegment is true")
            if len(definition.segment_name) > MAX_NAME:
                raise BadRequest(f"SegmentName is longer than {MAX_NAME} characters")
            definition.segment_id = new_resource_id()
        else:
            return None
        return segments.Members(endpoint_keys=[], user_ids=[])

    def _check_url(self, member: str, url: str, app_id: str, access: Access) -> None:
        """400 for a URL the server may not use; 403 for a local path outside the folders of
        the caller's applications, when its key is limited to some (docs/security.md)."""
        try:
            self.files.check(url)
            folder = self.files.local_folder(url)
        except FileError as error:
            raise BadRequest(f"{member}: {error}") from None
        if not url.startswith("file://") or access.apps is None:
            return
        if folder is None or not access.may_use(folder):
            root = self.files.settings.local_root
            where = root.resolve().as_uri() if root else "file:///DIR"
            raise Forbidden(
                f"{member}: an access key limited to some applications may use local files "
                f"only in their folders of the local files directory, such as {where}/{app_id}/"
            )

    async def _insert(self, app_id: str, state: State) -> None:
        record = job_record(app_id, state, self.owner, time.time() + self.lease_seconds)

        def insert(tx: WriteTx) -> None:
            apps.require_app(tx, app_id)
            tx.put_job(record)

        await self.store.write(insert)

    # Running

    def launch(self, app_id: str, job_id: str) -> None:
        """Run a job this process holds in the background."""
        self._tasks[job_id] = asyncio.create_task(
            self._background(app_id, job_id), name=f"openpinpoint-job-{job_id}"
        )

    async def _background(self, app_id: str, job_id: str) -> None:
        try:
            await self.run(app_id, job_id)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await self.store.write(lambda tx: _release(tx, app_id, job_id, self.owner))
            raise
        except Exception:
            log.exception("job %s could not run", job_id)
        finally:
            self._tasks.pop(job_id, None)

    async def run(self, app_id: str, job_id: str, progress: Progress | None = None) -> State:
        """Run a job this process holds until it ends (or another process takes it over)."""
        state = await self.store.read(lambda tx: _decode_state(_job_doc(tx, app_id, job_id)))
        report = progress or (lambda _: None)
        try:
            if isinstance(state, ExportState):
                await self._export(app_id, state, report)
            else:
                await self._import(app_id, state, report)
        except LeaseLost as error:
            log.warning("%s", error)
        except FileError as error:
            await self._end(app_id, state, "FAILED", str(error))
        except Exception as error:
            log.exception("job %s failed unexpectedly", job_id)
            await self._end(app_id, state, "FAILED", f"internal error ({type(error).__name__})")
        return state

    async def _save(self, app_id: str, state: State) -> None:
        lease_until = time.time() + self.lease_seconds
        await self.store.write(lambda tx: _save(tx, app_id, state, self.owner, lease_until))

    async def _start(self, app_id: str, state: State, pieces: int) -> None:
        if state.job.job_status == "CREATED":
            job = state.job
            job.job_status = "PROCESSING"
            job.total_pieces = pieces
            job.completed_pieces = job.failed_pieces = 0
            job.total_processed = job.total_failures = 0
            await self._save(app_id, state)

    async def _end(self, app_id: str, state: State, status: JobStatus, reason: str = "") -> None:
        _finish(state, status, reason, datetime.now(UTC))
        with contextlib.suppress(LeaseLost):
            await self._save(app_id, state)

    async def give_up(self, app_id: str, job_id: str, reason: str) -> None:
        """Mark a job this process holds FAILED, when it stops running it for good."""
        await self.store.write(lambda tx: _give_up(tx, app_id, job_id, self.owner, reason))

    async def _export(self, app_id: str, state: ExportState, progress: Progress) -> None:
        job = state.job
        # A segment's size would cost a pass over the app as long as the export's own, and
        # so would the app's, nearly, for a small segment: its TotalPieces counts the
        # pieces made and one more, until the last piece fixes it.
        segmented = job.definition.segment_id is not UNSET
        total = 0 if segmented else await self.store.read(lambda tx: tx.count_endpoints(app_id))
        await self._start(app_id, state, -(-total // export_pieces.PIECE_ENDPOINTS))
        progress(state)
        reading = export_pieces.pieces(self.store, app_id, job.definition, state.after_key)
        async with contextlib.aclosing(reading):
            async for piece in reading:
                last = len(piece) < export_pieces.PIECE_ENDPOINTS
                data = await asyncio.to_thread(formats.export_lines, app_id, piece)
                url = piece_url(job.definition.s3_url_prefix, job.id, _count(job.completed_pieces))
                await asyncio.to_thread(self.files.write, url, data)
                state.after_key = endpoint_key(str(piece[-1].id))
                job.completed_pieces = _count(job.completed_pieces) + 1
                more = segmented and not last
                job.total_pieces = max(_count(job.total_pieces), job.completed_pieces + more)
                job.total_processed = _count(job.total_processed) + len(piece)
                await self._save(app_id, state)
                progress(state)
        job.total_pieces = _count(job.completed_pieces)
        await self._end(app_id, state, "COMPLETED")

    async def _import(self, app_id: str, state: ImportState, progress: Progress) -> None:
        definition = state.job.definition
        if state.sources is None:
            sources = await asyncio.to_thread(self._sources, definition.s3_url, definition.format)
            state.sources = sources
            await self._start(app_id, state, len(sources))
        progress(state)
        while state.source_index < len(state.sources):
            url = state.sources[state.source_index]
            try:
                await self._import_file(app_id, state, url, progress)
                state.job.completed_pieces = _count(state.job.completed_pieces) + 1
            except (FileError, HeaderError, OSError, EOFError, zlib.error) as error:
                state.job.failed_pieces = _count(state.job.failed_pieces) + 1
                _add_failure(state, f"{url}: {error}")
            state.source_index += 1
            state.line = 0
            await self._save(app_id, state)
        failed = _count(state.job.failed_pieces) == len(state.sources)
        if state.segment is not None and not failed:
            members, job = state.segment, state.job
            now = format_date(datetime.now(UTC))
            await self.store.write(lambda tx: segments.define_import(tx, app_id, job, members, now))
        await self._end(app_id, state, "FAILED" if failed else "COMPLETED")

    def _sources(self, url: str, fmt: ImportFormat) -> list[str]:
        found = self.files.list(url)
        if found != [url]:
            found = [name for name in found if formats.format_of(name) == fmt]
        if not found:
            raise FileError(f"no {fmt} files at {url!r}")
        return found

    async def _import_file(
        self, app_id: str, state: ImportState, url: str, progress: Progress
    ) -> None:
        definition = state.job.definition
        source = await asyncio.to_thread(self.files.open, url)
        try:
            rows = formats.read_rows(source, url, definition.format, skip=state.line)
            register = definition.register_endpoints is not False
            while chunk := await asyncio.to_thread(_take, rows, IMPORT_CHUNK_ROWS):
                await self._import_chunk(app_id, state, chunk, register)
                progress(state)
        finally:
            await asyncio.to_thread(source.close)

    async def _import_chunk(
        self, app_id: str, state: ImportState, chunk: list[Row], register: bool
    ) -> None:
        """Apply a chunk in one transaction, read and written in a few statements
        (`core.staged`); a row that a rule refuses is undone alone and counted as failed."""
        stamp = Stamp(request_id=state.job.id, now=format_date(datetime.now(UTC)))
        lease_until = time.time() + self.lease_seconds
        for row in chunk:
            endpoint = row.endpoint
            if endpoint is not None and not endpoint.id and _creates(endpoint):
                # Given now, so that a segment can name it and the transaction read ahead.
                endpoint.id = new_resource_id()
        applied = [
            (number, row.endpoint)
            for number, row in enumerate(chunk)
            if register
            and row.endpoint is not None
            and not (state.segment is not None and _names_user_only(row))
        ]

        def write(tx: WriteTx) -> ImportState:
            refused: dict[int, str] = {}
            if applied:
                staged = StagedEndpoints(tx, app_id)
                staged.read_ahead((e.id, e) for _, e in applied if isinstance(e.id, str) and e.id)
                for number, endpoint in applied:
                    try:
                        with staged.atomic():
                            _apply_row(staged, app_id, endpoint, stamp)
                    except BadRequest as refusal:
                        refused[number] = f"line {chunk[number].line}: {refusal.message}"
                staged.write()
            after = _advanced(state, chunk, refused)
            _save(tx, app_id, after, self.owner, lease_until)
            return after

        _adopt(state, await self.store.write(write))

    # Taking over jobs that others left

    async def start(self) -> None:
        """Resume (or fail) unfinished jobs now and whenever a lease runs out later."""
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="openpinpoint-jobs")

    async def stop(self) -> None:
        tasks = [*self._tasks.values(), *([self._sweeper] if self._sweeper else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:
                log.exception("looking for unfinished jobs failed")
            await asyncio.sleep(max(self.lease_seconds / 2, 0.5))

    async def sweep(self) -> None:
        now = time.time()
        waiting = await self.store.read(lambda tx: tx.unfinished_jobs())
        for record in waiting:
            if record.id in self._tasks or (record.owner and record.lease_until > now):
                continue
            claim = functools.partial(
                _claim, record=record, owner=self.owner, now=now, lease=self.lease_seconds
            )
            claimed = await self.store.write(claim)
            if claimed is not None:
                log.info("resuming %s job %s of app %s", record.type, record.id, record.app_id)
                self.launch(record.app_id, record.id)


def _adopt(state: ImportState, after: State) -> None:
    """Take the progress a committed step made (it replaces `state.job`)."""
    assert isinstance(after, ImportState)
    state.job = after.job
    state.line = after.line
    state.segment = after.segment


def _names_user_only(row: Row) -> bool:
    """A row with a user id but neither endpoint Id nor Address: in a segment import it
    makes that user's endpoints members (S6) and creates nothing."""
    endpoint = row.endpoint
    return (
        endpoint is not None
        and not endpoint.id
        and not endpoint.address
        and _user_id(endpoint) is not None
    )


def _user_id(endpoint: formats.ImportedEndpoint) -> str | None:
    return endpoint.user.user_id or None if endpoint.user is not UNSET else None


def _add_members(members: segments.Members, rows: list[Row]) -> None:
    for row in rows:
        endpoint = row.endpoint
        if endpoint is None:
            continue
        if endpoint.id:
            members.endpoint_keys.append(endpoint_key(endpoint.id))
        elif (user_id := _user_id(endpoint)) is not None:
            members.user_ids.append(user_id)


def _job_doc(tx: ReadTx, app_id: str, job_id: str) -> str:
    record = tx.get_job(app_id, job_id)
    if record is None:
        raise NotFound(f"job {job_id} not found in application {app_id}")
    return record.doc
