"""Copying everything from one store to another (`openpinpoint migrate-store`).

Works through the `Store` interface only, so any pair of backends works in either direction.
The copy goes app by app, endpoints in pages of `PAGE` per transaction, so a large store
never needs one huge transaction; the target must start empty and nothing may write to
the source meanwhile (stop the servers first).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from openpinpoint.store import segment_rows
from openpinpoint.store.base import (
    ATTRIBUTE_KINDS,
    SERVER_SCOPE,
    App,
    ReadTx,
    Store,
    StoredEndpoint,
    WriteTx,
)
from openpinpoint.store.segment_rows import SegmentRow

# Large pages: a page is one multi-row write (on PostgreSQL one COPY, under one lock), so
# the per-transaction costs, a commit's fsync above all, are paid rarely.
PAGE = 5000


class StoreCopyError(RuntimeError):
    """The copy cannot start, or its result does not match the source."""


@dataclass(frozen=True)
class Counts:
    apps: int = 0
    endpoints: int = 0
    users: int = 0
    attribute_names: int = 0
    resources: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.apps + other.apps,
            self.endpoints + other.endpoints,
            self.users + other.users,
            self.attribute_names + other.attribute_names,
            self.resources + other.resources,
        )


def app_counts(tx: ReadTx, app_id: str) -> Counts:
    return Counts(
        apps=1,
        endpoints=tx.count_endpoints(app_id),
        users=tx.count_users(app_id),
        attribute_names=tx.count_attribute_names(app_id),
        resources=len(tx.scope_resources(app_id)),
    )


def _apps_page(after: int, tx: ReadTx) -> list[tuple[int, App]]:
    return tx.list_apps(after, PAGE)


def _endpoints_page(app_id: str, after: str, tx: ReadTx) -> list[StoredEndpoint]:
    # As stored: the documents travel as the source holds them, never decoded.
    return tx.list_stored_endpoints(app_id, after, PAGE)


def _rows_page(app_id: str, after: str, last: str, tx: ReadTx) -> list[SegmentRow] | None:
    return tx.list_segment_rows(app_id, after, last)


async def all_apps(store: Store) -> list[App]:
    apps: list[App] = []
    after = 0
    while page := await store.read(partial(_apps_page, after)):
        apps += [app for _, app in page]
        after = page[-1][0]
    return apps


async def count_endpoints(store: Store, apps: list[App]) -> int:
    return sum(await store.read(lambda tx: [tx.count_endpoints(app.id) for app in apps]))


async def copy_store(
    source: Store, target: Store, on_copied: Callable[[int], None] = lambda n: None
) -> Counts:
    """Copy every app (with its tags), endpoint (with its user), registered attribute name
    and resource (templates, channels, segments, every version); `on_copied(n)` after each
    page of n endpoints. Returns what the source held, once the target has been checked to
    hold exactly as much of each, app by app."""
    if await target.read(lambda tx: tx.list_apps(0, 1) or tx.scope_resources(SERVER_SCOPE)):
        raise StoreCopyError(f"the target store {target.url} is not empty")
    server_resources = await _copy_resources(source, target, SERVER_SCOPE)
    apps = await all_apps(source)
    for app in apps:
        await _copy_app(source, target, app, on_copied)
    total = Counts(resources=server_resources)
    for app_id in (app.id for app in apps):
        expected = await source.read(partial(app_counts, app_id=app_id))
        copied = await target.read(partial(app_counts, app_id=app_id))
        if copied != expected:
            raise StoreCopyError(
                f"application {app_id}: the source holds {expected} but the target {copied}"
            )
        total += expected
    return total


async def _copy_resources(source: Store, target: Store, scope: str) -> int:
    resources = await source.read(lambda tx: tx.scope_resources(scope))

    def put(tx: WriteTx) -> None:
        for resource in resources:
            tx.put_resource(resource)

    await target.write(put)
    return len(resources)


async def _copy_app(
    source: Store, target: Store, app: App, on_copied: Callable[[int], None]
) -> None:
    names = await source.read(
        lambda tx: {kind: tx.attribute_names(app.id, kind) for kind in ATTRIBUTE_KINDS}
    )

    def insert(tx: WriteTx) -> None:
        tx.insert_app(app)
        for kind, kind_names in names.items():
            tx.add_attribute_names(app.id, kind, kind_names)

    await target.write(insert)
    await _copy_resources(source, target, app.id)
    writing: asyncio.Task[None] | None = None
    after = ""
    try:
        while page := await source.read(partial(_endpoints_page, app.id, after)):
            # Here, not in the write: the page's segment rows are read (or made, from a
            # store that keeps them in another form) while the last page commits.
            kept = await source.read(partial(_rows_page, app.id, after, page[-1].key))
            after = page[-1].key
            rows = segment_rows.split(page) if kept is None else segment_rows.with_kept(page, kept)
            if writing is not None:
                await writing
            writing, written = _start_page(target, app.id, page, rows, on_copied)
            await asyncio.wait((written, writing), return_when=asyncio.FIRST_COMPLETED)
    finally:
        if writing is not None:
            await writing


def _start_page(
    target: Store,
    app_id: str,
    page: list[StoredEndpoint],
    rows: segment_rows.Split,
    on_copied: Callable[[int], None],
) -> tuple[asyncio.Task[None], asyncio.Future[None]]:
    """The task that writes `page`, and a future done once the page is in the transaction,
    when what is left of the write is its commit (on SQLite an fsync, on a worker thread):
    the next page is read and made ready meanwhile."""
    loop = asyncio.get_running_loop()
    written: asyncio.Future[None] = loop.create_future()

    def put(tx: WriteTx) -> None:
        tx.put_endpoints(app_id, page, rows)
        # Through the loop's queue, from whichever thread the store runs `put` on: the
        # store takes its next step (sends the commit) before the copy takes its own.
        loop.call_soon_threadsafe(_settle, written)

    async def write() -> None:
        await target.write(put)
        on_copied(len(page))

    return asyncio.create_task(write()), written


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():  # `put` may run again (a write that met a lock)
        future.set_result(None)
