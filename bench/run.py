"""OpenPinpoint's benchmark: real HTTP, a compiled load generator, baselines side by side.

    python3 dev.py bench [--quick] [--db URL] [--endpoints N] [--duration S] [--workers N] ...

Preloads an app with N endpoints, starts OpenPinpoint, the ceiling app (bench/ceiling.py)
and moto's server, and drives every scenario with wrk for a fixed time, the ceiling right
before OpenPinpoint on the same requests so that each ratio compares runs seconds apart.
Writes a Markdown report, its JSON and a chart to bench/results/. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import math
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import dataset
import loadgen
import profiling
import report
import servers
import signing
import transfers
from loadgen import Load, Result
from openpinpoint import keys
from openpinpoint.store.open import StoreURLError, open_store
from report import AuthOutcome, Outcome, ScaleOutcome

RESULTS = servers.BENCH / "results"
MAX_POOL_TRIES = 3
# Pools hold this much more than the expected rate needs; one that runs out is retried.
POOL_MARGIN = 1.2
# The scale runs compare latency at one light, paced load: 2 connections, each sending a
# request 2 ms after its previous answer (a few hundred requests per second).
SCALE_CONNECTIONS = 2
SCALE_DELAY_MS = 2
SCALE_SECONDS = 3.0
PACED_SHARE = 0.8
PACED_INTERVAL_MS = 20
# Measured again with SigV4 verification on, as a ratio to the same requests with it off.
AUTH_SCENARIOS = ("UpdateEndpoint", "GetEndpoint")
# A signed stream holds as many requests as its run is expected to send, up to this many
# (then it repeats): ~3 s of signing, ~35 MB.
MAX_STREAM = 50_000
# Requests per second the ceiling takes, at the least, while a stream is recorded.
RECORD_RATE = 20_000


@dataclass(frozen=True)
class Scenario:
    name: str
    unit: str = "req/s"
    per_request: int = 1
    deletes: float = 0.0
    """The share of requests that delete one pool user."""
    peer: bool = False
    """Also run against moto (it serves apps, not endpoints)."""
    paced: bool = True
    """Also run at PACED_SHARE of OpenPinpoint's peak for the p99 target."""


SCENARIOS = (
    Scenario("UpdateEndpoint"),
    Scenario("UpdateEndpointsBatch", unit="endpoints/s", per_request=100),
    Scenario("GetEndpoint"),
    Scenario("GetUserEndpoints"),
    Scenario("DeleteUserEndpoints", unit="users/s", deletes=1.0),
    Scenario("Mix", deletes=0.05),
    Scenario("GetApp", peer=True, paced=False),
    Scenario("CreateApp", peer=True, paced=False),
)
SCENARIOS_BY_NAME = {s.name: s for s in SCENARIOS}
# Deletes per second assumed before the first run has measured them.
FIRST_DELETE_RATE = 4000.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python3 dev.py bench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--db",
        metavar="URL",
        help="store to benchmark, passed to `openpinpoint serve --db` "
        "(default: a new SQLite file under bench/results/); a PostgreSQL URL should name "
        "a scratch database, which is created if it does not exist",
    )
    parser.add_argument(
        "--endpoints", type=int, default=100_000, metavar="N", help="preloaded endpoints"
    )
    parser.add_argument("--duration", type=float, default=10.0, metavar="S", help="seconds per run")
    parser.add_argument(
        "--connections", type=int, default=64, metavar="C", help="wrk keep-alive connections"
    )
    parser.add_argument("--threads", type=int, default=1, metavar="T", help="wrk threads")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="server worker processes (OpenPinpoint and ceiling)",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, metavar="R", help="repeat every run; medians kept"
    )
    parser.add_argument(
        "--scale",
        default="10000,1000000",
        metavar="SMALL,LARGE",
        help="endpoint counts for the scale runs (e.g. 10000,10000000); 'none' skips them",
    )
    parser.add_argument(
        "--scenarios",
        metavar="A,B",
        help="comma-separated subset of: " + ", ".join(s.name for s in SCENARIOS),
    )
    parser.add_argument(
        "--compare-db",
        metavar="URL",
        help="a second store (e.g. a scratch PostgreSQL database) preloaded the same way and "
        "served by a second OpenPinpoint server, run right after the first on every scenario "
        "and reported as a ratio to it (a PostgreSQL database is created if it does not exist)",
    )
    parser.add_argument(
        "--transfers",
        action="store_true",
        help="also time `openpinpoint migrate-store` and `openpinpoint import` of a Pinpoint "
        "export, from the preloaded store into new SQLite files and into --compare-db",
    )
    parser.add_argument(
        "--migrate-db",
        metavar="URL",
        help="with --transfers: an empty database that migrate-store also copies into, and "
        "that import then imports into (a new app); created if it does not exist",
    )
    parser.add_argument("--no-moto", action="store_true", help="skip moto's server")
    parser.add_argument("--no-paced", action="store_true", help="skip the runs at 80%% of peak")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="after measuring, run each scenario once more under py-spy and report hot spots",
    )
    parser.add_argument(
        "--auth",
        action="store_true",
        help="also run UpdateEndpoint and GetEndpoint against a server that verifies SigV4 "
        "signatures, on requests signed beforehand, as a ratio to auth off (about 70 s more)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke mode: 2,000 endpoints, 1 s runs, small scale runs (for CI)",
    )
    parser.add_argument(
        "--out", type=Path, default=RESULTS, metavar="DIR", help="where reports are written"
    )
    parser.add_argument("--keep", action="store_true", help="keep the SQLite files afterwards")
    return parser


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.quick:
        args.endpoints, args.duration = min(args.endpoints, 2_000), 1.0
        args.scale = "1000,10000" if args.scale == parser.get_default("scale") else args.scale
    args.scale_sizes = [] if args.scale == "none" else [int(n) for n in args.scale.split(",")]
    wanted = set(args.scenarios.split(",")) if args.scenarios else {s.name for s in SCENARIOS}
    if unknown := wanted - {s.name for s in SCENARIOS}:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    args.chosen = [s for s in SCENARIOS if s.name in wanted]
    if args.connections < args.threads:
        parser.error("--connections must be at least --threads")
    return args


@dataclass(frozen=True)
class Compared:
    """The second store (`--compare-db`): its URL, data and server."""

    url: str
    data: dataset.DataSet
    server: servers.Server


class Bench:
    """One harness run: the data, the servers and every measurement taken so far."""

    def __init__(self, args: argparse.Namespace, wrk: str, db_url: str, data: dataset.DataSet):
        self.args = args
        self.wrk = wrk
        self.db_url = db_url
        self.data = data
        self.rates: dict[str, float] = {}
        """OpenPinpoint's measured requests per second, by scenario."""
        self.pools = 0
        self.pool_seconds = 0.0
        self.streams = 0
        self.moto_app = "-"
        self.on_run: Callable[[Load], None] | None = None
        """Called right before each wrk run (the profiler starts sampling there)."""
        self.compare: Compared | None = None
        self.work = Path()
        """Where scratch files go."""
        self.compare_rates: dict[str, float] = {}

    def compare_load(self, scenario: Scenario, **changes: object) -> Load:
        assert self.compare is not None
        data = self.compare.data
        return self.load(
            scenario, app_id=data.app_id, endpoints=data.endpoints, users=data.users, **changes
        )

    def drive_compare(self, scenario: Scenario, load: Load, expected_rate: float) -> Result:
        """A run against the second store's server, its pools made in that store."""
        assert self.compare is not None
        return self.drive(
            self.compare.server,
            scenario,
            load,
            db_url=self.compare.url,
            expected_rate=expected_rate,
        )

    def load(self, scenario: Scenario, **changes: object) -> Load:
        base = Load(
            scenario=scenario.name,
            app_id=self.data.app_id,
            endpoints=self.data.endpoints,
            users=self.data.users,
            tag=f"r{int(time.time() * 1000) % 10**9}",
            seconds=self.args.duration,
            connections=self.args.connections,
            threads=self.args.threads,
        )
        return replace(base, **changes)  # type: ignore[arg-type]

    def new_pool(self, db_url: str, app_id: str, users: int) -> str:
        """A fresh set of users of 15 endpoints to delete ("re-created between rounds")."""
        self.pools += 1
        name = f"del{self.pools}"
        started = time.perf_counter()
        scratch = None
        if self.compare is not None and db_url == self.compare.url:
            scratch = self.work / f"{name}-scratch.db"
        dataset.add_pool(db_url, app_id, name, users, scratch)
        self.pool_seconds += time.perf_counter() - started
        return name

    def run(self, server: servers.Server, load: Load) -> Result:
        if self.on_run is not None:
            self.on_run(load)
        return loadgen.run(self.wrk, server, load)

    def drive(
        self,
        server: servers.Server,
        scenario: Scenario,
        load: Load,
        db_url: str | None = None,
        expected_rate: float | None = None,
    ) -> Result:
        """One wrk run; scenarios that delete get a pool big enough for the whole run."""
        if not scenario.deletes or server.name == "ceiling":
            result = self.run(server, replace(load, pool_users=10**9))
            if server.name == "OpenPinpoint" and expected_rate is None:
                self.rates[scenario.name] = result.rps
            return result
        rate = expected_rate or self.rates.get(scenario.name) or self.first_guess(scenario)
        for _ in range(MAX_POOL_TRIES):
            needed = rate * scenario.deletes * load.seconds * POOL_MARGIN
            users = math.ceil(needed) + load.connections
            pool = self.new_pool(db_url or self.db_url, load.app_id, users)
            result = self.run(server, replace(load, pool=pool, pool_users=users))
            if not result.exhausted:
                if expected_rate is None:
                    self.rates[scenario.name] = result.rps
                return result
            rate *= 2.5
            print(f"  ({scenario.name}: pool of {users} users ran out; retrying)", flush=True)
        raise RuntimeError(f"{scenario.name}: could not size the pool of users to delete")

    def first_guess(self, scenario: Scenario) -> float:
        """Requests per second before any run of the scenario: a mix of mostly reads is
        about as fast as the fastest scenario measured so far."""
        if scenario.deletes == 1 or not self.rates:
            return FIRST_DELETE_RATE
        return max(self.rates.values())

    def signed_load(
        self,
        scenario: Scenario,
        target: servers.Server,
        *,
        ceiling: servers.Server,
        key: keys.AccessKey,
        work: Path,
        seconds: float,
    ) -> Load:
        """A load that replays a fresh stream of the scenario's requests, signed for `target`:
        recorded against the ceiling (nothing is written), signed, replayed round-robin."""
        expected = self.rates[scenario.name] * seconds * POOL_MARGIN
        count = min(MAX_STREAM, max(self.args.connections, math.ceil(expected)))
        self.streams += 1
        recorded = work / f"stream{self.streams}"
        record = self.load(
            scenario,
            stream="record",
            stream_file=str(recorded),
            record_count=math.ceil(count / self.args.threads),
            seconds=math.ceil(count / RECORD_RATE),
        )
        loadgen.run(self.wrk, ceiling, record)
        sources = sorted(work.glob(f"{recorded.name}.*"))
        signed = recorded.with_suffix(".signed")
        signing.sign_stream(sources, target.url, key, signed)
        for source in sources:
            source.unlink()
        return self.load(scenario, stream="replay", stream_file=str(signed), seconds=seconds)

    def paced(
        self, server: servers.Server, scenario: Scenario, peak: Result, compare: bool = False
    ) -> Result:
        """A run at PACED_SHARE of the peak: each connection waits between its requests."""
        load = self.compare_load if compare else self.load
        db_url = self.compare.url if compare and self.compare else None
        # A peak of 0 (a quick run on an overloaded machine completed no request) must not
        # divide by zero below; it still gets a paced run, at one request per second.
        target = max(PACED_SHARE * peak.rps, 1.0)
        # Enough connections that each waits about PACED_INTERVAL_MS between requests.
        connections = max(1, min(self.args.connections, round(target * PACED_INTERVAL_MS / 1000)))
        interval_ms = connections / target * 1000
        probe = self.drive(
            server,
            scenario,
            load(
                scenario,
                connections=connections,
                threads=min(self.args.threads, connections),
                delay_ms=round(interval_ms),
                seconds=1.0,
            ),
            db_url=db_url,
            expected_rate=target,
        )
        # The delay starts when a response arrives, so subtract the latency seen at this load.
        delay = max(0, round(interval_ms - probe.mean_ms))
        run = load(
            scenario,
            connections=connections,
            threads=min(self.args.threads, connections),
            delay_ms=delay,
            seconds=max(1.0, self.args.duration / 2),
        )
        return self.drive(server, scenario, run, db_url=db_url, expected_rate=target)


def _rate(data: dataset.DataSet) -> str:
    return f"{data.endpoints / data.seconds:,.0f} endpoints/s"


def median_run(results: list[Result]) -> Result:
    ordered = sorted(results, key=lambda r: r.rps)
    chosen = ordered[len(ordered) // 2]
    errors = sum(r.errors for r in results)
    return replace(chosen, errors=errors) if errors != chosen.errors else chosen


def _step(message: str) -> Callable[[], None]:
    print(message, end="", flush=True)
    started = time.perf_counter()
    return lambda: print(f" ({time.perf_counter() - started:.1f} s)", flush=True)


def measure(
    bench: Bench,
    opp: servers.Server,
    ceiling: servers.Server,
    moto: servers.Server | None,
) -> list[Outcome]:
    args = bench.args
    runs: dict[str, dict[str, list[Result]]] = {s.name: {} for s in args.chosen}
    for round_no in range(args.rounds):
        for scenario in args.chosen:
            # Baseline first, then OpenPinpoint on the same request stream, alternating.
            pairs = [("ceiling", ceiling), ("openpinpoint", opp)]
            if scenario.peer and moto is not None:
                pairs.append(("moto", moto))
            for label, server in pairs:
                done = _step(f"round {round_no + 1} {scenario.name:<22} {label:<13}")
                load = bench.load(scenario)
                if label == "moto":
                    load = replace(load, app_id=bench.moto_app)
                result = bench.drive(server, scenario, load)
                done()
                print(f"    {report.describe(result)}", flush=True)
                runs[scenario.name].setdefault(label, []).append(result)
            if bench.compare is not None:
                done = _step(f"round {round_no + 1} {scenario.name:<22} {'second store':<13}")
                # A first guess from the first store; a pool that runs out is made again.
                rate = bench.compare_rates.get(scenario.name) or bench.rates[scenario.name] / 2
                result = bench.drive_compare(scenario, bench.compare_load(scenario), rate)
                bench.compare_rates[scenario.name] = result.rps
                done()
                print(f"    {report.describe(result)}", flush=True)
                runs[scenario.name].setdefault("compare", []).append(result)
    outcomes: list[Outcome] = []
    for scenario in args.chosen:
        by = {label: median_run(found) for label, found in runs[scenario.name].items()}
        paced: Result | None = None
        if scenario.paced and not args.no_paced:
            done = _step(f"paced   {scenario.name:<22} openpinpoint ")
            paced = bench.paced(opp, scenario, by["openpinpoint"])
            done()
            print(f"    {report.describe(paced)}", flush=True)
        compare_paced: Result | None = None
        # A second store that served nothing (0 req/s) has no 80% to pace at.
        compare_peak = by.get("compare")
        if (
            bench.compare
            and compare_peak
            and compare_peak.rps
            and scenario.paced
            and not args.no_paced
        ):
            done = _step(f"paced   {scenario.name:<22} second store ")
            compare_paced = bench.paced(bench.compare.server, scenario, by["compare"], compare=True)
            done()
            print(f"    {report.describe(compare_paced)}", flush=True)
        outcomes.append(
            Outcome(
                name=scenario.name,
                unit=scenario.unit,
                per_request=scenario.per_request,
                openpinpoint=by["openpinpoint"],
                ceiling=by["ceiling"],
                moto=by.get("moto"),
                paced=paced,
                compare=by.get("compare"),
                compare_paced=compare_paced,
            )
        )
    return outcomes


def measure_auth(
    bench: Bench, opp: servers.Server, ceiling: servers.Server, work: Path
) -> list[AuthOutcome]:
    """AUTH_SCENARIOS against a second server that verifies SigV4, each as a ratio to the
    first (`--auth none`) on the same kind of stream: both replay requests signed right
    before their run, so that verification is the only difference."""
    args = bench.args
    chosen = [s for s in args.chosen if s.name in AUTH_SCENARIOS]
    if not args.auth or not chosen:
        return []
    key = keys.new_key(name="bench", admin=True)
    keys_file = work / "keys.json"
    keys.KeyFile(keys_file).create(key)
    signed = servers.openpinpoint(bench.db_url, args.workers, keys_file)
    runs: dict[str, dict[str, list[Result]]] = {s.name: {} for s in chosen}
    try:
        done = _step("auth    warming up the SigV4 server")
        signed_load = functools.partial(bench.signed_load, ceiling=ceiling, key=key, work=work)
        warm_up = signed_load(chosen[0], signed, seconds=1.0)
        loadgen.run(bench.wrk, signed, warm_up)
        Path(warm_up.stream_file).unlink()
        done()
        for round_no in range(args.rounds):
            for scenario in chosen:
                for label, server in (("auth off", opp), ("auth on", signed)):
                    done = _step(f"round {round_no + 1} {scenario.name:<22} {label:<13}")
                    load = signed_load(scenario, server, seconds=args.duration)
                    result = bench.run(server, load)
                    Path(load.stream_file).unlink()
                    done()
                    print(f"    {report.describe(result)}", flush=True)
                    runs[scenario.name].setdefault(label, []).append(result)
    finally:
        signed.stop()
    return [
        AuthOutcome.compare(
            s.name, median_run(runs[s.name]["auth off"]), median_run(runs[s.name]["auth on"])
        )
        for s in chosen
    ]


def scale_url(args: argparse.Namespace, work: Path, size: int) -> str:
    """SQLite gets a file per size; another store gets a separate app in the same database."""
    if args.db and not args.db.startswith("sqlite:"):
        return str(args.db)
    return f"sqlite:///{work / f'scale-{size}.db'}"


def measure_scale(bench: Bench, work: Path) -> list[ScaleOutcome]:
    args = bench.args
    found: list[ScaleOutcome] = []
    for size in args.scale_sizes:
        url = scale_url(args, work, size)
        done = _step(f"scale   preloading {size:,} endpoints")
        data = dataset.preload(url, size)
        done()
        server = servers.openpinpoint(url, args.workers)
        try:
            for name in ("GetUserEndpoints", "DeleteUserEndpoints"):
                load = Load(
                    scenario=name,
                    app_id=data.app_id,
                    endpoints=data.endpoints,
                    users=data.users,
                    tag=f"s{size}",
                    seconds=min(args.duration, SCALE_SECONDS),
                    connections=SCALE_CONNECTIONS,
                    delay_ms=SCALE_DELAY_MS,
                )
                # An upper bound: each request also takes its own latency, at least ~0.5 ms.
                rate = SCALE_CONNECTIONS * 1000 / (SCALE_DELAY_MS + 0.5)
                done = _step(f"scale   {name:<22} {size:>12,}")
                result = bench.drive(
                    server, SCENARIOS_BY_NAME[name], load, db_url=url, expected_rate=rate
                )
                done()
                print(f"    {report.describe(result)}", flush=True)
                found.append(ScaleOutcome(name=name, endpoints=size, result=result))
        finally:
            server.stop()
    return found


def main(argv: list[str] | None = None) -> int:
    args = _options(argv)
    for url in (args.db, args.compare_db, args.migrate_db):
        if url and dataset.ensure_database(url):
            print(f"bench: created the database {url}", file=sys.stderr, flush=True)
    if args.db:
        try:  # fail before preloading on a URL this version cannot open
            asyncio.run(open_store(args.db).close())
        except StoreURLError as error:
            print(f"bench: {error}", file=sys.stderr)
            return 2
    wrk = loadgen.ensure_wrk()
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    args.out.mkdir(parents=True, exist_ok=True)
    work = (args.out / f"{stamp}.tmp").resolve()
    work.mkdir()
    db_url = args.db or f"sqlite:///{work / 'bench.db'}"
    facts = report.machine_facts(args, db_url, loadgen.wrk_version(wrk), argv)
    started = time.perf_counter()
    opened: list[servers.Server] = []
    try:
        done = _step(f"preloading {args.endpoints:,} endpoints into {report.store_kind(db_url)}")
        data = dataset.preload(db_url, args.endpoints)
        done()
        bench = Bench(args, wrk, db_url, data)
        bench.work = work
        opp = servers.openpinpoint(db_url, args.workers)
        opened.append(opp)
        if args.compare_db:
            kind = report.store_kind(args.compare_db)
            done = _step(f"preloading {args.endpoints:,} endpoints into {kind}")
            compare_data = dataset.preload(
                args.compare_db, args.endpoints, scratch=work / "compare-scratch.db"
            )
            done()
            facts["second store"] = f"{kind}, preloaded at {_rate(compare_data)}"
            compare_server = servers.openpinpoint(args.compare_db, args.workers)
            opened.append(compare_server)
            bench.compare = Compared(args.compare_db, compare_data, compare_server)
        ceiling = servers.ceiling(args.workers)
        opened.append(ceiling)
        moto = None
        if not args.no_moto and any(s.peer for s in args.chosen):
            moto = servers.moto()
            opened.append(moto)
            bench.moto_app = servers.create_app(moto)
        done = _step("warming up")
        for server in opened:
            app_id = bench.moto_app if server is moto else data.app_id
            if bench.compare is not None and server is bench.compare.server:
                app_id = bench.compare.data.app_id
            warm_up = bench.load(SCENARIOS_BY_NAME["GetApp"], app_id=app_id, seconds=1.0)
            loadgen.run(wrk, server, warm_up)
        done()
        outcomes = measure(bench, opp, ceiling, moto)
        profiles = (
            profiling.profile_all(bench, opp, [s for s in args.chosen if s.paced], stamp)
            if args.profile
            else []
        )
        auth = measure_auth(bench, opp, ceiling, work)
        for server in opened:
            server.stop()
        opened.clear()
        scale = measure_scale(bench, work)
        moved: list[transfers.Transfer] = []
        if args.transfers:
            done = _step("transfers: migrate-store and import")
            moved = transfers.measure(
                db_url,
                data.app_id,
                work,
                migrate_to=[args.migrate_db] if args.migrate_db else [],
                import_to=[args.migrate_db] if args.migrate_db else [],
            )
            done()
        summary = report.Summary(
            facts=facts,
            preload=report.Preload(
                endpoints=data.endpoints,
                users=data.users,
                seconds=data.seconds,
                pools=bench.pools,
                pool_seconds=bench.pool_seconds,
            ),
            outcomes=outcomes,
            auth=auth,
            scale=scale,
            transfers=moved,
            profiles=profiles,
            total_seconds=time.perf_counter() - started,
        )
        paths = report.write(summary, args.out, stamp)
        print(report.markdown(summary))
        print("\n".join(f"wrote {path}" for path in paths))
    finally:
        for server in opened:
            server.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
