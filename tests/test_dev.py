"""`dev.py`, as a newcomer uses it from a fresh clone: `serve` installs only the server,
the other commands find the same data, and Ctrl-C ends it quietly."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEV_ONLY = ("pytest", "ruff", "mypy", "moto", "awscli", "hypothesis", "matplotlib", "flask")


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What a clone holds (the source, not this checkout's .venv), set up by the first
    runtime task: `dev.py openpinpoint --version`."""
    directory = tmp_path_factory.mktemp("clone")
    for name in ("dev.py", "pyproject.toml", "requirements.lock", "README.md"):
        shutil.copy2(ROOT / name, directory / name)
    shutil.copytree(
        ROOT / "src",
        directory / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    first = dev(directory, "openpinpoint", "--version")
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[-1].startswith("openpinpoint ")
    assert "installing the server's pinned dependencies" in first.stdout
    return directory


def dev(clone: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENPINPOINT_")}
    return subprocess.run(
        [sys.executable, str(clone / "dev.py"), *args],
        capture_output=True,
        text=True,
        cwd=cwd or clone,
        env=env,
        timeout=600,
        check=False,
    )


def test_serve_installs_only_what_the_server_needs(clone: Path) -> None:
    listed = subprocess.run(
        [str(clone / ".venv" / "bin" / "python"), "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=True,
    )
    installed = {line.split("==")[0].lower() for line in listed.stdout.splitlines()}
    assert {"uvicorn", "msgspec", "psycopg", "boto3", "openpinpoint"} <= installed
    assert not installed & set(DEV_ONLY)
    pins = {
        line.split("==")[0].lower(): line.split("==")[1]
        for line in (clone / "requirements.lock").read_text().splitlines()
        if "==" in line
    }
    for line in listed.stdout.splitlines():
        name, _, version = line.partition("==")
        if name.lower() in pins:
            assert version == pins[name.lower()], f"{name} is not the pinned version"


def test_commands_run_from_anywhere_use_the_clone_s_data(clone: Path, tmp_path: Path) -> None:
    created = dev(clone, "openpinpoint", "keys", "create", "--name", "me", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    keys_file = clone / "openpinpoint-data" / "keys.json"
    assert f"keys file {keys_file}" in created.stderr
    assert keys_file.is_file()
    assert list(tmp_path.iterdir()) == []
    listed = dev(clone, "openpinpoint", "keys", "list")
    assert listed.stdout.splitlines()[-1].endswith("me")


def test_ctrl_c_stops_dev_py_serve_without_a_traceback(clone: Path) -> None:
    """As a terminal does: SIGINT to the whole process group, dev.py and the server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENPINPOINT_")}
    serving = subprocess.Popen(
        [sys.executable, str(clone / "dev.py"), "serve", "--port", "0", "--auth", "none"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env=env,
    )
    assert serving.stderr is not None
    seen = []
    for line in serving.stderr:
        seen.append(line)
        if "listening on" in line:
            break
    os.killpg(serving.pid, signal.SIGINT)
    _, rest = serving.communicate(timeout=60)
    log = "".join(seen) + rest
    assert serving.returncode == 130, log
    assert "OpenPinpoint stopped" in log
    assert "Traceback" not in log
    assert "KeyboardInterrupt" not in log
