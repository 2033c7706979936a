"""The benchmark harness keeps working: `bench/run.py --quick --auth` produces a full report.

Not a performance test: nothing here looks at how fast anything was.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = {
    "UpdateEndpoint",
    "UpdateEndpointsBatch",
    "GetEndpoint",
    "GetUserEndpoints",
    "DeleteUserEndpoints",
    "Mix",
    "GetApp",
    "CreateApp",
}

pytestmark = pytest.mark.skipif(
    shutil.which("wrk") is None and not os.environ.get("CI"),
    reason="the load generator wrk is not installed (apt-get install -y wrk); "
    "CI installs it in .ci/run",
)


def test_quick_bench_reports_every_scenario_without_errors(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "--quick",
            "--auth",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    [report] = tmp_path.glob("*.json")
    assert report.with_suffix(".md").read_text().startswith("# OpenPinpoint benchmark")
    assert report.with_suffix(".png").stat().st_size > 0
    summary = json.loads(report.read_text())
    outcomes = {o["name"]: o for o in summary["outcomes"]}
    assert set(outcomes) == SCENARIOS
    for name, outcome in outcomes.items():
        for server in ("openpinpoint", "ceiling"):
            assert outcome[server]["requests"] > 0, (name, server)
            assert outcome[server]["errors"] == 0, (name, server, outcome[server])
        if outcome["paced"] is not None:
            assert outcome["paced"]["errors"] == 0, (name, outcome["paced"])
    # Signed requests against the server that verifies them: a refused signature is a 403,
    # which wrk counts as an error.
    auth = {a["name"]: a for a in summary["auth"]}
    assert set(auth) == {"UpdateEndpoint", "GetEndpoint"}
    for name, outcome in auth.items():
        for side in ("off", "on"):
            assert outcome[side]["requests"] > 0, (name, side)
            assert outcome[side]["errors"] == 0, (name, side, outcome[side])
    for name in ("GetApp", "CreateApp"):
        assert outcomes[name]["moto"]["requests"] > 0, name
    assert {(s["name"], s["endpoints"]) for s in summary["scale"]} == {
        (name, size)
        for name in ("GetUserEndpoints", "DeleteUserEndpoints")
        for size in (1_000, 10_000)
    }
    assert all(s["result"]["errors"] == 0 for s in summary["scale"])
    assert not list(tmp_path.glob("*.tmp")), "the run's scratch files were left behind"
