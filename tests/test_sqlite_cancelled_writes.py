"""The SQLite writer thread survives callers that give up on their write (a cancelled task:
a client that disconnected, or Ctrl-C on the command line)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from pathlib import Path

from conftest import sqlite_url
from openpinpoint.store.base import WriteTx
from openpinpoint.store.sqlite import SQLiteStore


def test_a_cancelled_write_is_skipped_and_the_writer_keeps_going(tmp_path: Path) -> None:
    async def scenario() -> list[str]:
        store = SQLiteStore(tmp_path / "s.db", sqlite_url(tmp_path / "s.db"))
        gate, busy = threading.Event(), threading.Event()
        ran: list[str] = []

        def blocker(tx: WriteTx) -> None:
            busy.set()
            gate.wait(30)

        def cancelled(tx: WriteTx) -> None:
            ran.append("cancelled")

        def later(tx: WriteTx) -> None:
            ran.append("later")

        first = asyncio.create_task(store.write(blocker))
        await asyncio.to_thread(busy.wait, 30)
        second = asyncio.create_task(store.write(cancelled))
        await asyncio.sleep(0)  # let it queue its write behind the blocker
        second.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await second
        gate.set()
        await first
        await asyncio.wait_for(store.write(later), 30)
        await store.close()
        return ran

    assert asyncio.run(scenario()) == ["later"]
