"""Export jobs in pieces (core/jobs.py): each piece is read while the one before it is
written, and every endpoint, or segment member, lands in exactly one piece, in key order."""

from __future__ import annotations

import asyncio
import functools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from conftest import sqlite_url
from jobtools import read_pieces
from openpinpoint.core import export_pieces, jobs, segments
from openpinpoint.core.segment_shapes import WriteSegmentRequest
from openpinpoint.core.shapes import EndpointResponse, ExportJobResource
from openpinpoint.core.values import format_date
from openpinpoint.files import Files, FileSettings
from openpinpoint.store.base import App, Store, WriteTx
from openpinpoint.store.open import open_store

APP = "a" * 32
NOW = format_date(datetime(2026, 12, 4, tzinfo=UTC))


class _FailingFiles(Files):
    def write(self, url: str, data: bytes) -> None:
        raise OSError("disk full")


async def _load(store: Store, count: int, *, segmented: bool) -> None:
    """Endpoints e00, e01, ...; with a segment of the odd ones."""
    app = App(id=APP, name="x", arn=f"arn:x:{APP}", creation_date=NOW, tags={})

    def load(tx: WriteTx) -> None:
        tx.insert_app(app)
        for n in range(count):
            doc = {
                "Id": f"e{n:02d}",
                "ChannelType": "SMS",
                "EndpointStatus": "ACTIVE",
                "Attributes": {"odd": [str(n % 2)]},
            }
            tx.put_endpoint(APP, msgspec.convert(doc, EndpointResponse))
        if segmented:
            odd = {"Dimensions": {"Attributes": {"odd": {"Values": ["1"]}}}}
            request = msgspec.convert(odd, WriteSegmentRequest)
            segments.create(tx, app, "s" * 32, request, NOW)

    await store.write(load)


async def _export(
    db: str,
    root: Path,
    count: int,
    segmented: bool,
    *,
    files: type[Files] = Files,
    seen: list[tuple[int, int]] | None = None,
) -> tuple[Any, list[str]]:
    store = open_store(db)
    try:
        await _load(store, count, segmented=segmented)
        runner = jobs.JobRunner(store, files(FileSettings(local_root=root)))
        definition = ExportJobResource(
            role_arn="arn:aws:iam::0:role/x", s3_url_prefix=root.as_uri()
        )
        if segmented:
            definition.segment_id = "s" * 32
        job = await runner.create_export(APP, definition, NOW)

        def progress(state: jobs.State) -> None:
            if seen is not None:
                seen.append((state.job.completed_pieces or 0, state.job.total_pieces or 0))

        state = await runner.run(APP, job.id, progress)
        exported = [e["Id"] for e in read_pieces(list(root.rglob("*.gz")))]
        return state.job, exported
    finally:
        await store.close()


@pytest.mark.parametrize(
    "case",
    [(0, False, 0), (8, False, 2), (9, False, 3), (14, True, 2), (16, True, 2)],
    ids=["empty", "whole-pieces", "a-short-last-piece", "segment", "segment-whole-pieces"],
)
def test_an_export_writes_each_endpoint_in_exactly_one_piece_in_key_order(
    tmp_path: Path,
    empty_store_url: str,
    monkeypatch: pytest.MonkeyPatch,
    case: tuple[int, bool, int],
) -> None:
    """Whole-app pages of 2, pieces of 4; a segment read in windows of 3 endpoints, two
    at once, which hold one or two members each."""
    count, segmented, pieces = case
    monkeypatch.setattr(export_pieces, "PIECE_ENDPOINTS", 4)
    monkeypatch.setattr(export_pieces, "PAGE_ENDPOINTS", 2)
    monkeypatch.setattr(export_pieces, "WINDOW_ROWS", 3)
    root = tmp_path / "out"
    job, exported = asyncio.run(_export(empty_store_url, root, count, segmented))
    expected = [f"e{n:02d}" for n in range(count) if not segmented or n % 2]
    assert exported == expected
    assert (job.job_status, job.total_processed) == ("COMPLETED", len(expected))
    assert (job.completed_pieces, job.total_pieces) == (pieces, pieces)
    assert len(list(root.rglob("*.gz"))) == pieces


@pytest.mark.parametrize(
    ("segmented", "expected"),
    [(False, [(0, 3), (1, 3), (2, 3), (3, 3)]), (True, [(0, 0), (1, 2), (2, 3)])],
    ids=["app", "segment"],
)
def test_total_pieces_is_the_apps_size_or_for_a_segment_the_pieces_made_and_one_more(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, segmented: bool, expected: list[Any]
) -> None:
    """A segment's size is known only once its last member is read (counting it, or the
    app, first would cost about as much as the export): while it runs, TotalPieces is one
    more than the pieces made, even after a full piece that turns out to be the last
    (16 endpoints, 8 members, pieces of 4: (2, 3) until the job ends with 2)."""
    monkeypatch.setattr(export_pieces, "PIECE_ENDPOINTS", 4)
    monkeypatch.setattr(export_pieces, "PAGE_ENDPOINTS", 2)
    seen: list[tuple[int, int]] = []
    db = sqlite_url(tmp_path / "store.db")
    asyncio.run(_export(db, tmp_path / "out", 12 if not segmented else 16, segmented, seen=seen))
    assert seen == expected, seen


def test_a_piece_that_cannot_be_written_fails_the_job_with_the_read_ahead_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export_pieces, "PIECE_ENDPOINTS", 3)
    db = sqlite_url(tmp_path / "store.db")
    job, exported = asyncio.run(_export(db, tmp_path / "out", 7, False, files=_FailingFiles))
    assert (job.job_status, job.completed_pieces, exported) == ("FAILED", 0, [])


def test_a_window_that_grew_after_its_end_was_found_is_read_to_its_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Endpoints written between finding a window's end and reading it make it hold more
    than WINDOW_ROWS: every member up to the end is still read."""
    monkeypatch.setattr(export_pieces, "WINDOW_ROWS", 2)
    definition = ExportJobResource(role_arn="arn:aws:iam::0:role/x", s3_url_prefix="file:///x")
    definition.segment_id = "s" * 32

    async def scenario() -> list[str]:
        store = open_store(sqlite_url(tmp_path / "store.db"))
        try:
            await _load(store, 12, segmented=True)
            window = functools.partial(export_pieces._window, APP, definition, "e02", "e09")
            return [str(e.id) for e in await store.scan(window)]
        finally:
            await store.close()

    assert asyncio.run(scenario()) == ["e03", "e05", "e07", "e09"]
