"""What `openpinpoint serve` sets up around the app (server.py)."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

from openpinpoint.server import ServerSettings, build_app


async def _start_and_stop(app: object, during: list[int]) -> None:
    messages: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    sent: list[dict[str, str]] = []

    async def send(message: dict[str, str]) -> None:
        sent.append(message)
        if message["type"] == "lifespan.startup.complete":
            during.append(gc.get_freeze_count())
            await messages.put({"type": "lifespan.shutdown"})

    await messages.put({"type": "lifespan.startup"})
    await app({"type": "lifespan"}, messages.get, send)  # type: ignore[operator]
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


def test_startup_freezes_what_it_made_out_of_the_collectors_full_passes(tmp_path: Path) -> None:
    settings = ServerSettings(db_url=f"sqlite:///{tmp_path / 'db'}", auth="none", data_dir=tmp_path)
    app = build_app(settings, "http://127.0.0.1:9400")
    gc.unfreeze()
    during: list[int] = []
    try:
        asyncio.run(_start_and_stop(app, during))
    finally:
        gc.unfreeze()
    assert len(during) == 1
    assert during[0] > 10_000
