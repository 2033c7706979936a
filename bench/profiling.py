"""Where the server's time goes: py-spy sampling the server while wrk drives a scenario."""

from __future__ import annotations

import functools
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import servers
from report import Hotspot, Profile

if TYPE_CHECKING:
    from loadgen import Load
    from run import Bench, Scenario

TOP = 15
RATE_HZ = 250
# A thread-pool worker waiting for work: py-spy counts it, but it is idle, not busy.
IDLE_LEAVES = ("_worker (concurrent/futures/thread.py:81)",)
# Where a sample's time belongs: the frame nearest its leaf that names one of these.
STACK = "HTTP stack and event loop (uvicorn, httptools, uvloop)"
LAYERS = (
    ("openpinpoint/store/", "store: SQL and row decoding (openpinpoint.store)"),
    ("openpinpoint/core/", "domain rules (openpinpoint.core)"),
    ("openpinpoint/wire/", "protocol: routing, body decode, response (openpinpoint.wire)"),
    ("concurrent/futures/", "BEGIN IMMEDIATE / COMMIT on a worker thread (fsync)"),
    ("uvicorn/", STACK),
)


def layer_of(frames: list[str]) -> str:
    for frame in reversed(frames):
        for marker, layer in LAYERS:
            if marker in frame:
                return layer
    return STACK


def summarise(scenario: str, raw: Path) -> Profile:
    """Self and inclusive shares of each frame, from py-spy's collapsed stacks."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    layers: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        frames = stack.split(";")
        if frames[-1] in IDLE_LEAVES:
            continue
        total += samples
        own[frames[-1]] += samples
        layers[layer_of(frames)] += samples
        for frame in set(frames):
            inclusive[frame] += samples

    def top(counts: Counter[str], keep: bool = True) -> list[Hotspot]:
        chosen = [
            (frame, n) for frame, n in counts.most_common() if keep or "openpinpoint" in frame
        ]
        return [Hotspot(frame, n / total) for frame, n in chosen[:TOP]] if total else []

    return Profile(
        scenario=scenario,
        samples=total,
        layers=[Hotspot(layer, n / total) for layer, n in layers.most_common()] if total else [],
        self_time=top(own),
        inclusive=top(inclusive, keep=False),
        raw=raw.name,
    )


def _sample(py_spy: Path, pid: int, raw: Path, load: Load) -> subprocess.Popen[bytes]:
    """py-spy recording the server (and its workers) for as long as `load` runs."""
    command = [
        str(py_spy),
        "record",
        "--pid",
        str(pid),
        "--subprocesses",
        "--rate",
        str(RATE_HZ),
        "--duration",
        str(max(1, round(load.seconds))),
        "--format",
        "raw",
        "--output",
        str(raw),
    ]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def profile_all(
    bench: Bench, server: servers.Server, scenarios: list[Scenario], stem: str
) -> list[Profile]:
    """Each scenario once more with py-spy attached; its stacks go to `<stem>-<name>.txt`."""
    py_spy = Path(sys.executable).with_name("py-spy")
    found: list[Profile] = []
    for scenario in scenarios:
        raw = bench.args.out / f"{stem}-profile-{scenario.name}.txt"
        samplers: list[subprocess.Popen[bytes]] = []
        start = functools.partial(_sample, py_spy, server.process.pid, raw)
        # Sampling starts with wrk, after any pool of users to delete has been written.
        bench.on_run = lambda load, start=start, samplers=samplers: samplers.append(start(load))
        try:
            bench.drive(server, scenario, bench.load(scenario))
        finally:
            bench.on_run = None
            for sampler in samplers:
                sampler.wait()
        found.append(summarise(scenario.name, raw))
        print(f"profiled {scenario.name}: {raw}", flush=True)
    return found
