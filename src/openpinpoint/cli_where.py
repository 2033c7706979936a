"""What the command line tells its user about where it works: the store and the keys file
each command uses (a command run from another directory would otherwise quietly use a new,
empty `./openpinpoint-data`), and one-line errors for settings it cannot use."""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from openpinpoint.store.open import StoreURLError, sqlite_path
from openpinpoint.store.postgres import redact

T = TypeVar("T")

STORE_ERRORS = (StoreURLError, RuntimeError, OSError, sqlite3.Error)
"""What opening a store raises for a bad URL, an unreachable database, a newer schema or a
directory the user may not write."""

_WHERE_FROM = (
    "the data directory ($OPENPINPOINT_DATA, else ./openpinpoint-data in the working directory)"
)


def say(message: str) -> None:
    print(f"openpinpoint: {message}", file=sys.stderr, flush=True)


def shown(url: str) -> str:
    return redact(url)


def new_sqlite_file(url: str) -> Path | None:
    """The SQLite file `url` names, when it does not exist yet."""
    if not url.startswith("sqlite:///"):
        return None
    try:
        path = sqlite_path(url).resolve()
    except StoreURLError:  # not a SQLite file: opening the store says what is wrong
        return None
    return None if path.exists() else path


def announce_store(url: str) -> None:
    """Say which store a command uses, and warn when it is about to be created."""
    say(f"store {shown(url)}")
    if (path := new_sqlite_file(url)) is not None:
        say(
            f"warning: {path} does not exist yet, so a new, empty store is created there; "
            f"if you meant an existing one, name it with --db or $OPENPINPOINT_DATA"
        )


def existing_store(url: str) -> bool:
    """Say which store a command that needs existing data uses; False (and say why) when
    that store does not exist: creating an empty one could only end in 'not found'."""
    say(f"store {shown(url)}")
    if (path := new_sqlite_file(url)) is not None:
        say(
            f"there is no store at {path}; {_WHERE_FROM} has none. Name the server's store "
            "with --db URL or $OPENPINPOINT_DATA"
        )
        return False
    return True


def announce_keys_file(path: Path, *, creating: bool) -> None:
    say(f"keys file {path}")
    if path.exists():
        return
    if creating:
        say(
            f"warning: {path} does not exist yet: creating it. A server accepts keys from "
            "this file only if it uses it too (same data directory, --keys-file or "
            "$OPENPINPOINT_KEYS_FILE)"
        )
    else:
        say(f"warning: {path} does not exist: there are no keys here; {_WHERE_FROM} is used")


def env_default(name: str, fallback: str) -> str:
    return os.environ.get(name) or fallback


def checked(convert: Callable[[str], T], what: str, env: str | None = None) -> Callable[[str], T]:
    """An argparse type whose error names the value, what it should be and the environment
    variable it may have come from (argparse checks a default given as text the same way)."""

    def check(text: str) -> T:
        try:
            return convert(text)
        except ValueError:
            origin = f" (from the flag or ${env})" if env else ""
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}{origin}") from None

    return check


def one_of(*allowed: str) -> Callable[[str], str]:
    def convert(text: str) -> str:
        if text not in allowed:
            raise ValueError(text)
        return text

    return convert


def port(text: str) -> int:
    number = int(text)
    if not 0 <= number <= 65535:
        raise ValueError(text)
    return number
