"""The ASGI application: Pinpoint REST-JSON in, provider call, Pinpoint REST-JSON out.

Every response carries `x-amzn-RequestId`; every error also `x-amzn-ErrorType` and the
body `{"Message": ..., "RequestID": ...}` that botocore turns into the modeled exception
(decision G11). Nothing unexpected leaks: a bug becomes a generic 500 and a log line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

import msgspec

from openpinpoint.core.errors import BadRequest, PayloadTooLarge, PinpointError, RetryLater
from openpinpoint.core.provider import PinpointProvider, RequestContext
from openpinpoint.core.shapes import MessageBody, encode
from openpinpoint.defaults import DEFAULT_BODY_TIMEOUT
from openpinpoint.wire.auth import Authenticator, HttpRequest, NoAuthentication
from openpinpoint.wire.operations import OPERATIONS, Operation
from openpinpoint.wire.request_ids import new_request_id
from openpinpoint.wire.router import Router
from openpinpoint.wire.throttle import Throttle

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MAX_BODY_BYTES = 7 * 1024 * 1024

log = logging.getLogger("openpinpoint.wire")
access_log = logging.getLogger("openpinpoint.access")

_JSON = (b"content-type", b"application/json")


class PinpointApp:
    """Serves `provider` over HTTP. `lifespan` opens and closes what the provider needs."""

    def __init__(
        self,
        provider_factory: Callable[[], Awaitable[PinpointProvider]],
        *,
        authenticator: Authenticator | None = None,
        throttle: Throttle | None = None,
        body_timeout: float = DEFAULT_BODY_TIMEOUT,
        on_shutdown: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._provider_factory = provider_factory
        self._on_shutdown = on_shutdown
        self.authenticator: Authenticator = authenticator or NoAuthentication()
        self.throttle = throttle
        self.body_timeout = body_timeout
        self.provider: PinpointProvider | None = None
        self.router = Router(OPERATIONS)
        self._decoders = {
            op.name: msgspec.json.Decoder(op.body) for op in OPERATIONS if op.body is not None
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self.provider = await self._provider_factory()
                except Exception as error:
                    log.exception("startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(error)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._on_shutdown is not None:
                    await self._on_shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        request_id = new_request_id()
        headers: list[tuple[bytes, bytes]] = []
        operation: Operation | None = None
        key_id = "-"
        try:
            body = await _read_body(scope, receive, self.body_timeout)
            request = HttpRequest(
                method=scope["method"],
                raw_path=scope.get("raw_path") or scope["path"].encode(),
                query_string=scope.get("query_string", b""),
                headers=scope["headers"],
                body=body,
            )
            caller = self.authenticator.authenticate(request)
            key_id = caller.access_key_id or "-"
            if self.throttle is not None:
                self.throttle.take(caller.access_key_id or "anonymous")
            operation, labels = self.router.match(request.method, request.raw_path)
            arguments: dict[str, Any] = dict(labels)
            if operation.query or operation.list_query:
                arguments.update(_query_arguments(operation, request.query_string))
            if operation.body is not None:
                arguments["body"] = self._decode(operation, body)
            assert self.provider is not None, "lifespan startup has not run"
            handler = getattr(self.provider, operation.handler)
            context = RequestContext(
                request_id=request_id,
                region=caller.region,
                access=caller.access,
                access_key_id=caller.access_key_id,
            )
            result = await handler(context, **arguments)
            status = operation.status
            payload = encode(result) if result is not None else b""
            if payload:
                headers.append(_JSON)
        except PinpointError as error:
            status, payload = error.status, _error_body(error.message, request_id)
            headers += [_JSON, (b"x-amzn-errortype", error.code.encode())]
            if isinstance(error, RetryLater):
                headers.append((b"retry-after", str(max(1, math.ceil(error.retry_after))).encode()))
            if isinstance(error, PayloadTooLarge | BodyTimeout):
                headers.append((b"connection", b"close"))
        except Exception:
            log.exception("request %s failed unexpectedly", request_id)
            status = 500
            payload = _error_body(
                "Internal server error (request id in the server log)", request_id
            )
            headers += [_JSON, (b"x-amzn-errortype", b"InternalServerErrorException")]
        headers += [
            (b"content-length", str(len(payload)).encode()),
            (b"x-amzn-requestid", request_id.encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
        if access_log.isEnabledFor(logging.INFO):
            access_log.info(
                "%s %s %s %s %d %.1fms %s",
                scope.get("client", ("-",))[0],
                key_id,
                scope["method"],
                operation.name if operation else scope.get("path", "?"),
                status,
                (time.perf_counter() - started) * 1000,
                request_id,
            )

    def _decode(self, operation: Operation, body: bytes) -> Any:
        if not body:
            raise BadRequest(f"{operation.name} needs a JSON request body")
        try:
            decoded = self._decoders[operation.name].decode(body)
        except msgspec.ValidationError as error:
            raise BadRequest(f"Invalid request body: {error}") from None
        except msgspec.DecodeError as error:
            raise BadRequest(f"Request body is not valid JSON: {error}") from None
        except UnicodeDecodeError:
            raise BadRequest("Request body is not valid UTF-8") from None
        _refuse_duplicate_members(body)
        return decoded


class BodyTimeout(BadRequest):
    """The body did not arrive in time; the connection is closed after the answer."""


def _refuse_duplicate_members(body: bytes) -> None:
    """400 when any JSON object in `body` names a member twice.

    msgspec keeps the last of duplicates silently; refusing them instead means no two
    readers of the same body (a proxy, an audit log, this server) can disagree on what it
    said. The body has already been decoded against its shape, so it is valid UTF-8 and
    shallow: parsing it again cannot recurse deeply.
    """
    try:
        _MEMBER_CHECK.decode(body.decode("utf-8"))
    except ValueError as error:
        raise BadRequest(f"Request body is not valid JSON: {error}") from None


def _check_members(pairs: list[tuple[str, Any]]) -> None:
    if len(pairs) > 1 and len(dict(pairs)) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise BadRequest(f"Request body names the member {name!r} twice in one object")
            seen.add(name)


# One decoder for every request: `json.loads` with a hook builds a new one per call (a
# third of the check's 9.5 us for an UpdateEndpoint), and the hook builds no dicts.
_MEMBER_CHECK = json.JSONDecoder(object_pairs_hook=_check_members)


def _error_body(message: str, request_id: str) -> bytes:
    return encode(MessageBody(message=message, request_id=request_id))


async def _read_body(scope: Scope, receive: Receive, timeout: float) -> bytes:
    """The whole body, refused with 413 as soon as it is known to exceed 7 MB.

    A client that sends its body too slowly (a slow-loris attack) gets 400 after `timeout`
    seconds and its connection is closed; other connections are served meanwhile.
    """
    announced = False
    for name, value in scope["headers"]:
        if name == b"content-length":
            if not value.isdigit():
                raise BadRequest("Content-Length is not a number")
            length = int(value)
            if length > MAX_BODY_BYTES:
                raise PayloadTooLarge(_too_large())
            announced = announced or length > 0
        elif name == b"transfer-encoding":
            announced = True
    if not announced:
        # No body in HTTP/1.1 (RFC 9112 6.3): the server has the whole request already, and
        # a timer per GET cost 3% of a read.
        return await _receive_body(receive)
    try:
        async with asyncio.timeout(timeout):
            return await _receive_body(receive)
    except TimeoutError:
        raise BodyTimeout(f"The request body was not received within {timeout:g} seconds") from None


async def _receive_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BadRequest("The client disconnected before sending the whole body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            if message.get("more_body", False):
                await _discard_rest(receive)
            raise PayloadTooLarge(_too_large())
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _discard_rest(receive: Receive) -> None:
    """Read, and drop, up to another 7 MB of a refused body. Closing a connection with
    unread data makes the kernel reset it, and a client still sending then loses the 413
    before it can read it; a body larger still is cut off at that cost (and the body
    timeout bounds the time this takes)."""
    dropped = 0
    while dropped <= MAX_BODY_BYTES:
        message = await receive()
        dropped += len(message.get("body", b""))
        if message["type"] == "http.disconnect" or not message.get("more_body", False):
            return


def _too_large() -> str:
    return f"The request body is larger than the limit of 7 MB ({MAX_BODY_BYTES} bytes)"


def _query_arguments(operation: Operation, query_string: bytes) -> dict[str, Any]:
    try:
        query = parse_qs(query_string.decode("utf-8"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise BadRequest("The query string is not valid UTF-8") from None
    arguments: dict[str, Any] = {}
    for wire, argument in operation.query.items():
        if wire in query:
            arguments[argument] = query[wire][0]
    for wire, argument in operation.list_query.items():
        arguments[argument] = query.get(wire, [])
    return arguments
