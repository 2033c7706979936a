"""Acknowledged writes survive SIGKILL; SIGTERM/SIGINT finish requests in flight (G12).

Every test runs on each store. A kill -9 cannot show a missing fsync (the operating system
still writes the page cache out), so the connections that write are also checked for the
settings that make a commit wait for the disk.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import TEST_KEY, RunningServer, sqlite_url
from openpinpoint.store.base import WriteTx
from openpinpoint.store.open import open_store
from rawhttp import Prepared, connect, sign


def _commit_setting(tx: WriteTx) -> Any:
    """How the connection that runs this write transaction commits."""
    conn = tx._conn  # type: ignore[attr-defined]  # the store's own connection, on purpose
    if conn.__class__.__module__.startswith("sqlite3"):
        return conn.execute("PRAGMA synchronous").fetchone()[0]
    return conn.execute("SHOW synchronous_commit").fetchone()[0]


def test_g12_commits_wait_for_the_disk(empty_store_url: str) -> None:
    """SQLite writes with synchronous=FULL (2): in WAL mode NORMAL would lose the last
    commits on a power cut. PostgreSQL must not have synchronous_commit off, which
    acknowledges a commit before its WAL record is flushed."""

    async def setting() -> Any:
        store = open_store(empty_store_url)
        try:
            return await store.write(_commit_setting)
        finally:
            await store.close()

    found = asyncio.run(setting())
    if empty_store_url.startswith("sqlite"):
        assert found == 2
    else:
        assert found in ("on", "remote_write", "remote_apply", "local")


def test_g12_acknowledged_writes_survive_kill_9(empty_store_url: str) -> None:
    url = empty_store_url
    first = RunningServer(url)
    client = first.client()
    app_id = client.create_app(CreateApplicationRequest={"Name": "durable"})["ApplicationResponse"][
        "Id"
    ]
    written = 300
    for i in range(written):
        client.update_endpoint(
            ApplicationId=app_id,
            EndpointId=f"e{i}",
            EndpointRequest={"Address": f"user{i}@example.com", "User": {"UserId": f"u{i % 20}"}},
        )
    first.kill()
    assert first.process.returncode == -signal.SIGKILL

    second = RunningServer(url)
    try:
        client = second.client()
        for i in range(written):
            endpoint = client.get_endpoint(ApplicationId=app_id, EndpointId=f"e{i}")
            assert endpoint["EndpointResponse"]["Address"] == f"user{i}@example.com"
        total = sum(
            len(
                client.get_user_endpoints(ApplicationId=app_id, UserId=f"u{u}")[
                    "EndpointsResponse"
                ]["Item"]
            )
            for u in range(20)
        )
        assert total == written
    finally:
        second.stop()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_shutdown_signal_finishes_the_request_in_flight(empty_store_url: str, sig: int) -> None:
    server = RunningServer(empty_store_url)
    client = server.client()
    app_id = client.create_app(CreateApplicationRequest={"Name": "graceful"})[
        "ApplicationResponse"
    ]["Id"]
    body = json.dumps({"Address": "late@example.com", "ChannelType": "EMAIL"}).encode()
    path = f"/v1/apps/{app_id}/endpoints/in-flight"
    signed = sign(
        server.url, TEST_KEY, Prepared("PUT", path, {"Content-Type": "application/json"}, body)
    )
    conn = connect(server.url)
    conn.putrequest("PUT", signed.path, skip_host=True)
    for name, value in signed.headers.items():
        conn.putheader(name, value)
    conn.putheader("Content-Length", str(len(body)))
    conn.endheaders()
    conn.send(body[:10])
    server.process.send_signal(sig)
    server.wait_for_log("Shutting down")
    conn.send(body[10:])
    response = conn.getresponse()
    assert response.status == 202
    conn.close()
    assert server.process.wait(timeout=60) in (0, -sig, 128 + sig)
    server.wait_for_log("OpenPinpoint stopped")
    assert "Traceback" not in server.log

    restarted = RunningServer(server.db_url)
    try:
        endpoint = restarted.client().get_endpoint(ApplicationId=app_id, EndpointId="in-flight")
        assert endpoint["EndpointResponse"]["Address"] == "late@example.com"
    finally:
        restarted.stop()


def _documented_backup_command() -> str:
    """The SQLite backup line of docs/deployment.md, as an operator would paste it."""
    lines = (Path(__file__).parent.parent / "docs" / "deployment.md").read_text().splitlines()
    marker = next(i for i, line in enumerate(lines) if "backup-sqlite:" in line)
    return next(line for line in lines[marker:] if line.startswith("/opt/openpinpoint/bin/python"))


def test_the_documented_sqlite_backup_of_a_running_server_is_complete(tmp_path: Path) -> None:
    live, backup = tmp_path / "live.db", tmp_path / "backup.db"
    server = RunningServer(sqlite_url(live))
    try:
        client = server.client()
        app_id = client.create_app(CreateApplicationRequest={"Name": "kept"})[
            "ApplicationResponse"
        ]["Id"]
        for i in range(50):
            client.update_endpoint(
                ApplicationId=app_id, EndpointId=f"e{i}", EndpointRequest={"Address": f"a{i}"}
            )
        command = (
            _documented_backup_command()
            .replace("/opt/openpinpoint/bin/python", sys.executable)
            .replace("/var/lib/openpinpoint/openpinpoint.db", str(live))
            .replace("/var/backups/openpinpoint.db", str(backup))
        )
        subprocess.run(["sh", "-c", command], check=True, timeout=60)
    finally:
        server.stop()
    restored = RunningServer(sqlite_url(backup))
    try:
        client = restored.client()
        assert client.get_app(ApplicationId=app_id)["ApplicationResponse"]["Name"] == "kept"
        endpoint = client.get_endpoint(ApplicationId=app_id, EndpointId="e49")
        assert endpoint["EndpointResponse"]["Address"] == "a49"
    finally:
        restored.stop()
