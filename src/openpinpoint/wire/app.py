"""The ASGI application: Pinpoint REST-JSON in, provider call, Pinpoint REST-JSON out.

Every response carries `x-amzn-RequestId`; every error also `x-amzn-ErrorType` and the
body `{"Message": ..., "RequestID": ...}` that botocore turns into the modeled exception
(decision G11). Nothing unexpected leaks: a bug becomes a generic 500 and a log line.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

import msgspec

from openpinpoint.core.errors import BadRequest, PayloadTooLarge, PinpointError, TooManyRequests
from openpinpoint.core.provider import PinpointProvider, RequestContext
from openpinpoint.core.shapes import MessageBody, encode
from openpinpoint.wire.auth import Authenticator, HttpRequest, NoAuthentication
from openpinpoint.wire.operations import OPERATIONS, Operation
from openpinpoint.wire.router import Router

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
        on_shutdown: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._provider_factory = provider_factory
        self._on_shutdown = on_shutdown
        self.authenticator: Authenticator = authenticator or NoAuthentication()
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
        request_id = str(uuid.uuid4())
        headers: list[tuple[bytes, bytes]] = []
        operation: Operation | None = None
        try:
            body = await _read_body(scope, receive)
            request = HttpRequest(
                method=scope["method"],
                raw_path=scope.get("raw_path") or scope["path"].encode(),
                query_string=scope.get("query_string", b""),
                headers=scope["headers"],
                body=body,
            )
            caller = self.authenticator.authenticate(request)
            operation, labels = self.router.match(request.method, request.raw_path)
            arguments: dict[str, Any] = dict(labels)
            if operation.query or operation.list_query:
                arguments.update(_query_arguments(operation, request.query_string))
            if operation.body is not None:
                arguments["body"] = self._decode(operation, body)
            assert self.provider is not None, "lifespan startup has not run"
            handler = getattr(self.provider, operation.handler)
            context = RequestContext(request_id=request_id, region=caller.region)
            result = await handler(context, **arguments)
            status = operation.status
            payload = encode(result) if result is not None else b""
            if payload:
                headers.append(_JSON)
        except PinpointError as error:
            status, payload = error.status, _error_body(error.message, request_id)
            headers += [_JSON, (b"x-amzn-errortype", error.code.encode())]
            if isinstance(error, TooManyRequests):
                headers.append((b"retry-after", str(max(1, round(error.retry_after))).encode()))
            if isinstance(error, PayloadTooLarge):
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
                "%s %s %s %d %.1fms %s",
                scope.get("client", ("-",))[0],
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
            return self._decoders[operation.name].decode(body)
        except msgspec.ValidationError as error:
            raise BadRequest(f"Invalid request body: {error}") from None
        except msgspec.DecodeError as error:
            raise BadRequest(f"Request body is not valid JSON: {error}") from None
        except UnicodeDecodeError:
            raise BadRequest("Request body is not valid UTF-8") from None


def _error_body(message: str, request_id: str) -> bytes:
    return encode(MessageBody(message=message, request_id=request_id))


async def _read_body(scope: Scope, receive: Receive) -> bytes:
    """The whole body, refused with 413 as soon as it is known to exceed 7 MB."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            if not value.isdigit():
                raise BadRequest("Content-Length is not a number")
            if int(value) > MAX_BODY_BYTES:
                raise PayloadTooLarge(_too_large())
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BadRequest("The client disconnected before sending the whole body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise PayloadTooLarge(_too_large())
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


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
