"""The template operations over HTTP with real boto3, on SQLite and PostgreSQL (T1-T3)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import TEST_KEY, RunningServer
from openpinpoint.keys import AccessKey, KeyFile
from openpinpoint.templating import TemplateSyntaxError
from rawhttp import raw_request
from test_templating import HOSTILE

EMAIL = {
    "Subject": "Hello {{User.UserAttributes.FirstName.[0]}}",
    "TextPart": "Your plan: {{Attributes.Plan}}",
    "HtmlPart": "<p>{{Attributes.Plan}}</p>",
    "DefaultSubstitutions": json.dumps({"User.UserAttributes.FirstName": "there"}),
    "TemplateDescription": "welcome",
    "Headers": [{"Name": "X-Campaign", "Value": "{{Attributes.Plan}}"}],
    "RecommenderId": "ignored",
    "tags": {"team": "growth"},
}
PUSH = {
    "Default": {"Title": "Hi {{User.UserId}}", "Body": "b", "Action": "OPEN_APP"},
    "APNS": {"Title": "apns", "MediaUrl": "https://example.com/m.png", "RawContent": "{}"},
    "GCM": {"Body": "gcm", "ImageUrl": "https://example.com/i.png"},
    "ADM": {"Body": "adm"},
    "Baidu": {"Body": "baidu"},
}


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def error(call: Any, **kwargs: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def test_t2_email_template_lifecycle(client: Any) -> None:
    name = unique()
    created = client.create_email_template(TemplateName=name, EmailTemplateRequest=EMAIL)
    body = created["CreateTemplateMessageBody"]
    assert body["Arn"] == f"arn:aws:mobiletargeting:us-east-1:000000000000:templates/{name}/EMAIL"
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    got = client.get_email_template(TemplateName=name)["EmailTemplateResponse"]
    assert {k: got[k] for k in EMAIL} == EMAIL
    assert (got["TemplateName"], got["TemplateType"], got["Version"]) == (name, "EMAIL", "1")
    assert got["Arn"] == body["Arn"]

    updated = client.update_email_template(
        TemplateName=name,
        CreateNewVersion=True,
        EmailTemplateRequest={**EMAIL, "Subject": "v2", "tags": {"ignored": "yes"}},
    )
    assert updated["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert client.get_email_template(TemplateName=name)["EmailTemplateResponse"]["Version"] == "1"
    second = client.get_email_template(TemplateName=name, Version="2")["EmailTemplateResponse"]
    assert (second["Subject"], second["tags"]) == ("v2", {"team": "growth"})

    moved = client.update_template_active_version(
        TemplateName=name, TemplateType="EMAIL", TemplateActiveVersionRequest={"Version": "2"}
    )
    assert moved["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert client.get_email_template(TemplateName=name)["EmailTemplateResponse"]["Subject"] == "v2"

    versions = client.list_template_versions(TemplateName=name, TemplateType="EMAIL")
    items = versions["TemplateVersionsResponse"]["Item"]
    assert [v["Version"] for v in items] == ["1", "2"]
    assert all("Subject" not in v for v in items)

    assert error(client.delete_email_template, TemplateName=name, Version="2")[0] == (
        "BadRequestException"
    )
    deleted = client.delete_email_template(TemplateName=name, Version="1")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 202
    client.delete_email_template(TemplateName=name)
    assert error(client.get_email_template, TemplateName=name)[::2] == ("NotFoundException", 404)


def test_t2_sms_and_push_templates_round_trip(client: Any) -> None:
    name = unique()
    client.create_sms_template(
        TemplateName=name, SMSTemplateRequest={"Body": "Code {{Attributes.Code}}"}
    )
    client.create_push_template(TemplateName=name, PushNotificationTemplateRequest=PUSH)
    sms = client.get_sms_template(TemplateName=name)["SMSTemplateResponse"]
    assert (sms["Body"], sms["TemplateType"]) == ("Code {{Attributes.Code}}", "SMS")
    push = client.get_push_template(TemplateName=name)["PushNotificationTemplateResponse"]
    assert {k: push[k] for k in PUSH} == PUSH
    client.update_sms_template(TemplateName=name, SMSTemplateRequest={"Body": "edited"})
    assert client.get_sms_template(TemplateName=name)["SMSTemplateResponse"]["Body"] == "edited"
    client.update_push_template(
        TemplateName=name, Version="1", PushNotificationTemplateRequest={"Default": {"Body": "x"}}
    )
    client.delete_sms_template(TemplateName=name)
    client.delete_push_template(TemplateName=name)


def test_t2_errors_on_the_wire(client: Any) -> None:
    name = unique()
    client.create_sms_template(TemplateName=name, SMSTemplateRequest={"Body": "a"})
    code, message, status = error(
        client.create_sms_template, TemplateName=name, SMSTemplateRequest={"Body": "a"}
    )
    assert (code, status) == ("BadRequestException", 400)
    assert "already exists" in message
    assert error(client.get_sms_template, TemplateName=name, Version="9")[0] == (
        "NotFoundException"
    )
    assert error(
        client.update_sms_template,
        TemplateName=name,
        Version="1",
        CreateNewVersion=True,
        SMSTemplateRequest={"Body": "b"},
    )[0] == ("BadRequestException")
    assert error(
        client.update_template_active_version,
        TemplateName=name,
        TemplateType="SMS",
        TemplateActiveVersionRequest={"Version": "5"},
    )[0] == ("NotFoundException")
    assert error(client.get_email_template, TemplateName=name)[0] == "NotFoundException"
    assert error(client.get_sms_template, TemplateName="bad name!")[0] == "BadRequestException"


def test_t3_invalid_parts_are_refused_and_nothing_is_stored(client: Any) -> None:
    name = unique()
    code, message, _ = error(
        client.create_email_template,
        TemplateName=name,
        EmailTemplateRequest={"Subject": "ok", "HtmlPart": "<p>\n  {{#each x}}</p>"},
    )
    assert code == "BadRequestException"
    assert "HtmlPart" in message
    assert "line 2, column 3" in message
    code, message, _ = error(
        client.create_sms_template,
        TemplateName=name,
        SMSTemplateRequest={"Body": "x", "DefaultSubstitutions": '{"a": ["list"]}'},
    )
    assert "DefaultSubstitutions" in message
    code, message, _ = error(
        client.create_sms_template, TemplateName=name, SMSTemplateRequest={"Body": "{{nope 1}}"}
    )
    assert "unknown helper 'nope'" in message
    assert error(client.get_email_template, TemplateName=name)[0] == "NotFoundException"
    assert error(client.get_sms_template, TemplateName=name)[0] == "NotFoundException"


def test_list_templates_prefix_type_and_paging(client: Any) -> None:
    prefix = unique("list")
    for i in range(3):
        client.create_sms_template(TemplateName=f"{prefix}-{i}", SMSTemplateRequest={"Body": "b"})
    client.create_email_template(TemplateName=f"{prefix}-0", EmailTemplateRequest=EMAIL)
    everything = client.list_templates(Prefix=prefix)["TemplatesResponse"]["Item"]
    assert len(everything) == 4
    assert all("DefaultSubstitutions" not in i and "Subject" not in i for i in everything)
    assert all(i["Version"] == "1" for i in everything)
    first = client.list_templates(Prefix=prefix, TemplateType="SMS", PageSize="2")
    page = first["TemplatesResponse"]
    assert [i["TemplateName"] for i in page["Item"]] == [f"{prefix}-0", f"{prefix}-1"]
    rest = client.list_templates(
        Prefix=prefix, TemplateType="SMS", PageSize="2", NextToken=page["NextToken"]
    )["TemplatesResponse"]
    assert [i["TemplateName"] for i in rest["Item"]] == [f"{prefix}-2"]
    assert "NextToken" not in rest


def test_voice_and_inapp_templates_are_not_served(server: RunningServer, client: Any) -> None:
    for path, operation in (
        ("/v1/templates/x/voice", "GetVoiceTemplate"),
        ("/v1/templates/x/inapp", "GetInAppTemplate"),
    ):
        unserved = raw_request(server.url, "GET", path)
        assert unserved.status == 501
        assert operation in unserved.json()["Message"]
    # The operations shared by every type answer VOICE and INAPP as the unserved
    # per-type operations do: 501, not a 404 that reads like a missing template.
    for method, path in (
        ("GET", "/v1/templates/x/VOICE/versions"),
        ("PUT", "/v1/templates/x/INAPP/active-version"),
    ):
        shared = raw_request(server.url, method, path, b'{"Version": "1"}')
        assert shared.status == 501
        assert (shared.header("x-amzn-ErrorType") or "").startswith("NotImplementedException")
        assert "templates are not served" in shared.json()["Message"]
    for kind in ("VOICE", "INAPP"):
        assert client.list_templates(TemplateType=kind)["TemplatesResponse"]["Item"] == []
    assert error(client.list_templates, TemplateType="FAX")[0] == "BadRequestException"


# T1: only admin keys write templates; any key reads them.

SCOPED = AccessKey(id="AKIDSCOPED", secret="scoped-secret", apps=["0" * 32])


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    directory = tmp_path_factory.mktemp("t1")
    keys = KeyFile(Path(directory) / "keys.json")
    keys.create(TEST_KEY)
    keys.create(SCOPED)
    running = RunningServer(
        f"sqlite:///{directory / 'db.sqlite'}", "--keys-file", str(directory / "keys.json")
    )
    yield running
    running.stop()


def test_t1_only_admin_keys_write_templates_and_app_keys_read_them(
    keyed_server: RunningServer,
) -> None:
    admin, scoped = keyed_server.client(), keyed_server.client(SCOPED)
    request = {"Body": "b"}
    assert error(scoped.create_sms_template, TemplateName="t1", SMSTemplateRequest=request)[
        ::2
    ] == ("ForbiddenException", 403)
    admin.create_sms_template(TemplateName="t1", SMSTemplateRequest=request)
    assert scoped.get_sms_template(TemplateName="t1")["SMSTemplateResponse"]["Body"] == "b"
    assert [i["TemplateName"] for i in scoped.list_templates()["TemplatesResponse"]["Item"]] == [
        "t1"
    ]
    assert scoped.list_template_versions(TemplateName="t1", TemplateType="SMS")
    for call, kwargs in (
        (scoped.update_sms_template, {"SMSTemplateRequest": request}),
        (scoped.delete_sms_template, {}),
        (
            scoped.update_template_active_version,
            {"TemplateType": "SMS", "TemplateActiveVersionRequest": {"Version": "1"}},
        ),
    ):
        assert error(call, TemplateName="t1", **kwargs)[0] == "ForbiddenException"
    assert admin.get_sms_template(TemplateName="t1")["SMSTemplateResponse"]["Body"] == "b"


def test_t5_hostile_templates_get_a_400_or_are_stored_never_a_500(client: Any) -> None:
    for index, (source, outcome) in enumerate(HOSTILE):
        name = unique(f"hostile{index}")
        request = {"Subject": "s", "HtmlPart": source}
        if outcome is TemplateSyntaxError:
            code, message, status = error(
                client.create_email_template, TemplateName=name, EmailTemplateRequest=request
            )
            assert (code, status) == ("BadRequestException", 400)
            assert "HtmlPart does not compile" in message
        else:
            client.create_email_template(TemplateName=name, EmailTemplateRequest=request)
            stored = client.get_email_template(TemplateName=name)["EmailTemplateResponse"]
            assert stored["HtmlPart"] == source


def test_t2_concurrent_creates_of_one_template_make_exactly_one(server: RunningServer) -> None:
    name = unique("race")
    clients = [server.client() for _ in range(8)]

    def create(index: int) -> str:
        try:
            clients[index].create_sms_template(
                TemplateName=name, SMSTemplateRequest={"Body": f"body {index}"}
            )
        except ClientError as caught:
            return str(caught.response["Error"]["Code"])
        return "created"

    with ThreadPoolExecutor(8) as pool:
        outcomes = sorted(pool.map(create, range(8)))
    assert outcomes == ["BadRequestException"] * 7 + ["created"]
    versions = clients[0].list_template_versions(TemplateName=name, TemplateType="SMS")
    assert [v["Version"] for v in versions["TemplateVersionsResponse"]["Item"]] == ["1"]


def test_t2_concurrent_new_versions_each_get_their_own_number(server: RunningServer) -> None:
    name = unique("versions")
    clients = [server.client() for _ in range(6)]
    clients[0].create_sms_template(TemplateName=name, SMSTemplateRequest={"Body": "v1"})

    def add(index: int) -> None:
        clients[index].update_sms_template(
            TemplateName=name, CreateNewVersion=True, SMSTemplateRequest={"Body": f"n{index}"}
        )

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(add, range(6)))
    items = clients[0].list_template_versions(TemplateName=name, TemplateType="SMS")[
        "TemplateVersionsResponse"
    ]["Item"]
    assert [v["Version"] for v in items] == [str(n) for n in range(1, 8)]
    bodies = {
        clients[0].get_sms_template(TemplateName=name, Version=str(n))["SMSTemplateResponse"][
            "Body"
        ]
        for n in range(2, 8)
    }
    assert bodies == {f"n{index}" for index in range(6)}
