"""uvicorn's httptools protocol with three changes: what the HTTP parser refuses gets a
Pinpoint error (G11) instead of uvicorn's plain text, a request's headers must arrive
within a time limit, and a response's head and body leave in one write.

All three happen outside the ASGI app, so they cannot be done there: uvicorn answers an
unparsable request itself, would wait for a request's headers forever (its keep-alive
timeout stops as soon as the first byte of a request arrives), and writes the head of a
response when the app starts it, the body when the app sends it.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from openpinpoint.core.errors import BadRequest
from openpinpoint.core.shapes import MessageBody, encode
from openpinpoint.defaults import DEFAULT_HEADER_TIMEOUT
from openpinpoint.wire.request_ids import new_request_id

MAX_URL_BYTES = 16 * 1024
"""The request line's URL; the longest a Pinpoint request needs is a few hundred bytes."""

LINGER_SECONDS = 5.0
"""How long a refused client may go on sending before its connection is closed anyway."""


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
        self._refused = False
        self._url_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._writes = ResponseWrites(transport, self.loop)
        self._await_headers()

    def data_received(self, data: bytes) -> None:
        if not self._refused:  # else the rest of what was refused: dropped
            super().data_received(data)

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
        if self.cycle is not None:  # the request's, made just now
            self.cycle.transport = cast(asyncio.Transport, self._writes)

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
        self._writes.write(head.encode() + body)
        self._close_after_the_client()

    def _close_after_the_client(self) -> None:
        """The answer is followed by the end of what the server sends; the connection
        closes when the client's end comes (`eof_received`), or after `LINGER_SECONDS`,
        and what the client sends meanwhile is dropped. A refused client is often still
        sending (the rest of a long URL, a body): a close with unread bytes sends a reset,
        which can destroy the answer before the client reads it."""
        self._refused = True
        if not self.transport.can_write_eof():  # TLS: no half-close
            self._writes.close()
            return
        self._writes.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)


class ResponseWrites:
    """The connection as a response sees it: what the response writes during one step of
    the event loop leaves in one write at the end of the step.

    uvicorn writes a response's head when the app starts the response and its body when
    the app sends it, two system calls and two TCP segments; the client, woken by the
    head, often sleeps again before the body. In one write, GetEndpoint on SQLite went
    from 10,800-11,200 to 18,000-18,300 req/s under `wrk -t1 -c64` on two cores (the
    server's CPU 89-92 → 53-55 µs a request, its system time 29-33 → 11-12 µs). The app
    sends both without waiting in between, so they share a step; a response streamed in
    parts leaves a write at each step it waits."""

    __slots__ = ("_ended", "_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.BaseTransport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = cast(asyncio.WriteTransport, transport)
        self._loop = loop
        self._pending: list[bytes] = []
        self._ended = False  # whether the end of what the server sends has gone

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(data)

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        if pending and not self._ended and not self._transport.is_closing():
            self._transport.write(b"".join(pending))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        """What is pending, then the end: what is written after it is dropped, as after
        `close` (a response to a request that came before a refused one, say)."""
        self.flush()
        self._ended = True
        self._transport.write_eof()

    def is_closing(self) -> bool:
        return self._transport.is_closing()
