"""Bulk transfer rates: `openpinpoint migrate-store` and `openpinpoint import` of a Pinpoint
export file, each timed as the command a user runs (process start included), in endpoints
per second.

The source is the benchmark's preloaded store. `migrate-store` copies it into a new SQLite
file, and into the `--migrate-db` database when one is given (it must be empty). The export
that `import` reads is written once by `openpinpoint export`, in Amazon Pinpoint's format,
and imported into a new app of a new SQLite file and of each other store named.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import msgspec

import dataset
from openpinpoint.store.copy import all_apps, count_endpoints
from openpinpoint.store.open import open_store


class Transfer(msgspec.Struct, kw_only=True):
    command: str
    target: str
    endpoints: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.endpoints / self.seconds


def _run(*args: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "openpinpoint", *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"openpinpoint {args[0]} failed:\n{done.stdout}{done.stderr}")
    return time.perf_counter() - started


async def _count(db_url: str, app_id: str | None) -> int:
    """Endpoints in the app, or in the whole store: the pools of users that DeleteUserEndpoints
    left undeleted are copied and exported too."""
    store = open_store(db_url)
    try:
        apps = [app for app in await all_apps(store) if app_id in (None, app.id)]
        return await count_endpoints(store, apps)
    finally:
        await store.close()


def measure(
    source: str,
    app_id: str,
    work: Path,
    *,
    migrate_to: list[str],
    import_to: list[str],
) -> list[Transfer]:
    found: list[Transfer] = []
    endpoints = asyncio.run(_count(source, None))
    for target in [f"sqlite:///{work / 'migrated.db'}", *migrate_to]:
        seconds = _run("migrate-store", "--from", source, "--to", target)
        found.append(
            Transfer(command="migrate-store", target=target, endpoints=endpoints, seconds=seconds)
        )
    export = work / "export"
    _run("export", "--app", app_id, "--db", source, "--out", str(export))
    endpoints = asyncio.run(_count(source, app_id))
    for target in [f"sqlite:///{work / 'imported.db'}", *import_to]:
        new_app = dataset.new_app(target)
        seconds = _run("import", "--app", new_app, "--db", target, str(export))
        found.append(
            Transfer(command="import", target=target, endpoints=endpoints, seconds=seconds)
        )
    return found
