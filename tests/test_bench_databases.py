"""The benchmark creates the scratch PostgreSQL databases it is pointed at, so that a
command from the README can be pasted as it is (`bench/dataset.py`, `ensure_database`)."""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from conftest import PostgresDatabases

ROOT = Path(__file__).resolve().parent.parent
ENSURE = (
    "import sys; sys.path.insert(0, sys.argv[1]); import dataset;"
    " print(dataset.ensure_database(sys.argv[2]))"
)


def _ensure(url: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", ENSURE, str(ROOT / "bench"), url],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def test_a_missing_scratch_database_is_created_once(
    postgres_databases: PostgresDatabases,
) -> None:
    name = f"openpinpoint_test_{secrets.token_hex(6)}"
    postgres_databases.names.append(name)  # dropped at the end of the session
    url = urlunsplit(urlsplit(postgres_databases.admin_url)._replace(path=f"/{name}"))
    assert _ensure(url) == "True"
    assert _ensure(url) == "False"
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (name,)


def test_sqlite_urls_are_left_to_the_store(tmp_path: Path) -> None:
    path = tmp_path / "bench.db"
    assert _ensure(f"sqlite:///{path}") == "False"
    assert not path.exists()
