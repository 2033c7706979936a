"""Native push end to end: real boto3 against a server whose `direct` back end (the default)
sends to the FCM and APNs fakes (P1–P3, M5, M7, C2 over the wire)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import RunningServer
from pushfakes import ApnsFake, Clock, FcmFake, Pki, RealClock, apns, fcm, pki
from sendtools import endpoint, send, send_users, sending_server

__all__ = ["apns", "fcm", "pki"]  # fixtures


@pytest.fixture
def clock() -> Clock:
    """The server signs tokens with the real time, so the fakes check against it too."""
    return RealClock()


@pytest.fixture
def pusher(
    store_url: str, tmp_path: Path, fcm: FcmFake, apns: ApnsFake, pki: Pki
) -> Iterator[RunningServer]:
    with sending_server(
        store_url,
        tmp_path / "outbox",
        "--push-backend",
        "direct",
        "--fcm-url",
        fcm.url,
        "--apns-url",
        apns.url,
        "--apns-sandbox-url",
        apns.url,
        "--push-ca-file",
        str(pki.ca_file),
        "--delivery-timeout",
        "2",
    ) as server:
        yield server


@pytest.fixture
def pinpoint(pusher: RunningServer) -> Any:
    return pusher.client()


def push_app(pinpoint: Any, fcm: FcmFake, apns: ApnsFake) -> str:
    """An app with GCM (service account), APNS (token key) and APNS_SANDBOX (certificate)."""
    app = str(
        pinpoint.create_app(CreateApplicationRequest={"Name": "push"})["ApplicationResponse"]["Id"]
    )
    pinpoint.update_gcm_channel(
        ApplicationId=app, GCMChannelRequest={"ServiceJson": fcm.service_json()}
    )
    pinpoint.update_apns_channel(ApplicationId=app, APNSChannelRequest=apns.token_channel())
    pinpoint.update_apns_sandbox_channel(
        ApplicationId=app, APNSSandboxChannelRequest=apns.certificate_channel()
    )
    return app


def test_p1_p2_send_users_messages_reaches_fcm_and_apns(
    pinpoint: Any, fcm: FcmFake, apns: ApnsFake
) -> None:
    app = push_app(pinpoint, fcm, apns)
    endpoint(pinpoint, app, "android", Address="fcm-1", ChannelType="GCM", User={"UserId": "u1"})
    endpoint(pinpoint, app, "iphone", Address="a" * 64, ChannelType="APNS", User={"UserId": "u1"})
    endpoint(
        pinpoint, app, "ipad", Address="b" * 64, ChannelType="APNS_SANDBOX", User={"UserId": "u1"}
    )
    message = {
        "DefaultPushNotificationMessage": {
            "Title": "Sale",
            "Body": "50% off",
            "Action": "DEEP_LINK",
            "Url": "shop://sale",
            "Data": {"sale": "s1"},
        }
    }
    result = send_users(pinpoint, app, message, "u1")["Result"]["u1"]
    assert {k: v["DeliveryStatus"] for k, v in result.items()} == {
        "android": "SUCCESSFUL",
        "iphone": "SUCCESSFUL",
        "ipad": "SUCCESSFUL",
    }
    assert result["android"]["MessageId"].startswith("projects/demo-project/messages/")
    [message_sent] = fcm.messages
    data = message_sent["data"]
    assert (data["pinpoint.notification.title"], data["pinpoint.deeplink"]) == (
        "Sale",
        "shop://sale",
    )
    assert data["sale"] == "s1"
    by_token = {r.token: r for r in apns.received}
    assert not by_token["a" * 64].certificate_auth
    assert by_token["b" * 64].certificate_auth
    body = by_token["a" * 64].body
    assert body["aps"]["alert"] == {"title": "Sale", "body": "50% off"}
    assert body["data"]["pinpoint"]["deeplink"] == "shop://sale"
    assert result["iphone"]["MessageId"]


def test_m7_unregistered_token_makes_the_endpoint_inactive(
    pinpoint: Any, fcm: FcmFake, apns: ApnsFake
) -> None:
    app = push_app(pinpoint, fcm, apns)
    endpoint(pinpoint, app, "gone", Address="dead-token", ChannelType="GCM")
    endpoint(pinpoint, app, "bad", Address="c" * 64, ChannelType="APNS")
    fcm.errors["dead-token"] = "UNREGISTERED"
    apns.errors["c" * 64] = "BadDeviceToken"
    message = {"GCMMessage": {"Body": "hi"}, "APNSMessage": {"Body": "hi"}}
    results = send(pinpoint, app, MessageConfiguration=message, Endpoints={"gone": {}, "bad": {}})
    outcomes = {
        k: (v["DeliveryStatus"], v["StatusCode"]) for k, v in results["EndpointResult"].items()
    }
    assert outcomes == {"gone": ("PERMANENT_FAILURE", 404), "bad": ("PERMANENT_FAILURE", 400)}
    for endpoint_id in ("gone", "bad"):
        stored = pinpoint.get_endpoint(ApplicationId=app, EndpointId=endpoint_id)
        assert stored["EndpointResponse"]["EndpointStatus"] == "INACTIVE"
    again = send(pinpoint, app, MessageConfiguration=message, Endpoints={"gone": {}})
    assert again["EndpointResult"]["gone"]["StatusMessage"] == "Endpoint is inactive"


def test_m5_m6_a_stalled_push_service_is_a_temporary_failure_and_holds_up_no_other(
    pinpoint: Any, fcm: FcmFake, apns: ApnsFake
) -> None:
    app = push_app(pinpoint, fcm, apns)
    fcm.errors["stuck-fcm"] = "STALL"
    apns.errors["d" * 64] = "STALL"
    addresses = {
        "stuck-fcm": {"ChannelType": "GCM"},
        "d" * 64: {"ChannelType": "APNS"},
        "fine-fcm": {"ChannelType": "GCM"},
        "e" * 64: {"ChannelType": "APNS"},
    }
    message = {"DefaultPushNotificationMessage": {"Body": "hi"}}
    results = send(pinpoint, app, MessageConfiguration=message, Addresses=addresses)["Result"]
    assert {a: (r["DeliveryStatus"], r["StatusCode"]) for a, r in results.items()} == {
        "stuck-fcm": ("TEMPORARY_FAILURE", 503),
        "d" * 64: ("TEMPORARY_FAILURE", 503),
        "fine-fcm": ("SUCCESSFUL", 200),
        "e" * 64: ("SUCCESSFUL", 200),
    }


def test_m6_three_hundred_pushes_in_one_request_use_one_connection_per_credential(
    pinpoint: Any, fcm: FcmFake, apns: ApnsFake
) -> None:
    app = push_app(pinpoint, fcm, apns)
    batch = []
    for user in range(100):
        for kind, channel in (("g", "GCM"), ("a", "APNS"), ("s", "APNS_SANDBOX")):
            batch.append(
                {
                    "Id": f"{kind}{user}",
                    "Address": f"{kind}{user:063d}",
                    "ChannelType": channel,
                    "User": {"UserId": f"user{user}"},
                }
            )
    for start in range(0, len(batch), 100):
        pinpoint.update_endpoints_batch(
            ApplicationId=app, EndpointBatchRequest={"Item": batch[start : start + 100]}
        )
    message = {"DefaultPushNotificationMessage": {"Title": "T", "Body": "B"}}
    result = send_users(pinpoint, app, message, *(f"user{u}" for u in range(100)))["Result"]
    statuses = {r["DeliveryStatus"] for user in result.values() for r in user.values()}
    assert statuses == {"SUCCESSFUL"}
    assert len(fcm.messages) == 100
    assert len(apns.received) == 200
    assert apns.server.connections == 2  # the token key's and the certificate's
    assert fcm.token_requests == 1


def test_c2_malformed_push_credentials_are_refused_naming_the_member(
    pinpoint: Any, fcm: FcmFake, apns: ApnsFake, pki: Pki
) -> None:
    app = push_app(pinpoint, fcm, apns)
    account = json.loads(fcm.service_json())
    del account["client_email"]
    with pytest.raises(pinpoint.exceptions.BadRequestException, match="client_email"):
        pinpoint.update_gcm_channel(
            ApplicationId=app, GCMChannelRequest={"ServiceJson": json.dumps(account)}
        )
    certificate = apns.certificate_channel()
    other_key = apns.certificate_channel()["PrivateKey"]
    with pytest.raises(pinpoint.exceptions.BadRequestException, match="does not match"):
        pinpoint.update_apns_channel(
            ApplicationId=app, APNSChannelRequest={**certificate, "PrivateKey": other_key}
        )


def test_c2_legacy_api_key_channel_sends_fail_permanently(
    pinpoint: Any, fcm: FcmFake, apns: ApnsFake
) -> None:
    app = str(
        pinpoint.create_app(CreateApplicationRequest={"Name": "legacy"})["ApplicationResponse"][
            "Id"
        ]
    )
    pinpoint.update_gcm_channel(ApplicationId=app, GCMChannelRequest={"ApiKey": "AIzaLegacy"})
    results = send(
        pinpoint,
        app,
        MessageConfiguration={"GCMMessage": {"Body": "hi"}},
        Addresses={"legacy-token": {"ChannelType": "GCM"}},
    )["Result"]["legacy-token"]
    assert (results["DeliveryStatus"], results["StatusCode"]) == ("PERMANENT_FAILURE", 400)
    assert results["StatusMessage"] == "legacy FCM server keys no longer work; set ServiceJson"
