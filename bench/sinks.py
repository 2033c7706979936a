"""The benchmark's delivery peers on the same machine: an SMS webhook that answers every POST
at once (uvicorn, like OpenPinpoint), and an SMTP server that accepts and discards
(aiosmtpd). `python sinks.py webhook PORT` or `python sinks.py smtp PORT`."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink

Message = MutableMapping[str, Any]
ANSWER = b'{"MessageId": "webhook-sink"}'


async def webhook(
    scope: Message,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": ANSWER})


async def smtp(port: int) -> None:
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    await asyncio.Event().wait()


def main() -> None:
    kind, port = sys.argv[1], int(sys.argv[2])
    if kind == "webhook":
        uvicorn.run(
            webhook,
            host="127.0.0.1",
            port=port,
            http="httptools",
            loop="uvloop",
            log_level="warning",
        )
    else:
        asyncio.run(smtp(port))


if __name__ == "__main__":
    main()
