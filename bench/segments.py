"""The segment scenario (S8): count and export three segments over a large app, on a
store, beside the targets (count ≤ 2 s; a segmented export within 20% of an unsegmented
one per exported endpoint).

    python bench/segments.py --db sqlite:///tmp/seg.db --endpoints 1000000

The endpoints are written straight through the store (no server): the scenario measures
evaluation, not ingestion. On PostgreSQL the tables are then analysed (VACUUM ANALYZE), as
autovacuum does after such a load on a default installation (the benchmark machine runs
with autovacuum off). Each segmented export is compared with two unsegmented ones: the
whole app's, per endpoint, and that of an app holding exactly the segment's members (the
target's own words: "an unsegmented export of the same number of endpoints").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import psycopg

from openpinpoint.core import jobs, segments
from openpinpoint.core.segment_shapes import WriteSegmentRequest
from openpinpoint.core.shapes import EndpointResponse, ExportJobResource
from openpinpoint.core.values import format_date, new_resource_id
from openpinpoint.files import Files, FileSettings
from openpinpoint.store.base import App, Store, StoredEndpoint, WriteTx, stored_endpoint
from openpinpoint.store.open import open_store

BATCH = 5000
"""Endpoints per transaction, written as one `put_endpoints` (COPY on PostgreSQL)."""
COUNT_TARGET_SECONDS = 2.0
EXPORT_TARGET_RATIO = 1.2
TEAMS = ["red", "blue", "green", "amber", "violet"]
PLATFORMS = ["ios", "android", "web"]
COUNTRIES = ["US", "FR", "DE", "GB", "ES", "IT", "NL", "BE", "PT", "IE"]
CHANNELS = ["EMAIL", "SMS", "GCM"]

THREE_DIMENSIONS: dict[str, Any] = {
    "Attributes": {"team": {"Values": ["red"]}},
    "Demographic": {"Platform": {"Values": ["ios"]}},
    "Location": {"Country": {"DimensionType": "EXCLUSIVE", "Values": ["US"]}},
}
GPS_RADIUS: dict[str, Any] = {
    "Location": {
        "GPSPoint": {
            "Coordinates": {"Latitude": 48.8566, "Longitude": 2.3522},
            "RangeInKilometers": 300,
        }
    }
}


def _endpoint(number: int, rng: random.Random, now: datetime) -> EndpointResponse:
    channel = CHANNELS[number % 3]
    doc = {
        "Id": f"ep-{number:08d}",
        "Address": f"user{number}@example.com",
        "ChannelType": channel,
        "EndpointStatus": "ACTIVE",
        "OptOut": "NONE",
        "Attributes": {"team": [rng.choice(TEAMS)], "plan": [rng.choice(["free", "pro"])]},
        "Demographic": {"Platform": rng.choice(PLATFORMS), "Make": "Acme"},
        "Location": {
            "Country": rng.choice(COUNTRIES),
            "Latitude": rng.uniform(36, 60),
            "Longitude": rng.uniform(-10, 20),
        },
        "Metrics": {"score": float(rng.randint(0, 100))},
        "EffectiveDate": format_date(now - timedelta(hours=rng.randint(0, 24 * 60))),
        "User": {"UserId": f"user-{number // 2}"},
    }
    return msgspec.convert(doc, EndpointResponse)


async def _new_app(store: Store, name: str) -> str:
    app_id = new_resource_id()
    app = App(
        id=app_id,
        name=name,
        arn=f"arn:aws:mobiletargeting:us-east-1:0:apps/{app_id}",
        creation_date=format_date(datetime.now(UTC)),
        tags={},
    )
    await store.write(lambda tx: tx.insert_app(app))
    return app_id


async def _put(store: Store, app_id: str, endpoints: list[EndpointResponse]) -> None:
    for first in range(0, len(endpoints), BATCH):
        batch = [stored_endpoint(e) for e in endpoints[first : first + BATCH]]

        def put(tx: WriteTx, batch: list[StoredEndpoint] = batch) -> None:
            tx.put_endpoints(app_id, batch)

        await store.write(put)


async def _load(store: Store, count: int) -> str:
    app_id = await _new_app(store, "bench-segments")
    now = datetime.now(UTC)
    rng = random.Random(7)
    started = time.perf_counter()
    for first in range(0, count, BATCH):
        await _put(
            store, app_id, [_endpoint(n, rng, now) for n in range(first, min(count, first + BATCH))]
        )
    print(f"loaded {count} endpoints in {time.perf_counter() - started:.1f} s", flush=True)
    return app_id


def _analyse(db: str) -> None:
    if db.startswith(("postgresql:", "postgres:")):
        with psycopg.connect(db, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")


async def _same_size_app(store: Store, app_id: str, segment_id: str) -> str:
    """A new app holding a copy of the segment's members, and nothing else."""
    members = await store.scan(
        lambda tx: tx.segment_members(
            app_id, segments.predicate(tx, app_id, segment_id, None, datetime.now(UTC)), "", 10**9
        )
    )
    copy_id = await _new_app(store, "bench-segments-same-size")
    await _put(store, copy_id, members)
    return copy_id


async def _create(store: Store, app_id: str, body: dict[str, Any]) -> str:
    request = msgspec.convert(body, WriteSegmentRequest)
    segment_id = new_resource_id()

    def create(tx: WriteTx) -> None:
        app = tx.get_app(app_id)
        assert app is not None
        segments.create(tx, app, segment_id, request, format_date(datetime.now(UTC)))

    await store.write(create)
    return segment_id


async def _count(store: Store, app_id: str, segment_id: str) -> tuple[int, float]:
    started = time.perf_counter()
    counts = await store.read(
        lambda tx: tx.count_segment(
            app_id, segments.predicate(tx, app_id, segment_id, None, datetime.now(UTC))
        )
    )
    return sum(counts.values()), time.perf_counter() - started


async def _export(
    store: Store, app_id: str, root: Path, segment_id: str | None
) -> tuple[int, float]:
    runner = jobs.JobRunner(store, Files(FileSettings(local_root=root)))
    definition = ExportJobResource(role_arn="arn:aws:iam::0:role/x", s3_url_prefix=root.as_uri())
    if segment_id is not None:
        definition.segment_id = segment_id
    job = await runner.create_export(app_id, definition, format_date(datetime.now(UTC)))
    started = time.perf_counter()
    state = await runner.run(app_id, job.id)
    elapsed = time.perf_counter() - started
    assert state.job.job_status == "COMPLETED", state.job
    return int(state.job.total_processed or 0), elapsed


async def main(args: argparse.Namespace) -> dict[str, Any]:
    store = open_store(args.db)
    try:
        app_id = await _load(store, args.endpoints)
        await asyncio.to_thread(_analyse, args.db)
        three = await _create(store, app_id, {"Dimensions": THREE_DIMENSIONS})
        gps = await _create(store, app_id, {"Dimensions": GPS_RADIUS})
        groups = await _create(
            store,
            app_id,
            {
                "SegmentGroups": {
                    "Include": "ANY",
                    "Groups": [
                        {
                            "SourceSegments": [{"Id": three}],
                            "Dimensions": [{"Demographic": {"Channel": {"Values": ["EMAIL"]}}}],
                        },
                        {
                            "Dimensions": [
                                {
                                    "Metrics": {
                                        "score": {"ComparisonOperator": "GREATER_THAN", "Value": 97}
                                    }
                                }
                            ]
                        },
                    ],
                }
            },
        )
        results: dict[str, Any] = {
            "store": args.db.split(":", 1)[0],
            "endpoints": args.endpoints,
            "segments": {},
        }
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            total, whole = await _export(store, app_id, root, None)
            per_endpoint = whole / max(total, 1)
            results["unsegmented_export"] = {
                "endpoints": total,
                "seconds": whole,
                "ms_per_1000": per_endpoint * 1e6,
            }
            for name, sid in (
                ("three-dimensions", three),
                ("gps-radius", gps),
                ("two-groups-with-source", groups),
            ):
                members, counted = await _count(store, app_id, sid)
                exported, seconds = await _export(store, app_id, root, sid)
                ratio = (seconds / max(exported, 1)) / per_endpoint
                copy_id = await _same_size_app(store, app_id, sid)
                await asyncio.to_thread(_analyse, args.db)
                copied, same_size = await _export(store, copy_id, root, None)
                assert copied == exported, (copied, exported)
                results["segments"][name] = {
                    "members": members,
                    "count_seconds": round(counted, 3),
                    "count_target_met": counted <= COUNT_TARGET_SECONDS,
                    "export_seconds": round(seconds, 3),
                    "export_per_endpoint_vs_whole_app": round(ratio, 2),
                    "same_size_app_export_seconds": round(same_size, 3),
                    "export_vs_same_size_app": round(seconds / same_size, 2),
                    "export_target_met": seconds / same_size <= EXPORT_TARGET_RATIO,
                }
                print(name, results["segments"][name], flush=True)
        return results
    finally:
        await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="a fresh store URL")
    parser.add_argument("--endpoints", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, help="write the results as JSON here too")
    arguments = parser.parse_args()
    found = asyncio.run(main(arguments))
    print(json.dumps(found, indent=2))
    if arguments.out:
        arguments.out.write_text(json.dumps(found, indent=2) + "\n")
