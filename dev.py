#!/usr/bin/env python3
"""Set up OpenPinpoint's virtual environment and run its everyday tasks.

    python3 dev.py serve [ARGS...]         set up the runtime, then run `openpinpoint serve ARGS...`
    python3 dev.py openpinpoint [ARGS...]  set up the runtime, then run `openpinpoint ARGS...`
                                           (keys, import, export, migrate-store, ...)
    python3 dev.py test [PYTEST ARGS...]   set up everything, then run ruff, mypy and the tests
    python3 dev.py bench [ARGS...]         set up everything, then run the benchmark (bench/run.py)
    python3 dev.py bench sending|segments [ARGS...]
                                           ... or the sending (bench/sending.py) or segment
                                           (bench/segments.py) benchmark; --help on each
    python3 dev.py shell                   set up everything, then print how to activate it

Only Python >= 3.11 is needed. `serve` and `openpinpoint` install what the server needs
(`pip install -c requirements.lock -e .`: the runtime dependencies of pyproject.toml, at the
versions pinned in requirements.lock); `test`, `bench` and `shell` install every pin in
requirements.lock (runtime, test and benchmark tools). Either is done again only when
requirements.lock or pyproject.toml changes.

`serve` and `openpinpoint` run in the current directory, with the data directory
($OPENPINPOINT_DATA) defaulting to openpinpoint-data/ next to this file, so that both
find the same store and keys from wherever they are run.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
LOCK = ROOT / "requirements.lock"
RUNTIME_STAMP = VENV / ".installed-runtime"
DEV_STAMP = VENV / ".installed-lock"
DATA_DIR = ROOT / "openpinpoint-data"


def _run(*cmd: str | Path) -> None:
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT)


def ensure_venv(everything: bool) -> None:
    """The runtime dependencies, or (`everything`) every pin of requirements.lock."""
    if sys.version_info < (3, 11):  # noqa: UP036  # dev.py itself may run on an old Python
        sys.exit("OpenPinpoint needs Python 3.11 or newer")
    if not (BIN / "python").exists():
        print("dev.py: creating .venv", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = hashlib.sha256(LOCK.read_bytes() + (ROOT / "pyproject.toml").read_bytes()).hexdigest()
    stamps = [DEV_STAMP] if everything else [DEV_STAMP, RUNTIME_STAMP]
    if any(stamp.exists() and stamp.read_text() == wanted for stamp in stamps):
        return
    pip = (BIN / "python", "-m", "pip", "--disable-pip-version-check", "-q")
    if everything:
        print("dev.py: installing every pinned dependency into .venv", flush=True)
        _run(*pip, "install", "-r", LOCK)
        _run(*pip, "install", "--no-deps", "-e", ".")
        DEV_STAMP.write_text(wanted)
    else:
        print("dev.py: installing the server's pinned dependencies into .venv", flush=True)
        _run(*pip, "install", "-c", LOCK, "-e", ".")
        RUNTIME_STAMP.write_text(wanted)


def _openpinpoint(*args: str) -> int:
    """`openpinpoint ARGS` in the current directory. Ctrl-C goes to it (it stops gracefully)
    and not to this script as well."""
    env = {**os.environ}
    env.setdefault("OPENPINPOINT_DATA", str(DATA_DIR))
    child = subprocess.Popen([str(BIN / "openpinpoint"), *args], env=env)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    code = child.wait()
    return 128 - code if code < 0 else code


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help"}:
        print(__doc__)
        return 0
    task, rest = argv[0], argv[1:]
    if task not in {"serve", "openpinpoint", "test", "bench", "shell"}:
        print(f"dev.py: unknown task {task!r}\n{__doc__}", file=sys.stderr)
        return 2
    ensure_venv(everything=task not in {"serve", "openpinpoint"})
    if task == "serve":
        return _openpinpoint("serve", *rest)
    if task == "openpinpoint":
        return _openpinpoint(*rest)
    if task == "test":
        for check in (["ruff", "check", "."], ["ruff", "format", "--check", "."], ["mypy"]):
            print(f"dev.py: {' '.join(check)}", flush=True)
            if code := subprocess.call([str(BIN / check[0]), *check[1:]], cwd=ROOT):
                return code
        return subprocess.call([str(BIN / "python"), "-m", "pytest", *rest], cwd=ROOT)
    if task == "bench":
        script = (
            f"bench/{rest.pop(0)}.py" if rest[:1] in (["sending"], ["segments"]) else "bench/run.py"
        )
        return subprocess.call([str(BIN / "python"), script, *rest], cwd=ROOT)
    print(f"source {BIN / 'activate'}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        print("\ndev.py: interrupted", file=sys.stderr)
        sys.exit(130)
    except subprocess.CalledProcessError as error:
        command = " ".join(map(str, error.cmd))
        print(f"dev.py: {command} failed (exit {error.returncode})", file=sys.stderr)
        sys.exit(1)
