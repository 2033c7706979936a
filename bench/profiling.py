"""Where the server's time goes: py-spy sampling the server while wrk drives a scenario."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import servers
from report import Hotspot, Profile

if TYPE_CHECKING:
    from run import Bench, Scenario

TOP = 15
RATE_HZ = 250


def summarise(scenario: str, raw: Path) -> Profile:
    """Self and inclusive shares of each frame, from py-spy's collapsed stacks."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = stack.split(";")
        own[frames[-1]] += samples
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
        self_time=top(own),
        inclusive=top(inclusive, keep=False),
        raw=raw.name,
    )


def profile_all(
    bench: Bench, server: servers.Server, scenarios: list[Scenario], stem: str
) -> list[Profile]:
    """Each scenario once more with py-spy attached; its stacks go to `<stem>-<name>.txt`."""
    py_spy = Path(sys.executable).with_name("py-spy")
    found: list[Profile] = []
    for scenario in scenarios:
        raw = bench.args.out / f"{stem}-profile-{scenario.name}.txt"
        load = bench.load(scenario)
        sampler = subprocess.Popen(
            [
                str(py_spy),
                "record",
                "--pid",
                str(server.process.pid),
                "--subprocesses",
                "--rate",
                str(RATE_HZ),
                "--duration",
                str(max(1, round(load.seconds))),
                "--format",
                "raw",
                "--output",
                str(raw),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        bench.drive(server, scenario, load)
        sampler.wait()
        found.append(summarise(scenario.name, raw))
        print(f"profiled {scenario.name}: {raw}", flush=True)
    return found
