"""One multiplexed HTTP/2 connection to one origin, on h2's protocol state machine.

FCM and APNs both speak HTTP/2, and APNs asks for few long-lived connections carrying many
concurrent streams. httpx's HTTP/2 pool served a burst of a thousand requests at a few
hundred a second and could fail every later request on the connection after one was
cancelled (a deadline); this client keeps each stream's state in one place, so a cancelled
request resets only its own stream, and a request is a few dictionary operations.

The connection opens on first use and again after it is lost (or the server sends GOAWAY);
requests beyond the server's SETTINGS_MAX_CONCURRENT_STREAMS wait for a free stream."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import hpack

READ_SIZE = 65536


@dataclass
class H2Response:
    status: int
    headers: dict[str, str]
    body: bytes


class H2ConnectionLost(ConnectionError):
    """The connection closed, or could not be opened, before the response came."""


@dataclass
class _Stream:
    done: asyncio.Future[H2Response]
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytearray = field(default_factory=bytearray)


class LiteralEncoder(hpack.Encoder):
    """HPACK without Huffman coding: in pure Python it cost a fifth of a push's headers
    (a 64-character device token in every APNs path), to save some twenty bytes a request."""

    def encode(self, headers: Any, huffman: bool = True) -> bytes:
        return super().encode(headers, huffman=False)


class _PushH2Connection(h2.connection.H2Connection):
    """h2's connection, with literal header coding, and told how many streams are open
    instead of counting them.

    h2 counts the open streams before each new one by walking every stream it holds
    (`open_outbound_streams`), so a burst of a thousand pushes on one connection cost a
    million steps: a tenth of the server's time in the push benchmark. The client already
    keeps the streams waiting for an answer; h2's walk, which also forgets closed streams,
    runs once every `SWEEP_EVERY` new streams instead."""

    SWEEP_EVERY = 256

    def __init__(self, config: h2.config.H2Configuration, count: Callable[[], int]) -> None:
        super().__init__(config)
        self.encoder = LiteralEncoder()
        self._count = count
        self._until_sweep = self.SWEEP_EVERY

    @property
    def open_outbound_streams(self) -> int:
        self._until_sweep -= 1
        if self._until_sweep <= 0:
            self._until_sweep = self.SWEEP_EVERY
            return super().open_outbound_streams
        return self._count()


class _Connection:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        on_change: asyncio.Condition,
    ) -> None:
        self.writer = writer
        self.streams: dict[int, _Stream] = {}
        """Streams waiting for their answer: h2's open streams, but for the one being opened."""
        self.h2 = _PushH2Connection(
            h2.config.H2Configuration(
                client_side=True,
                header_encoding="utf-8",
                # Our header names are lower case already; a response's headers are only
                # read, never forwarded. Outbound values are still checked.
                normalize_outbound_headers=False,
                validate_inbound_headers=False,
            ),
            lambda: len(self.streams),
        )
        self.h2.initiate_connection()
        self.closed = False
        self.settled = asyncio.Event()
        """Set when the server's first SETTINGS arrive (or the connection ends): until then
        its stream limit is unknown, and APNs starts with a limit of one."""
        self._flush_scheduled = False
        self._on_change = on_change
        self.flush()
        self.reading = asyncio.create_task(self._read(reader))

    def flush(self) -> None:
        """Sends what h2 has queued, once per turn of the event loop: a burst of requests
        goes out in a few TLS records instead of one system call each."""
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_now)

    def _flush_now(self) -> None:
        self._flush_scheduled = False
        data = self.h2.data_to_send()
        if data and not self.closed:
            self.writer.write(data)

    def has_room(self) -> bool:
        return len(self.streams) < self.h2.remote_settings.max_concurrent_streams

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                data = await reader.read(READ_SIZE)
                if not data:
                    break
                events = self.h2.receive_data(data)
                for event in events:
                    self._handle(event)
                self.flush()
                if any(isinstance(e, h2.events.ConnectionTerminated) for e in events):
                    break
                async with self._on_change:
                    self._on_change.notify_all()
        except (OSError, ssl.SSLError, h2.exceptions.ProtocolError):
            pass
        finally:
            await self.close()

    def _handle(self, event: h2.events.Event) -> None:
        stream = self.streams.get(getattr(event, "stream_id", 0) or 0)
        if isinstance(event, h2.events.ResponseReceived) and stream is not None:
            # Text, as header_encoding asks, though h2's types say bytes.
            headers = {str(name): str(value) for name, value in event.headers or []}
            stream.status = int(headers.pop(":status", "0"))
            stream.headers = headers
        elif isinstance(event, h2.events.DataReceived):
            if stream is not None:
                stream.body.extend(event.data or b"")
            self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded) and stream is not None:
            self.streams.pop(event.stream_id, None)
            if not stream.done.done():
                stream.done.set_result(
                    H2Response(stream.status, stream.headers, bytes(stream.body))
                )
        elif isinstance(event, h2.events.StreamReset) and stream is not None:
            self.streams.pop(event.stream_id, None)
            if not stream.done.done():
                stream.done.set_exception(H2ConnectionLost(f"stream reset ({event.error_code})"))
        elif isinstance(event, h2.events.RemoteSettingsChanged):
            self.settled.set()
        elif isinstance(event, h2.events.ConnectionTerminated):
            # GOAWAY: streams the server never started may be retried on a new connection,
            # but a push is not retried within a request (M5); they fail here.
            self.closed = True

    async def close(self) -> None:
        self.closed = True
        self.settled.set()
        for stream in self.streams.values():
            if not stream.done.done():
                stream.done.set_exception(H2ConnectionLost("connection closed"))
        self.streams.clear()
        self.writer.close()
        async with self._on_change:
            self._on_change.notify_all()


class H2Client:
    """Requests to one origin (`https://host[:port]`) over at most one connection at a time."""

    def __init__(self, origin: str, context: ssl.SSLContext) -> None:
        parts = urlsplit(origin)
        self.authority = parts.netloc
        self._host = parts.hostname or ""
        self._port = parts.port or 443
        self._context = context
        self._connection: _Connection | None = None
        self._connecting = asyncio.Lock()
        self._on_change = asyncio.Condition()

    async def _connected(self) -> _Connection:
        if self._connection is not None and not self._connection.closed:
            return self._connection
        async with self._connecting:
            connection = self._connection
            if connection is None or connection.closed:
                try:
                    reader, writer = await asyncio.open_connection(
                        self._host, self._port, ssl=self._context, server_hostname=self._host
                    )
                except (OSError, ssl.SSLError) as error:
                    raise H2ConnectionLost(
                        f"cannot connect to {self.authority}: {error}"
                    ) from error
                ssl_object = writer.get_extra_info("ssl_object")
                if ssl_object is None or ssl_object.selected_alpn_protocol() != "h2":
                    writer.close()
                    raise H2ConnectionLost(f"{self.authority} does not speak HTTP/2")
                connection = _Connection(reader, writer, self._on_change)
                try:
                    await connection.settled.wait()
                except asyncio.CancelledError:
                    await connection.close()
                    raise
                self._connection = connection
            return connection

    async def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        *,
        unique_path: bool = False,
    ) -> H2Response:
        """`unique_path`: a path used once (APNs names the device in it), kept out of the
        HPACK table, where it would only push out the headers that do repeat."""
        connection = await self._connected()
        if not connection.has_room():
            async with self._on_change:
                await self._on_change.wait_for(lambda: connection.closed or connection.has_room())
        if connection.closed:
            raise H2ConnectionLost("connection closed")
        conn = connection.h2
        stream_id = conn.get_next_available_stream_id()
        stream = _Stream(asyncio.get_running_loop().create_future())
        request_headers = [
            (":method", method),
            (":scheme", "https"),
            (":authority", self.authority),
            hpack.NeverIndexedHeaderTuple(":path", path) if unique_path else (":path", path),
            *headers.items(),
            ("content-length", str(len(body))),
        ]
        try:
            conn.send_headers(stream_id, request_headers, end_stream=not body)
            # Only now: h2 counted the open streams, without this one, as it opened it.
            connection.streams[stream_id] = stream
            await self._send_body(connection, stream_id, body)
            connection.flush()
            return await stream.done
        except h2.exceptions.ProtocolError as error:
            # The connection was closed or reset under this request.
            raise H2ConnectionLost(f"HTTP/2: {type(error).__name__}") from error
        finally:
            if not stream.done.done():
                # Cancelled (a deadline): only this stream ends; the connection stays.
                connection.streams.pop(stream_id, None)
                with contextlib.suppress(h2.exceptions.H2Error):
                    conn.reset_stream(stream_id, h2.errors.ErrorCodes.CANCEL)
                connection.flush()

    async def _send_body(self, connection: _Connection, stream_id: int, body: bytes) -> None:
        conn = connection.h2
        view = memoryview(body)
        while view:
            size = min(conn.local_flow_control_window(stream_id), conn.max_outbound_frame_size)
            if size <= 0:
                connection.flush()
                async with self._on_change:
                    await self._on_change.wait_for(
                        lambda: connection.closed or conn.local_flow_control_window(stream_id) > 0
                    )
                if connection.closed:
                    raise H2ConnectionLost("connection closed")
                continue
            chunk, view = view[:size], view[size:]
            conn.send_data(stream_id, bytes(chunk), end_stream=not view)

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection.reading.cancel()
            self._connection = None
