"""`openpinpoint export` and `openpinpoint import`: run an export or import job on the store
directly, in this process, with a progress bar.

They create the same jobs as CreateExportJob and CreateImportJob and run them with the same
code (so the same endpoint rules and limits apply, and the jobs show in GetExportJobs and
GetImportJobs), but with this user's access to local files.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from openpinpoint.core import formats
from openpinpoint.core.errors import PinpointError
from openpinpoint.core.jobs import ExportState, JobRunner, State, piece_url
from openpinpoint.core.shapes import ExportJobResource, ImportFormat, ImportJobResource
from openpinpoint.core.values import format_date
from openpinpoint.files import FileError, Files, FileSettings
from openpinpoint.store.open import open_store

CLI_ROLE_ARN = "arn:aws:iam::000000000000:role/openpinpoint-cli"
"""Pinpoint requires a RoleArn on every job; OpenPinpoint stores it and never uses it."""


class TransferError(Exception):
    """Something the user should fix; the message says what."""


def as_url(location: str) -> str:
    """`s3://` and `file://` URLs as they are; anything else is a local path."""
    if location.startswith(("s3://", "file://")):
        return location
    return Path(location).resolve().as_uri()


class _Rate(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} rows/s" if speed else "- rows/s", style="progress.data.speed")


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        _Rate(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TimeElapsedColumn(),
        console=console,
    )


@dataclass
class Summary:
    jobs: list[State] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return sum(_n(state.job.total_processed) for state in self.jobs)

    @property
    def failures(self) -> int:
        return sum(_n(state.job.total_failures) for state in self.jobs)

    @property
    def failed_jobs(self) -> int:
        return sum(state.job.job_status == "FAILED" for state in self.jobs)

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


def _n(value: object) -> int:
    return value if isinstance(value, int) else 0


@contextlib.asynccontextmanager
async def _runner(db_url: str, s3_endpoint_url: str | None) -> AsyncIterator[JobRunner]:
    """A job runner on the store, closed afterwards; errors become TransferError."""
    files = Files(FileSettings(s3_endpoint_url=s3_endpoint_url, local_anywhere=True))
    runner = JobRunner(open_store(db_url), files)
    try:
        yield runner
    except (PinpointError, FileError) as error:
        raise TransferError(getattr(error, "message", str(error))) from None
    finally:
        await runner.store.close()


async def _run(
    runner: JobRunner, app_id: str, job_id: str, bar: Progress, task: TaskID, *, done: int = 0
) -> State:
    """Run one job, its processed rows (after `done` rows of earlier jobs) moving the bar."""

    def show(state: State) -> None:
        bar.update(task, completed=done + _n(state.job.total_processed))

    try:
        return await runner.run(app_id, job_id, show)
    except asyncio.CancelledError:
        # Ctrl-C: fail the job rather than leave it for a server to resume unasked.
        await runner.give_up(app_id, job_id, "interrupted on the command line")
        raise


async def export_endpoints(
    db_url: str,
    app_id: str,
    out: str,
    *,
    s3_endpoint_url: str | None = None,
    console: Console | None = None,
) -> Summary:
    """Export every endpoint of the app to gzip NDJSON pieces under `out`."""
    summary = Summary()
    async with _runner(db_url, s3_endpoint_url) as runner:
        definition = ExportJobResource(role_arn=CLI_ROLE_ARN, s3_url_prefix=as_url(out))
        job = await runner.create_export(app_id, definition, format_date_now())
        total = await runner.store.read(lambda tx: tx.count_endpoints(app_id))
        started = time.perf_counter()
        with _progress(console or Console(stderr=True)) as bar:
            task = bar.add_task("export", total=total)
            summary.jobs.append(await _run(runner, app_id, job.id, bar, task))
        summary.seconds = time.perf_counter() - started
    return summary


def _format_of(files: Files, url: str, wanted: ImportFormat | None) -> ImportFormat:
    """The format asked for, else the one the file's name (or all names in a folder) say."""
    if wanted is not None:
        return wanted
    found = {fmt for name in [url, *files.list(url)] if (fmt := formats.format_of(name))}
    if len(found) != 1:
        raise TransferError(
            f"cannot tell the format of {url} from its name (.json, .ndjson, .jsonl or .csv, "
            "optionally .gz): pass --format json or --format csv"
        )
    return found.pop()


def _count_lines(files: Files, url: str) -> int:
    """Lines in a file or in every file under a folder (for the progress bar's total)."""
    total = 0
    for name in files.list(url):
        with files.open(name) as raw:
            stream = gzip.GzipFile(fileobj=raw) if name.lower().endswith(".gz") else raw
            while chunk := stream.read(1 << 20):
                total += chunk.count(b"\n")
    return total


async def import_files(
    db_url: str,
    app_id: str,
    sources: Sequence[str],
    *,
    fmt: ImportFormat | None = None,
    s3_endpoint_url: str | None = None,
    console: Console | None = None,
) -> Summary:
    """Import each file (or folder) as one import job into the app."""
    urls = [as_url(source) for source in sources]
    summary = Summary()
    async with _runner(db_url, s3_endpoint_url) as runner:
        plan = [(url, _format_of(runner.files, url, fmt)) for url in urls]
        total = await asyncio.to_thread(
            lambda: sum(_count_lines(runner.files, url) for url in urls)
        )
        started = time.perf_counter()
        with _progress(console or Console(stderr=True)) as bar:
            task = bar.add_task("import", total=total)
            for url, file_format in plan:
                definition = ImportJobResource(
                    format=file_format, role_arn=CLI_ROLE_ARN, s3_url=url, register_endpoints=True
                )
                job = await runner.create_import(app_id, definition, format_date_now())
                summary.jobs.append(
                    await _run(runner, app_id, job.id, bar, task, done=summary.rows)
                )
        summary.seconds = time.perf_counter() - started
    return summary


def format_date_now() -> str:
    return format_date(datetime.now(UTC))


def print_summary(summary: Summary, console: Console, *, shown_failures: int = 20) -> None:
    for state in summary.jobs:
        job = state.job
        where = (
            piece_url(state.job.definition.s3_url_prefix, job.id, 0).rsplit("/", 1)[0] + "/"
            if isinstance(state, ExportState)
            else state.job.definition.s3_url
        )
        console.print(
            f"{job.type.lower()} job {job.id} {job.job_status}: {where} — "
            f"{_n(job.total_processed):,} rows, {_n(job.completed_pieces)} of "
            f"{_n(job.total_pieces)} pieces, {_n(job.total_failures):,} failures",
            soft_wrap=True,
        )
        for failure in (job.failures or [])[:shown_failures]:
            console.print(f"  {failure}", markup=False, highlight=False, soft_wrap=True)
        if _n(job.total_failures) > shown_failures:
            console.print(f"  ... and {_n(job.total_failures) - shown_failures:,} more")
    console.print(
        f"{summary.rows:,} rows in {summary.seconds:.1f} s ({summary.rate:,.0f} rows/s), "
        f"{summary.failures:,} failures",
        soft_wrap=True,
    )
