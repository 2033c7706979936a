"""Shared fixtures: a real `openpinpoint serve` process and real boto3 clients talking to it."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import boto3
import pytest
from botocore.config import Config

from openpinpoint.keys import AccessKey, KeyFile

TEST_KEY = AccessKey(id="AKIDTEST", secret="test-secret", name="tests", admin=True)
"""The admin key every test server accepts unless a test brings its own keys file; the
same credentials as the AWS CLI tests use, so they need no changes."""

READY = re.compile(r"listening on (https?://\S+)")
START_TIMEOUT = 60.0


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

    def wait_for(self, text: str, timeout: float = START_TIMEOUT) -> str:
        """The first line containing `text`, waiting for it to be written."""
        with self._new_line:
            found = self._new_line.wait_for(
                lambda: next((line for line in self.lines if text in line), None), timeout
            )
        if found is None:
            raise AssertionError(f"no line with {text!r}:\n" + "\n".join(self.lines))
        return found


class RunningServer:
    """A server process started by a test, its log (stderr) and output (stdout) collected.

    Unless `args` choose `--auth` or `--keys-file`, the server verifies SigV4 signatures
    against a keys file of its own that holds `TEST_KEY`, and `client()` signs with it.
    """

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

    def wait_for_log(self, text: str, timeout: float = START_TIMEOUT) -> str:
        return self._log.wait_for(text, timeout)

    def wait_for_output(self, text: str, timeout: float = START_TIMEOUT) -> str:
        return self._output.wait_for(text, timeout)

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


@pytest.fixture(scope="session", params=["sqlite"])
def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Where the shared server keeps its data; one entry per store backend."""
    return sqlite_url(tmp_path_factory.mktemp("store") / "openpinpoint.db")


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
