"""The AWS CLI (awscli from PyPI) against the same server, unmodified but for --endpoint-url."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from conftest import TEST_KEY, RunningServer, sqlite_url
from openpinpoint.keys import KeyFile

# The README's AWS CLI recipe, read from the README itself so that the test checks what
# users paste.
RECIPE_URL = "http://127.0.0.1:9400"
_README = (Path(__file__).parent.parent / "README.md").read_text()
RECIPE_KEY, RECIPE_CREATE_APP, RECIPE_GET = (
    next(line for line in _README.splitlines() if line.startswith(start))
    for start in (
        "mkdir -p ~/.aws && openpinpoint keys create",
        "aws pinpoint create-app",
        "aws pinpoint get-user-endpoints",
    )
)


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


def test_the_readme_recipe_for_the_aws_cli_works_as_pasted(tmp_path: Path) -> None:
    """From a home without ~/.aws and an environment without AWS_* variables: the README's
    lines, with `openpinpoint` and `aws` on the PATH as after activating the environment."""
    home = tmp_path / "home"
    home.mkdir()
    keys_file = tmp_path / "keys.json"
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env |= {
        "HOME": str(home),
        "OPENPINPOINT_KEYS_FILE": str(keys_file),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    }

    def shell(line: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["sh", "-c", line], capture_output=True, text=True, env=env, timeout=120, check=False
        )

    made = shell(RECIPE_KEY)
    assert made.returncode == 0, made.stderr
    KeyFile(keys_file).create(TEST_KEY)  # for server.client() below
    server = RunningServer(sqlite_url(tmp_path / "db.sqlite"), "--keys-file", str(keys_file))
    try:
        created = shell(RECIPE_CREATE_APP.replace(RECIPE_URL, server.url))
        assert created.returncode == 0, created.stderr
        app_id = json.loads(created.stdout)["ApplicationResponse"]["Id"]
        server.client().update_endpoint(
            ApplicationId=app_id, EndpointId="e", EndpointRequest={"User": {"UserId": "ada"}}
        )
        listed = shell(RECIPE_GET.replace(RECIPE_URL, server.url).replace("ID", app_id))
        assert listed.returncode == 0, listed.stderr
        assert [e["Id"] for e in json.loads(listed.stdout)["EndpointsResponse"]["Item"]] == ["e"]
    finally:
        server.stop()


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
