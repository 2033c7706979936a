"""SendMessages and SendUsersMessages over real boto3, delivered to the outbox: who
receives (M2), who is skipped (M3), what they get (M4), the results (M5), the log (M8)
and the outbox format (M10). One test per rule, named after it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import RunningServer
from sendtools import (
    SIMPLE_EMAIL,
    emails,
    endpoint,
    new_app,
    records,
    send,
    send_users,
    sending_server,
)


@pytest.fixture(scope="module")
def outbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("outbox")


@pytest.fixture(scope="module")
def sender(store_url: str, outbox: Path) -> Iterator[RunningServer]:
    with sending_server(store_url, outbox) as server:
        yield server


@pytest.fixture
def pinpoint(sender: RunningServer) -> Any:
    return sender.client()


@pytest.fixture
def app(pinpoint: Any) -> str:
    return new_app(pinpoint)


def _only(result: dict[str, Any]) -> dict[str, Any]:
    assert len(result) == 1
    return next(iter(result.values()))


def _status(result: dict[str, Any]) -> tuple[str, int]:
    return result["DeliveryStatus"], result["StatusCode"]


def _bad_request(pinpoint: Any, call: Any, match: str) -> None:
    with pytest.raises(pinpoint.exceptions.BadRequestException, match=match):
        call()


# M1


def test_m1_send_messages_takes_1_to_100_recipients(pinpoint: Any, app: str, outbox: Path) -> None:
    before = len(records(outbox, "sms.jsonl"))
    too_many = {f"+1206555{i:04d}": {"ChannelType": "SMS"} for i in range(101)}
    message = {"SMSMessage": {"Body": "hi"}}
    _bad_request(
        pinpoint,
        lambda: send(pinpoint, app, MessageConfiguration=message, Addresses=too_many),
        "1-100",
    )
    _bad_request(pinpoint, lambda: send(pinpoint, app, MessageConfiguration=message), "1-100")
    fifty = dict(list(too_many.items())[:50])
    endpoints: dict[str, Any] = {f"e{i}": {} for i in range(51)}
    _bad_request(
        pinpoint,
        lambda: send(
            pinpoint, app, MessageConfiguration=message, Addresses=fifty, Endpoints=endpoints
        ),
        "101",
    )
    assert len(records(outbox, "sms.jsonl")) == before


def test_m1_send_users_messages_takes_1_to_100_users(pinpoint: Any, app: str) -> None:
    users = [f"u{i}" for i in range(101)]
    _bad_request(pinpoint, lambda: send_users(pinpoint, app, SIMPLE_EMAIL, *users), "1-100")


def test_m1_every_address_needs_a_channel_type(pinpoint: Any, app: str) -> None:
    _bad_request(
        pinpoint,
        lambda: send(
            pinpoint,
            app,
            MessageConfiguration={"SMSMessage": {"Body": "x"}},
            Addresses={"+12065550100": {"ChannelType": "SMS"}, "+12065550101": {}},
        ),
        "ChannelType",
    )


def test_m1_recipient_ids_obey_g8(pinpoint: Any, app: str) -> None:
    _bad_request(
        pinpoint,
        lambda: send(pinpoint, app, MessageConfiguration={}, Endpoints={"bad$id": {}}),
        "invalid",
    )
    _bad_request(pinpoint, lambda: send_users(pinpoint, app, {}, "bad{user}"), "invalid")


# M2


def test_m2_users_receive_on_all_their_endpoints(pinpoint: Any, app: str, outbox: Path) -> None:
    endpoint(
        pinpoint,
        app,
        "b-mail",
        Address="ann@example.com",
        ChannelType="EMAIL",
        User={"UserId": "ann"},
    )
    endpoint(
        pinpoint, app, "a-sms", Address="+12065550111", ChannelType="SMS", User={"UserId": "ann"}
    )
    endpoint(
        pinpoint,
        app,
        "other",
        Address="bob@example.com",
        ChannelType="EMAIL",
        User={"UserId": "bob"},
    )
    message = {**SIMPLE_EMAIL, "SMSMessage": {"Body": "Your code is 1234"}}
    result = send_users(pinpoint, app, message, "ann", "nobody")
    assert result["ApplicationId"] == app
    assert result["Result"]["nobody"] == {}
    ann = result["Result"]["ann"]
    assert set(ann) == {"b-mail", "a-sms"}
    assert ann["b-mail"]["Address"] == "ann@example.com"
    assert ann["a-sms"]["Address"] == "+12065550111"
    assert {_status(r) for r in ann.values()} == {("SUCCESSFUL", 200)}


def test_m2_unknown_endpoint_is_not_found_and_has_no_address(pinpoint: Any, app: str) -> None:
    result = send(pinpoint, app, MessageConfiguration=SIMPLE_EMAIL, Endpoints={"ghost": {}})
    ghost = result["EndpointResult"]["ghost"]
    assert (ghost["DeliveryStatus"], ghost["StatusCode"], ghost["StatusMessage"]) == (
        "PERMANENT_FAILURE",
        404,
        "Endpoint not found",
    )
    assert "Address" not in ghost


def test_m2_addresses_are_sent_as_given(pinpoint: Any, app: str, outbox: Path) -> None:
    result = send(
        pinpoint,
        app,
        MessageConfiguration={"SMSMessage": {"Body": "As given"}},
        Addresses={"+12065550199": {"ChannelType": "SMS"}},
    )
    sent = result["Result"]["+12065550199"]
    assert _status(sent) == ("SUCCESSFUL", 200)
    assert "Address" not in sent
    record = next(r for r in records(outbox, "sms.jsonl") if r["MessageId"] == sent["MessageId"])
    assert (record["To"], record["EndpointId"], record["Body"]) == (
        "+12065550199",
        None,
        "As given",
    )


# M3: one test per skip rule


def _endpoint_result(pinpoint: Any, app: str, message: dict[str, Any], **members: Any) -> Any:
    endpoint(pinpoint, app, "target", **members)
    return send(pinpoint, app, MessageConfiguration=message, Endpoints={"target": {}})[
        "EndpointResult"
    ]["target"]


def test_m3_opt_out_is_skipped(pinpoint: Any, app: str) -> None:
    result = _endpoint_result(
        pinpoint, app, SIMPLE_EMAIL, Address="opt@example.com", ChannelType="EMAIL", OptOut="ALL"
    )
    assert _status(result) == ("OPT_OUT", 400)
    assert result["Address"] == "opt@example.com"
    assert "MessageId" not in result


def test_m3_inactive_is_skipped(pinpoint: Any, app: str) -> None:
    result = _endpoint_result(
        pinpoint,
        app,
        SIMPLE_EMAIL,
        Address="gone@example.com",
        ChannelType="EMAIL",
        EndpointStatus="INACTIVE",
    )
    assert _status(result) == ("PERMANENT_FAILURE", 400)
    assert result["StatusMessage"] == "Endpoint is inactive"


def test_m3_channel_absent_is_skipped(pinpoint: Any) -> None:
    app = new_app(pinpoint, email=False)
    result = _endpoint_result(
        pinpoint, app, SIMPLE_EMAIL, Address="x@example.com", ChannelType="EMAIL"
    )
    assert _status(result) == ("PERMANENT_FAILURE", 400)
    assert result["StatusMessage"] == "The EMAIL channel is not enabled"


def test_m3_channel_disabled_is_skipped(pinpoint: Any, app: str) -> None:
    pinpoint.update_sms_channel(ApplicationId=app, SMSChannelRequest={"Enabled": False})
    result = send(
        pinpoint,
        app,
        MessageConfiguration={"SMSMessage": {"Body": "x"}},
        Addresses={"+12065550100": {"ChannelType": "SMS"}},
    )["Result"]["+12065550100"]
    assert _status(result) == ("PERMANENT_FAILURE", 400)
    assert result["StatusMessage"] == "The SMS channel is not enabled"


@pytest.mark.parametrize(
    ("channel", "message"),
    [
        ("SMS", SIMPLE_EMAIL),
        ("EMAIL", {"SMSMessage": {"Body": "x"}}),
        ("EMAIL", {"EmailMessage": {"SimpleEmail": {"TextPart": {"Data": "no subject"}}}}),
    ],
    ids=["sms-with-only-email", "email-with-only-sms", "email-without-subject"],
)
def test_m3_nothing_to_send_is_skipped(
    pinpoint: Any, app: str, channel: str, message: dict[str, Any]
) -> None:
    address = "+12065550100" if channel == "SMS" else "to@example.com"
    result = send(
        pinpoint, app, MessageConfiguration=message, Addresses={address: {"ChannelType": channel}}
    )["Result"][address]
    assert _status(result) == ("PERMANENT_FAILURE", 400)
    assert result["StatusMessage"]


@pytest.mark.parametrize("channel", ["ADM", "BAIDU", "VOICE", "CUSTOM", "IN_APP"])
def test_m3_unsupported_channel_is_skipped(pinpoint: Any, app: str, channel: str) -> None:
    result = send(
        pinpoint,
        app,
        MessageConfiguration={"DefaultMessage": {"Body": "x"}},
        Addresses={"somewhere": {"ChannelType": channel}},
    )["Result"]["somewhere"]
    assert _status(result) == ("PERMANENT_FAILURE", 400)
    assert "not supported" in result["StatusMessage"]


def test_m3_duplicate_address_is_sent_once(pinpoint: Any, app: str, outbox: Path) -> None:
    endpoint(pinpoint, app, "dup", Address="+12065550177", ChannelType="SMS")
    before = len(records(outbox, "sms.jsonl"))
    result = send(
        pinpoint,
        app,
        MessageConfiguration={"SMSMessage": {"Body": "once"}},
        Addresses={"+12065550177": {"ChannelType": "SMS"}},
        Endpoints={"dup": {}},
    )
    assert _status(result["Result"]["+12065550177"]) == ("SUCCESSFUL", 200)
    assert _status(result["EndpointResult"]["dup"]) == ("DUPLICATE", 400)
    assert len(records(outbox, "sms.jsonl")) == before + 1


def test_m3_checks_run_in_order(pinpoint: Any) -> None:
    app = new_app(pinpoint, email=False)
    # Channel absent, inactive and opted out at once: the channel decides.
    result = _endpoint_result(
        pinpoint,
        app,
        SIMPLE_EMAIL,
        Address="all@example.com",
        ChannelType="EMAIL",
        EndpointStatus="INACTIVE",
        OptOut="ALL",
    )
    assert result["StatusMessage"] == "The EMAIL channel is not enabled"
    # Inactive and opted out: inactive decides.
    result = _endpoint_result(
        pinpoint,
        app,
        {"SMSMessage": {"Body": "x"}},
        Address="+12065550166",
        ChannelType="SMS",
        EndpointStatus="INACTIVE",
        OptOut="ALL",
    )
    assert result["StatusMessage"] == "Endpoint is inactive"
    # Opted out with nothing to send: OPT_OUT decides.
    result = _endpoint_result(
        pinpoint,
        app,
        SIMPLE_EMAIL,
        Address="+12065550166",
        ChannelType="SMS",
        EndpointStatus="ACTIVE",
        OptOut="ALL",
    )
    assert result["DeliveryStatus"] == "OPT_OUT"


# M4


def test_m4_email_content_and_from_address(pinpoint: Any, app: str, outbox: Path) -> None:
    message = {
        "EmailMessage": {
            "FromAddress": "News <news@example.org>",
            "SimpleEmail": {
                **SIMPLE_EMAIL["EmailMessage"]["SimpleEmail"],
                "Headers": [{"Name": "X-Campaign", "Value": "spring"}],
            },
        },
        "DefaultMessage": {"Body": "ignored"},
    }
    result = send(
        pinpoint,
        app,
        MessageConfiguration=message,
        Addresses={"to@example.com": {"ChannelType": "EMAIL"}},
    )["Result"]["to@example.com"]
    mail = _email(outbox, result["MessageId"])
    assert (mail["From"], mail["To"], mail["Subject"], mail["X-Campaign"]) == (
        "News <news@example.org>",
        "to@example.com",
        "Hello",
        "spring",
    )
    assert mail.get_content_type() == "multipart/alternative"
    parts = {part.get_content_type(): part.get_payload(decode=True) for part in mail.walk()}
    assert parts["text/plain"].strip() == b"Plain text"
    assert parts["text/html"].strip() == b"<p>HTML</p>"


def test_m4_email_default_message_with_the_simple_email_subject(
    pinpoint: Any, app: str, outbox: Path
) -> None:
    message = {
        "EmailMessage": {"SimpleEmail": {"Subject": {"Data": "Subject only"}}},
        "DefaultMessage": {"Body": "The default body"},
    }
    result = send(
        pinpoint,
        app,
        MessageConfiguration=message,
        Addresses={"to@example.com": {"ChannelType": "EMAIL"}},
    )["Result"]["to@example.com"]
    mail = _email(outbox, result["MessageId"])
    assert mail["From"] == "sender@example.com"
    assert mail["Subject"] == "Subject only"
    assert mail.get_payload(decode=True).strip() == b"The default body"


def test_m4_raw_email_is_sent_as_is_with_our_message_id(
    pinpoint: Any, app: str, outbox: Path
) -> None:
    raw = (
        b"From: raw@example.com\r\nTo: to@example.com\r\nSubject: Raw\r\n"
        b"Message-ID: <theirs@x>\r\n\r\nRaw body\r\n"
    )
    message = {"EmailMessage": {"RawEmail": {"Data": raw}}}
    result = send(
        pinpoint,
        app,
        MessageConfiguration=message,
        Addresses={"to@example.com": {"ChannelType": "EMAIL"}},
    )["Result"]["to@example.com"]
    mail = _email(outbox, result["MessageId"])
    assert (mail["Subject"], mail.get_payload().strip()) == ("Raw", "Raw body")


def test_m4_sms_content_precedence_and_origination(pinpoint: Any, app: str, outbox: Path) -> None:
    endpoint(pinpoint, app, "phone", Address="+12065550155", ChannelType="SMS")
    first = send(
        pinpoint,
        app,
        MessageConfiguration={
            "SMSMessage": {
                "Body": "SMS body",
                "OriginationNumber": "+18005550100",
                "Keyword": "JOIN",
            },
            "DefaultMessage": {"Body": "default"},
        },
        Endpoints={"phone": {}},
    )["EndpointResult"]["phone"]
    second = send(
        pinpoint,
        app,
        MessageConfiguration={"DefaultMessage": {"Body": "default body"}},
        Endpoints={"phone": {}},
    )["EndpointResult"]["phone"]
    by_id = {r["MessageId"]: r for r in records(outbox, "sms.jsonl")}
    one, two = by_id[first["MessageId"]], by_id[second["MessageId"]]
    assert (one["Body"], one["From"], one["Keyword"], one["MessageType"]) == (
        "SMS body",
        "+18005550100",
        "JOIN",
        "TRANSACTIONAL",
    )
    assert (two["Body"], two["From"], two["EndpointId"], two["ApplicationId"]) == (
        "default body",
        "Acme",
        "phone",
        app,
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", two["Time"])


def test_m4_body_and_title_overrides(pinpoint: Any, app: str, outbox: Path) -> None:
    endpoint(pinpoint, app, "m", Address="over@example.com", ChannelType="EMAIL")
    result = pinpoint.send_messages(
        ApplicationId=app,
        MessageRequest={
            "MessageConfiguration": SIMPLE_EMAIL,
            "Endpoints": {"m": {"BodyOverride": "Overridden", "TitleOverride": "New subject"}},
        },
    )["MessageResponse"]["EndpointResult"]["m"]
    mail = _email(outbox, result["MessageId"])
    assert mail["Subject"] == "New subject"
    assert mail.get_payload(decode=True).strip() == b"Overridden"


def _gcm_app(pinpoint: Any) -> str:
    app = new_app(pinpoint)
    pinpoint.update_gcm_channel(ApplicationId=app, GCMChannelRequest={"ApiKey": "legacy-key"})
    return app


def test_m4_push_precedence_and_context(pinpoint: Any, outbox: Path) -> None:
    app = _gcm_app(pinpoint)
    endpoint(pinpoint, app, "phone", Address="fcm-token-1", ChannelType="GCM")
    result = pinpoint.send_messages(
        ApplicationId=app,
        MessageRequest={
            "MessageConfiguration": {
                "GCMMessage": {"Title": "GCM title", "Data": {"k": "v"}},
                "DefaultPushNotificationMessage": {"Title": "ignored", "Body": "Push body"},
                "DefaultMessage": {"Body": "ignored"},
            },
            "Context": {"order": "42"},
            "Endpoints": {"phone": {}},
        },
    )["MessageResponse"]["EndpointResult"]["phone"]
    assert _status(result) == ("SUCCESSFUL", 200)
    record = next(r for r in records(outbox, "push.jsonl") if r["MessageId"] == result["MessageId"])
    assert (record["ChannelType"], record["Token"], record["Headers"]) == ("GCM", "fcm-token-1", {})
    data = record["Payload"]["message"]["data"]
    assert record["Payload"]["message"]["token"] == "fcm-token-1"
    assert data["pinpoint.notification.title"] == "GCM title"
    assert data["pinpoint.notification.body"] == "Push body"
    assert (data["k"], data["pinpoint.context.order"]) == ("v", "42")
    assert data["pinpoint.campaign.campaign_id"] == "_DIRECT"


def test_m4_raw_content_replaces_the_payload(pinpoint: Any, outbox: Path) -> None:
    app = _gcm_app(pinpoint)
    endpoint(pinpoint, app, "raw", Address="fcm-token-2", ChannelType="GCM")
    raw = {"notification": {"title": "raw"}}
    result = pinpoint.send_messages(
        ApplicationId=app,
        MessageRequest={
            "MessageConfiguration": {"GCMMessage": {"Title": "not this"}},
            "Endpoints": {"raw": {"RawContent": json.dumps(raw)}},
        },
    )["MessageResponse"]["EndpointResult"]["raw"]
    record = next(r for r in records(outbox, "push.jsonl") if r["MessageId"] == result["MessageId"])
    assert record["Payload"] == {"message": {**raw, "token": "fcm-token-2"}}


# M5, M8, M10


def test_m5_email_message_id_is_the_message_id_header(
    pinpoint: Any, app: str, outbox: Path
) -> None:
    result = send(
        pinpoint,
        app,
        MessageConfiguration=SIMPLE_EMAIL,
        Addresses={"id@example.com": {"ChannelType": "EMAIL"}},
    )["Result"]["id@example.com"]
    assert _status(result) == ("SUCCESSFUL", 200)
    assert _email(outbox, result["MessageId"])["Message-ID"] == f"<{result['MessageId']}>"


def test_m8_delivery_log_masks_addresses_and_holds_no_text(
    sender: RunningServer, pinpoint: Any, app: str
) -> None:
    result = send(
        pinpoint,
        app,
        MessageConfiguration={"SMSMessage": {"Body": "SECRET-BODY-TEXT"}},
        Addresses={"+12065559876": {"ChannelType": "SMS"}},
    )
    request_id = result["RequestId"]
    line = sender.wait_for_log(f"request={request_id}")
    assert "address=+1206*****76" in line
    for part in ("status=SUCCESSFUL", f"app={app}", "channel=SMS"):
        assert part in line
    assert "+12065559876" not in sender.log
    assert "SECRET-BODY-TEXT" not in sender.log


def test_m10_outbox_maildir_opens_in_a_mail_client(outbox: Path, pinpoint: Any, app: str) -> None:
    send(
        pinpoint,
        app,
        MessageConfiguration=SIMPLE_EMAIL,
        Addresses={"mdir@example.com": {"ChannelType": "EMAIL"}},
    )
    messages = emails(outbox)
    assert messages
    for mail in messages:
        for header in ("Message-ID", "From", "To", "Subject", "Date"):
            assert mail[header], header
    assert not list((outbox / "email" / "tmp").iterdir())


def test_m10_start_up_warns_that_the_outbox_does_not_deliver(sender: RunningServer) -> None:
    line = sender.wait_for_log("NOT DELIVERED")
    assert "WARNING" in line
    assert "outbox" in line


def _email(outbox: Path, message_id: str) -> Any:
    for mail in emails(outbox):
        if mail["Message-ID"] == f"<{message_id}>":
            return mail
    raise AssertionError(f"no email {message_id} in the outbox")
