"""An export's endpoints, or a segment's members (S7), read in pieces ahead of their
writing (`core/jobs.py` encodes, compresses and writes each piece).

Reading runs beside the writing: the pieces after the one being written are read
meanwhile, through `Store.scan`, off the event loop. A segment's members are read in
windows of the app, `READERS` at once: a window ends `WINDOW_ROWS` endpoints after it
starts, so the next one can be read before this one's members are known, and a pass over
the app, which costs a small segment about as much as writing its members, runs on as many
cores as it has readers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from functools import partial

from msgspec import UNSET

from openpinpoint.core import segments
from openpinpoint.core.predicates import Predicate
from openpinpoint.core.shapes import EndpointResponse, ExportJobResource
from openpinpoint.core.values import endpoint_key
from openpinpoint.store.base import ReadTx, Store

PAGE_ENDPOINTS = 1_000
"""Endpoints of a whole-app export read in one transaction."""
PIECE_ENDPOINTS = 10_000
"""Endpoints in each piece but the last."""
WINDOW_ROWS = 20_000
"""Endpoints of the app that one read of a segment's members passes over."""
READERS = 2
"""Windows of a segment read at once."""

Piece = list[EndpointResponse]


async def pieces(
    store: Store, app_id: str, definition: ExportJobResource, after: str
) -> AsyncGenerator[Piece, None]:
    """The endpoints (or members) whose keys follow `after`, in key order, PIECE_ENDPOINTS
    at a time, the last piece shorter and none empty; the next ones are read while the
    caller handles one."""
    ready: asyncio.Queue[Piece | Exception] = asyncio.Queue(maxsize=1)
    reading = asyncio.create_task(_cut(ready, _chunks(store, app_id, definition, after)))
    try:
        while True:
            piece = await ready.get()
            if isinstance(piece, Exception):
                raise piece
            if piece:
                yield piece
            if len(piece) < PIECE_ENDPOINTS:
                return
    finally:
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading


async def _cut(
    ready: asyncio.Queue[Piece | Exception], chunks: AsyncGenerator[Piece, None]
) -> None:
    """Cut the chunks into pieces; after the last, whatever is left, however short."""
    piece: Piece = []
    try:
        async with contextlib.aclosing(chunks):
            async for chunk in chunks:
                piece += chunk
                while len(piece) >= PIECE_ENDPOINTS:
                    await ready.put(piece[:PIECE_ENDPOINTS])
                    del piece[:PIECE_ENDPOINTS]
        await ready.put(piece)
    except Exception as error:
        await ready.put(error)


async def _chunks(
    store: Store, app_id: str, definition: ExportJobResource, after: str
) -> AsyncGenerator[Piece, None]:
    if definition.segment_id is UNSET:
        while True:
            page = await store.scan(partial(_page, app_id, after))
            yield page
            if len(page) < PAGE_ENDPOINTS:
                return
            after = endpoint_key(str(page[-1].id))
    windows: deque[asyncio.Future[Piece]] = deque()
    start: str | None = after
    try:
        while windows or start is not None:
            while start is not None and len(windows) < READERS:
                end = await store.scan(partial(_window_end, app_id, start))
                window = partial(_window, app_id, definition, start, end)
                windows.append(asyncio.ensure_future(store.scan(window)))
                start = end
            yield await windows.popleft()
    finally:
        for window_read in windows:
            window_read.cancel()


def _page(app_id: str, after: str, tx: ReadTx) -> Piece:
    return tx.list_endpoints(app_id, after, PAGE_ENDPOINTS)


def _window_end(app_id: str, start: str, tx: ReadTx) -> str | None:
    return tx.segment_window_end(app_id, start, WINDOW_ROWS)


def _window(
    app_id: str, definition: ExportJobResource, start: str, end: str | None, tx: ReadTx
) -> Piece:
    """The members after `start` and up to `end` (to the app's end when None). A window
    holds WINDOW_ROWS endpoints when its end is found, more if some are added before it is
    read, so it is read until a page comes back short."""
    segment = _segment(tx, app_id, definition)
    found: Piece = []
    while True:
        page = tx.segment_members(app_id, segment, start, WINDOW_ROWS, end)
        found += page
        if len(page) < WINDOW_ROWS:
            return found
        start = endpoint_key(str(page[-1].id))


def _segment(tx: ReadTx, app_id: str, definition: ExportJobResource) -> Predicate:
    assert definition.segment_id is not UNSET
    version = definition.segment_version or None
    return segments.predicate(tx, app_id, definition.segment_id, version, datetime.now(UTC))
