"""A small HTTP/2-over-TLS server (h2's protocol state machine on asyncio streams) for the
push-service fakes. Unlike an ASGI server it tells a handler which connection a request came
on and the client certificate of that connection, which the APNs fake needs, and it counts
connections. It runs on its own event loop in a thread, so both in-process tests and a
server subprocess can reach it."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings

from openpinpoint.delivery.h2client import LiteralEncoder


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    connection: int
    """Which connection (1, 2, ...) the request came on."""
    peer_certificate: dict[str, Any] | None
    """The verified client certificate (`SSLSocket.getpeercert()`), or None."""


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Awaitable[Response]]


class H2Server:
    def __init__(
        self, handler: Handler, context: ssl.SSLContext, *, max_streams: int = 1000
    ) -> None:
        context.set_alpn_protocols(["h2"])
        self.max_streams = max_streams
        """SETTINGS_MAX_CONCURRENT_STREAMS; APNs allows 1,000 once authenticated."""
        self._handler = handler
        self._context = context
        self.connections = 0
        """Connections accepted so far."""
        self.most_streams = 0
        """The most requests a connection had in progress at once."""
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.port = 0

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}"

    def start(self) -> H2Server:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        self.port = future.result(timeout=10)
        return self

    async def _listen(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self._context)
        return int(self._server.sockets[0].getsockname()[1])

    def stop(self) -> None:
        """Closes the listener and every connection; stopping twice is harmless."""
        if not self._loop.is_running():
            return

        async def shut() -> None:
            assert self._server is not None
            self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(shut(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        peer = writer.get_extra_info("peercert") or None
        conn = h2.connection.H2Connection(
            h2.config.H2Configuration(
                client_side=False,
                header_encoding="utf-8",
                # The requests are checked (they are what is under test); the fake's own
                # answers are not, nor Huffman-coded: the fake is cheap beside the server
                # in the push benchmark, as Apple's and Google's servers would be.
                validate_outbound_headers=False,
                normalize_outbound_headers=False,
            )
        )
        conn.encoder = LiteralEncoder()
        conn.local_settings = h2.settings.Settings(
            client=False,
            initial_values={h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: self.max_streams},
        )
        conn.initiate_connection()
        writer.write(conn.data_to_send())
        pending: dict[int, tuple[dict[str, str], bytearray]] = {}
        answering: dict[int, asyncio.Task[None]] = {}
        scheduled = False

        def flush_now() -> None:
            nonlocal scheduled
            scheduled = False
            if not writer.is_closing():
                writer.write(conn.data_to_send())

        def flush() -> None:
            # Once per turn of the loop, so that many answers share one TLS record.
            nonlocal scheduled
            if not scheduled:
                scheduled = True
                asyncio.get_running_loop().call_soon(flush_now)

        async def answer(stream_id: int, headers: dict[str, str], body: bytes) -> None:
            request = Request(
                headers.pop(":method", ""),
                headers.pop(":path", ""),
                headers,
                body,
                number,
                peer,
            )
            response = await self._handler(request)
            reply = [(":status", str(response.status)), *response.headers.items()]
            reply.append(("content-length", str(len(response.body))))
            with contextlib.suppress(h2.exceptions.H2Error):
                conn.send_headers(stream_id, reply, end_stream=not response.body)
                if response.body:
                    conn.send_data(stream_id, response.body, end_stream=True)
            answering.pop(stream_id, None)
            flush()

        try:
            while not reader.at_eof():
                data = await reader.read(65536)
                if not data:
                    break
                try:
                    events = conn.receive_data(data)
                except h2.exceptions.ProtocolError:
                    break
                for event in events:
                    if isinstance(event, h2.events.RequestReceived):
                        pending[event.stream_id] = (
                            {str(k): str(v) for k, v in event.headers or []},
                            bytearray(),
                        )
                    elif isinstance(event, h2.events.DataReceived):
                        pending[event.stream_id][1].extend(event.data or b"")
                        conn.acknowledge_received_data(
                            event.flow_controlled_length, event.stream_id
                        )
                    elif isinstance(event, h2.events.StreamEnded):
                        headers, body = pending.pop(event.stream_id)
                        answering[event.stream_id] = asyncio.create_task(
                            answer(event.stream_id, headers, bytes(body))
                        )
                        self.most_streams = max(self.most_streams, len(answering))
                    elif isinstance(event, h2.events.StreamReset):
                        task = answering.pop(event.stream_id, None)
                        if task is not None:
                            task.cancel()
                    elif isinstance(event, h2.events.ConnectionTerminated):
                        return
                flush()
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            for task in answering.values():
                task.cancel()
            writer.close()
