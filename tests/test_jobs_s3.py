"""Import and export through s3:// URLs, against a real S3-compatible server (moto's
standalone server, started here on the loopback interface)."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from conftest import STORES, RunningServer, new_store_url
from jobtools import export, import_, put_endpoints, varied_endpoints, without_app_id

S3_ENV = {
    "AWS_ACCESS_KEY_ID": "s3-test-key",
    "AWS_SECRET_ACCESS_KEY": "s3-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}
BUCKET = "openpinpoint-tests"


class MotoServer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.url = ""
        self._ready = threading.Event()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._collect, daemon=True).start()
        if not self._ready.wait(60) or not self.url:
            self.process.kill()
            raise RuntimeError("moto server did not start:\n" + "\n".join(self.lines))

    def _collect(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            if not self.url and (match := re.search(r"Running on (http://\S+)", line)):
                self.url = match[1]
                self._ready.set()
        self._ready.set()


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    moto = MotoServer()
    yield moto.url
    moto.process.terminate()
    moto.process.wait(timeout=30)


@pytest.fixture(scope="module")
def s3(s3_endpoint: str) -> Any:
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id=S3_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=S3_ENV["AWS_SECRET_ACCESS_KEY"],
    )
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture(scope="module", params=STORES)
def s3_server(
    s3_endpoint: str,
    s3: Any,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningServer]:
    """A server on each store, using the S3 server for s3:// URLs."""
    db = new_store_url(request.param, request, tmp_path_factory.mktemp("s3-store"))
    running = RunningServer(db, "--s3-endpoint-url", s3_endpoint, env=S3_ENV)
    yield running
    running.stop()


@pytest.fixture
def sc(s3_server: RunningServer) -> Any:
    return s3_server.client()


def _app(client: Any) -> str:
    return str(
        client.create_app(CreateApplicationRequest={"Name": "s3"})["ApplicationResponse"]["Id"]
    )


def _objects(s3: Any, prefix: str) -> dict[str, bytes]:
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return {
        item["Key"]: s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read() for item in listed
    }


def _lines(objects: dict[str, bytes]) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for key in sorted(objects)
        for line in gzip.decompress(objects[key]).decode().splitlines()
    ]


def test_export_to_s3_and_import_back_from_s3(sc: Any, s3: Any) -> None:
    source = _app(sc)
    put_endpoints(sc, source, varied_endpoints(150))
    job = export(sc, source, f"s3://{BUCKET}/exports/")
    assert (job["JobStatus"], job["TotalProcessed"]) == ("COMPLETED", 150)
    written = _objects(s3, f"exports/{job['Id']}/")
    assert list(written) == [f"exports/{job['Id']}/part-00000.json.gz"]

    copy = _app(sc)
    imported = import_(sc, copy, f"s3://{BUCKET}/exports/{job['Id']}")
    assert (imported["JobStatus"], imported["TotalProcessed"], imported["TotalFailures"]) == (
        "COMPLETED",
        150,
        0,
    )
    again = export(sc, copy, f"s3://{BUCKET}/copy")
    assert without_app_id(_lines(_objects(s3, f"copy/{again['Id']}/"))) == without_app_id(
        _lines(written)
    )


def test_import_of_one_csv_object_from_s3(sc: Any, s3: Any) -> None:
    app = _app(sc)
    s3.put_object(
        Bucket=BUCKET,
        Key="imports/list.csv",
        Body=b"Id,ChannelType,Address,User.UserId\nm1,EMAIL,m1@example.com,u9\n",
    )
    job = import_(sc, app, f"s3://{BUCKET}/imports/list.csv", "CSV")
    assert (job["JobStatus"], job["TotalProcessed"], job["TotalPieces"]) == ("COMPLETED", 1, 1)
    user = sc.get_user_endpoints(ApplicationId=app, UserId="u9")["EndpointsResponse"]["Item"]
    assert [e["Id"] for e in user] == ["m1"]


def test_a_missing_bucket_fails_the_job_with_the_store_s_reason(sc: Any) -> None:
    app = _app(sc)
    job = import_(sc, app, "s3://no-such-bucket/x.json")
    assert job["JobStatus"] == "FAILED"
    assert "NoSuchBucket" in job["Failures"][0]
    put_endpoints(sc, app, varied_endpoints(1))
    exported = export(sc, app, "s3://no-such-bucket/out")
    assert exported["JobStatus"] == "FAILED"
    assert "NoSuchBucket" in exported["Failures"][0]


def test_cli_imports_from_s3(s3_endpoint: str, s3: Any, sc: Any, s3_server: RunningServer) -> None:
    app = _app(sc)
    s3.put_object(
        Bucket=BUCKET,
        Key="cli/rows.ndjson.gz",
        Body=gzip.compress(b'{"Id":"cli-1","ChannelType":"SMS","Address":"+15555550199"}\n'),
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "openpinpoint",
            "import",
            f"s3://{BUCKET}/cli/",
            "--app",
            app,
            "--db",
            str(s3_server.db_url),
            "--s3-endpoint-url",
            s3_endpoint,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, **S3_ENV},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert sc.get_endpoint(ApplicationId=app, EndpointId="cli-1")["EndpointResponse"]["Address"]
