"""Every template operation through the AWS CLI (awscli from PyPI), unmodified."""

from __future__ import annotations

import json
import secrets

from conftest import RunningServer
from test_awscli import aws, aws_json


def test_aws_cli_walks_every_template_operation(server: RunningServer) -> None:
    name = f"cli-{secrets.token_hex(4)}"
    requests = {
        "email": ("--email-template-request", {"Subject": "Hi {{User.UserId}}", "TextPart": "t"}),
        "sms": ("--sms-template-request", {"Body": "Code {{Attributes.Code.[0]}}"}),
        "push": ("--push-notification-template-request", {"Default": {"Body": "b"}}),
    }
    for kind, (option, request) in requests.items():
        created = aws_json(
            server, f"create-{kind}-template", "--template-name", name, option, json.dumps(request)
        )
        assert created["CreateTemplateMessageBody"]["Message"] == "Created"
        aws_json(
            server,
            f"update-{kind}-template",
            "--template-name",
            name,
            "--create-new-version",
            option,
            json.dumps(request),
        )
        got = aws_json(
            server, f"get-{kind}-template", "--template-name", name, "--template-version", "2"
        )
        assert next(iter(got.values()))["Version"] == "2"
    active = aws_json(
        server,
        "update-template-active-version",
        "--template-name",
        name,
        "--template-type",
        "SMS",
        "--template-active-version-request",
        "Version=2",
    )
    assert active["MessageBody"]["Message"] == "Accepted"
    versions = aws_json(
        server, "list-template-versions", "--template-name", name, "--template-type", "PUSH"
    )
    assert [v["Version"] for v in versions["TemplateVersionsResponse"]["Item"]] == ["1", "2"]
    listed = aws_json(server, "list-templates", "--prefix", name, "--template-type", "SMS")
    assert [(i["TemplateName"], i["Version"]) for i in listed["TemplatesResponse"]["Item"]] == [
        (name, "2")
    ]
    for kind in requests:
        deleted = aws_json(server, f"delete-{kind}-template", "--template-name", name)
        assert deleted["MessageBody"]["Message"] == "Accepted"
    missing = aws(server, "get-sms-template", "--template-name", name)
    assert missing.returncode != 0
    assert "NotFoundException" in missing.stderr
