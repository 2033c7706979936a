#!/usr/bin/env python3
"""Set up OpenPinpoint's virtual environment and run its everyday tasks.

    python3 dev.py serve [ARGS...]   set up, then run `openpinpoint serve ARGS...` on SQLite
    python3 dev.py test [PYTEST ARGS...]   set up, then run ruff, mypy and the whole test suite
    python3 dev.py bench [ARGS...]   set up, then run the benchmark (bench/run.py)
    python3 dev.py shell             set up, then print how to activate the environment

Only Python >= 3.11 is needed: everything else is installed into ./.venv from
requirements.lock (exact versions) the first time, and again whenever that file changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
LOCK = ROOT / "requirements.lock"
STAMP = VENV / ".installed-lock"


def _run(*cmd: str | Path) -> None:
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT)


def ensure_venv() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036  # dev.py itself may run on an old Python
        sys.exit("OpenPinpoint needs Python 3.11 or newer")
    if not (BIN / "python").exists():
        print("dev.py: creating .venv", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = hashlib.sha256(LOCK.read_bytes() + (ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    print("dev.py: installing pinned dependencies into .venv", flush=True)
    pip = (BIN / "python", "-m", "pip", "--disable-pip-version-check", "-q")
    _run(*pip, "install", "-r", LOCK)
    _run(*pip, "install", "--no-deps", "-e", ".")
    STAMP.write_text(wanted)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help"}:
        print(__doc__)
        return 0
    task, rest = argv[0], argv[1:]
    ensure_venv()
    if task == "serve":
        return subprocess.call([str(BIN / "openpinpoint"), "serve", *rest], cwd=ROOT)
    if task == "test":
        for check in (["ruff", "check", "."], ["ruff", "format", "--check", "."], ["mypy"]):
            print(f"dev.py: {' '.join(check)}", flush=True)
            if code := subprocess.call([str(BIN / check[0]), *check[1:]], cwd=ROOT):
                return code
        return subprocess.call([str(BIN / "python"), "-m", "pytest", *rest], cwd=ROOT)
    if task == "bench":
        return subprocess.call([str(BIN / "python"), "bench/run.py", *rest], cwd=ROOT)
    if task == "shell":
        print(f"source {BIN / 'activate'}")
        return 0
    print(f"dev.py: unknown task {task!r}\n{__doc__}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
