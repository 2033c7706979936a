"""Shared fixtures: a real `openpinpoint serve` process and real boto3 clients talking to it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

READY = re.compile(r"listening on (http://\S+)")
START_TIMEOUT = 60.0


class RunningServer:
    """A server process started by a test; its log lines are collected as they come."""

    def __init__(
        self,
        db_url: str | None,
        *args: str,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.db_url = db_url
        self.lines: list[str] = []
        self._new_line = threading.Condition()
        self._ready = threading.Event()
        self.url = ""
        db_args = ["--db", db_url] if db_url is not None else []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "openpinpoint", "serve", "--port", "0", *db_args, *args],
            cwd=cwd,
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

    def wait_for_log(self, text: str, timeout: float = START_TIMEOUT) -> str:
        """The first log line containing `text`, waiting for it to be written."""
        with self._new_line:
            found = self._new_line.wait_for(
                lambda: next((line for line in self.lines if text in line), None), timeout
            )
        if found is None:
            raise AssertionError(f"no log line with {text!r}:\n{self.log}")
        return found

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
