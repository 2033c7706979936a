"""uvicorn's httptools protocol with two changes: what the HTTP parser refuses gets a
Pinpoint error (G11) instead of uvicorn's plain text, and a request's headers must arrive
within a time limit.

Both happen before a request reaches the ASGI app, so they cannot be done there: uvicorn
answers an unparsable request itself, and would wait for a request's headers forever (its
keep-alive timeout stops as soon as the first byte of a request arrives).
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from openpinpoint.core.errors import BadRequest
from openpinpoint.core.shapes import MessageBody, encode
from openpinpoint.defaults import DEFAULT_HEADER_TIMEOUT
from openpinpoint.wire.request_ids import new_request_id

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
        # One timer per connection, re-armed only when it fires: a timer armed and
        # cancelled for every request cost ~1 us of each GetEndpoint's ~25.
        self._header_timer: asyncio.TimerHandle | None = None
        self._awaiting_since: float | None = None
        self._refusal = "The request is not valid HTTP/1.1"
        self._url_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_headers()

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
        self._awaiting_since = self.loop.time()
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self._header_timeout, self._check_headers)

    def _headers_arrived(self) -> None:
        self._awaiting_since = None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        self._awaiting_since = None
        super().connection_lost(exc)

    def _check_headers(self) -> None:
        """The timer: cut off headers overdue, else wait for the deadline of the request
        now awaited, if any (the next request's start arms the timer again)."""
        self._header_timer = None
        if self._awaiting_since is None or self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            # A request pipelined behind one still being answered, whose rest uvicorn may
            # not read until that answer is out: its time starts again.
            self._await_headers()
            return
        deadline = self._awaiting_since + self._header_timeout
        if self.loop.time() < deadline:
            self._header_timer = self.loop.call_at(deadline, self._check_headers)
            return
        self._send_error(
            BadRequest(
                f"The request headers were not received within {self._header_timeout:g} seconds"
            )
        )

    def _send_error(self, error: BadRequest) -> None:
        request_id = new_request_id()
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
