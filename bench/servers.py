"""The servers under test, each in its own process tree, and what they cost while loaded."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import psutil

BENCH = Path(__file__).resolve().parent
READY = re.compile(r"listening on (http://\S+)")
START_TIMEOUT = 120.0


class Server:
    """A server process started by the harness; `url` once it accepts connections."""

    def __init__(self, name: str, command: list[str], url: str | None = None) -> None:
        self.name = name
        self.lines: deque[str] = deque(maxlen=200)
        self.url = url or ""
        self._ready = threading.Event()
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            cwd=BENCH,
            start_new_session=True,
        )
        threading.Thread(target=self._collect, daemon=True).start()
        if url is None:
            self._ready.wait(START_TIMEOUT)
        else:
            self._wait_for_port(url)
        if not self.url or self.process.poll() is not None:
            self.stop()
            raise RuntimeError(f"{name} did not start:\n" + "\n".join(self.lines))

    def _collect(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))
            if not self.url and (match := READY.search(line)):
                self.url = match[1]
                self._ready.set()
        self._ready.set()

    def _wait_for_port(self, url: str) -> None:
        host, port = url.removeprefix("http://").rsplit(":", 1)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                socket.create_connection((host, int(port)), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)

    def tree(self) -> list[psutil.Process]:
        """The server and its worker processes."""
        try:
            root = psutil.Process(self.process.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@dataclass(frozen=True)
class Usage:
    cpu_seconds: float
    peak_rss_bytes: int


class UsageMeter:
    """CPU time and peak resident memory of a server's process tree over one run."""

    INTERVAL = 0.2

    def __init__(self, server: Server) -> None:
        self._server = server
        self._stop = threading.Event()
        self._peak = 0
        self._cpu_start = 0.0
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _cpu(self) -> float:
        total = 0.0
        for process in self._server.tree():
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total

    def _rss(self) -> int:
        total = 0
        for process in self._server.tree():
            try:
                total += process.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return total

    def _sample(self) -> None:
        while not self._stop.wait(self.INTERVAL):
            self._peak = max(self._peak, self._rss())

    def __enter__(self) -> UsageMeter:
        self._cpu_start = self._cpu()
        self._peak = self._rss()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._peak = max(self._peak, self._rss())

    @property
    def usage(self) -> Usage:
        return Usage(cpu_seconds=self._cpu() - self._cpu_start, peak_rss_bytes=self._peak)


def openpinpoint(db_url: str, workers: int, keys_file: Path | None = None) -> Server:
    """Without `keys_file`, signatures go unchecked (`--auth none`); with it, every request
    must be signed with one of its keys."""
    command = [sys.executable, "-m", "openpinpoint", "serve", "--port", "0", "--db", db_url]
    command += ["--workers", str(workers)]
    if keys_file is None:
        return Server("OpenPinpoint", [*command, "--auth", "none"])
    command += ["--auth", "sigv4", "--keys-file", str(keys_file)]
    return Server("OpenPinpoint (SigV4)", command)


def ceiling(workers: int) -> Server:
    return Server(
        "ceiling",
        [sys.executable, str(BENCH / "ceiling.py"), "--port", "0", "--workers", str(workers)],
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def moto() -> Server:
    port = free_port()
    moto_server = Path(sys.executable).with_name("moto_server")
    return Server(
        "moto", [str(moto_server), "-H", "127.0.0.1", "-p", str(port)], f"http://127.0.0.1:{port}"
    )


def create_app(server: Server) -> str:
    """A new app's id, created over HTTP as boto3 would (moto routes on the signing scope)."""
    request = urllib.request.Request(
        f"{server.url}/v1/apps",
        data=b'{"Name":"bench"}',
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDBENCHMARK/20261128/us-east-1/"
            "mobiletargeting/aws4_request, SignedHeaders=host, Signature=0",
        },
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        app_id: str = json.load(response)["Id"]
        return app_id
