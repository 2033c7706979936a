"""`openpinpoint render` (T6): a stored template rendered for a real endpoint or user."""

from __future__ import annotations

import json
import secrets
from typing import Any

from conftest import RunningServer, run_cli


def render(server: RunningServer, *args: str) -> Any:
    assert server.db_url is not None
    return run_cli("render", *args, "--db", server.db_url)


def test_t6_render_prints_an_email_for_an_endpoint_and_an_sms_for_a_user(
    server: RunningServer, client: Any, app_id: str
) -> None:
    name = f"welcome-{secrets.token_hex(4)}"
    client.create_email_template(
        TemplateName=name,
        EmailTemplateRequest={
            "Subject": "Hello {{User.UserAttributes.FirstName.[0]}}",
            "TextPart": "Plan: {{Attributes.Plan}}",
            "HtmlPart": "<p>{{Attributes.Note}}</p>",
            "DefaultSubstitutions": json.dumps({"User.UserAttributes.FirstName": "there"}),
        },
    )
    client.create_sms_template(TemplateName=name, SMSTemplateRequest={"Body": "Hi {{User.UserId}}"})
    client.update_endpoint(
        ApplicationId=app_id,
        EndpointId="mail",
        EndpointRequest={
            "ChannelType": "EMAIL",
            "Address": "jane@example.com",
            "Attributes": {"Plan": ["gold"], "Note": ["<b>new</b>"]},
            "User": {"UserId": "jane", "UserAttributes": {"FirstName": ["Jane"]}},
        },
    )
    client.update_endpoint(
        ApplicationId=app_id,
        EndpointId="phone",
        EndpointRequest={
            "ChannelType": "SMS",
            "Address": "+12065550100",
            "User": {"UserId": "jane"},
        },
    )
    client.update_endpoint(
        ApplicationId=app_id,
        EndpointId="anon",
        EndpointRequest={"ChannelType": "EMAIL", "Address": "anon@example.com"},
    )

    email = render(server, name, "--type", "email", "--app", app_id, "--endpoint", "mail")
    assert email.returncode == 0, email.stderr
    assert "--- Subject\nHello Jane\n" in email.stdout
    assert "--- TextPart\nPlan: gold\n" in email.stdout
    assert "--- HtmlPart\n<p>&lt;b&gt;new&lt;/b&gt;</p>\n" in email.stdout

    default = render(server, name, "--type", "email", "--app", app_id, "--endpoint", "anon")
    assert "--- Subject\nHello there\n" in default.stdout

    sms = render(server, name, "--type", "sms", "--app", app_id, "--user", "jane")
    assert sms.returncode == 0, sms.stderr
    assert "endpoint phone" in sms.stdout
    assert "--- Body\nHi jane\n" in sms.stdout
    assert "endpoint mail" not in sms.stdout

    missing = render(server, name, "--type", "push", "--app", app_id, "--endpoint", "mail")
    assert missing.returncode == 1
    assert "not found" in missing.stderr


def test_t6_render_push_resolves_the_channel_template_over_default(
    server: RunningServer, client: Any, app_id: str
) -> None:
    name = f"push-{secrets.token_hex(4)}"
    client.create_push_template(
        TemplateName=name,
        PushNotificationTemplateRequest={
            "Default": {"Title": "Hi {{User.UserId}}", "Body": "default body"},
            "GCM": {"Body": "android body", "RawContent": '{"id": "{{Id}}"}'},
        },
    )
    client.update_endpoint(
        ApplicationId=app_id,
        EndpointId="droid",
        EndpointRequest={"ChannelType": "GCM", "Address": "token", "User": {"UserId": "u"}},
    )
    done = render(server, name, "--type", "push", "--app", app_id, "--endpoint", "droid")
    assert done.returncode == 0, done.stderr
    assert '--- Title\nHi u\n--- Body\nandroid body\n--- RawContent\n{"id": "droid"}\n' in (
        done.stdout
    )
