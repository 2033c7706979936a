"""core/segments.py: reading instants (S3, S10) and compiling definitions to predicates."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from openpinpoint.core import predicates as p
from openpinpoint.core import segments
from openpinpoint.core.segment_shapes import SegmentDimensions


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        ("2024-05-01", "2024-05-01T00:00:00.000"),
        ("2024-05-01T10:00", "2024-05-01T10:00:00.000"),
        ("2024-05-01 10:00:00.1239", "2024-05-01T10:00:00.123"),
        ("2024-05-02T01:00:00+02:00", "2024-05-01T23:00:00.000"),
        ("2024-05-01T10:00:00Z", "2024-05-01T10:00:00.000"),
        ("2024-02-30", None),
        ("20240501", None),
        ("yesterday", None),
        ("2024-05-01Z", None),
    ],
)
def test_s10_instants_are_utc_and_dates_alone_are_midnight(text: str, instant: str | None) -> None:
    assert segments.instant_key(text) == instant


def test_s3_exclusive_is_the_complement_of_inclusive_and_dates_are_read_once() -> None:
    dimensions = msgspec.convert(
        {
            "Attributes": {
                "a": {"AttributeType": "EXCLUSIVE", "Values": ["x"]},
                "d": {"AttributeType": "ON", "Values": ["2024-05-01T23:00:00-02:00"]},
            },
            "Demographic": {"DeviceType": {"Values": ["IOS"]}},
        },
        SegmentDimensions,
    )
    found = segments.dimensions_predicate(dimensions, datetime(2026, 1, 1, tzinfo=UTC))
    assert found == p.And(
        (
            p.Not(p.AttributeTest("Attributes", "a", "INCLUSIVE", ("x",))),
            p.AttributeTest("Attributes", "d", "ON", ("2024-05-02T01:00:00.000",)),
            p.FieldIn("Platform", ("ios",)),
        )
    )
