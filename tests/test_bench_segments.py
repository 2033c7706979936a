"""The segment benchmark keeps working: `bench/segments.py` counts and exports its three
segments on each store and reports them beside the targets. Not a performance test."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import STORES, new_store_url

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("kind", STORES)
def test_s8_segment_bench_reports_every_segment_beside_the_targets(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = new_store_url(kind, request, tmp_path)
    out = tmp_path / "segments.json"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "segments.py"),
            "--db",
            url,
            "--endpoints",
            "600",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert report["unsegmented_export"]["endpoints"] == 600
    assert set(report["segments"]) == {"three-dimensions", "gps-radius", "two-groups-with-source"}
    for found in report["segments"].values():
        assert 0 < found["members"] < 600
        assert {"count_target_met", "export_vs_same_size_app", "export_target_met"} <= set(found)
