"""Shared fixtures: a real `openpinpoint serve` process and real boto3 clients talking to it."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any, ClassVar, TypeVar
from urllib.parse import urlsplit, urlunsplit

import boto3
import psycopg
import pytest
from botocore.config import Config
from psycopg import sql

from openpinpoint.keys import AccessKey, KeyFile

# A shell starts a background job (`dev.py test &`) with SIGINT ignored, which every child
# inherits, so the tests that play a terminal's Ctrl-C would see it do nothing. A handled
# signal, unlike an ignored one, is back to its default in a child after exec.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

TEST_KEY = AccessKey(id="AKIDTEST", secret="test-secret", name="tests", admin=True)
"""The admin key every test server accepts unless a test brings its own keys file; the
same credentials as the AWS CLI tests use, so they need no changes."""

READY = re.compile(r"listening on (https?://\S+)")
START_TIMEOUT = 60.0
T = TypeVar("T")
POSTGRES_ENV = "OPENPINPOINT_TEST_POSTGRES_URL"
STORE_KINDS = ("sqlite", "postgresql")


def store_param(kind: str, *more: str) -> Any:
    """A pytest param for a test on store `kind`; PostgreSQL ones carry the postgres mark."""
    marks = [pytest.mark.postgres] if kind == "postgresql" else []
    return pytest.param((kind, *more) if more else kind, id="-".join((kind, *more)), marks=marks)


STORES = [store_param(kind) for kind in STORE_KINDS]


class _Lines:
    """Lines read from one of the server's streams as they come, which tests can wait for."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self._new_line = threading.Condition()
        threading.Thread(target=self._collect, args=(stream,), daemon=True).start()

    def _collect(self, stream: IO[str]) -> None:
        for line in stream:
            with self._new_line:
                self.lines.append(line.rstrip("\n"))
                self._new_line.notify_all()
        with self._new_line:
            self._new_line.notify_all()

    def wait_until(self, found: Callable[[], T | None], what: str) -> T:
        """What `found` returns once it is not None, re-checked as each line comes."""
        with self._new_line:
            result = self._new_line.wait_for(found, START_TIMEOUT)
        if result is None:
            raise AssertionError(f"no {what}:\n" + "\n".join(self.lines))
        return result

    def wait_for(self, text: str) -> str:
        """The first line containing `text`, waiting for it to be written."""
        return self.wait_until(
            lambda: next((line for line in self.lines if text in line), None),
            f"line with {text!r}",
        )


class RunningServer:
    """A server process started by a test, its log (stderr) and output (stdout) collected.

    Unless `args` choose `--auth` or `--keys-file`, the server verifies SigV4 signatures
    against a keys file of its own that holds `TEST_KEY`, and `client()` signs with it.
    Every server started is stopped at the end of the session at the latest, and its keys
    file removed (`_stop_forgotten_servers`).
    """

    started: ClassVar[list[RunningServer]] = []

    def __init__(
        self,
        db_url: str | None,
        *args: str,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.db_url = db_url
        self._keys_dir: str | None = None
        if not {"--auth", "--keys-file"} & {arg.split("=")[0] for arg in args}:
            self._keys_dir = tempfile.mkdtemp(prefix="openpinpoint-keys-")
            keys_path = Path(self._keys_dir) / "keys.json"
            KeyFile(keys_path).create(TEST_KEY)
            args = (*args, "--keys-file", str(keys_path))
        db_args = ["--db", db_url] if db_url is not None else []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "openpinpoint", "serve", "--port", "0", *db_args, *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        RunningServer.started.append(self)
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        self._output = _Lines(self.process.stdout)
        self._log = _Lines(self.process.stderr)
        try:
            match = READY.search(self._log.wait_for("listening on"))
        except AssertionError:
            self.kill()
            raise RuntimeError("server did not start:\n" + self.log) from None
        assert match is not None
        self.url = match[1]

    @property
    def lines(self) -> list[str]:
        return self._log.lines

    @property
    def output(self) -> list[str]:
        """What the server printed on standard output (the first-run key banner)."""
        return self._output.lines

    @property
    def log(self) -> str:
        return "\n".join(self.lines)

    def wait_for_log(self, text: str) -> str:
        return self._log.wait_for(text)

    def wait_for_output(self, text: str) -> str:
        return self._output.wait_for(text)

    def wait_for_lines(self, pattern: str, count: int) -> list[re.Match[str]]:
        """The first `count` log lines matching `pattern`, once the server has logged them."""
        regex = re.compile(pattern)

        def found() -> list[re.Match[str]] | None:
            matches = [m for line in self.lines if (m := regex.search(line))][:count]
            return matches if len(matches) == count else None

        return self._log.wait_until(found, f"{count} log lines matching {pattern!r}")

    def client(self, key: AccessKey = TEST_KEY, **config: Any) -> Any:
        return pinpoint_client(self.url, key=key, **config)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(timeout=60)
        if self._keys_dir is not None:
            shutil.rmtree(self._keys_dir, ignore_errors=True)
        return code

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


def run_cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`openpinpoint ARGS...` run as a user would, its output captured; `env` is added to
    the environment."""
    return subprocess.run(
        [sys.executable, "-m", "openpinpoint", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        check=False,
    )


def pinpoint_client(
    url: str, region: str = "us-east-1", key: AccessKey = TEST_KEY, **config: Any
) -> Any:
    """A boto3 client that signs its requests with `key`."""
    return boto3.client(
        "pinpoint",
        endpoint_url=url,
        region_name=region,
        aws_access_key_id=key.id,
        aws_secret_access_key=key.secret,
        aws_session_token=key.session_token,
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


@pytest.fixture(scope="session", autouse=True)
def _stop_forgotten_servers() -> Iterator[None]:
    """A test that ends a server's process itself, or not at all, leaves its keys file in
    the temporary directory; the session's end removes it."""
    yield
    for server in RunningServer.started:
        server.kill()


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


@pytest.fixture(scope="module")
def keys_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A keys file holding `TEST_KEY`, for a module's servers and the keys it creates."""
    path = tmp_path_factory.mktemp("keys") / "keys.json"
    KeyFile(path).create(TEST_KEY)
    return path


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Skipped tests as one line per reason with its count (pytest's -rs would print one line
    per test: a hundred identical lines when PostgreSQL is not configured)."""
    reasons: Counter[str] = Counter()
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = getattr(report, "longrepr", None)
        reasons[str(longrepr[2]) if isinstance(longrepr, tuple) else "skipped"] += 1
    if reasons:
        terminalreporter.section("skipped")
        for reason, count in reasons.most_common():
            terminalreporter.write_line(f"{count} skipped: {reason.removeprefix('Skipped: ')}")
