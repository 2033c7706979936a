"""The `openpinpoint` command line."""

from __future__ import annotations

import argparse
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


def test_serve_refuses_an_unsupported_database_url() -> None:
    result = run_cli("serve", "--db", "mysql://localhost/db")
    assert result.returncode == 2
    assert "unsupported database URL" in result.stderr


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
