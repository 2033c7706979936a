"""The SQLite store's group commit: concurrent writes share a commit but not their fate."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from openpinpoint.store.base import App, WriteTx
from openpinpoint.store.sqlite import SQLiteStore


def _app(number: int) -> App:
    return App(
        id=f"{number:032x}", name=f"app {number}", arn=f"arn:{number}", creation_date="", tags={}
    )


def _insert(number: int) -> Callable[[WriteTx], None]:
    return lambda tx: tx.insert_app(_app(number))


def _store(tmp_path: Path) -> SQLiteStore:
    path = tmp_path / "group.db"
    return SQLiteStore(path, f"sqlite:///{path}")


def test_a_failing_write_undoes_only_itself_among_concurrent_writes(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = _store(tmp_path)

        def insert(number: int) -> Callable[[WriteTx], int]:
            def fn(tx: WriteTx) -> int:
                tx.insert_app(_app(number))
                if number == 7:
                    raise ValueError("request 7 is refused after writing")
                return number

            return fn

        outcomes = await asyncio.gather(
            *(store.write(insert(n)) for n in range(50)), return_exceptions=True
        )
        assert [o for o in outcomes if isinstance(o, Exception)] == [outcomes[7]]
        assert isinstance(outcomes[7], ValueError)
        found = await store.read(lambda tx: tx.list_apps(0, 100))
        assert sorted(app.name for _, app in found) == sorted(
            f"app {n}" for n in range(50) if n != 7
        )
        await store.close()

    asyncio.run(scenario())


def test_every_acknowledged_write_is_visible_to_the_next_read(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = _store(tmp_path)

        async def write_then_read(number: int) -> bool:
            await store.write(lambda tx: tx.insert_app(_app(number)))
            return await store.read(lambda tx: tx.get_app(f"{number:032x}")) is not None

        assert all(await asyncio.gather(*(write_then_read(n) for n in range(100))))
        await store.close()

    asyncio.run(scenario())


def test_close_commits_the_writes_already_waiting(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = _store(tmp_path)
        pending = [asyncio.ensure_future(store.write(_insert(n))) for n in range(20)]
        await asyncio.sleep(0)
        await store.close()
        await asyncio.gather(*pending)

    asyncio.run(scenario())
    reopened = _store(tmp_path)
    try:
        found = asyncio.run(reopened.read(lambda tx: tx.list_apps(0, 100)))
        assert len(found) == 20
    finally:
        asyncio.run(reopened.close())


@pytest.mark.parametrize("size", [1, 600])
def test_groups_of_any_size_are_committed(tmp_path: Path, size: int) -> None:
    async def scenario() -> int:
        store = _store(tmp_path)
        await asyncio.gather(*(store.write(_insert(n)) for n in range(size)))
        found = await store.read(lambda tx: tx.list_apps(0, 1000))
        await store.close()
        return len(found)

    assert asyncio.run(scenario()) == size
