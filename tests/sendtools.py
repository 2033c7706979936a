"""Helpers of the sending tests: a server whose back ends a test chooses, and readers of
the outbox it writes (M10)."""

from __future__ import annotations

import json
import mailbox
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import Message
from pathlib import Path
from typing import Any

from conftest import RunningServer

EMAIL_CHANNEL = {"FromAddress": "sender@example.com", "Identity": "example.com"}


@contextmanager
def sending_server(
    db_url: str, outbox: Path, *args: str, env: dict[str, str] | None = None
) -> Iterator[RunningServer]:
    """A server writing its outbox to `outbox` (push too, unless `args` choose another push
    back end), with a secret key of its own."""
    if "--push-backend" not in args:
        args = ("--push-backend", "outbox", *args)
    server = RunningServer(
        db_url,
        "--outbox",
        str(outbox),
        *args,
        env={"OPENPINPOINT_SECRET_KEY": "test-sending-key", **(env or {})},
    )
    try:
        yield server
    finally:
        server.stop()


def new_app(client: Any, *, email: bool = True, sms: bool = True) -> str:
    """An application with the email and SMS channels enabled."""
    app_id = str(
        client.create_app(CreateApplicationRequest={"Name": "send"})["ApplicationResponse"]["Id"]
    )
    if email:
        client.update_email_channel(ApplicationId=app_id, EmailChannelRequest=EMAIL_CHANNEL)
    if sms:
        client.update_sms_channel(ApplicationId=app_id, SMSChannelRequest={"SenderId": "Acme"})
    return app_id


def emails(outbox: Path) -> list[Message]:
    """Every message in the outbox's Maildir, read as a mail client would."""
    return list(mailbox.Maildir(outbox / "email", create=False))


def records(outbox: Path, name: str) -> list[dict[str, Any]]:
    path = outbox / name
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def endpoint(client: Any, app_id: str, endpoint_id: str, **members: Any) -> None:
    client.update_endpoint(ApplicationId=app_id, EndpointId=endpoint_id, EndpointRequest=members)


def send_users(client: Any, app_id: str, message: dict[str, Any], *users: str) -> Any:
    return client.send_users_messages(
        ApplicationId=app_id,
        SendUsersMessageRequest={"MessageConfiguration": message, "Users": {u: {} for u in users}},
    )["SendUsersMessageResponse"]


def send(client: Any, app_id: str, **request: Any) -> Any:
    return client.send_messages(ApplicationId=app_id, MessageRequest=request)["MessageResponse"]


SIMPLE_EMAIL = {
    "EmailMessage": {
        "SimpleEmail": {
            "Subject": {"Data": "Hello"},
            "TextPart": {"Data": "Plain text"},
            "HtmlPart": {"Data": "<p>HTML</p>"},
        }
    }
}
