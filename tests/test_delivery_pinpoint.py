"""Forwarding to Amazon Pinpoint (`pinpoint:APP_ID`): a second OpenPinpoint server plays
Pinpoint's surviving address-based SendMessages, and writes what it receives to its own
outbox."""

from __future__ import annotations

from pathlib import Path

from conftest import sqlite_url
from sendtools import endpoint, new_app, records, sending_server

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "AKIDTEST",
    "AWS_SECRET_ACCESS_KEY": "test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def test_m9_pinpoint_forwarding_sends_address_based_messages(tmp_path: Path) -> None:
    remote_outbox = tmp_path / "remote-outbox"
    with sending_server(sqlite_url(tmp_path / "remote.db"), remote_outbox) as remote:
        aws = remote.client()
        remote_app = new_app(aws, email=False)
        aws.update_gcm_channel(ApplicationId=remote_app, GCMChannelRequest={"ApiKey": "k"})
        unconfigured = new_app(aws, email=False, sms=False)
        backend = f"pinpoint:{remote_app}"
        with sending_server(
            sqlite_url(tmp_path / "local.db"),
            tmp_path / "outbox",
            "--sms-backend",
            backend,
            "--push-backend",
            backend,
            env={**AWS_ENV, "AWS_ENDPOINT_URL_PINPOINT": remote.url},
        ) as local:
            client = local.client()
            app = new_app(client)
            client.update_gcm_channel(ApplicationId=app, GCMChannelRequest={"ApiKey": "k"})
            endpoint(client, app, "phone", Address="+12065550123", ChannelType="SMS")
            endpoint(client, app, "device", Address="fcm-token-9", ChannelType="GCM")
            results = client.send_messages(
                ApplicationId=app,
                MessageRequest={
                    "MessageConfiguration": {
                        "SMSMessage": {"Body": "Forwarded", "OriginationNumber": "+18005550199"},
                        "GCMMessage": {"Title": "Hi", "Body": "Push"},
                    },
                    "Endpoints": {"phone": {}, "device": {}},
                },
            )["MessageResponse"]["EndpointResult"]
        with sending_server(
            sqlite_url(tmp_path / "local2.db"),
            tmp_path / "outbox2",
            "--sms-backend",
            f"pinpoint:{unconfigured}",
            env={**AWS_ENV, "AWS_ENDPOINT_URL_PINPOINT": remote.url},
        ) as local:
            client = local.client()
            refused = client.send_messages(
                ApplicationId=new_app(client),
                MessageRequest={
                    "MessageConfiguration": {"SMSMessage": {"Body": "x"}},
                    "Addresses": {"+12065550124": {"ChannelType": "SMS"}},
                },
            )["MessageResponse"]["Result"]["+12065550124"]
    phone, device = results["phone"], results["device"]
    assert (phone["DeliveryStatus"], phone["StatusCode"], phone["Address"]) == (
        "SUCCESSFUL",
        200,
        "+12065550123",
    )
    (sms,) = records(remote_outbox, "sms.jsonl")
    assert sms["MessageId"] == phone["MessageId"]
    assert (sms["ApplicationId"], sms["EndpointId"], sms["To"], sms["From"], sms["Body"]) == (
        remote_app,
        None,
        "+12065550123",
        "+18005550199",
        "Forwarded",
    )
    (push,) = records(remote_outbox, "push.jsonl")
    assert push["MessageId"] == device["MessageId"]
    assert push["Token"] == "fcm-token-9"
    data = push["Payload"]["message"]["data"]
    assert (data["pinpoint.notification.title"], data["pinpoint.notification.body"]) == (
        "Hi",
        "Push",
    )
    assert (refused["DeliveryStatus"], refused["StatusCode"], refused["StatusMessage"]) == (
        "PERMANENT_FAILURE",
        400,
        "The SMS channel is not enabled",
    )
