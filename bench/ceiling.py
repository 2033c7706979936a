"""The ceiling baseline: the smallest ASGI app on OpenPinpoint's own HTTP stack.

It reads the request body and answers every request with the same 600-byte JSON, on
uvicorn with OpenPinpoint's httptools protocol (`wire/http.py`: a response's head and body
in one write) and uvloop, and the socket set up exactly as `openpinpoint serve` does. No
server built on this stack can be faster, so OpenPinpoint's throughput divided by this
one's is the share of the stack's capacity that OpenPinpoint's own work leaves.

    python bench/ceiling.py [--port 0] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

from openpinpoint.server import bind
from openpinpoint.wire.http import PinpointConfig

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]

# An EndpointResponse-like document padded to exactly 600 bytes.
_DOC = {
    "Address": "+15550001234",
    "ApplicationId": "0123456789abcdef0123456789abcdef",
    "Attributes": {"interests": ["music", "travel"], "plan": ["premium"]},
    "ChannelType": "SMS",
    "CohortId": "42",
    "CreationDate": "2026-11-28T12:00:00.000Z",
    "Demographic": {"Locale": "en_US", "Platform": "android", "Timezone": "Europe/Berlin"},
    "EffectiveDate": "2026-11-28T12:00:00.000Z",
    "EndpointStatus": "ACTIVE",
    "Id": "ep-1234",
    "Location": {"City": "Berlin", "Country": "DEU"},
    "OptOut": "NONE",
    "RequestId": "",
    "User": {"UserId": "u-1234"},
}
_doc = json.dumps(_DOC, separators=(",", ":")).encode()
BODY = _doc.replace(b'"RequestId":""', b'"RequestId":"' + b"x" * (600 - len(_doc)) + b'"')
assert len(BODY) == 600

_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(BODY)).encode()),
    ],
}
_BODY = {"type": "http.response.body", "body": BODY}


async def app(
    scope: Scope,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send(_START)
    await send(_BODY)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    sock = bind(args.host, args.port)
    host, port = sock.getsockname()[:2]
    config = PinpointConfig(
        "ceiling:app",
        loop="uvloop",
        lifespan="off",
        log_config=None,
        log_level="warning",
        access_log=False,
        server_header=False,
        workers=args.workers,
    )
    print(f"ceiling listening on http://{host}:{port}", file=sys.stderr, flush=True)
    if args.workers > 1:
        Multiprocess(config, sockets=[sock]).run()
    else:
        uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
