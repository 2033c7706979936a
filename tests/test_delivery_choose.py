"""M9: back ends are chosen by flags, and a flag naming no back end is refused at start."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from conftest import run_cli
from openpinpoint.cli_delivery import add_delivery_arguments, delivery_settings


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--email-backend", "carrier-pigeon"),
        ("--email-backend", "smtp://mx?starttls=sometimes"),
        ("--sms-backend", "pinpoint:"),
        ("--push-backend", "smtp://mx"),
        ("--delivery-timeout", "0"),
        ("--push-backend", "fcm"),
        ("--fcm-url", "http://fcm.internal"),
        ("--apns-url", "api.push.apple.com"),
        ("--push-ca-file", "/nonexistent/ca.pem"),
    ],
)
def test_m9_a_flag_that_names_no_back_end_is_refused(tmp_path: Path, flag: str, value: str) -> None:
    refused = run_cli("serve", "--db", f"sqlite:///{tmp_path}/db.sqlite", flag, value)
    assert refused.returncode == 2
    assert flag in refused.stderr


def test_m9_push_goes_direct_by_default_to_google_and_apple() -> None:
    parser = argparse.ArgumentParser()
    add_delivery_arguments(parser)
    settings = delivery_settings(parser.parse_args([]), parser)
    assert (settings.push, settings.push_ca_file) == ("direct", None)
    assert (settings.fcm_url, settings.apns_url, settings.apns_sandbox_url) == (
        "https://fcm.googleapis.com",
        "https://api.push.apple.com",
        "https://api.sandbox.push.apple.com",
    )
