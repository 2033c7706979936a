"""Driving a server with wrk (bench/pinpoint.lua) and reading back what it measured."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

import msgspec

from servers import BENCH, Server, UsageMeter

SCRIPT = BENCH / "pinpoint.lua"
INSTALL_HINT = "install it with `apt-get install -y wrk` (Debian/Ubuntu) or `brew install wrk`"


def ensure_wrk() -> str:
    """wrk's path; installed from Debian's packages when missing and running as root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.name == "posix" and os.geteuid() == 0 and shutil.which("apt-get"):
        print("bench: wrk is missing; installing it with apt-get", file=sys.stderr, flush=True)
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
        if found := shutil.which("wrk"):
            return found
    raise SystemExit(f"bench: the load generator wrk is not installed; {INSTALL_HINT}")


def wrk_version(wrk: str) -> str:
    out = subprocess.run([wrk, "--version"], check=False, capture_output=True, text=True).stdout
    return out.split(" [")[0].strip() or "wrk"


@dataclass(frozen=True)
class Load:
    """One wrk run's shape: which scenario, against which data, how hard."""

    scenario: str
    app_id: str = "-"
    endpoints: int = 1
    users: int = 1
    pool: str = "-"
    pool_users: int = 0
    tag: str = "t"
    seconds: float = 10.0
    connections: int = 64
    threads: int = 1
    delay_ms: int = 0
    stream: str = "generate"
    """generate, record or replay (see bench/pinpoint.lua)."""
    stream_file: str = "-"
    record_count: int = 0


class Result(msgspec.Struct, kw_only=True):
    """What one run measured. Latencies in milliseconds."""

    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    errors: int
    error_kinds: dict[str, int] = field(default_factory=dict)
    exhausted: bool = False
    cpu_cores: float = 0.0
    peak_rss_mb: float = 0.0
    connections: int = 0
    delay_ms: int = 0


class _WrkReport(msgspec.Struct):
    requests: int
    duration_us: int
    bytes: int
    errors: dict[str, int]
    latency_us: dict[str, float]
    exhausted_threads: int


def run(wrk: str, server: Server, load: Load) -> Result:
    command = [
        wrk,
        f"-t{load.threads}",
        f"-c{load.connections}",
        f"-d{max(1, round(load.seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(SCRIPT),
        server.url,
        "--",
        load.scenario,
        load.app_id,
        str(load.endpoints),
        str(load.users),
        load.pool,
        str(load.pool_users),
        load.tag,
        str(load.delay_ms),
        str(load.threads),
        load.stream,
        load.stream_file,
        str(load.record_count),
    ]
    with UsageMeter(server) as meter:
        done = subprocess.run(command, check=False, capture_output=True, text=True)
    line = next(
        (line for line in done.stdout.splitlines() if line.startswith("BENCH-RESULT ")), None
    )
    if done.returncode != 0 or line is None:
        raise RuntimeError(
            f"wrk failed on {load.scenario} against {server.name} ({done.returncode}):\n"
            f"{done.stdout}\n{done.stderr}\n" + "\n".join(server.lines)
        )
    report = msgspec.json.decode(line.removeprefix("BENCH-RESULT "), type=_WrkReport)
    seconds = report.duration_us / 1e6
    usage = meter.usage
    latency = {name: value / 1000 for name, value in report.latency_us.items()}
    return Result(
        requests=report.requests,
        seconds=seconds,
        rps=report.requests / seconds,
        p50_ms=latency["p50"],
        p90_ms=latency["p90"],
        p99_ms=latency["p99"],
        max_ms=latency["max"],
        mean_ms=latency["mean"],
        errors=sum(report.errors.values()),
        error_kinds={kind: n for kind, n in report.errors.items() if n},
        exhausted=report.exhausted_threads > 0,
        cpu_cores=usage.cpu_seconds / seconds,
        peak_rss_mb=usage.peak_rss_bytes / 2**20,
        connections=load.connections,
        delay_ms=load.delay_ms,
    )


def to_json(value: object) -> str:
    return json.dumps(msgspec.to_builtins(value), indent=2)
