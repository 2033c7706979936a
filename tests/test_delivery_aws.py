"""Email through Amazon SES v2 (moto's server) and SMS through AWS End User Messaging (a
recording fake of its JSON protocol), both reached by boto3 through the documented
`AWS_ENDPOINT_URL_*` variables."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from conftest import sqlite_url
from sendtools import SIMPLE_EMAIL, new_app, send, sending_server
from smsfake import SmsFake
from test_jobs_s3 import MotoServer

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "delivery-test-key",
    "AWS_SECRET_ACCESS_KEY": "delivery-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}
IDENTITY = "arn:aws:ses:eu-west-1:123456789012:identity/example.com"


@pytest.fixture(scope="module")
def moto() -> Iterator[str]:
    server = MotoServer()
    yield server.url
    server.process.terminate()
    server.process.wait(timeout=30)


def _raw_messages(moto: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{moto}/moto-api/data.json") as answer:
        return list(json.load(answer)["ses"]["RawMessage"])


def test_m9_ses_sends_the_raw_message_with_our_message_id(tmp_path: Path, moto: str) -> None:
    ses = boto3.client("sesv2", endpoint_url=moto, region_name="eu-west-1", **_keys())
    ses.create_email_identity(EmailIdentity="sender@example.com")
    with sending_server(
        sqlite_url(tmp_path / "db.sqlite"),
        tmp_path / "outbox",
        "--email-backend",
        "ses",
        env={**AWS_ENV, "AWS_ENDPOINT_URL_SESV2": moto},
    ) as server:
        client = server.client()
        app = new_app(client)
        client.update_email_channel(
            ApplicationId=app,
            EmailChannelRequest={"FromAddress": "sender@example.com", "Identity": IDENTITY},
        )
        results = send(
            client,
            app,
            MessageConfiguration=SIMPLE_EMAIL,
            Addresses={"to@example.net": {"ChannelType": "EMAIL"}},
        )["Result"]
        refused = send(
            client,
            app,
            MessageConfiguration={
                "EmailMessage": {
                    "FromAddress": "unverified@elsewhere.example",
                    **SIMPLE_EMAIL["EmailMessage"],
                }
            },
            Addresses={"to@example.net": {"ChannelType": "EMAIL"}},
        )["Result"]["to@example.net"]
    result = results["to@example.net"]
    assert (result["DeliveryStatus"], result["StatusCode"]) == ("SUCCESSFUL", 200)
    (raw,) = [m for m in _raw_messages(moto) if f"<{result['MessageId']}>" in m["raw_data"]]
    assert raw["source"] == "sender@example.com"
    assert "to@example.net" in raw["destinations"]
    assert "Subject: Hello" in raw["raw_data"]
    assert (refused["DeliveryStatus"], refused["StatusCode"]) == ("PERMANENT_FAILURE", 400)


def _keys() -> dict[str, str]:
    return {
        "aws_access_key_id": AWS_ENV["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": AWS_ENV["AWS_SECRET_ACCESS_KEY"],
    }


@pytest.fixture
def sms_fake() -> Iterator[SmsFake]:
    fake = SmsFake()
    yield fake
    fake.stop()


def test_m9_aws_sms_sends_text_messages(tmp_path: Path, sms_fake: SmsFake) -> None:
    with sending_server(
        sqlite_url(tmp_path / "db.sqlite"),
        tmp_path / "outbox",
        "--sms-backend",
        "aws",
        env={**AWS_ENV, "AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2": sms_fake.url},
    ) as server:
        client = server.client()
        app = new_app(client)
        numbers = ["+12065550100", "+12065550429", "+12065550400", "+12065550500"]
        results = client.send_messages(
            ApplicationId=app,
            MessageRequest={
                "MessageConfiguration": {
                    "SMSMessage": {
                        "Body": "Code 7",
                        "Keyword": "JOIN",
                        "MessageType": "PROMOTIONAL",
                    }
                },
                "Context": {"order": "42"},
                "Addresses": {n: {"ChannelType": "SMS"} for n in numbers},
            },
        )["MessageResponse"]["Result"]
    statuses = {n: (r["DeliveryStatus"], r["StatusCode"]) for n, r in results.items()}
    assert statuses == {
        "+12065550100": ("SUCCESSFUL", 200),
        "+12065550429": ("THROTTLED", 429),
        "+12065550400": ("PERMANENT_FAILURE", 400),
        "+12065550500": ("TEMPORARY_FAILURE", 500),
    }
    assert results["+12065550100"]["MessageId"].startswith("sms-")
    (sent,) = sms_fake.sent
    assert sent == {
        "DestinationPhoneNumber": "+12065550100",
        "MessageBody": "Code 7",
        "MessageType": "PROMOTIONAL",
        "OriginationIdentity": "Acme",
        "Keyword": "JOIN",
        "Context": {"order": "42"},
    }
