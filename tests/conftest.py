"""Shared fixtures: a real `openpinpoint serve` process and real boto3 clients talking to it."""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import boto3
import psycopg
import pytest
from botocore.config import Config
from psycopg import sql

READY = re.compile(r"listening on (http://\S+)")
START_TIMEOUT = 60.0
POSTGRES_ENV = "OPENPINPOINT_TEST_POSTGRES_URL"
STORE_KINDS = ("sqlite", "postgresql")


def store_param(kind: str, *more: str) -> Any:
    """A pytest param for a test on store `kind`; PostgreSQL ones carry the postgres mark."""
    marks = [pytest.mark.postgres] if kind == "postgresql" else []
    return pytest.param((kind, *more) if more else kind, id="-".join((kind, *more)), marks=marks)


STORES = [store_param(kind) for kind in STORE_KINDS]


class RunningServer:
    """A server process started by a test; its log lines are collected as they come."""

    def __init__(self, db_url: str, *args: str, env: dict[str, str] | None = None) -> None:
        self.db_url = db_url
        self.lines: list[str] = []
        self._new_line = threading.Condition()
        self._ready = threading.Event()
        self.url = ""
        self.process = subprocess.Popen(
            [sys.executable, "-m", "openpinpoint", "serve", "--port", "0", "--db", db_url, *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        threading.Thread(target=self._collect, daemon=True).start()
        if not self._ready.wait(START_TIMEOUT) or not self.url:
            self.kill()
            raise RuntimeError("server did not start:\n" + "\n".join(self.lines))

    def _collect(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._new_line:
                self.lines.append(line.rstrip("\n"))
                self._new_line.notify_all()
            if not self.url and (match := READY.search(line)):
                self.url = match[1]
                self._ready.set()
        self._ready.set()

    def wait_for_lines(self, pattern: str, count: int) -> list[re.Match[str]]:
        """The first `count` log lines matching `pattern`, once the server has logged them."""
        regex = re.compile(pattern)

        def found() -> list[re.Match[str]]:
            return [m for line in self.lines if (m := regex.search(line))][:count]

        with self._new_line:
            if not self._new_line.wait_for(lambda: len(found()) == count, START_TIMEOUT):
                raise AssertionError(f"no {count} log lines match {pattern!r}:\n{self.log}")
        return found()

    @property
    def log(self) -> str:
        return "\n".join(self.lines)

    def client(self, **config: Any) -> Any:
        return pinpoint_client(self.url, **config)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=60)

    def kill(self) -> int:
        return self.stop(signal.SIGKILL)


def start_servers(db_url: str, count: int, *args: str) -> list[RunningServer]:
    """`count` servers on one store, started at the same moment; if any fails to start,
    the others are stopped and the error raised."""
    with ThreadPoolExecutor(count) as pool:
        starting = [pool.submit(RunningServer, db_url, *args) for _ in range(count)]
    started = [future.result() for future in starting if future.exception() is None]
    failures = [error for future in starting if (error := future.exception()) is not None]
    if failures:
        for server in started:
            server.stop()
        raise failures[0]
    return started


def pinpoint_client(url: str, region: str = "us-east-1", **config: Any) -> Any:
    return boto3.client(
        "pinpoint",
        endpoint_url=url,
        region_name=region,
        aws_access_key_id="AKIDTEST",
        aws_secret_access_key="test-secret",
        config=Config(**config),
    )


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"


class PostgresDatabases:
    """Uniquely named databases on the test PostgreSQL server, all dropped at the end."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.names: list[str] = []

    def create(self) -> str:
        name = f"openpinpoint_test_{secrets.token_hex(6)}"
        create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            try:
                # A natural-language collation, as production databases often have, so that
                # any comparison that is not byte-wise (COLLATE "C") shows up in the tests.
                conn.execute(
                    create
                    + sql.SQL(
                        " TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"
                        " LOCALE 'C.UTF-8'"
                    )
                )
            except psycopg.Error:  # a server without ICU (or older than 15)
                conn.execute(create)
        self.names.append(name)
        return urlunsplit(urlsplit(self.admin_url)._replace(path=f"/{name}"))

    def drop_all(self) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            for name in self.names:
                # FORCE ends the sessions of servers that a failed test left running.
                drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                conn.execute(drop.format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    admin_url = os.environ.get(POSTGRES_ENV)
    if not admin_url:
        pytest.skip(
            f"PostgreSQL tests need ${POSTGRES_ENV}, e.g. "
            "postgresql://postgres@127.0.0.1:5432/test (.ci/run sets it)"
        )
    databases = PostgresDatabases(admin_url)
    yield databases
    databases.drop_all()


def new_store_url(kind: str, request: pytest.FixtureRequest, directory: Path) -> str:
    """An empty store of `kind`: a new SQLite file in `directory`, or a new database."""
    if kind == "postgresql":
        databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
        return databases.create()
    return sqlite_url(directory / f"openpinpoint-{secrets.token_hex(4)}.db")


@pytest.fixture(scope="session", params=STORES)
def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Where the shared server keeps its data; one entry per store backend."""
    return new_store_url(request.param, request, tmp_path_factory.mktemp("store"))


@pytest.fixture(params=STORES)
def empty_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store of its own for one test, on each backend."""
    return new_store_url(request.param, request, tmp_path)


@pytest.fixture(scope="session")
def server(store_url: str) -> Iterator[RunningServer]:
    running = RunningServer(store_url)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def client(server: RunningServer) -> Any:
    return server.client()


@pytest.fixture
def app_id(client: Any) -> str:
    """A fresh application, so that every test starts from an empty project."""
    return str(
        client.create_app(CreateApplicationRequest={"Name": "test"})["ApplicationResponse"]["Id"]
    )
