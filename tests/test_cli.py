"""The `openpinpoint` command line."""

from __future__ import annotations

import argparse
import os
import subprocess
from pathlib import Path

import pytest

from conftest import RunningServer, run_cli, sqlite_url
from openpinpoint import __version__
from openpinpoint.cli import _parser


def _commands(
    parser: argparse.ArgumentParser | None = None, prefix: tuple[str, ...] = ()
) -> list[list[str]]:
    """Every command and subcommand of `openpinpoint`, nested ones (`keys create`) too."""
    parser = parser or _parser()
    found = [list(prefix)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _commands(sub, (*prefix, name))
    return found


@pytest.mark.parametrize("command", _commands(), ids=lambda c: " ".join(c) or "openpinpoint")
def test_every_command_has_help(command: list[str]) -> None:
    result = run_cli(*command, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: openpinpoint")


def test_version() -> None:
    result = run_cli("--version")
    assert (result.returncode, result.stdout.strip()) == (0, f"openpinpoint {__version__}")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://localhost/db", "unsupported database URL"),
        ("sqlite:///:memory:", "unsupported SQLite URL"),
    ],
)
def test_serve_refuses_an_unsupported_database_url(url: str, expected: str) -> None:
    result = run_cli("serve", "--db", url)
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("db_args", "env", "expected"),
    [
        ([], {}, "openpinpoint-data/openpinpoint.db"),
        ([], {"OPENPINPOINT_DATA": "elsewhere"}, "elsewhere/openpinpoint.db"),
        (["--db", "sqlite:///relative.db"], {}, "relative.db"),
    ],
)
def test_serve_chooses_the_sqlite_file(
    tmp_path: Path, db_args: list[str], env: dict[str, str], expected: str
) -> None:
    server = RunningServer(
        db_args[1] if db_args else None, env={"OPENPINPOINT_DATA": "", **env}, cwd=tmp_path
    )
    try:
        server.client().create_app(CreateApplicationRequest={"Name": "where"})
    finally:
        server.stop()
    assert (tmp_path / expected).is_file()
    assert str(tmp_path / expected) in server.log
    if db_args == []:
        assert (tmp_path / expected).parent.stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize("auth", [[], ["--auth", "none"]])
def test_serve_logs_its_url_and_a_boto3_example(tmp_path: Path, auth: list[str]) -> None:
    server = RunningServer(sqlite_url(tmp_path / "hello.db"), *auth)
    server.stop()
    example = server.wait_for_log("boto3.client('pinpoint'")
    assert f"endpoint_url='{server.url}'" in example
    assert "region_name='us-east-1'" in example


def test_serve_says_it_is_listening_once_startup_has_finished(tmp_path: Path) -> None:
    """The line "listening on" is what people and scripts wait for before they send
    requests: said while startup still opened the delivery back ends (importing their
    libraries) and swept the collector, the first requests after it waited ~140 ms."""
    server = RunningServer(sqlite_url(tmp_path / "ready.db"), "--auth", "none")
    server.stop()
    lines = server.log.splitlines()
    listening = next(i for i, line in enumerate(lines) if "listening on" in line)
    for channel in ("email", "SMS", "push"):
        told = next(i for i, line in enumerate(lines) if f"{channel} messages are" in line)
        assert told < listening, lines


# One-line errors, never a traceback, for settings a user can get wrong


def _refused(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    for text in expected:
        assert text in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("OPENPINPOINT_PORT", "abc", "'abc' is not a port number (0-65535)"),
        ("OPENPINPOINT_LOG_LEVEL", "verbose", "'verbose' is not one of debug, info"),
        ("OPENPINPOINT_AUTH", "nonee", "'nonee' is not sigv4 or none"),
        ("OPENPINPOINT_THROTTLE_RATE", "lots", "'lots' is not a number of requests per second"),
        ("OPENPINPOINT_JOB_LEASE_SECONDS", "1m", "'1m' is not a number of seconds"),
    ],
)
def test_serve_refuses_an_unusable_environment_variable(
    tmp_path: Path, variable: str, value: str, expected: str
) -> None:
    result = run_cli("serve", env={variable: value, "OPENPINPOINT_DATA": str(tmp_path)})
    _refused(result, expected, f"${variable}")
    assert list(tmp_path.iterdir()) == [], "nothing is created before the settings are checked"


def test_serve_on_a_port_in_use_says_so(tmp_path: Path) -> None:
    running = RunningServer(sqlite_url(tmp_path / "first.db"))
    try:
        port = running.url.rsplit(":", 1)[1]
        result = run_cli("serve", "--port", port, "--db", sqlite_url(tmp_path / "second.db"))
    finally:
        running.stop()
    _refused(result, f"cannot listen on 127.0.0.1:{port}: Address already in use")


def test_serve_names_the_tls_file_it_cannot_use(tmp_path: Path) -> None:
    present = tmp_path / "present.pem"
    present.write_text("not a certificate\n")
    missing = tmp_path / "missing.pem"
    db = sqlite_url(tmp_path / "tls.db")
    for cert, key in ((missing, present), (present, missing)):
        result = run_cli("serve", "--db", db, "--tls-cert", str(cert), "--tls-key", str(key))
        flag = "--tls-cert" if cert == missing else "--tls-key"
        _refused(result, f"{flag} {missing}: no such file")
    result = run_cli("serve", "--db", db, "--tls-cert", str(present), "--tls-key", str(present))
    _refused(result, f"cannot use --tls-cert {present} with --tls-key {present}")


def _read_only_directory(tmp_path: Path) -> Path:
    """A directory this user may not write in. Root may write anywhere mode bits forbid, so
    as root it is one of sysfs's (which refuses new files to everyone)."""
    if os.geteuid() == 0:
        return Path("/sys/fs")
    directory = tmp_path / "read-only"
    directory.mkdir(mode=0o500)
    return directory


def test_a_read_only_data_directory_is_one_line(tmp_path: Path) -> None:
    data = _read_only_directory(tmp_path)
    served = run_cli("serve", "--port", "0", env={"OPENPINPOINT_DATA": str(data)})
    _refused(served, f"cannot use the store sqlite:///{data}/openpinpoint.db")
    created = run_cli("keys", "create", env={"OPENPINPOINT_DATA": str(data)})
    _refused(created, f"cannot write keys file {data}/keys.json")


# Where each command works: the store and the keys file, said every time


def test_keys_create_names_its_keys_file_and_warns_when_it_is_new(tmp_path: Path) -> None:
    env = {"OPENPINPOINT_DATA": str(tmp_path / "data")}
    keys_file = tmp_path / "data" / "keys.json"
    first = run_cli("keys", "create", "--name", "one", env=env)
    assert first.returncode == 0, first.stderr
    assert f"keys file {keys_file}" in first.stderr
    assert f"warning: {keys_file} does not exist yet: creating it" in first.stderr
    second = run_cli("keys", "create", "--name", "two", env=env)
    assert f"keys file {keys_file}" in second.stderr
    assert "warning" not in second.stderr
    listed = run_cli("keys", "list", env=env)
    assert f"keys file {keys_file}" in listed.stderr
    assert [line.split()[-1] for line in listed.stdout.splitlines()[1:]] == ["one", "two"]


def test_import_and_export_refuse_a_store_that_does_not_exist(tmp_path: Path) -> None:
    """Run from another directory, they must not quietly make a new, empty store there."""
    source = tmp_path / "rows.json"
    source.write_text('{"Id":"a","ChannelType":"SMS","Address":"+1"}\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    expected = elsewhere / "openpinpoint-data" / "openpinpoint.db"
    env = {"OPENPINPOINT_DATA": ""}
    for command in (
        ["import", str(source), "--app", "0" * 32],
        ["export", "--app", "0" * 32, "--out", str(tmp_path / "out")],
    ):
        result = run_cli(*command, cwd=elsewhere, env=env)
        _refused(result, f"store sqlite:///{expected}", f"there is no store at {expected}")
    assert list(elsewhere.iterdir()) == []


def test_serve_names_its_store_and_warns_when_it_creates_one(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    first = RunningServer(sqlite_url(db))
    first.stop()
    assert f"store sqlite:///{db}" in first.log
    assert f"warning: {db} does not exist yet, so a new, empty store is created" in first.log
    again = RunningServer(sqlite_url(db))
    again.stop()
    assert f"store sqlite:///{db}" in again.log
    # Other warnings (the outbox's "not delivered") may stand; none about a new store.
    assert "does not exist yet" not in again.log
    assert "new, empty store" not in again.log
