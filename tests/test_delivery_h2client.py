"""The HTTP/2 client under the push back end: one connection per origin, the server's
stream limit, cancellation of one stream, a lost connection, a server without HTTP/2."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import h2.config
import h2.connection as h2_connection
import pytest

from h2fake import H2Server, Request, Response
from openpinpoint.delivery.h2client import H2Client, H2ConnectionLost, _PushH2Connection
from openpinpoint.delivery.push_tls import tls_context
from pushfakes import Pki, pki

__all__ = ["pki"]  # fixture


class Handler:
    def __init__(self) -> None:
        self.stalled = threading.Event()

    async def __call__(self, request: Request) -> Response:
        if request.path == "/stall":
            self.stalled.set()
            await asyncio.Event().wait()
        await asyncio.sleep(0.001)  # let other streams arrive meanwhile
        return Response(200, request.body or request.path.encode(), {"x-path": request.path})


@pytest.fixture
def handler() -> Handler:
    return Handler()


@pytest.fixture
def server(pki: Pki, handler: Handler) -> Iterator[H2Server]:
    running = H2Server(handler, pki.server_context(), max_streams=3).start()
    yield running
    running.stop()


def client(server: H2Server, pki: Pki) -> H2Client:
    return H2Client(server.url, tls_context(str(pki.ca_file), http2_only=True))


def test_requests_beyond_the_stream_limit_wait_and_share_one_connection(
    server: H2Server, pki: Pki
) -> None:
    async def scenario() -> list[bytes]:
        h2 = client(server, pki)
        responses = await asyncio.gather(
            *(h2.request("POST", f"/n/{i}", {}, f"body {i}".encode()) for i in range(30))
        )
        await h2.close()
        return [r.body for r in responses if r.status == 200]

    assert asyncio.run(scenario()) == [f"body {i}".encode() for i in range(30)]
    assert server.connections == 1
    assert server.most_streams <= 3


def test_a_cancelled_request_resets_only_its_stream(server: H2Server, pki: Pki) -> None:
    async def scenario() -> int:
        h2 = client(server, pki)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(h2.request("GET", "/stall", {}, b""), 0.2)
        response = await h2.request("GET", "/after", {}, b"")
        await h2.close()
        return response.status

    assert asyncio.run(scenario()) == 200
    assert server.connections == 1


def test_a_lost_connection_fails_the_requests_in_flight(
    server: H2Server, pki: Pki, handler: Handler
) -> None:
    async def scenario() -> None:
        h2 = client(server, pki)
        pending = asyncio.ensure_future(h2.request("GET", "/stall", {}, b""))
        await asyncio.to_thread(handler.stalled.wait, 10)
        await asyncio.to_thread(server.stop)
        with pytest.raises(H2ConnectionLost):
            await pending
        await h2.close()

    asyncio.run(scenario())


def test_a_server_without_http2_is_refused(pki: Pki) -> None:
    async def scenario() -> None:
        context = pki.server_context()
        context.set_alpn_protocols(["http/1.1"])
        listener = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0, ssl=context)
        port = listener.sockets[0].getsockname()[1]
        h2 = H2Client(f"https://localhost:{port}", tls_context(str(pki.ca_file)))
        with pytest.raises(H2ConnectionLost, match="does not speak HTTP/2"):
            await h2.request("GET", "/", {}, b"")
        listener.close()

    asyncio.run(scenario())


def test_an_untrusted_server_certificate_is_refused(server: H2Server) -> None:
    async def scenario() -> None:
        h2 = H2Client(server.url, tls_context(None, http2_only=True))
        with pytest.raises(H2ConnectionLost, match="cannot connect"):
            await h2.request("GET", "/", {}, b"")

    asyncio.run(scenario())


def test_h2_is_told_the_open_streams_and_still_forgets_closed_ones(
    server: H2Server, pki: Pki, handler: Handler
) -> None:
    """The client gives h2 its own count of open streams (h2 would walk every stream per
    request); the count must be h2's, and h2 must still drop the streams that ended."""

    async def scenario() -> tuple[int, int, int]:
        h2 = client(server, pki)
        for start in range(0, 900, 30):
            await asyncio.gather(
                *(h2.request("GET", f"/n/{i}", {}, b"") for i in range(start, start + 30))
            )
        stalled = asyncio.ensure_future(h2.request("GET", "/stall", {}, b""))
        await asyncio.to_thread(handler.stalled.wait, 10)
        connection = h2._connection
        assert connection is not None
        held = len(connection.h2.streams)
        told = connection.h2.open_outbound_streams
        counted = h2_connection.H2Connection.open_outbound_streams.fget(connection.h2)  # type: ignore[attr-defined]
        stalled.cancel()
        await h2.close()
        return held, told, counted

    held, told, counted = asyncio.run(scenario())
    assert told == counted == 1
    # 901 streams were opened; h2 holds at most those since its last sweep.
    assert held <= _PushH2Connection.SWEEP_EVERY + 1 < 901


def test_unique_paths_stay_out_of_the_hpack_table_and_headers_are_sent_literally(
    server: H2Server, pki: Pki
) -> None:
    """APNs paths name one device each: indexed, they would push the repeating headers
    (the provider token) out of the table; Huffman coding them cost more than it saves."""

    async def scenario() -> list[str]:
        h2 = client(server, pki)
        for i in range(20):
            response = await h2.request(
                "POST",
                f"/3/device/{i:064d}",
                {"apns-topic": "com.example"},
                b"{}",
                unique_path=True,
            )
            assert response.status == 200
        connection = h2._connection
        assert connection is not None
        names = [name for name, _ in connection.h2.encoder.header_table.dynamic_entries]
        await h2.close()
        return [name.decode() if isinstance(name, bytes) else name for name in names]

    names = asyncio.run(scenario())
    assert ":path" not in names
    assert "apns-topic" in names
    device_path = b"/3/device/" + b"7" * 64
    assert device_path in _PushH2Connection(
        h2.config.H2Configuration(client_side=True), lambda: 0
    ).encoder.encode([(":path", device_path.decode())])
