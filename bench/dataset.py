"""The benchmark's data: an app, N endpoints over users of 1-15 endpoints, and pools of
users that exist only to be deleted.

Everything is written through `PinpointProvider.update_endpoints_batch` on a store opened
in this process: the same code path the server runs for UpdateEndpointsBatch, minus HTTP,
which is what makes a million endpoints take a minute rather than ten. Many batches are in
flight at once so the store's group commit can gather them into few transactions.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import psycopg
from psycopg import errors, sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from openpinpoint.core.provider import PinpointProvider, RequestContext
from openpinpoint.core.shapes import (
    MAX_BATCH_ITEMS,
    ChannelType,
    CreateApplicationRequest,
    EndpointBatchItem,
    EndpointBatchRequest,
    EndpointDemographic,
    EndpointLocation,
    EndpointUser,
)
from openpinpoint.store.base import ReadTx, StoredEndpoint, WriteTx
from openpinpoint.store.copy import PAGE, copy_store
from openpinpoint.store.open import open_store

MAX_USER_ENDPOINTS = 15
IN_FLIGHT = 64
CHANNELS: tuple[ChannelType, ...] = ("SMS", "EMAIL", "GCM", "APNS")


def ensure_database(db_url: str) -> bool:
    """Create the PostgreSQL database that `db_url` names when the server has none by that
    name, so that a benchmark command with a new scratch database can be pasted as it is.
    True when it was created; SQLite URLs and existing databases are left alone."""
    if not db_url.startswith(("postgresql:", "postgres:")):
        return False
    name = conninfo_to_dict(db_url).get("dbname")
    if not name or name == "postgres":
        return False
    with psycopg.connect(make_conninfo(db_url, dbname="postgres"), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return False
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(str(name))))
        except errors.DuplicateDatabase:  # made meanwhile by someone else: there it is
            return False
    return True


@dataclass(frozen=True)
class DataSet:
    app_id: str
    endpoints: int
    users: int
    seconds: float


def user_sizes(endpoints: int) -> Iterator[int]:
    """Users get 1, 2, ..., 15, 1, 2, ... endpoints (8 on average) until `endpoints` are used."""
    left, user = endpoints, 0
    while left > 0:
        size = min(user % MAX_USER_ENDPOINTS + 1, left)
        yield size
        left -= size
        user += 1


def _item(endpoint_id: str, number: int, user_id: str) -> EndpointBatchItem:
    return EndpointBatchItem(
        id=endpoint_id,
        address=f"+1555{number:07d}",
        channel_type=CHANNELS[number % len(CHANNELS)],
        opt_out="NONE",
        attributes={"interests": ["music", "travel"], "plan": ["basic"]},
        metrics={"sessions": float(number % 50)},
        demographic=EndpointDemographic(locale="en_US", platform="android", timezone="UTC"),
        location=EndpointLocation(city="Berlin", country="DEU"),
        user=EndpointUser(user_id=user_id, user_attributes={"tier": ["gold"]}),
    )


def _context() -> RequestContext:
    return RequestContext(request_id=str(uuid.uuid4()))


async def _write(
    provider: PinpointProvider, app_id: str, items: Iterator[EndpointBatchItem]
) -> None:
    slots = asyncio.Semaphore(IN_FLIGHT)
    running: set[asyncio.Task[None]] = set()

    async def send(batch: list[EndpointBatchItem]) -> None:
        try:
            await provider.update_endpoints_batch(
                _context(), app_id, EndpointBatchRequest(item=batch)
            )
        finally:
            slots.release()

    while batch := list(itertools.islice(items, MAX_BATCH_ITEMS)):
        await slots.acquire()
        running.add(asyncio.create_task(send(batch)))
        for task in [task for task in running if task.done()]:
            running.discard(task)
            task.result()  # a failed batch stops the preload
    await asyncio.gather(*running)


def _preload_items(endpoints: int) -> Iterator[EndpointBatchItem]:
    number = 0
    for user, size in enumerate(user_sizes(endpoints)):
        for _ in range(size):
            yield _item(f"ep-{number}", number, f"u-{user}")
            number += 1


def _pool_items(pool: str, users: int) -> Iterator[EndpointBatchItem]:
    """Lean endpoints: a pool is large (15 per user deleted) and lives for one run."""
    for user in range(users):
        for slot in range(MAX_USER_ENDPOINTS):
            yield EndpointBatchItem(
                id=f"{pool}-{user}-{slot}",
                address=f"{pool}-{user}-{slot}@example.com",
                channel_type="EMAIL",
                user=EndpointUser(user_id=f"{pool}-{user}"),
            )


async def _preload(db_url: str, endpoints: int) -> DataSet:
    store = open_store(db_url)
    try:
        provider = PinpointProvider(store)
        started = time.perf_counter()
        app = await provider.create_app(_context(), CreateApplicationRequest(name="bench"))
        await _write(provider, app.id, _preload_items(endpoints))
        seconds = time.perf_counter() - started
    finally:
        await store.close()
    return DataSet(app.id, endpoints, sum(1 for _ in user_sizes(endpoints)), seconds)


async def _new_app(db_url: str) -> str:
    store = open_store(db_url)
    try:
        app = await PinpointProvider(store).create_app(
            _context(), CreateApplicationRequest(name="import")
        )
    finally:
        await store.close()
    return app.id


def new_app(db_url: str) -> str:
    """A new, empty app in the store (created if need be)."""
    return asyncio.run(_new_app(db_url))


async def _add_pool(db_url: str, app_id: str, pool: str, users: int) -> None:
    store = open_store(db_url)
    try:
        await _write(PinpointProvider(store), app_id, _pool_items(pool, users))
    finally:
        await store.close()


async def _scratch_then_copy(
    db_url: str, make: Callable[[str], Awaitable[str]], scratch: Path
) -> None:
    """`make` the data in a scratch SQLite file (the server's code path, at SQLite's speed),
    then copy its endpoints into `db_url` in pages as `migrate-store` does, so that a slower
    store gets the very same documents without spending minutes on the set-up."""
    scratch_url = f"sqlite:///{scratch}"
    app_id = await make(scratch_url)
    source, target = open_store(scratch_url), open_store(db_url)
    try:
        app = await target.read(lambda tx: tx.get_app(app_id))
        if app is None:
            await copy_store(source, target)
            return
        after = ""
        while page := await source.read(partial(_page, app_id, after)):
            await target.write(partial(_put, app_id, page))
            after = page[-1].key
    finally:
        await source.close()
        await target.close()
        for path in scratch.parent.glob(f"{scratch.name}*"):
            path.unlink()


def _put(app_id: str, page: list[StoredEndpoint], tx: WriteTx) -> None:
    tx.put_endpoints(app_id, page)


def _page(app_id: str, after: str, tx: ReadTx) -> list[StoredEndpoint]:
    return tx.list_stored_endpoints(app_id, after, PAGE)


def preload(db_url: str, endpoints: int, scratch: Path | None = None) -> DataSet:
    """A new app holding `endpoints` endpoints `ep-<i>` of users `u-<j>`; with `scratch`
    (a file name), made there on SQLite and copied into `db_url`, an empty store."""
    if scratch is None:
        return asyncio.run(_preload(db_url, endpoints))
    made: list[DataSet] = []

    async def make(url: str) -> str:
        made.append(await _preload(url, endpoints))
        return made[0].app_id

    started = time.perf_counter()
    asyncio.run(_scratch_then_copy(db_url, make, scratch))
    return replace(made[0], seconds=time.perf_counter() - started)


def add_pool(db_url: str, app_id: str, pool: str, users: int, scratch: Path | None = None) -> None:
    """Users `<pool>-<k>` (k < users) of 15 endpoints each, for DeleteUserEndpoints; with
    `scratch`, made there on SQLite and copied into `db_url`."""
    if scratch is None:
        asyncio.run(_add_pool(db_url, app_id, pool, users))
        return

    async def make(url: str) -> str:
        source, target = open_store(url), open_store(db_url)
        try:
            app = await target.read(lambda tx: tx.get_app(app_id))
            assert app is not None
            await source.write(lambda tx: tx.insert_app(app))
        finally:
            await source.close()
            await target.close()
        await _add_pool(url, app_id, pool, users)
        return app_id

    asyncio.run(_scratch_then_copy(db_url, make, scratch))
