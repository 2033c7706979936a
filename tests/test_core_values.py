"""Unit tests of identifiers, dates and cohorts (core/values.py)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from openpinpoint.core.errors import BadRequest
from openpinpoint.core.values import (
    check_id,
    cohort_id,
    endpoint_key,
    format_date,
    is_resource_id,
    new_resource_id,
    normalise_client_date,
)


@pytest.mark.parametrize("good", ["a", "x" * 256, "a b/c@d:e+f%ü", "日本", "..", "SELECT * FROM t"])
def test_check_id_accepts_1_to_256_ordinary_characters(good: str) -> None:
    assert check_id("EndpointId", good) == good


@pytest.mark.parametrize("bad", ["", "x" * 257, "a$", "{a", "a}", "nul\x00", "del\x7f", "c1\x85"])
def test_check_id_rejects_empty_long_braces_dollar_and_control_characters(bad: str) -> None:
    with pytest.raises(BadRequest, match=r"EndpointId .* 1-256 characters"):
        check_id("EndpointId", bad)


def test_check_id_shortens_a_huge_id_in_its_message() -> None:
    with pytest.raises(BadRequest) as excinfo:
        check_id("UserId", "y" * 10_000)
    assert len(excinfo.value.message) < 300


def test_endpoint_key_folds_case() -> None:
    assert endpoint_key("Device-ABC") == endpoint_key("device-abc") == endpoint_key("DEVICE-abc")


def test_resource_ids_are_32_lowercase_hex() -> None:
    assert all(is_resource_id(new_resource_id()) for _ in range(100))
    assert not is_resource_id("A" * 32)
    assert not is_resource_id("a" * 31)


def test_format_date_is_utc_with_milliseconds() -> None:
    moment = datetime(2024, 5, 1, 2, 30, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert format_date(moment) == "2024-05-01T00:30:00.123Z"


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("2024-05-01T00:00:00Z", "2024-05-01T00:00:00.000Z"),
        ("2024-05-01T00:00:00.5+01:00", "2024-04-30T23:00:00.500Z"),
        ("2024-05-01", "2024-05-01T00:00:00.000Z"),
        ("2019-01-28T23:55:11.534Z", "2019-01-28T23:55:11.534Z"),
        ("yesterday", None),
        ("", None),
        ("0001-01-01T00:00:00+01:00", None),
        # Already canonical: kept as sent, but only when it is a real date.
        ("2024-02-29T23:59:59.999Z", "2024-02-29T23:59:59.999Z"),
        ("2023-02-29T00:00:00.000Z", None),
        ("2024-13-01T00:00:00.000Z", None),
        ("2024-05-01T24:00:00.000Z", None),
        ("0999-05-01T00:00:00.000Z", "999-05-01T00:00:00.000Z"),
    ],
)
def test_normalise_client_date(sent: str, stored: str | None) -> None:
    assert normalise_client_date(sent) == stored


def test_cohort_is_stable_case_insensitive_and_spread_over_0_to_99() -> None:
    app = "f" * 32
    assert cohort_id(app, "Device-1") == cohort_id(app, "device-1")
    counts = Counter(int(cohort_id(app, f"endpoint-{i}")) for i in range(20_000))
    assert set(counts) == set(range(100))
    # 200 expected per cohort; a fair hash stays well within +-40% at this sample size.
    assert 120 < min(counts.values()) <= max(counts.values()) < 280
