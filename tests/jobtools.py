"""Helpers for the import/export tests: waiting for jobs, reading export pieces, making data."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path
from typing import Any

FINISHED = ("COMPLETED", "FAILED")
JOB_DEADLINE_SECONDS = 120.0
ROLE = "arn:aws:iam::123456789012:role/pinpoint-import"


def wait_for_job(client: Any, kind: str, app_id: str, job_id: str) -> dict[str, Any]:
    """Poll Get{Export,Import}Job until the job has finished; fail if it never does."""
    operation = getattr(client, f"get_{kind}_job")
    member = f"{kind.title()}JobResponse"
    deadline = time.monotonic() + JOB_DEADLINE_SECONDS
    while True:
        job: dict[str, Any] = operation(ApplicationId=app_id, JobId=job_id)[member]
        if job["JobStatus"] in FINISHED:
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job['JobStatus']}"
        time.sleep(0.05)


def export(client: Any, app_id: str, prefix: str) -> dict[str, Any]:
    job = client.create_export_job(
        ApplicationId=app_id, ExportJobRequest={"RoleArn": ROLE, "S3UrlPrefix": prefix}
    )["ExportJobResponse"]
    return wait_for_job(client, "export", app_id, job["Id"])


def import_(client: Any, app_id: str, url: str, fmt: str = "JSON", **more: Any) -> dict[str, Any]:
    job = client.create_import_job(
        ApplicationId=app_id,
        ImportJobRequest={"RoleArn": ROLE, "S3Url": url, "Format": fmt, **more},
    )["ImportJobResponse"]
    return wait_for_job(client, "import", app_id, job["Id"])


def read_pieces(paths: list[Path]) -> list[dict[str, Any]]:
    """Every endpoint line of the given gzip NDJSON pieces."""
    lines: list[dict[str, Any]] = []
    for path in sorted(paths):
        text = gzip.decompress(path.read_bytes()).decode()
        lines += [json.loads(line) for line in text.splitlines() if line]
    return lines


def without_app_id(endpoints: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["Id"]: {k: v for k, v in e.items() if k != "ApplicationId"} for e in endpoints}


def varied_endpoints(count: int) -> list[dict[str, Any]]:
    """Batch items exercising every part of an endpoint, each with its own address."""
    channels = ["EMAIL", "SMS", "GCM", "APNS", "VOICE", "CUSTOM", "IN_APP", "BAIDU", "ADM"]
    items: list[dict[str, Any]] = []
    for i in range(count):
        item: dict[str, Any] = {
            "Id": f"endpoint-{i:05d}",
            "ChannelType": channels[i % len(channels)],
            "Address": f"address-{i}@example.com",
            "Attributes": {"Interests": ["a", "b"][: 1 + i % 2], "Source": [f"s{i % 7}"]},
            "Metrics": {"score": i / 4, "visits": i % 13},
            "Demographic": {"Platform": "ios" if i % 2 else "android", "Locale": "en_US"},
            "Location": {"City": "Lyon", "Country": "FRA", "Latitude": 45.76, "Longitude": 4.84},
            "OptOut": "ALL" if i % 10 == 0 else "NONE",
        }
        if i % 3:
            item["User"] = {"UserId": f"user-{i % 97}", "UserAttributes": {"Plan": [f"p{i % 97}"]}}
        if i % 17 == 0:
            item["EndpointStatus"] = "INACTIVE"
        items.append(item)
    return items


def put_endpoints(client: Any, app_id: str, items: list[dict[str, Any]]) -> None:
    for start in range(0, len(items), 100):
        client.update_endpoints_batch(
            ApplicationId=app_id, EndpointBatchRequest={"Item": items[start : start + 100]}
        )
