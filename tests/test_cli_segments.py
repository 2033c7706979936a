"""`openpinpoint segment count|show` on the database directly, on both stores (S7)."""

from __future__ import annotations

import json
from typing import Any

from conftest import run_cli
from segtools import Segments


def _app(url: str) -> tuple[str, str]:
    segs = Segments(url)
    try:
        endpoints: list[dict[str, Any]] = [
            {
                "Id": f"e{i:02d}",
                "ChannelType": "SMS" if i % 2 else "EMAIL",
                "Address": f"a{i}",
                "EndpointStatus": "ACTIVE",
                "Attributes": {"team": ["red" if i < 9 else "blue"]},
            }
            for i in range(12)
        ]
        app_id = segs.new_app(endpoints)
        return app_id, segs.create(
            app_id, {"Dimensions": {"Attributes": {"team": {"Values": ["red"]}}}}
        )
    finally:
        segs.close()


def test_s7_segment_count_prints_total_per_channel_and_time(empty_store_url: str) -> None:
    app_id, sid = _app(empty_store_url)
    done = run_cli("segment", "count", "--app", app_id, sid, "--db", empty_store_url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("9 members (EMAIL 5, SMS 4) in ")
    as_json = run_cli(
        "segment",
        "count",
        "--app",
        app_id,
        sid,
        "--version",
        "1",
        "--json",
        "--db",
        empty_store_url,
    )
    found = json.loads(as_json.stdout)
    assert (found["Total"], found["ChannelCounts"]) == (9, {"EMAIL": 5, "SMS": 4})
    assert found["Seconds"] >= 0


def test_s7_segment_show_lists_exactly_limit_members(empty_store_url: str) -> None:
    app_id, sid = _app(empty_store_url)
    done = run_cli("segment", "show", "--app", app_id, sid, "--limit", "4", "--db", empty_store_url)
    assert done.returncode == 0, done.stderr
    assert [line.split("\t")[0] for line in done.stdout.splitlines()] == [
        "e00",
        "e01",
        "e02",
        "e03",
    ]
    every = run_cli(
        "segment", "show", "--app", app_id, sid, "--json", "--limit", "100", "--db", empty_store_url
    )
    assert len([json.loads(line) for line in every.stdout.splitlines()]) == 9


def test_s7_segment_commands_name_an_unknown_segment(empty_store_url: str) -> None:
    app_id, _ = _app(empty_store_url)
    done = run_cli("segment", "count", "--app", app_id, "0" * 32, "--db", empty_store_url)
    assert done.returncode == 2
    assert "0" * 32 in done.stderr
    assert "not found" in done.stderr
