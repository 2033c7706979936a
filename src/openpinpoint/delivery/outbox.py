"""The outbox (M10): messages written to files instead of delivered, for development and
tests. Email goes to a Maildir any mail client opens; SMS and push to JSON Lines files.

Each record is complete before it becomes visible: a Maildir message is written and fsynced
in `tmp/`, then renamed into `new/`; a JSON line is one `write` to a file opened for
appending, under an exclusive `flock` (one writer at a time, across processes), fsynced.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import socket
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openpinpoint.core.values import format_date
from openpinpoint.delivery.base import Delivery, Email, Outcome, Push, Sms, sent
from openpinpoint.delivery.mime import compose


class Outbox:
    delivers = False

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.description = f"outbox (messages are written to {directory}, not delivered)"
        self._maildir = directory / "email"
        for sub in ("tmp", "new", "cur"):
            (self._maildir / sub).mkdir(parents=True, exist_ok=True)
        # fsync can be slow; it must not hold the default executor the SQLite store uses.
        self._threads = ThreadPoolExecutor(4, thread_name_prefix="openpinpoint-outbox")

    async def deliver(self, delivery: Delivery) -> Outcome:
        content = delivery.content
        if isinstance(content, Email):
            await self._run(self._write_email, content)
            return sent(content.message_id)
        message_id = str(uuid.uuid4())
        record: dict[str, Any] = {
            "MessageId": message_id,
            "ApplicationId": delivery.application_id,
            "EndpointId": delivery.endpoint_id,
        }
        if isinstance(content, Sms):
            record.update(sms_record(content))
            name = "sms.jsonl"
        else:
            record.update(push_record(content))
            name = "push.jsonl"
        record["Time"] = format_date(datetime.now(UTC))
        line = json.dumps(record, ensure_ascii=False) + "\n"
        await self._run(self._append, self.directory / name, line.encode())
        return sent(message_id)

    async def _run(self, fn: Callable[..., None], *args: Any) -> None:
        await asyncio.get_running_loop().run_in_executor(self._threads, fn, *args)

    async def close(self) -> None:
        self._threads.shutdown(wait=True)

    def _write_email(self, message: Email) -> None:
        data = compose(message)
        name = f"{int(time.time())}.{uuid.uuid4().hex}.{socket.gethostname().replace('/', '_')}"
        draft = self._maildir / "tmp" / name
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(draft, self._maildir / "new" / name)
        _fsync_directory(self._maildir / "new")

    @staticmethod
    def _append(path: Path, line: bytes) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)


def sms_record(sms: Sms) -> dict[str, Any]:
    """An SMS as the outbox and the webhook describe it (M10, M11)."""
    return {
        "To": sms.to,
        "From": sms.origination,
        "Body": sms.body,
        "MessageType": sms.message_type,
        "Keyword": sms.keyword,
    }


def push_record(push: Push) -> dict[str, Any]:
    return {
        "ChannelType": push.platform,
        "Token": push.token,
        "Headers": dict(push.headers),
        "Payload": push.payload,
    }


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
