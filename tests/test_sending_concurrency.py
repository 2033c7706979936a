"""M6: a send answers when every recipient has a result, deliveries run concurrently, and a
back end that does not answer holds up neither other requests nor the server."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from conftest import RunningServer, sqlite_url
from sendtools import SIMPLE_EMAIL, new_app, records, send, sending_server
from smtptools import SilentServer
from webhooktools import WebhookSink


@pytest.fixture
def sink() -> Iterator[WebhookSink]:
    running = WebhookSink()
    yield running
    running.stop()


def _users(client: Any, app: str, count: int) -> None:
    items = []
    for i in range(count):
        user = {"UserId": f"user{i:03d}"}
        items += [
            {
                "Id": f"{i:03d}-mail",
                "Address": f"u{i}@example.com",
                "ChannelType": "EMAIL",
                "User": user,
            },
            {
                "Id": f"{i:03d}-sms",
                "Address": f"+1206555{i:04d}",
                "ChannelType": "SMS",
                "User": user,
            },
            {"Id": f"{i:03d}-push", "Address": f"token-{i}", "ChannelType": "GCM", "User": user},
        ]
    for start in range(0, len(items), 100):
        client.update_endpoints_batch(
            ApplicationId=app, EndpointBatchRequest={"Item": items[start : start + 100]}
        )


def test_m6_one_request_to_100_users_with_3_endpoints_each(
    tmp_path: Path, sink: WebhookSink
) -> None:
    with sending_server(
        sqlite_url(tmp_path / "db.sqlite"),
        tmp_path / "outbox",
        "--sms-backend",
        sink.url + "/answer/200",
    ) as server:
        client = server.client()
        app = new_app(client)
        client.update_gcm_channel(ApplicationId=app, GCMChannelRequest={"ApiKey": "k"})
        _users(client, app, 100)
        message = {
            **SIMPLE_EMAIL,
            "SMSMessage": {"Body": "sms"},
            "GCMMessage": {"Title": "t", "Body": "push"},
        }
        result = client.send_users_messages(
            ApplicationId=app,
            SendUsersMessageRequest={
                "MessageConfiguration": message,
                "Users": {f"user{i:03d}": {} for i in range(100)},
            },
        )["SendUsersMessageResponse"]["Result"]
    assert len(result) == 100
    for i, (user, endpoints) in enumerate(result.items()):
        assert user == f"user{i:03d}"
        assert set(endpoints) == {f"{i:03d}-mail", f"{i:03d}-sms", f"{i:03d}-push"}
        assert {r["DeliveryStatus"] for r in endpoints.values()} == {"SUCCESSFUL"}
    assert len(sink.received) == 100
    assert len(records(tmp_path / "outbox", "push.jsonl")) == 100


def test_m6_a_back_end_that_hangs_holds_up_no_other_request(
    tmp_path: Path, sink: WebhookSink
) -> None:
    with (
        sending_server(
            sqlite_url(tmp_path / "db.sqlite"),
            tmp_path / "outbox",
            "--sms-backend",
            sink.url + "/hang",
            "--delivery-timeout",
            "120",
        ) as server,
        ThreadPoolExecutor(1) as pool,
    ):
        client = server.client()
        app = new_app(client)
        hanging = pool.submit(
            send,
            server.client(),
            app,
            MessageConfiguration={"SMSMessage": {"Body": "x"}},
            Addresses={"+12065550100": {"ChannelType": "SMS"}},
        )
        _wait_for_hook(server, sink)
        # The SMS request waits on the webhook; the server goes on serving others.
        assert client.get_app(ApplicationId=app)["ApplicationResponse"]["Id"] == app
        mail = send(
            client,
            app,
            MessageConfiguration=SIMPLE_EMAIL,
            Addresses={"a@example.com": {"ChannelType": "EMAIL"}},
        )
        assert mail["Result"]["a@example.com"]["DeliveryStatus"] == "SUCCESSFUL"
        assert not hanging.done()
        sink.release.set()
        assert hanging.result()["Result"]["+12065550100"]["DeliveryStatus"] == "SUCCESSFUL"


def _wait_for_hook(server: RunningServer, sink: WebhookSink) -> None:
    """Until the webhook has the request (the server logs nothing for it before then)."""
    for _ in range(6000):
        if sink.received:
            return
        sink.release.wait(0.01)
    raise AssertionError("the webhook never received the message")


def test_m6_a_provider_that_never_answers_starves_nothing_else(tmp_path: Path) -> None:
    """Blocking AWS calls wait on threads of their own: while 100 of them hang, writes
    (whose SQLite commits also run on a thread) go on."""
    silent = SilentServer()
    try:
        with (
            sending_server(
                sqlite_url(tmp_path / "db.sqlite"),
                tmp_path / "outbox",
                "--sms-backend",
                "aws",
                "--delivery-timeout",
                "60",
                env={
                    "AWS_ACCESS_KEY_ID": "k",
                    "AWS_SECRET_ACCESS_KEY": "s",
                    "AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2": f"http://127.0.0.1:{silent.port}",
                },
            ) as server,
            ThreadPoolExecutor(1) as pool,
        ):
            client = server.client()
            app = new_app(client)
            hanging = pool.submit(
                send,
                server.client(read_timeout=300, retries={"max_attempts": 1}),
                app,
                MessageConfiguration={"SMSMessage": {"Body": "x"}},
                Addresses={f"+1206555{i:04d}": {"ChannelType": "SMS"} for i in range(100)},
            )
            while len(silent.accepted) < 8 and not hanging.done():
                silent.wait_for_connection()
            for i in range(5):
                client.update_endpoint(
                    ApplicationId=app,
                    EndpointId=f"e{i}",
                    EndpointRequest={"Address": f"e{i}@example.com", "ChannelType": "EMAIL"},
                )
            assert not hanging.done()
            silent.stop()
            results = hanging.result()["Result"]
        assert {r["DeliveryStatus"] for r in results.values()} == {"TEMPORARY_FAILURE"}
    finally:
        silent.stop()
