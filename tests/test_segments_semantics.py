"""Who is in a segment (S2-S5, S10), on both stores: a fixture app of designed endpoints
and, for each rule, the expected members written out by hand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from conftest import STORES, new_store_url
from segtools import NOW, Segments, stamp


def _endpoint(
    endpoint_id: str, channel: str = "EMAIL", age: timedelta = timedelta(days=100), **more: Any
) -> dict[str, Any]:
    return {
        "Id": endpoint_id,
        "ChannelType": channel,
        "Address": f"{endpoint_id}@x.org",
        "EndpointStatus": "ACTIVE",
        "EffectiveDate": stamp(NOW - age),
        **more,
    }


PARIS = {"Latitude": 48.8566, "Longitude": 2.3522}
ENDPOINTS = [
    _endpoint(
        "red-ios",
        Attributes={"team": ["red"]},
        Demographic={"Platform": "iOS", "Make": "Apple"},
        Location={"Country": "US", **PARIS},
        Metrics={"score": 10.0},
        age=timedelta(hours=1),
    ),
    _endpoint(
        "blue-android",
        "SMS",
        Attributes={"team": ["blue"]},
        Demographic={"Platform": "android"},
        Location={"Country": "fr", "Latitude": 51.5074, "Longitude": -0.1278},
        Metrics={"score": 5.0},
        age=timedelta(days=2),
    ),
    _endpoint(
        "multi",
        Attributes={"team": ["red", "blue"]},
        Demographic={"Platform": "IOS"},
        Location={"Country": "FR", "Latitude": 40.7128, "Longitude": -74.006},
        Metrics={"score": 7.5},
        age=timedelta(days=10),
    ),
    _endpoint("bare", "GCM", age=timedelta(days=40)),
    _endpoint(
        "inactive-red",
        Attributes={"team": ["red"]},
        EndpointStatus="INACTIVE",
        age=timedelta(hours=1),
    ),
    _endpoint("optout-red", Attributes={"team": ["red"]}, OptOut="ALL", age=timedelta(hours=1)),
    _endpoint(
        "d-ten",
        "CUSTOM",
        Attributes={"signup": ["2024-05-01T10:00:00Z"]},
        Demographic={"Platform": "web"},
    ),
    _endpoint("d-midnight", "CUSTOM", Attributes={"signup": ["2024-05-01"]}),
    _endpoint("d-offset", "CUSTOM", Attributes={"signup": ["2024-05-02T00:00:00+02:00"]}),
    _endpoint(
        "d-bad",
        "CUSTOM",
        Attributes={"signup": ["not a date", "2024-13-01", "20240501", "2024-02-30", "2023-02-29"]},
    ),
    _endpoint("d-multi", "CUSTOM", Attributes={"signup": ["2023-01-01", "2025-01-01T00:00"]}),
    _endpoint("gold", User={"UserId": "u1", "UserAttributes": {"tier": ["gold"]}}),
    _endpoint(
        "silver",
        User={"UserId": "u2", "UserAttributes": {"tier": ["silver"]}},
        Attributes={"team": ["blue"]},
    ),
    _endpoint("notes", Attributes={"notes": ["hello world", "Foo"]}),
    _endpoint("odd", Attributes={"we'ird %_\\\"": ["it's 100%_\\\""], "%": ["_"]}),
    _endpoint("nul", Attributes={"k": ["x\x00y"], "n\x00m": ["v"]}),
]
IDS = {e["Id"] for e in ENDPOINTS}
ACTIVE = IDS - {"inactive-red"}
REDS = {"red-ios", "multi", "optout-red"}


@pytest.fixture(scope="module", params=STORES)
def seg(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Segments, str]]:
    segs = Segments(new_store_url(request.param, request, tmp_path_factory.mktemp("seg")))
    app_id = segs.new_app(ENDPOINTS)
    yield segs, app_id
    segs.close()


def members(seg: tuple[Segments, str], body: dict[str, Any]) -> set[str]:
    segs, app_id = seg
    return segs.evaluate(app_id, body)


def attr(kind: str, *values: str, name: str = "signup") -> dict[str, Any]:
    return {"Dimensions": {"Attributes": {name: {"AttributeType": kind, "Values": list(values)}}}}


def test_s2_no_definition_is_every_active_endpoint_opted_out_ones_included(seg: Any) -> None:
    assert members(seg, {}) == ACTIVE
    assert members(seg, {"Dimensions": {}}) == ACTIVE
    assert members(seg, {"SegmentGroups": {"Groups": []}}) == ACTIVE


def test_s2_dimensions_and_segment_groups_together_must_both_match(seg: Any) -> None:
    body = {
        "Dimensions": {"Attributes": {"team": {"Values": ["red"]}}},
        "SegmentGroups": {
            "Groups": [{"Dimensions": [{"Demographic": {"Platform": {"Values": ["ios"]}}}]}]
        },
    }
    assert members(seg, body) == {"red-ios", "multi"}


def test_s3_inclusive_is_exact_and_case_sensitive(seg: Any) -> None:
    assert members(seg, attr("INCLUSIVE", "red", name="team")) == REDS
    assert members(seg, attr("INCLUSIVE", "RED", name="team")) == set()
    assert members(seg, attr("INCLUSIVE", "red", "blue", name="team")) == REDS | {
        "blue-android",
        "silver",
    }
    assert members(seg, {"Dimensions": {"Attributes": {"team": {"Values": ["blue"]}}}}) == {
        "blue-android",
        "multi",
        "silver",
    }


def test_s3_exclusive_matches_no_value_and_endpoints_without_the_attribute(seg: Any) -> None:
    assert members(seg, attr("EXCLUSIVE", "red", name="team")) == ACTIVE - REDS


def test_s3_contains_is_a_case_sensitive_substring_of_some_value(seg: Any) -> None:
    assert members(seg, attr("CONTAINS", "lo w", name="notes")) == {"notes"}
    assert members(seg, attr("CONTAINS", "foo", name="notes")) == set()
    assert members(seg, attr("CONTAINS", "zzz", "Fo", name="notes")) == {"notes"}


def test_s3_before_and_after_compare_instants_strictly(seg: Any) -> None:
    assert members(seg, attr("BEFORE", "2024-05-01T10:00:00Z")) == {"d-midnight", "d-multi"}
    assert members(seg, attr("BEFORE", "2024-05-01T12:00:00+02:00")) == {"d-midnight", "d-multi"}
    assert members(seg, attr("AFTER", "2024-05-01T10:00:00Z")) == {"d-offset", "d-multi"}


def test_s3_on_is_the_same_utc_calendar_date(seg: Any) -> None:
    # d-offset is 2024-05-02 in its own zone but 2024-05-01T22:00Z.
    assert members(seg, attr("ON", "2024-05-01T23:59:00Z")) == {"d-ten", "d-midnight", "d-offset"}
    assert members(seg, attr("ON", "2024-05-02")) == set()


def test_s3_between_takes_two_values_inclusive(seg: Any) -> None:
    assert members(seg, attr("BETWEEN", "2024-05-01", "2024-05-01T10:00:00Z")) == {
        "d-midnight",
        "d-ten",
    }


def test_s3_values_that_are_not_instants_never_match_a_date_type(seg: Any) -> None:
    assert members(seg, attr("AFTER", "1900-01-01")) == {
        "d-ten",
        "d-midnight",
        "d-offset",
        "d-multi",
    }


def test_s3_user_attributes_and_every_named_attribute_must_match(seg: Any) -> None:
    assert members(seg, {"Dimensions": {"UserAttributes": {"tier": {"Values": ["gold"]}}}}) == {
        "gold"
    }
    both = {
        "Dimensions": {
            "UserAttributes": {"tier": {"Values": ["silver"]}},
            "Attributes": {"team": {"Values": ["blue"]}},
        }
    }
    assert members(seg, both) == {"silver"}
    two = {
        "Dimensions": {"Attributes": {"team": {"Values": ["red"]}, "notes": {"Values": ["Foo"]}}}
    }
    assert members(seg, two) == set()


def test_s4_metrics_compare_and_a_missing_metric_never_matches(seg: Any) -> None:
    def metric(op: str, value: float) -> dict[str, Any]:
        return {"Dimensions": {"Metrics": {"score": {"ComparisonOperator": op, "Value": value}}}}

    assert members(seg, metric("GREATER_THAN", 6)) == {"red-ios", "multi"}
    assert members(seg, metric("GREATER_THAN_OR_EQUAL", 7.5)) == {"red-ios", "multi"}
    assert members(seg, metric("LESS_THAN", 7.5)) == {"blue-android"}
    assert members(seg, metric("LESS_THAN_OR_EQUAL", 5)) == {"blue-android"}
    assert members(seg, metric("EQUAL", 7.5)) == {"multi"}


def test_s4_demographic_and_country_compare_case_insensitively(seg: Any) -> None:
    assert members(seg, {"Dimensions": {"Demographic": {"Platform": {"Values": ["ios"]}}}}) == {
        "red-ios",
        "multi",
    }
    exclusive = {
        "Dimensions": {"Location": {"Country": {"DimensionType": "EXCLUSIVE", "Values": ["FR"]}}}
    }
    assert members(seg, exclusive) == ACTIVE - {"blue-android", "multi"}
    assert members(seg, {"Dimensions": {"Demographic": {"Make": {"Values": ["APPLE"]}}}}) == {
        "red-ios"
    }


def test_s4_channel_tests_channel_type_and_device_type_tests_platform(seg: Any) -> None:
    assert members(
        seg, {"Dimensions": {"Demographic": {"Channel": {"Values": ["sms", "GCM"]}}}}
    ) == {"blue-android", "bare"}
    assert members(seg, {"Dimensions": {"Demographic": {"DeviceType": {"Values": ["WEB"]}}}}) == {
        "d-ten"
    }


def test_s4_gps_point_is_a_haversine_radius_and_needs_coordinates(seg: Any) -> None:
    def near(km: float) -> dict[str, Any]:
        return {
            "Dimensions": {
                "Location": {"GPSPoint": {"Coordinates": PARIS, "RangeInKilometers": km}}
            }
        }

    assert members(seg, near(1)) == {"red-ios"}
    assert members(seg, near(344)) == {"red-ios", "blue-android"}  # Paris-London: 343.5 km
    assert members(seg, near(343)) == {"red-ios"}
    assert members(seg, near(6000)) == {"red-ios", "blue-android", "multi"}


def test_s4_recency_active_within_the_duration_and_inactive_its_complement(seg: Any) -> None:
    def recency(duration: str, kind: str) -> dict[str, Any]:
        return {
            "Dimensions": {"Behavior": {"Recency": {"Duration": duration, "RecencyType": kind}}}
        }

    assert members(seg, recency("HR_24", "ACTIVE")) == {"red-ios", "optout-red"}
    assert members(seg, recency("DAY_7", "ACTIVE")) == {"red-ios", "optout-red", "blue-android"}
    assert members(seg, recency("DAY_14", "ACTIVE")) == {
        "red-ios",
        "optout-red",
        "blue-android",
        "multi",
    }
    assert members(seg, recency("DAY_30", "INACTIVE")) == ACTIVE - {
        "red-ios",
        "optout-red",
        "blue-android",
        "multi",
    }


def test_s5_groups_combine_sources_and_dimensions(seg: Any) -> None:
    segs, app_id = seg
    reds = segs.create(app_id, attr("INCLUSIVE", "red", name="team"))
    blues = segs.create(app_id, attr("INCLUSIVE", "blue", name="team"))
    ios = {"Demographic": {"Platform": {"Values": ["ios"]}}}
    sms = {"Demographic": {"Channel": {"Values": ["SMS"]}}}

    def group(source_type: str, kind: str = "ALL", dims: list[Any] | None = None) -> dict[str, Any]:
        found: dict[str, Any] = {
            "SourceSegments": [{"Id": reds}, {"Id": blues}],
            "SourceType": source_type,
            "Type": kind,
        }
        if dims is not None:
            found["Dimensions"] = dims
        return found

    def body(*groups: dict[str, Any], include: str = "ALL") -> dict[str, Any]:
        return {"SegmentGroups": {"Groups": list(groups), "Include": include}}

    blue_set = {"blue-android", "multi", "silver"}
    assert members(seg, body(group("ALL"))) == {"multi"}
    assert members(seg, body(group("ANY"))) == REDS | blue_set
    assert members(seg, body(group("NONE"))) == ACTIVE - REDS - blue_set
    assert members(seg, body(group("ANY", "ANY", [ios, sms]))) == {
        "red-ios",
        "multi",
        "blue-android",
    }
    assert members(seg, body(group("ANY", "ALL", [ios, sms]))) == set()
    assert members(seg, body(group("ANY", "NONE", [ios, sms]))) == {"optout-red", "silver"}
    two = [group("ANY", "ALL", [ios]), {"Dimensions": [sms]}]
    assert members(seg, body(*two, include="ANY")) == {"red-ios", "multi", "blue-android"}
    assert members(seg, body(*two, include="ALL")) == set()
    assert members(seg, body(*two, include="NONE")) == ACTIVE - {"red-ios", "multi", "blue-android"}


def test_s5_a_source_without_version_is_its_latest_and_a_version_pins_it(seg: Any) -> None:
    segs, app_id = seg
    source = segs.create(app_id, attr("INCLUSIVE", "red", name="team"))
    latest = segs.create(
        app_id, {"SegmentGroups": {"Groups": [{"SourceSegments": [{"Id": source}]}]}}
    )
    pinned = segs.create(
        app_id, {"SegmentGroups": {"Groups": [{"SourceSegments": [{"Id": source, "Version": 1}]}]}}
    )
    segs.update(app_id, source, attr("INCLUSIVE", "gold", name="nothing"))
    assert segs.members(app_id, latest) == set()
    assert segs.members(app_id, pinned) == REDS
    assert segs.members(app_id, source, version=1) == REDS


def test_s10_exclusive_on_a_missing_demographic_field_is_a_match(seg: Any) -> None:
    body = {
        "Dimensions": {
            "Demographic": {"Platform": {"DimensionType": "EXCLUSIVE", "Values": ["ios"]}}
        }
    }
    assert members(seg, body) == ACTIVE - {"red-ios", "multi"}


def test_s10_an_older_version_whose_source_is_gone_evaluates_it_as_empty(seg: Any) -> None:
    segs, app_id = seg
    source = segs.create(app_id, attr("INCLUSIVE", "red", name="team"))
    user = segs.create(
        app_id,
        {"SegmentGroups": {"Groups": [{"SourceSegments": [{"Id": source}], "SourceType": "NONE"}]}},
    )
    segs.update(app_id, user, {})
    segs.write(lambda tx: tx.delete_resource(app_id, "segment", source))
    assert segs.members(app_id, user, version=1) == ACTIVE
    assert segs.members(app_id, user) == ACTIVE


def test_s7_count_is_per_channel(seg: Any) -> None:
    segs, app_id = seg
    sid = segs.create(app_id, attr("INCLUSIVE", "red", "blue", name="team"))
    assert segs.count(app_id, sid) == {"EMAIL": 4, "SMS": 1}


def test_s8_quotes_percent_underscore_backslash_and_nul_are_bound_parameters(seg: Any) -> None:
    assert members(seg, attr("INCLUSIVE", "it's 100%_\\\"", name="we'ird %_\\\"")) == {"odd"}
    assert members(seg, attr("CONTAINS", "%_\\", name="we'ird %_\\\"")) == {"odd"}
    assert members(seg, attr("INCLUSIVE", "_", name="%")) == {"odd"}
    assert members(seg, attr("INCLUSIVE", "%", name="%")) == set()
    assert members(seg, attr("CONTAINS", "'", name="%")) == set()
    # Text is read up to its first NUL on both stores ("x\0y" reads as "x"; "n\0m" as "n").
    assert members(seg, attr("INCLUSIVE", "x", name="k")) == {"nul"}
    assert members(seg, attr("INCLUSIVE", "v", name="n")) == {"nul"}
    assert members(seg, attr("EXCLUSIVE", "x", name="k")) == ACTIVE - {"nul"}
