"""Pinpoint's segment shapes (botocore model `pinpoint` 2016-12-01, section 5 of the
engagement spec). Decoding checks types, enum values (case-sensitive, S10) and the
per-member limits of S9; the rules that span members are in `core.segments`."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import UNSET, Meta, UnsetType, field

from openpinpoint.core.shapes import TagMap, _Shape

MAX_NAME = 64
MAX_VALUES = 100
MAX_VALUE_LENGTH = 100
MAX_GROUPS = 5
MAX_SOURCES = 10
MAX_DIMENSIONS = 100

Criterion = Annotated[str, Meta(max_length=MAX_VALUE_LENGTH)]
Criteria = Annotated[list[Criterion], Meta(max_length=MAX_VALUES)]
AttributeCriterionType = Literal[
    "INCLUSIVE", "EXCLUSIVE", "CONTAINS", "BEFORE", "AFTER", "ON", "BETWEEN"
]
Inclusion = Literal["INCLUSIVE", "EXCLUSIVE"]
Combination = Literal["ALL", "ANY", "NONE"]
Comparison = Literal[
    "GREATER_THAN", "LESS_THAN", "GREATER_THAN_OR_EQUAL", "LESS_THAN_OR_EQUAL", "EQUAL"
]


class AttributeDimension(_Shape):
    values: Criteria
    attribute_type: AttributeCriterionType | UnsetType = UNSET


class SetDimension(_Shape):
    values: Criteria
    dimension_type: Inclusion | UnsetType = UNSET


class MetricDimension(_Shape):
    comparison_operator: Comparison
    value: float


class GPSCoordinates(_Shape):
    latitude: Annotated[float, Meta(ge=-90, le=90)]
    longitude: Annotated[float, Meta(ge=-180, le=180)]


class GPSPointDimension(_Shape):
    coordinates: GPSCoordinates
    range_in_kilometers: float | UnsetType = UNSET


class SegmentLocation(_Shape):
    country: SetDimension | UnsetType = UNSET
    gps_point: GPSPointDimension | UnsetType = field(default=UNSET, name="GPSPoint")


class SegmentDemographics(_Shape):
    app_version: SetDimension | UnsetType = UNSET
    channel: SetDimension | UnsetType = UNSET
    device_type: SetDimension | UnsetType = UNSET
    make: SetDimension | UnsetType = UNSET
    model: SetDimension | UnsetType = UNSET
    platform: SetDimension | UnsetType = UNSET


class RecencyDimension(_Shape):
    duration: Literal["HR_24", "DAY_7", "DAY_14", "DAY_30"]
    recency_type: Literal["ACTIVE", "INACTIVE"]


class SegmentBehaviors(_Shape):
    recency: RecencyDimension | UnsetType = UNSET


class SegmentDimensions(_Shape):
    attributes: dict[str, AttributeDimension] | UnsetType = UNSET
    behavior: SegmentBehaviors | UnsetType = UNSET
    demographic: SegmentDemographics | UnsetType = UNSET
    location: SegmentLocation | UnsetType = UNSET
    metrics: dict[str, MetricDimension] | UnsetType = UNSET
    user_attributes: dict[str, AttributeDimension] | UnsetType = UNSET


class SegmentReference(_Shape):
    id: str
    version: int | UnsetType = UNSET


class SegmentGroup(_Shape):
    dimensions: list[SegmentDimensions] | UnsetType = UNSET
    source_segments: Annotated[list[SegmentReference], Meta(max_length=MAX_SOURCES)] | UnsetType = (
        UNSET
    )
    source_type: Combination | UnsetType = UNSET
    type: Combination | UnsetType = UNSET


class SegmentGroupList(_Shape):
    groups: Annotated[list[SegmentGroup], Meta(max_length=MAX_GROUPS)] | UnsetType = UNSET
    include: Combination | UnsetType = UNSET


class WriteSegmentRequest(_Shape):
    dimensions: SegmentDimensions | UnsetType = UNSET
    name: Annotated[str, Meta(max_length=MAX_NAME)] | UnsetType = UNSET
    segment_groups: SegmentGroupList | UnsetType = UNSET
    tags: TagMap | UnsetType = field(default=UNSET, name="tags")


class SegmentImportResource(_Shape, kw_only=True):
    external_id: str
    format: str
    role_arn: str
    s3_url: str = field(name="S3Url")
    size: int
    channel_counts: dict[str, int] | UnsetType = UNSET


class SegmentResponse(_Shape, kw_only=True):
    application_id: str
    arn: str
    creation_date: str
    id: str
    segment_type: Literal["DIMENSIONAL", "IMPORT"]
    dimensions: SegmentDimensions | UnsetType = UNSET
    import_definition: SegmentImportResource | UnsetType = UNSET
    last_modified_date: str | UnsetType = UNSET
    name: str | UnsetType = UNSET
    segment_groups: SegmentGroupList | UnsetType = UNSET
    tags: dict[str, str] | UnsetType = field(default=UNSET, name="tags")
    version: int | UnsetType = UNSET


class SegmentsResponse(_Shape):
    item: list[SegmentResponse]
    next_token: str | UnsetType = UNSET
