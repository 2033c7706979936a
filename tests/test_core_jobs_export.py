"""Export jobs in pieces (core/jobs.py): each piece is read while the one before it is
written, and every endpoint, or segment member, lands in exactly one piece, in key order."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from conftest import sqlite_url
from jobtools import read_pieces
from openpinpoint.core import jobs, segments
from openpinpoint.core.segment_shapes import WriteSegmentRequest
from openpinpoint.core.shapes import EndpointResponse, ExportJobResource
from openpinpoint.core.values import format_date
from openpinpoint.files import Files, FileSettings
from openpinpoint.store.base import App, WriteTx
from openpinpoint.store.open import open_store

APP = "a" * 32
NOW = format_date(datetime(2026, 12, 4, tzinfo=UTC))


class _FailingFiles(Files):
    def write(self, url: str, data: bytes) -> None:
        raise OSError("disk full")


async def _export(
    db: str, root: Path, count: int, segmented: bool, files: type[Files] = Files
) -> tuple[Any, list[str]]:
    store = open_store(db)
    try:
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
        runner = jobs.JobRunner(store, files(FileSettings(local_root=root)))
        definition = ExportJobResource(
            role_arn="arn:aws:iam::0:role/x", s3_url_prefix=root.as_uri()
        )
        if segmented:
            definition.segment_id = "s" * 32
        job = await runner.create_export(APP, definition, NOW)
        state = await runner.run(APP, job.id)
        exported = [e["Id"] for e in read_pieces(list(root.rglob("*.gz")))]
        return state.job, exported
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("count", "segmented", "pieces"),
    [(0, False, 0), (8, False, 2), (9, False, 3), (14, True, 2), (16, True, 2)],
    ids=["empty", "whole-pieces", "a-short-last-piece", "segment", "segment-whole-pieces"],
)
def test_an_export_writes_each_endpoint_in_exactly_one_piece_in_key_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, count: int, segmented: bool, pieces: int
) -> None:
    monkeypatch.setattr(jobs, "PIECE_ENDPOINTS", 4)
    monkeypatch.setattr(jobs, "PAGE_ENDPOINTS", 2)
    root = tmp_path / "out"
    db = sqlite_url(tmp_path / "store.db")
    job, exported = asyncio.run(_export(db, root, count, segmented))
    expected = [f"e{n:02d}" for n in range(count) if not segmented or n % 2]
    assert exported == expected
    assert (job.job_status, job.total_processed) == ("COMPLETED", len(expected))
    assert (job.completed_pieces, job.total_pieces) == (pieces, pieces)
    assert len(list(root.rglob("*.gz"))) == pieces


def test_a_piece_that_cannot_be_written_fails_the_job_with_the_read_ahead_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs, "PIECE_ENDPOINTS", 3)
    db = sqlite_url(tmp_path / "store.db")
    job, exported = asyncio.run(_export(db, tmp_path / "out", 7, False, _FailingFiles))
    assert (job.job_status, job.completed_pieces, exported) == ("FAILED", 0, [])
