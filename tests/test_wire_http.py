"""wire/http.py: a response's writes leave together."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from conftest import RunningServer
from openpinpoint.wire.http import ResponseWrites


class _Transport(asyncio.WriteTransport):
    """Records what is written to it, whenever."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []
        self.closed = False
        self.ended = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        # Recorded even after close or write_eof (a real transport drops it, or raises in
        # a callback of the loop, which only logs it), for the tests to see.
        self.written.append(bytes(data))

    def write_eof(self) -> None:
        self.ended = True

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def _writes(loop: asyncio.AbstractEventLoop) -> tuple[_Transport, ResponseWrites]:
    transport = _Transport()
    return transport, ResponseWrites(transport, loop)


def test_what_a_response_writes_in_one_step_leaves_in_one_write_at_its_end(
    loop: asyncio.AbstractEventLoop,
) -> None:
    transport, writes = _writes(loop)
    writes.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    writes.write(b"{}")
    assert transport.written == []
    loop.run_until_complete(asyncio.sleep(0))
    assert transport.written == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]
    writes.write(b"next")
    loop.run_until_complete(asyncio.sleep(0))
    assert transport.written[1:] == [b"next"]


def test_closing_sends_what_is_pending_first_and_nothing_after(
    loop: asyncio.AbstractEventLoop,
) -> None:
    transport, writes = _writes(loop)
    writes.write(b"head")
    writes.write(b"body")
    writes.close()
    assert (transport.written, transport.closed) == ([b"headbody"], True)
    writes.write(b"late")  # the flush scheduled by the first write, and this one's
    loop.run_until_complete(asyncio.sleep(0))
    assert transport.written == [b"headbody"]
    assert writes.is_closing()


def test_ending_sends_what_is_pending_first_and_drops_what_comes_after(
    loop: asyncio.AbstractEventLoop,
) -> None:
    """A refused request's 400 ends what the server sends (a half-close): a response to a
    request before it, written later, is dropped as after a close, not written after the
    end (an error in the event loop)."""
    transport, writes = _writes(loop)
    writes.write(b"400")
    writes.write_eof()
    assert (transport.written, transport.ended) == ([b"400"], True)
    writes.write(b"late")
    loop.run_until_complete(asyncio.sleep(0))
    assert transport.written == [b"400"]


def test_a_response_before_the_server_closes_the_connection_arrives_whole(
    server: RunningServer,
) -> None:
    """`Connection: close`: uvicorn closes the connection right after the response's last
    write, which must leave first."""
    parts = urlsplit(server.url)
    assert parts.hostname is not None
    assert parts.port is not None
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(
            b"GET /v1/apps/0123456789abcdef0123456789abcdef HTTP/1.1\r\nHost: x\r\n"
            b"Connection: close\r\n\r\n"
        )
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 ")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    assert length > 0
    assert len(body) == length
