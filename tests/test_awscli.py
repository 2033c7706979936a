"""The AWS CLI (awscli from PyPI) against the same server, unmodified but for --endpoint-url."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from conftest import RunningServer


def aws(server: RunningServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "AKIDTEST",
        "AWS_SECRET_ACCESS_KEY": "test-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_MAX_ATTEMPTS": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "awscli", "pinpoint", *args, "--endpoint-url", server.url],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def aws_json(server: RunningServer, *args: str) -> Any:
    result = aws(server, *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_aws_cli_walks_the_user_lifecycle(server: RunningServer) -> None:
    app = aws_json(server, "create-app", "--create-application-request", "Name=cli-demo")[
        "ApplicationResponse"
    ]
    assert app["Name"] == "cli-demo"
    for endpoint_id, request in (
        ("phone", '{"ChannelType":"SMS","Address":"+12065550100","User":{"UserId":"cli-user"}}'),
        (
            "mail",
            '{"ChannelType":"EMAIL","Address":"cli@example.com","User":{"UserId":"cli-user"}}',
        ),
    ):
        accepted = aws_json(
            server,
            "update-endpoint",
            "--application-id",
            app["Id"],
            "--endpoint-id",
            endpoint_id,
            "--endpoint-request",
            request,
        )
        assert accepted["MessageBody"]["Message"] == "Accepted"

    listed = aws_json(
        server, "get-user-endpoints", "--application-id", app["Id"], "--user-id", "cli-user"
    )["EndpointsResponse"]["Item"]
    assert sorted(e["Id"] for e in listed) == ["mail", "phone"]

    deleted = aws_json(
        server, "delete-user-endpoints", "--application-id", app["Id"], "--user-id", "cli-user"
    )["EndpointsResponse"]["Item"]
    assert sorted(e["Id"] for e in deleted) == ["mail", "phone"]


def test_aws_cli_reports_a_modeled_error(server: RunningServer, app_id: str) -> None:
    result = aws(server, "get-endpoint", "--application-id", app_id, "--endpoint-id", "nope")
    assert result.returncode != 0
    assert "NotFoundException" in result.stderr
    assert "'nope'" in result.stderr


def test_aws_cli_enables_email_and_sends_to_a_user(server: RunningServer, app_id: str) -> None:
    channel = aws_json(
        server,
        "update-email-channel",
        "--application-id",
        app_id,
        "--email-channel-request",
        "FromAddress=cli@example.com,Identity=example.com",
    )["EmailChannelResponse"]
    assert (channel["Platform"], channel["Enabled"], channel["Version"]) == ("EMAIL", True, 1)
    aws_json(
        server,
        "update-endpoint",
        "--application-id",
        app_id,
        "--endpoint-id",
        "cli-mail",
        "--endpoint-request",
        '{"ChannelType":"EMAIL","Address":"reader@example.com","User":{"UserId":"cli-reader"}}',
    )
    request = {
        "MessageConfiguration": {
            "EmailMessage": {
                "SimpleEmail": {"Subject": {"Data": "Hi"}, "TextPart": {"Data": "From the CLI"}}
            }
        },
        "Users": {"cli-reader": {}},
    }
    sent = aws_json(
        server,
        "send-users-messages",
        "--application-id",
        app_id,
        "--send-users-message-request",
        json.dumps(request),
    )["SendUsersMessageResponse"]
    result = sent["Result"]["cli-reader"]["cli-mail"]
    assert (result["DeliveryStatus"], result["StatusCode"], result["Address"]) == (
        "SUCCESSFUL",
        200,
        "reader@example.com",
    )
