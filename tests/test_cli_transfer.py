"""`openpinpoint import` and `openpinpoint export`: on the database directly, no server."""

from __future__ import annotations

import asyncio
import gzip
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_cli
from jobtools import read_pieces, without_app_id
from openpinpoint.core.jobs import IMPORT_CHUNK_ROWS
from openpinpoint.core.provider import PinpointProvider, RequestContext
from openpinpoint.core.shapes import CreateApplicationRequest, EndpointResponse
from openpinpoint.core.values import endpoint_key
from openpinpoint.store.open import open_store

AMAZON_EXPORT = Path(__file__).parent / "data" / "amazon-pinpoint-export.ndjson"


def _new_app(db: str) -> str:
    async def create() -> str:
        store = open_store(db)
        try:
            provider = PinpointProvider(store)
            body = CreateApplicationRequest(name="cli")
            return (await provider.create_app(RequestContext(request_id="t"), body)).id
        finally:
            await store.close()

    return asyncio.run(create())


def _endpoint(db: str, app_id: str, endpoint_id: str) -> EndpointResponse:
    async def read() -> EndpointResponse:
        store = open_store(db)
        try:
            found = await store.read(lambda tx: tx.get_endpoint(app_id, endpoint_key(endpoint_id)))
            assert found is not None
            return found
        finally:
            await store.close()

    return asyncio.run(read())


@pytest.fixture
def db(empty_store_url: str) -> str:
    """The store the commands work on (`--db`), on each backend."""
    return empty_store_url


def test_import_then_export_round_trips_an_amazon_pinpoint_export(db: str, tmp_path: Path) -> None:
    app_id = _new_app(db)
    source = tmp_path / "amazon.gz"
    source.write_bytes(gzip.compress(AMAZON_EXPORT.read_bytes()))
    csv_file = tmp_path / "more.csv"
    csv_file.write_text("Id,ChannelType,Address,Attributes.Team,Attributes.Team\nz,SMS,+1,a,b\n")

    imported = run_cli("import", str(source), str(csv_file), "--app", app_id, "--db", db)
    assert imported.returncode == 0, imported.stderr
    lines = len(AMAZON_EXPORT.read_text().splitlines())
    assert f"{lines + 1} rows" in imported.stdout
    assert "rows/s" in imported.stdout
    assert "rows/s" in imported.stderr, "the progress bar"
    assert _endpoint(db, app_id, "z").attributes == {"Team": ["a", "b"]}

    out = tmp_path / "out"
    exported = run_cli("export", "--app", app_id, "--out", str(out), "--db", db)
    assert exported.returncode == 0, exported.stderr
    assert f"{lines + 1} rows" in exported.stdout
    written = without_app_id(read_pieces(list(out.rglob("*.gz"))))
    original = [json.loads(line) for line in AMAZON_EXPORT.read_text().splitlines()]
    for line in original:
        assert {k: written[line["Id"]][k] for k in line if k != "ApplicationId"} == {
            k: v for k, v in line.items() if k != "ApplicationId"
        }


def test_import_reports_bad_rows_and_exits_non_zero(db: str, tmp_path: Path) -> None:
    app_id = _new_app(db)
    source = tmp_path / "rows.jsonl"
    source.write_text(
        '{"Id":"a","ChannelType":"SMS","Address":"+1"}\n{"Id":"b","Metrics":{"m":"x"}}\n'
    )
    result = run_cli("import", str(source), "--app", app_id, "--db", db)
    assert result.returncode == 1
    assert "line 2: invalid endpoint" in result.stdout
    assert "1 failures" in result.stdout
    assert _endpoint(db, app_id, "a").address == "+1"


def test_cli_refuses_unknown_apps(db: str, tmp_path: Path) -> None:
    _new_app(db)  # the store exists, with another application
    source = tmp_path / "rows.json"
    source.write_text('{"Id":"a","ChannelType":"SMS","Address":"+1"}\n')
    unknown = "0" * 32
    imported = run_cli("import", str(source), "--app", unknown, "--db", db)
    assert imported.returncode == 2
    assert f"Application '{unknown}' not found (store " in imported.stderr, imported.stderr
    exported = run_cli("export", "--app", unknown, "--out", str(tmp_path), "--db", db)
    assert exported.returncode == 2
    assert f"Application '{unknown}' not found" in exported.stderr, exported.stderr


def test_cli_refuses_files_of_unknown_format(db: str, tmp_path: Path) -> None:
    app_id = _new_app(db)
    source = tmp_path / "rows.txt"
    source.write_text('{"Id":"a","ChannelType":"SMS","Address":"+1"}\n')
    result = run_cli("import", str(source), "--app", app_id, "--db", db)
    assert result.returncode == 2
    assert "--format" in result.stderr


def _count(db: str, app_id: str, until_started: subprocess.Popen[str] | None = None) -> int:
    """The app's endpoints in the store; with `until_started`, once there are some (and
    while that process still runs)."""

    async def count() -> int:
        store = open_store(db)
        try:
            while True:
                found = await store.read(lambda tx: tx.count_endpoints(app_id))
                if found or until_started is None:
                    return found
                assert until_started.poll() is None, until_started.communicate()
        finally:
            await store.close()

    return asyncio.run(count())


def test_an_interrupted_import_keeps_what_it_wrote_and_can_be_run_again(
    db: str, tmp_path: Path
) -> None:
    """Ctrl-C mid-import: exit 130 saying so, the rows written stay, and the same command
    run again imports everything."""
    app_id = _new_app(db)
    total = 30 * IMPORT_CHUNK_ROWS  # enough transactions for the signal to land between two
    source = tmp_path / "many.ndjson"
    source.write_text(
        "".join(
            json.dumps({"Id": f"r{n}", "ChannelType": "SMS", "Address": f"+1555{n:07d}"}) + "\n"
            for n in range(total)
        )
    )
    command = [sys.executable, "-m", "openpinpoint", "import", str(source), "--app", app_id]
    importing = subprocess.Popen(
        [*command, "--db", db], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    _count(db, app_id, until_started=importing)
    importing.send_signal(signal.SIGINT)
    _, stderr = importing.communicate(timeout=120)
    assert importing.returncode == 130, stderr
    assert "The rows it wrote stay written: run the same command again" in stderr
    assert "Traceback" not in stderr
    kept = _count(db, app_id)
    assert 0 < kept < total

    again = run_cli(*command[3:], "--db", db)
    assert again.returncode == 0, again.stderr
    assert _count(db, app_id) == total
