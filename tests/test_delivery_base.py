"""The result mapping every delivery back end shares (M5)."""

from __future__ import annotations

import pytest

from openpinpoint.delivery.base import answered, sent, shown_url, unreachable


@pytest.mark.parametrize(
    ("code", "status", "reported"),
    [
        (429, "THROTTLED", 429),
        (500, "TEMPORARY_FAILURE", 500),
        (503, "TEMPORARY_FAILURE", 503),
        (400, "PERMANENT_FAILURE", 400),
        (404, "PERMANENT_FAILURE", 404),
        (410, "PERMANENT_FAILURE", 410),
        (302, "UNKNOWN_FAILURE", 500),
        (200, "UNKNOWN_FAILURE", 500),
    ],
)
def test_m5_back_end_answers_map_to_delivery_status(code: int, status: str, reported: int) -> None:
    outcome = answered(code, "why")
    assert (outcome.status, outcome.status_code, outcome.status_message) == (
        status,
        reported,
        "why",
    )


def test_m5_no_answer_is_a_temporary_failure_503() -> None:
    assert (unreachable("timed out").status, unreachable("timed out").status_code) == (
        "TEMPORARY_FAILURE",
        503,
    )


def test_m5_success_carries_the_back_ends_message_id() -> None:
    outcome = sent("abc@example.com")
    assert (outcome.status, outcome.status_code, outcome.message_id) == (
        "SUCCESSFUL",
        200,
        "abc@example.com",
    )


def test_m9_back_end_urls_are_logged_without_passwords() -> None:
    assert shown_url("smtp://user:s3cret@mx:25") == "smtp://user:***@mx:25"
    assert shown_url("https://hooks.example.com/sms") == "https://hooks.example.com/sms"
