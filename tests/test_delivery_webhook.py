"""SMS through a provider webhook (M11): the payload, its HMAC signature, and every class
of answer mapped as M5, against a real HTTP receiver."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import sqlite_url
from openpinpoint.delivery.base import Delivery, Outcome, Sms
from openpinpoint.delivery.webhook import WebhookBackend
from sendtools import endpoint, new_app, sending_server
from webhooktools import WebhookSink

SECRET = "webhook-signing-key"


@pytest.fixture
def sink() -> Iterator[WebhookSink]:
    running = WebhookSink()
    yield running
    running.stop()


def test_m11_webhook_payload_and_signature(tmp_path: Path, sink: WebhookSink) -> None:
    with sending_server(
        sqlite_url(tmp_path / "db.sqlite"),
        tmp_path / "outbox",
        "--sms-backend",
        f"{sink.url}/answer/202",
        env={"OPENPINPOINT_WEBHOOK_SECRET": SECRET},
    ) as server:
        client = server.client()
        app = new_app(client)
        endpoint(client, app, "phone", Address="+12065550142", ChannelType="SMS")
        result = client.send_messages(
            ApplicationId=app,
            MessageRequest={
                "MessageConfiguration": {
                    "SMSMessage": {"Body": "Code 9", "MessageType": "PROMOTIONAL", "Keyword": "K"}
                },
                "Endpoints": {"phone": {}},
            },
        )["MessageResponse"]["EndpointResult"]["phone"]
        assert SECRET not in server.log
    assert (result["DeliveryStatus"], result["StatusCode"]) == ("SUCCESSFUL", 200)
    assert result["MessageId"] == "provider-1"
    (hook,) = sink.received
    assert hook.headers["Content-Type"] == "application/json"
    expected = hmac.new(SECRET.encode(), hook.body, hashlib.sha256).hexdigest()
    assert hook.headers["X-OpenPinpoint-Signature"] == f"sha256={expected}"
    payload = json.loads(hook.body)
    message_id = payload.pop("MessageId")
    assert message_id
    assert payload == {
        "ApplicationId": app,
        "EndpointId": "phone",
        "To": "+12065550142",
        "From": "Acme",
        "Body": "Code 9",
        "MessageType": "PROMOTIONAL",
        "Keyword": "K",
    }


def _deliver(url: str, *, secret: str | None = None, timeout: float = 5) -> Outcome:
    async def run() -> Outcome:
        backend = WebhookBackend(url, timeout=timeout, secret=secret)
        try:
            delivery = Delivery(
                request_id="r",
                application_id="a",
                endpoint_id=None,
                address="+12065550100",
                content=Sms(to="+12065550100", body="hi"),
            )
            async with asyncio.timeout(10):
                return await backend.deliver(delivery)
        finally:
            await backend.close()

    return asyncio.run(run())


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/answer/429", "THROTTLED", 429),
        ("/answer/500", "TEMPORARY_FAILURE", 500),
        ("/answer/503", "TEMPORARY_FAILURE", 503),
        ("/answer/400", "PERMANENT_FAILURE", 400),
        ("/answer/404", "PERMANENT_FAILURE", 404),
        ("/answer/302", "UNKNOWN_FAILURE", 500),
    ],
)
def test_m5_webhook_answers_map_to_results(
    sink: WebhookSink, path: str, status: str, code: int
) -> None:
    outcome = _deliver(sink.url + path)
    assert (outcome.status, outcome.status_code, outcome.message_id) == (status, code, None)


def test_m11_webhook_without_message_id_gets_a_generated_one(sink: WebhookSink) -> None:
    outcome = _deliver(sink.url + "/answer/200/no-id")
    assert outcome.status == "SUCCESSFUL"
    assert outcome.message_id
    assert json.loads(sink.received[0].body)["MessageId"] == outcome.message_id
    assert "X-OpenPinpoint-Signature" not in sink.received[0].headers


def test_m5_webhook_that_never_answers_is_temporary_failure(sink: WebhookSink) -> None:
    outcome = _deliver(sink.url + "/hang", timeout=0.5)
    assert (outcome.status, outcome.status_code) == ("TEMPORARY_FAILURE", 503)


def test_m5_webhook_connection_refused_is_temporary_failure() -> None:
    outcome = _deliver("http://127.0.0.1:1/")
    assert (outcome.status, outcome.status_code) == ("TEMPORARY_FAILURE", 503)
