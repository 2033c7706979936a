"""M9: back ends are chosen by flags, and a flag naming no back end is refused at start."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_cli


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--email-backend", "carrier-pigeon"),
        ("--email-backend", "smtp://mx?starttls=sometimes"),
        ("--sms-backend", "pinpoint:"),
        ("--push-backend", "smtp://mx"),
        ("--delivery-timeout", "0"),
    ],
)
def test_m9_a_flag_that_names_no_back_end_is_refused(tmp_path: Path, flag: str, value: str) -> None:
    refused = run_cli("serve", "--db", f"sqlite:///{tmp_path}/db.sqlite", flag, value)
    assert refused.returncode == 2
    assert flag in refused.stderr
