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
from typing import Any

import boto3
import pytest
from botocore.config import Config

from openpinpoint.keys import AccessKey, KeyFile

TEST_KEY = AccessKey(id="AKIDTEST", secret="test-secret", name="tests", admin=True)
"""The admin key every test server accepts unless a test brings its own keys file; the
same credentials as the AWS CLI tests use, so they need no changes."""

READY = re.compile(r"listening on (https?://\S+)")
START_TIMEOUT = 60.0


class RunningServer:
    """A server process started by a test; its log lines are collected as they come.

    Unless `args` choose `--auth` or `--keys-file`, the server verifies SigV4 signatures
    against a keys file of its own that holds `TEST_KEY`, and `client()` signs with it.
    """

    def __init__(self, db_url: str, *args: str, env: dict[str, str] | None = None) -> None:
        self.db_url = db_url
        self.lines: list[str] = []
        self.output: list[str] = []
        """What the server printed on standard output (the first-run key banner)."""
        self._new_output = threading.Condition()
        self._ready = threading.Event()
        self.url = ""
        self._keys_dir: str | None = None
        if not {"--auth", "--keys-file"} & {arg.split("=")[0] for arg in args}:
            self._keys_dir = tempfile.mkdtemp(prefix="openpinpoint-keys-")
            keys_path = Path(self._keys_dir) / "keys.json"
            KeyFile(keys_path).create(TEST_KEY)
            args = (*args, "--keys-file", str(keys_path))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "openpinpoint", "serve", "--port", "0", "--db", db_url, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        threading.Thread(target=self._collect_output, daemon=True).start()
        threading.Thread(target=self._collect, daemon=True).start()
        if not self._ready.wait(START_TIMEOUT) or not self.url:
            self.kill()
            raise RuntimeError("server did not start:\n" + "\n".join(self.lines))

    def _collect(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))
            if not self.url and (match := READY.search(line)):
                self.url = match[1]
                self._ready.set()
        self._ready.set()

    def _collect_output(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._new_output:
                self.output.append(line.rstrip("\n"))
                self._new_output.notify_all()

    def wait_for_output(self, text: str, timeout: float = START_TIMEOUT) -> str:
        """The first line of standard output containing `text`, waiting for it."""
        with self._new_output:
            found = self._new_output.wait_for(
                lambda: next((line for line in self.output if text in line), None), timeout
            )
        if found is None:
            raise AssertionError(f"no output line with {text!r}:\n" + "\n".join(self.output))
        return found

    @property
    def log(self) -> str:
        return "\n".join(self.lines)

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
