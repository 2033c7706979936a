"""Acknowledged writes survive SIGKILL; SIGTERM/SIGINT finish requests in flight (G12)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from conftest import TEST_KEY, RunningServer, sqlite_url
from rawhttp import Prepared, connect, sign


def test_g12_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "durable.db")
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
def test_shutdown_signal_finishes_the_request_in_flight(tmp_path: Path, sig: int) -> None:
    server = RunningServer(sqlite_url(tmp_path / "graceful.db"))
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
