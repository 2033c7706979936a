"""Random segment definitions over random endpoints: the database's answer equals the
reference evaluator's (tests/segtools.py), on both stores."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import STORES, new_store_url
from segtools import NOW, Segments, instant, reference, stamp

WORDS = [
    "x",
    "y",
    "Xy",
    "a b",
    "%",
    "_",
    "'",
    "\\",
    "x\x00z",
    "2024-05-01",
    "2024-05-01T10:00:00Z",
    "2024-05-01T23:30:00-02:00",
    "2023-12-31 23:59:59.999",
    "2024-05-01T10:00",
    "bad",
    "2024-02-30",
]
DATES = [
    "2024-05-01",
    "2024-05-01T10:00:00Z",
    "2024-05-02T01:00:00+02:00",
    "2023-12-31T23:59:59.999Z",
]
# Plain names, one that SQLite's JSON path syntax would misread unquoted, and one that it
# cannot quote (store/segment_sql.py looks these up member by member).
NAMES = ["a", "b", "é.[0] *", 'q"\\']
# Near each other, across the antimeridian, and near a pole: the GPS prefilter's edges.
PLACES = [
    (48.8566, 2.3522),
    (51.5074, -0.1278),
    (40.7128, -74.006),
    (48.9, 2.4),
    (0.0, 0.0),
    (64.8, 179.9),
    (64.9, -179.8),
    (89.5, 40.0),
    (88.9, -140.0),
]

values = st.lists(st.sampled_from(WORDS), min_size=1, max_size=3)


@st.composite
def endpoints(draw: st.DrawFn) -> list[dict[str, Any]]:
    found = []
    for index in range(draw(st.integers(0, 10))):
        e: dict[str, Any] = {
            "Id": f"E{index}",
            "Address": f"{index}@x.org",
            "ChannelType": draw(st.sampled_from(["EMAIL", "SMS", "GCM"])),
            "EndpointStatus": draw(st.sampled_from(["ACTIVE", "ACTIVE", "INACTIVE"])),
        }
        if draw(st.booleans()):
            e["Attributes"] = draw(st.dictionaries(st.sampled_from(NAMES), values, max_size=2))
        if draw(st.booleans()):
            e["User"] = {
                "UserAttributes": draw(st.dictionaries(st.sampled_from(NAMES), values, max_size=2))
            }
        if draw(st.booleans()):
            e["Metrics"] = {"m": float(draw(st.integers(-2, 2)))}
        demographic = {
            k: draw(st.sampled_from(["ios", "IOS", "android"]))
            for k in ("Platform", "Make")
            if draw(st.booleans())
        }
        if demographic:
            e["Demographic"] = demographic
        location: dict[str, Any] = {}
        if draw(st.booleans()):
            location["Country"] = draw(st.sampled_from(["US", "us", "FR"]))
        if draw(st.booleans()):
            location["Latitude"], location["Longitude"] = draw(st.sampled_from(PLACES))
        if location:
            e["Location"] = location
        if draw(st.booleans()):
            e["EffectiveDate"] = stamp(NOW - timedelta(hours=draw(st.integers(0, 24 * 40))))
        found.append(e)
    return found


def attribute_criterion() -> st.SearchStrategy[dict[str, Any]]:
    plain = st.builds(
        lambda kind, vals: {"AttributeType": kind, "Values": vals},
        st.sampled_from(["INCLUSIVE", "EXCLUSIVE", "CONTAINS"]),
        st.lists(st.sampled_from([w for w in WORDS if "\x00" not in w]), max_size=2),
    )
    single = st.builds(
        lambda kind, d: {"AttributeType": kind, "Values": [d]},
        st.sampled_from(["BEFORE", "AFTER", "ON"]),
        st.sampled_from(DATES),
    )
    between = st.builds(
        lambda a, b: {"AttributeType": "BETWEEN", "Values": sorted([a, b], key=_order)},
        st.sampled_from(DATES),
        st.sampled_from(DATES),
    )
    return st.one_of(plain, single, between)


def _order(value: str) -> str:
    return str(instant(value))


def set_dimension() -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda kind, vals: {"DimensionType": kind, "Values": vals},
        st.sampled_from(["INCLUSIVE", "EXCLUSIVE"]),
        st.lists(
            st.sampled_from(["ios", "IOS", "android", "us", "FR", "email", "SMS"]), max_size=2
        ),
    )


@st.composite
def dimensions(draw: st.DrawFn) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if draw(st.booleans()):
        d["Attributes"] = draw(
            st.dictionaries(st.sampled_from(NAMES), attribute_criterion(), max_size=2)
        )
    if draw(st.booleans()):
        d["UserAttributes"] = draw(
            st.dictionaries(st.sampled_from(NAMES), attribute_criterion(), max_size=1)
        )
    if draw(st.booleans()):
        op = draw(
            st.sampled_from(
                [
                    "GREATER_THAN",
                    "LESS_THAN",
                    "GREATER_THAN_OR_EQUAL",
                    "LESS_THAN_OR_EQUAL",
                    "EQUAL",
                ]
            )
        )
        d["Metrics"] = {"m": {"ComparisonOperator": op, "Value": float(draw(st.integers(-2, 2)))}}
    demographic = {
        k: draw(set_dimension())
        for k in ("Platform", "Make", "Channel", "DeviceType")
        if draw(st.booleans())
    }
    if demographic:
        d["Demographic"] = demographic
    location: dict[str, Any] = {}
    if draw(st.booleans()):
        location["Country"] = draw(set_dimension())
    if draw(st.booleans()):
        lat, lon = draw(st.sampled_from(PLACES))
        location["GPSPoint"] = {
            "Coordinates": {"Latitude": lat, "Longitude": lon},
            "RangeInKilometers": draw(st.sampled_from([1.0, 20.0, 400.0, 6000.0])),
        }
    if location:
        d["Location"] = location
    if draw(st.booleans()):
        d["Behavior"] = {
            "Recency": {
                "Duration": draw(st.sampled_from(["HR_24", "DAY_7", "DAY_14", "DAY_30"])),
                "RecencyType": draw(st.sampled_from(["ACTIVE", "INACTIVE"])),
            }
        }
    return d


combination = st.sampled_from(["ALL", "ANY", "NONE"])


@st.composite
def definition(draw: st.DrawFn, sources: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if draw(st.booleans()):
        body["Dimensions"] = draw(dimensions())
    if draw(st.booleans()):
        groups = []
        for _ in range(draw(st.integers(0, 2))):
            group: dict[str, Any] = {"Type": draw(combination), "SourceType": draw(combination)}
            group["Dimensions"] = draw(st.lists(dimensions(), max_size=2))
            group["SourceSegments"] = (
                [
                    {"Id": s}
                    for s in draw(st.lists(st.sampled_from(sources), max_size=2, unique=True))
                ]
                if sources
                else []
            )
            groups.append(group)
        body["SegmentGroups"] = {"Groups": groups, "Include": draw(combination)}
    return body


@pytest.fixture(scope="module", params=STORES)
def segs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Segments]:
    found = Segments(new_store_url(request.param, request, tmp_path_factory.mktemp("prop")))
    yield found
    found.close()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), app=endpoints())
def test_s8_the_database_agrees_with_the_reference_evaluator(
    segs: Segments, data: st.DataObject, app: list[dict[str, Any]]
) -> None:
    app_id = segs.new_app(app)
    sources: dict[str, dict[str, Any]] = {}
    for _ in range(data.draw(st.integers(0, 2))):
        body = data.draw(definition([]))
        sources[segs.create(app_id, body)] = body
    body = data.draw(definition(list(sources)))
    assert segs.evaluate(app_id, body) == reference(app, body, sources)
