"""The benchmark's report: machine facts, a Markdown table, its JSON and a chart."""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import shlex
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import psutil

from loadgen import Result
from transfers import Transfer

PACKAGES = ("openpinpoint", "uvicorn", "uvloop", "httptools", "msgspec", "moto", "psutil")
BYTES_PER_MB = 2**20


class Outcome(msgspec.Struct, kw_only=True):
    name: str
    unit: str
    per_request: int
    openpinpoint: Result
    ceiling: Result
    moto: Result | None = None
    paced: Result | None = None
    compare: Result | None = None
    """The same scenario on the second store (`--compare-db`)."""
    compare_paced: Result | None = None

    @property
    def compare_ratio(self) -> float | None:
        """The second store's throughput ÷ the first's."""
        return self.compare.rps / self.openpinpoint.rps if self.compare else None

    @property
    def throughput(self) -> float:
        """In the scenario's unit: requests, endpoints or users per second."""
        return self.openpinpoint.rps * self.per_request

    @property
    def of_ceiling(self) -> float:
        return self.openpinpoint.rps / self.ceiling.rps

    @property
    def of_moto(self) -> float | None:
        return self.openpinpoint.rps / self.moto.rps if self.moto and self.moto.rps else None


class AuthOutcome(msgspec.Struct, kw_only=True):
    """One scenario's signed requests against a server with SigV4 verification off and on;
    each ratio is on ÷ off."""

    name: str
    off: Result
    on: Result
    rps_ratio: float
    p50_ratio: float
    p99_ratio: float

    @classmethod
    def compare(cls, name: str, off: Result, on: Result) -> AuthOutcome:
        return cls(
            name=name,
            off=off,
            on=on,
            rps_ratio=on.rps / off.rps,
            p50_ratio=on.p50_ms / off.p50_ms,
            p99_ratio=on.p99_ms / off.p99_ms,
        )


class ScaleOutcome(msgspec.Struct, kw_only=True):
    name: str
    endpoints: int
    result: Result


class Preload(msgspec.Struct, kw_only=True):
    endpoints: int
    users: int
    seconds: float
    pools: int
    pool_seconds: float


class Hotspot(msgspec.Struct):
    frame: str
    share: float


class Profile(msgspec.Struct, kw_only=True):
    scenario: str
    samples: int
    layers: list[Hotspot]
    self_time: list[Hotspot]
    inclusive: list[Hotspot]
    raw: str


class Summary(msgspec.Struct, kw_only=True):
    facts: dict[str, str]
    preload: Preload
    outcomes: list[Outcome]
    auth: list[AuthOutcome]
    scale: list[ScaleOutcome]
    transfers: list[Transfer]
    profiles: list[Profile]
    total_seconds: float

    @property
    def errors(self) -> int:
        runs = [
            r
            for o in self.outcomes
            for r in (o.openpinpoint, o.paced, o.compare, o.compare_paced)
            if r is not None
        ]
        runs += [r for a in self.auth for r in (a.off, a.on)]
        return sum(r.errors for r in runs) + sum(s.result.errors for s in self.scale)


def store_kind(db_url: str) -> str:
    return db_url.split(":", 1)[0]


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_commit() -> str:
    found = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        check=False,
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent,
    )
    return found.stdout.strip() or "unknown"


def machine_facts(
    args: argparse.Namespace, db_url: str, wrk: str, argv: list[str] | None
) -> dict[str, str]:
    command = argv if argv is not None else sys.argv[1:]
    load1, load5, _ = os.getloadavg()
    facts = {
        "command": shlex.join(["python3", "dev.py", "bench", *command]),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": _git_commit(),
        "cpu": f"{os.cpu_count()} cores, {_cpu_model()}",
        "memory": f"{psutil.virtual_memory().total / 2**30:.0f} GiB",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "wrk": wrk,
        "load average before the run": f"{load1:.2f} (1 min), {load5:.2f} (5 min)",
        "store": store_kind(db_url)
        + (" (synchronous=FULL, WAL)" if db_url.startswith("sqlite") else ""),
        "server workers": str(args.workers),
        "wrk threads / connections": f"{args.threads} / {args.connections}",
        "seconds per run": f"{args.duration:g}",
        "rounds": str(args.rounds),
    }
    facts.update({package: _version(package) for package in PACKAGES})
    return facts


def describe(result: Result) -> str:
    text = (
        f"{result.rps:,.0f} req/s  p50 {result.p50_ms:.2f} ms  p99 {result.p99_ms:.2f} ms  "
        f"max {result.max_ms:.1f} ms  errors {result.errors}  CPU {result.cpu_cores:.2f} cores  "
        f"RSS {result.peak_rss_mb:.0f} MB"
    )
    if result.error_kinds:
        text += f"  {result.error_kinds}"
    return text


def _n(value: float) -> str:
    return f"{value:,.0f}"


def _ms(value: float) -> str:
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def targets(summary: Summary) -> list[tuple[str, str, bool]]:
    """(target, measured, met) for each of issue 5's targets that this run measured."""
    by = {o.name: o for o in summary.outcomes}
    found: list[tuple[str, str, bool]] = []
    for name, unit, floor in (
        ("UpdateEndpoint", "req/s", 5000),
        ("GetEndpoint", "req/s", 7000),
        ("DeleteUserEndpoints", "users/s", 2000),
    ):
        if name in by:
            value = by[name].throughput
            found.append((f"{name} ≥ {floor:,} {unit}", _n(value), value >= floor))
    for name, share in (("UpdateEndpoint", 0.35), ("GetEndpoint", 0.5)):
        if name in by:
            ratio = by[name].of_ceiling
            found.append((f"{name} ≥ {share} of the ceiling", f"{ratio:.2f}", ratio >= share))
    for outcome in summary.outcomes:
        if outcome.paced is not None:
            paced = outcome.paced
            share = paced.rps / outcome.openpinpoint.rps
            found.append(
                (
                    f"{outcome.name} p99 ≤ 10 ms at 80% of peak",
                    f"{_ms(paced.p99_ms)} ms at {share:.0%}",
                    paced.p99_ms <= 10,
                )
            )
    # Issue 14: the second store (PostgreSQL) beside the first (SQLite) on the same build.
    for outcome in summary.outcomes:
        if outcome.compare_ratio is not None and outcome.name in COMPARE_TARGETS:
            ratio = outcome.compare_ratio
            found.append(
                (f"{outcome.name} second store ≥ 0.6 of the first", f"{ratio:.2f}", ratio >= 0.6)
            )
        if outcome.compare_paced is not None and outcome.name in READS:
            p99 = outcome.compare_paced.p99_ms
            found.append(
                (f"{outcome.name} second store p99 ≤ 10 ms at 80% of peak", _ms(p99), p99 <= 10)
            )
    for moved in summary.transfers:
        floor = 50_000 if moved.target.startswith("sqlite:") else 20_000
        found.append(
            (
                f"{moved.command} into {store_kind(moved.target)} ≥ {floor:,} endpoints/s",
                _n(moved.rate),
                moved.rate >= floor,
            )
        )
    found.append(("0 errors", str(summary.errors), summary.errors == 0))
    for name, ratio in scale_ratios(summary):
        found.append((f"{name} latency large ÷ small ≤ 1.5", f"{ratio:.2f}", ratio <= 1.5))
    return found


COMPARE_TARGETS = ("GetEndpoint", "UpdateEndpoint", "DeleteUserEndpoints")
READS = ("GetEndpoint", "GetUserEndpoints")


def scale_ratios(summary: Summary) -> list[tuple[str, float]]:
    ratios: list[tuple[str, float]] = []
    for name in dict.fromkeys(s.name for s in summary.scale):
        runs = sorted((s for s in summary.scale if s.name == name), key=lambda s: s.endpoints)
        if len(runs) >= 2:
            ratios.append((name, runs[-1].result.p50_ms / runs[0].result.p50_ms))
    return ratios


def markdown(summary: Summary) -> str:
    lines = ["## Results", ""]
    lines += [
        "| scenario | OpenPinpoint | p50 ms | p99 ms | max ms | errors | server CPU (cores) "
        "| peak RSS MB | ceiling req/s | ÷ ceiling | moto req/s | ÷ moto | p99 ms at ~80% |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for o in summary.outcomes:
        r = o.openpinpoint
        throughput = f"{_n(r.rps)} req/s"
        if o.per_request != 1 or o.unit != "req/s":
            throughput += f" = {_n(o.throughput)} {o.unit}"
        moto = f"{_n(o.moto.rps)}" if o.moto else "–"
        of_moto = f"{o.of_moto:,.0f}×" if o.of_moto is not None else "–"
        paced = f"{_ms(o.paced.p99_ms)} ({o.paced.rps / r.rps:.0%})" if o.paced is not None else "–"
        lines.append(
            f"| {o.name} | {throughput} | {_ms(r.p50_ms)} | {_ms(r.p99_ms)} | {_ms(r.max_ms)} "
            f"| {r.errors} | {r.cpu_cores:.2f} | {r.peak_rss_mb:.0f} | {_n(o.ceiling.rps)} "
            f"| {o.of_ceiling:.2f} | {moto} | {of_moto} | {paced} |"
        )
    if summary.auth:
        lines += [
            "",
            "### Authentication: SigV4 verification on ÷ off",
            "",
            "Both servers replay the same kind of requests, signed with botocore right before "
            "each run; the one with `--auth none` ignores the signatures.",
            "",
            "| scenario | req/s off | req/s on | on ÷ off | p50 ms off | p50 ms on | on ÷ off "
            "| p99 ms off | p99 ms on | on ÷ off | server CPU on (cores) | errors |",
            "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for a in summary.auth:
            lines.append(
                f"| {a.name} | {_n(a.off.rps)} | {_n(a.on.rps)} | {a.rps_ratio:.2f} "
                f"| {_ms(a.off.p50_ms)} | {_ms(a.on.p50_ms)} | {a.p50_ratio:.2f} "
                f"| {_ms(a.off.p99_ms)} | {_ms(a.on.p99_ms)} | {a.p99_ratio:.2f} "
                f"| {a.on.cpu_cores:.2f} | {a.off.errors + a.on.errors} |"
            )
    compared = [o for o in summary.outcomes if o.compare is not None]
    if compared:
        first = summary.facts.get("store", "")
        lines += [
            "",
            "### Second store, side by side",
            "",
            f"The same scenarios on `--compare-db` ({summary.facts.get('second store', '')}), "
            "each run right after the first store's.",
            "",
            f"| scenario | first store ({first}) req/s | second store req/s | second ÷ first "
            "| p50 ms | p99 ms | errors | server CPU (cores) | ÷ ceiling | p99 ms at ~80% |",
            "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for o in compared:
            c = o.compare
            assert c is not None
            assert o.compare_ratio is not None
            paced = (
                f"{_ms(o.compare_paced.p99_ms)} ({o.compare_paced.rps / c.rps:.0%})"
                if o.compare_paced is not None
                else "–"
            )
            lines.append(
                f"| {o.name} | {_n(o.openpinpoint.rps)} | {_n(c.rps)} | {o.compare_ratio:.2f} "
                f"| {_ms(c.p50_ms)} | {_ms(c.p99_ms)} | {c.errors} | {c.cpu_cores:.2f} "
                f"| {c.rps / o.ceiling.rps:.2f} | {paced} |"
            )
    if summary.transfers:
        lines += [
            "",
            "### Bulk transfers",
            "",
            "Each the command a user runs, timed from process start to exit, on the "
            "preloaded endpoints.",
            "",
            "| command | into | endpoints | seconds | endpoints/s |",
            "|---|---|--:|--:|--:|",
        ]
        for t in summary.transfers:
            lines.append(
                f"| `openpinpoint {t.command}` | {store_kind(t.target)} | {_n(t.endpoints)} "
                f"| {t.seconds:.1f} | {_n(t.rate)} |"
            )
    if summary.scale:
        lines += [
            "",
            "### Scale: one user's cost, whatever the table's size",
            "",
            f"Paced load ({summary.scale[0].result.connections} connections, "
            f"{summary.scale[0].result.delay_ms} ms between requests on each, on average).",
            "",
            "| scenario | endpoints in store | req/s | p50 ms | p99 ms | max ms | errors |",
            "|---|--:|--:|--:|--:|--:|--:|",
        ]
        for s in summary.scale:
            r = s.result
            lines.append(
                f"| {s.name} | {_n(s.endpoints)} | {_n(r.rps)} | {_ms(r.p50_ms)} "
                f"| {_ms(r.p99_ms)} | {_ms(r.max_ms)} | {r.errors} |"
            )
    lines += ["", "### Targets", "", "| target | measured | met |", "|---|--:|:-:|"]
    for target, measured, met in targets(summary):
        lines.append(f"| {target} | {measured} | {'yes' if met else '**no**'} |")
    for profile in summary.profiles:
        lines += [
            "",
            f"### Profile: {profile.scenario} ({profile.samples:,} samples, py-spy)",
            "",
            "| share | layer |",
            "|--:|---|",
            *(f"| {h.share:.1%} | {h.frame} |" for h in profile.layers),
            "",
            "| self time | frame |",
            "|--:|---|",
        ]
        lines += [f"| {h.share:.1%} | `{h.frame}` |" for h in profile.self_time]
        lines += ["", "| inclusive | frame |", "|--:|---|"]
        lines += [f"| {h.share:.1%} | `{h.frame}` |" for h in profile.inclusive]
    p = summary.preload
    lines += [
        "",
        "### Machine and run",
        "",
        "| fact | value |",
        "|---|---|",
        *(f"| {key} | {value} |" for key, value in summary.facts.items()),
        f"| preload | {_n(p.endpoints)} endpoints of {_n(p.users)} users in {p.seconds:.1f} s "
        f"({_n(p.endpoints / p.seconds)}/s) |",
        f"| pools of users to delete | {p.pools} pools in {p.pool_seconds:.1f} s |",
        f"| whole run | {summary.total_seconds / 60:.1f} min |",
    ]
    return "\n".join(lines) + "\n"


def _bars(
    axis: Any, names: list[str], series: list[tuple[str, list[float]]], xlabel: str, title: str
) -> None:
    """Horizontal bars, one group per scenario, one bar per series, on a log scale."""
    height = 0.8 / len(series)
    for number, (label, values) in enumerate(series):
        shift = (number - (len(series) - 1) / 2) * height
        axis.barh([row + shift for row in range(len(names))], values, height=height, label=label)
    axis.set_xscale("log")
    axis.set_yticks(list(range(len(names))), names)
    axis.invert_yaxis()
    axis.set_xlabel(xlabel)
    axis.set_title(title)
    axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=len(series), fontsize="small")


def chart(summary: Summary, path: Path) -> None:
    import matplotlib  # noqa: PLC0415  # only the report needs it, and it is slow to import

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    names = [o.name for o in summary.outcomes]
    figure, (left, right) = plt.subplots(1, 2, figsize=(14, 0.6 * len(names) + 2.5))
    rps = [
        ("ceiling (raw ASGI)", [o.ceiling.rps for o in summary.outcomes]),
        ("OpenPinpoint", [o.openpinpoint.rps for o in summary.outcomes]),
        ("moto", [o.moto.rps if o.moto else 0.0 for o in summary.outcomes]),
    ]
    _bars(left, names, rps, "requests per second (log scale)", "Throughput against the ceiling")
    latency = [
        (label, [float(getattr(o.openpinpoint, field)) for o in summary.outcomes])
        for label, field in (("p50", "p50_ms"), ("p99", "p99_ms"), ("max", "max_ms"))
    ]
    _bars(right, names, latency, "OpenPinpoint latency at peak, ms (log scale)", "Latency")
    figure.suptitle(
        f"OpenPinpoint benchmark — {summary.facts['store']}, {summary.facts['cpu']}", fontsize=10
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write(summary: Summary, out: Path, stamp: str) -> list[Path]:
    stem = out / f"{stamp}-{summary.facts['store'].split()[0]}"
    markdown_path = stem.with_suffix(".md")
    markdown_path.write_text(
        f"# OpenPinpoint benchmark, {summary.facts['date']}\n\n"
        f"![chart]({stem.with_suffix('.png').name})\n\n" + markdown(summary)
    )
    json_path = stem.with_suffix(".json")
    json_path.write_bytes(msgspec.json.format(msgspec.json.encode(summary)))
    chart_path = stem.with_suffix(".png")
    chart(summary, chart_path)
    return [markdown_path, json_path, chart_path]
