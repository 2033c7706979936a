"""Sends that name templates (TemplateConfiguration) and personalise every recipient's
message (M1, M4 with T4), over real boto3 into the outbox."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import RunningServer, sqlite_url
from sendtools import emails, endpoint, new_app, records, sending_server


@pytest.fixture(scope="module")
def outbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("outbox")


@pytest.fixture(scope="module")
def sender(tmp_path_factory: pytest.TempPathFactory, outbox: Path) -> Iterator[RunningServer]:
    db = sqlite_url(tmp_path_factory.mktemp("db") / "templates.db")
    with sending_server(db, outbox) as server:
        yield server


@pytest.fixture
def pinpoint(sender: RunningServer) -> Any:
    return sender.client()


def _name() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


def test_m1_an_unknown_template_fails_the_whole_request(pinpoint: Any, outbox: Path) -> None:
    app = new_app(pinpoint)
    before = len(records(outbox, "sms.jsonl"))
    with pytest.raises(pinpoint.exceptions.NotFoundException):
        pinpoint.send_messages(
            ApplicationId=app,
            MessageRequest={
                "MessageConfiguration": {"SMSMessage": {"Body": "x"}},
                "TemplateConfiguration": {"SMSTemplate": {"Name": "no-such-template"}},
                "Addresses": {"+12065550100": {"ChannelType": "SMS"}},
            },
        )
    name = _name()
    pinpoint.create_sms_template(TemplateName=name, SMSTemplateRequest={"Body": "v1"})
    with pytest.raises(pinpoint.exceptions.NotFoundException):
        pinpoint.send_messages(
            ApplicationId=app,
            MessageRequest={
                "MessageConfiguration": {},
                "TemplateConfiguration": {"SMSTemplate": {"Name": name, "Version": "7"}},
                "Addresses": {"+12065550100": {"ChannelType": "SMS"}},
            },
        )
    assert len(records(outbox, "sms.jsonl")) == before


def test_m4_email_template_is_rendered_for_each_recipient(pinpoint: Any, outbox: Path) -> None:
    app = new_app(pinpoint)
    name = _name()
    pinpoint.create_email_template(
        TemplateName=name,
        EmailTemplateRequest={
            "Subject": "Hello {{User.UserAttributes.FirstName}}",
            "TextPart": "Your plan: {{Attributes.Plan}}. Code {{Code}}.",
            "HtmlPart": "<p>{{User.UserAttributes.FirstName}}</p>",
            "DefaultSubstitutions": '{"Code": "none"}',
        },
    )
    endpoint(
        pinpoint,
        app,
        "ada-mail",
        Address="ada@example.com",
        ChannelType="EMAIL",
        Attributes={"Plan": ["gold"]},
        User={"UserId": "ada", "UserAttributes": {"FirstName": ["Ada <3"]}},
    )
    result = pinpoint.send_users_messages(
        ApplicationId=app,
        SendUsersMessageRequest={
            "MessageConfiguration": {},
            "TemplateConfiguration": {"EmailTemplate": {"Name": name}},
            "Users": {"ada": {"Substitutions": {"Code": ["A-1"]}}},
        },
    )["SendUsersMessageResponse"]["Result"]["ada"]["ada-mail"]
    assert result["DeliveryStatus"] == "SUCCESSFUL"
    (mail,) = [m for m in emails(outbox) if m["Message-ID"] == f"<{result['MessageId']}>"]
    assert mail["Subject"] == "Hello Ada <3"
    parts = {
        p.get_content_type(): bytes(p.get_payload(decode=True)).decode()
        for p in mail.walk()
        if not p.is_multipart()
    }
    assert parts["text/plain"].strip() == "Your plan: gold. Code A-1."
    assert parts["text/html"].strip() == "<p>Ada &lt;3</p>"


def test_m4_sms_template_with_defaults_and_message_substitutions(
    pinpoint: Any, outbox: Path
) -> None:
    app = new_app(pinpoint)
    name = _name()
    pinpoint.create_sms_template(
        TemplateName=name,
        SMSTemplateRequest={
            "Body": "Hi {{Name}}, {{Promo}}",
            "DefaultSubstitutions": '{"Name": "friend", "Promo": "p"}',
        },
    )
    result = pinpoint.send_messages(
        ApplicationId=app,
        MessageRequest={
            "MessageConfiguration": {"SMSMessage": {"Substitutions": {"Promo": ["10% off"]}}},
            "TemplateConfiguration": {"SMSTemplate": {"Name": name}},
            "Addresses": {"+12065550188": {"ChannelType": "SMS"}},
        },
    )["MessageResponse"]["Result"]["+12065550188"]
    (record,) = [r for r in records(outbox, "sms.jsonl") if r["MessageId"] == result["MessageId"]]
    assert record["Body"] == "Hi friend, 10% off"


def test_m4_push_template_part_for_the_platform(pinpoint: Any, outbox: Path) -> None:
    app = new_app(pinpoint)
    pinpoint.update_gcm_channel(ApplicationId=app, GCMChannelRequest={"ApiKey": "k"})
    name = _name()
    pinpoint.create_push_template(
        TemplateName=name,
        PushNotificationTemplateRequest={
            "GCM": {"Title": "Android {{Who}}"},
            "Default": {"Title": "ignored", "Body": "Default body"},
        },
    )
    result = pinpoint.send_messages(
        ApplicationId=app,
        MessageRequest={
            "MessageConfiguration": {},
            "TemplateConfiguration": {"PushTemplate": {"Name": name}},
            "Addresses": {
                "device-token": {"ChannelType": "GCM", "Substitutions": {"Who": ["you"]}}
            },
        },
    )["MessageResponse"]["Result"]["device-token"]
    (record,) = [r for r in records(outbox, "push.jsonl") if r["MessageId"] == result["MessageId"]]
    data = record["Payload"]["message"]["data"]
    assert (data["pinpoint.notification.title"], data["pinpoint.notification.body"]) == (
        "Android you",
        "Default body",
    )


def test_m4_message_text_is_personalised_too(pinpoint: Any, outbox: Path) -> None:
    app = new_app(pinpoint)
    endpoint(
        pinpoint, app, "p", Address="+12065550177", ChannelType="SMS", Attributes={"City": ["Oslo"]}
    )
    result = pinpoint.send_messages(
        ApplicationId=app,
        MessageRequest={
            "MessageConfiguration": {"SMSMessage": {"Body": "Weather in {{Attributes.City}}"}},
            "Endpoints": {"p": {}},
        },
    )["MessageResponse"]["EndpointResult"]["p"]
    (record,) = [r for r in records(outbox, "sms.jsonl") if r["MessageId"] == result["MessageId"]]
    assert record["Body"] == "Weather in Oslo"


def test_m4_a_message_that_does_not_compile_is_a_permanent_failure(pinpoint: Any) -> None:
    app = new_app(pinpoint)
    result = pinpoint.send_messages(
        ApplicationId=app,
        MessageRequest={
            "MessageConfiguration": {"SMSMessage": {"Body": "Broken {{#if}}"}},
            "Addresses": {"+12065550166": {"ChannelType": "SMS"}},
        },
    )["MessageResponse"]["Result"]["+12065550166"]
    assert (result["DeliveryStatus"], result["StatusCode"]) == ("PERMANENT_FAILURE", 400)
