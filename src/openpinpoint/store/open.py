"""Choosing a store from a database URL (SQLAlchemy's URL convention)."""

from __future__ import annotations

import os
from pathlib import Path

from openpinpoint.store.base import Store
from openpinpoint.store.postgres import PostgresStore, redact
from openpinpoint.store.sqlite import SQLiteStore

DATA_DIR_ENV = "OPENPINPOINT_DATA"
DEFAULT_DATA_DIR = "openpinpoint-data"
DB_FILE = "openpinpoint.db"


class StoreURLError(ValueError):
    """A database URL this server cannot use."""


def data_dir() -> Path:
    """The data directory: `$OPENPINPOINT_DATA`, else `./openpinpoint-data`."""
    return Path(os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR).resolve()


def default_url() -> str:
    """SQLite in the data directory."""
    return f"sqlite:///{data_dir() / DB_FILE}"


def sqlite_path(url: str) -> Path:
    """`sqlite:///relative.db` is relative to the working directory, `sqlite:////abs.db` not."""
    path = url.removeprefix("sqlite:///")
    if not path or path.startswith(":memory:") or "?" in path:
        raise StoreURLError(
            f"unsupported SQLite URL {url!r}: name a file, as sqlite:///relative.db or "
            "sqlite:////absolute/path.db"
        )
    return Path(path)


def open_store(url: str) -> Store:
    if url.startswith("sqlite:///"):
        return SQLiteStore(sqlite_path(url))
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresStore(url)
    raise StoreURLError(
        f"unsupported database URL {redact(url)!r}: use sqlite:///PATH or "
        "postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE"
    )
