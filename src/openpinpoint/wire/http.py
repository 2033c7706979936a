"""uvicorn's httptools protocol with two changes: what the HTTP parser refuses gets a
Pinpoint error (G11) instead of uvicorn's plain text, and a request's headers must arrive
within a time limit.

Both happen before a request reaches the ASGI app, so they cannot be done there: uvicorn
answers an unparsable request itself, and would wait for a request's headers forever (its
keep-alive timeout stops as soon as the first byte of a request arrives).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from openpinpoint.core.errors import BadRequest
from openpinpoint.core.shapes import MessageBody, encode
from openpinpoint.defaults import DEFAULT_HEADER_TIMEOUT

MAX_URL_BYTES = 16 * 1024
"""The request line's URL; the longest a Pinpoint request needs is a few hundred bytes."""


class PinpointConfig(uvicorn.Config):
    """uvicorn's settings plus the header timeout, which travels with them to workers."""

    def __init__(
        self, *args: Any, header_timeout: float = DEFAULT_HEADER_TIMEOUT, **kw: Any
    ) -> None:
        kw["http"] = PinpointHttpProtocol
        super().__init__(*args, **kw)
        self.header_timeout = header_timeout


class PinpointHttpProtocol(HttpToolsProtocol):
    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self._header_timeout = getattr(config, "header_timeout", DEFAULT_HEADER_TIMEOUT)
        self._header_deadline: asyncio.TimerHandle | None = None
        self._refusal = "The request is not valid HTTP/1.1"
        self._url_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._headers_arrived()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._url_bytes = 0
        self._await_headers()

    def on_url(self, url: bytes) -> None:
        self._url_bytes += len(url)
        if self._url_bytes > MAX_URL_BYTES:
            self._refusal = f"The URL is longer than the limit of {MAX_URL_BYTES} bytes"
            raise ValueError(self._refusal)  # the parser stops, and send_400_response follows
        super().on_url(url)

    def on_headers_complete(self) -> None:
        self._headers_arrived()
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        self._headers_arrived()
        self._send_error(BadRequest(self._refusal))

    def _await_headers(self) -> None:
        if self._header_deadline is None:
            self._header_deadline = self.loop.call_later(self._header_timeout, self._too_slow)

    def _headers_arrived(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _too_slow(self) -> None:
        self._header_deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being answered; its response re-arms the keep-alive timer
        self._send_error(
            BadRequest(
                f"The request headers were not received within {self._header_timeout:g} seconds"
            )
        )

    def _send_error(self, error: BadRequest) -> None:
        request_id = str(uuid.uuid4())
        body = encode(MessageBody(message=error.message, request_id=request_id))
        head = (
            "HTTP/1.1 400 Bad Request\r\n"
            "content-type: application/json\r\n"
            f"x-amzn-errortype: {error.code}\r\n"
            f"x-amzn-requestid: {request_id}\r\n"
            f"content-length: {len(body)}\r\n"
            "connection: close\r\n\r\n"
        )
        self.transport.write(head.encode() + body)
        self.transport.close()
