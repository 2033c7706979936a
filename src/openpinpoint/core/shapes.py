"""Pinpoint's request and response shapes (botocore model `pinpoint` 2016-12-01).

Python names are snake_case; on the wire they are PascalCase like the model. Decoding a
request body with these types is the one pass that parses JSON and checks types, enum
values, unknown members and the per-field limits of decision G9.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType, field

ChannelType = Literal[
    "PUSH",
    "GCM",
    "APNS",
    "APNS_SANDBOX",
    "APNS_VOIP",
    "APNS_VOIP_SANDBOX",
    "ADM",
    "SMS",
    "VOICE",
    "EMAIL",
    "BAIDU",
    "CUSTOM",
    "IN_APP",
]
EndpointStatus = Literal["ACTIVE", "INACTIVE"]
OptOut = Literal["ALL", "NONE"]
AttributeType = Literal[
    "endpoint-custom-attributes", "endpoint-metric-attributes", "endpoint-user-attributes"
]

MAX_ATTRIBUTE_NAME = 50
MAX_ATTRIBUTE_VALUE = 100
MAX_ATTRIBUTE_VALUES = 50
MAX_BATCH_ITEMS = 100
MAX_ATTRIBUTES = 250
"""Attribute names in one map; more could never fit the 250-names-per-app quota (G9)."""
MAX_TAGS = 50
# OpenPinpoint's own limits on inputs that the 7 MB body alone would leave unbounded: each
# grows the work of a request (or of every later listing that returns what it stored).
MAX_BLACKLIST_PATTERNS = 250
"""Patterns in one RemoveAttributes; an app has at most 250 names to match (G9)."""
MAX_PATTERN_LENGTH = 100
MAX_NAME_LENGTH = 1024
"""Characters in an application's Name."""
MAX_URL_LENGTH = 2048
"""Characters in a job's S3Url or S3UrlPrefix (an S3 key has at most 1,024 bytes)."""
MAX_TEXT_LENGTH = 2048
"""Characters in a job's other strings (RoleArn, SegmentName, ...)."""

AttributeName = Annotated[str, Meta(min_length=1, max_length=MAX_ATTRIBUTE_NAME)]
AttributeValue = Annotated[str, Meta(max_length=MAX_ATTRIBUTE_VALUE)]
AttributeValues = Annotated[list[AttributeValue], Meta(max_length=MAX_ATTRIBUTE_VALUES)]
AttributeMap = Annotated[dict[AttributeName, AttributeValues], Meta(max_length=MAX_ATTRIBUTES)]
TagKey = Annotated[str, Meta(min_length=1, max_length=128)]
TagValue = Annotated[str, Meta(max_length=256)]
TagMap = Annotated[dict[TagKey, TagValue], Meta(max_length=MAX_TAGS)]
Pattern = Annotated[str, Meta(max_length=MAX_PATTERN_LENGTH)]
JobUrl = Annotated[str, Meta(max_length=MAX_URL_LENGTH)]
JobText = Annotated[str, Meta(max_length=MAX_TEXT_LENGTH)]


class _Shape(Struct, rename="pascal", forbid_unknown_fields=True, omit_defaults=True, gc=False):
    """Base for every shape: PascalCase members, unknown members rejected, unset omitted.

    Shapes are trees of plain data and never part of a reference cycle, so the garbage
    collector does not track them (gc=False): an export holds tens of thousands of
    endpoints at once, and each collection walked them all (a segment's members read
    ~25% faster)."""


class EndpointDemographic(_Shape):
    app_version: str | UnsetType = UNSET
    locale: str | UnsetType = UNSET
    make: str | UnsetType = UNSET
    model: str | UnsetType = UNSET
    model_version: str | UnsetType = UNSET
    platform: str | UnsetType = UNSET
    platform_version: str | UnsetType = UNSET
    timezone: str | UnsetType = UNSET


class EndpointLocation(_Shape):
    city: str | UnsetType = UNSET
    country: str | UnsetType = UNSET
    latitude: Annotated[float, Meta(ge=-90, le=90)] | UnsetType = UNSET
    longitude: Annotated[float, Meta(ge=-180, le=180)] | UnsetType = UNSET
    postal_code: str | UnsetType = UNSET
    region: str | UnsetType = UNSET


class EndpointUser(_Shape):
    user_attributes: AttributeMap | UnsetType = UNSET
    user_id: str | UnsetType = UNSET


class EndpointRequest(_Shape):
    address: str | UnsetType = UNSET
    attributes: AttributeMap | UnsetType = UNSET
    channel_type: ChannelType | UnsetType = UNSET
    demographic: EndpointDemographic | UnsetType = UNSET
    effective_date: str | UnsetType = UNSET
    endpoint_status: EndpointStatus | UnsetType = UNSET
    location: EndpointLocation | UnsetType = UNSET
    metrics: Annotated[dict[AttributeName, float], Meta(max_length=MAX_ATTRIBUTES)] | UnsetType = (
        UNSET
    )
    opt_out: OptOut | UnsetType = UNSET
    request_id: str | UnsetType = UNSET
    user: EndpointUser | UnsetType = UNSET


class EndpointBatchItem(EndpointRequest):
    id: str | UnsetType = UNSET


class EndpointBatchRequest(_Shape):
    item: Annotated[list[EndpointBatchItem], Meta(min_length=1, max_length=MAX_BATCH_ITEMS)]


class EndpointResponse(_Shape, kw_only=True):
    address: str | UnsetType = UNSET
    application_id: str | UnsetType = UNSET
    attributes: dict[str, list[str]] | UnsetType = UNSET
    channel_type: str | UnsetType = UNSET
    cohort_id: str | UnsetType = UNSET
    creation_date: str | UnsetType = UNSET
    demographic: EndpointDemographic | UnsetType = UNSET
    effective_date: str | UnsetType = UNSET
    endpoint_status: str | UnsetType = UNSET
    id: str | UnsetType = UNSET
    location: EndpointLocation | UnsetType = UNSET
    metrics: dict[str, float] | UnsetType = UNSET
    opt_out: str | UnsetType = UNSET
    request_id: str | UnsetType = UNSET
    user: EndpointUser | UnsetType = UNSET


def user_id_of(endpoint: EndpointResponse | None) -> str | None:
    if endpoint is None or endpoint.user is UNSET or not endpoint.user.user_id:
        return None
    return endpoint.user.user_id


class EndpointsResponse(_Shape):
    item: list[EndpointResponse]


class MessageBody(_Shape):
    message: str | UnsetType = UNSET
    request_id: str | UnsetType = field(default=UNSET, name="RequestID")


class CreateApplicationRequest(_Shape):
    name: Annotated[str, Meta(min_length=1, max_length=MAX_NAME_LENGTH)]
    tags: TagMap | UnsetType = field(default=UNSET, name="tags")


class ApplicationResponse(_Shape, kw_only=True):
    arn: str
    id: str
    name: str
    tags: dict[str, str] = field(name="tags")
    creation_date: str | UnsetType = UNSET


class ApplicationsResponse(_Shape):
    item: list[ApplicationResponse]
    next_token: str | UnsetType = UNSET


class TagsModel(_Shape):
    tags: TagMap = field(name="tags")


class UpdateAttributesRequest(_Shape):
    blacklist: Annotated[list[Pattern], Meta(max_length=MAX_BLACKLIST_PATTERNS)] | UnsetType = UNSET


class AttributesResource(_Shape, kw_only=True):
    application_id: str
    attribute_type: str
    attributes: list[str] = field(default_factory=list)


JobStatus = Literal[
    "CREATED",
    "PREPARING_FOR_INITIALIZATION",
    "INITIALIZING",
    "PROCESSING",
    "PENDING_JOB",
    "COMPLETING",
    "COMPLETED",
    "FAILING",
    "FAILED",
]
ImportFormat = Literal["CSV", "JSON"]


class ExportJobResource(_Shape):
    """Both the body of CreateExportJob (`ExportJobRequest`) and a job's `Definition`."""

    role_arn: JobText
    s3_url_prefix: JobUrl = field(name="S3UrlPrefix")
    segment_id: JobText | UnsetType = UNSET
    segment_version: int | UnsetType = UNSET


class ImportJobResource(_Shape):
    """Both the body of CreateImportJob (`ImportJobRequest`) and a job's `Definition`."""

    format: ImportFormat
    role_arn: JobText
    s3_url: JobUrl = field(name="S3Url")
    define_segment: bool | UnsetType = UNSET
    external_id: JobText | UnsetType = UNSET
    register_endpoints: bool | UnsetType = UNSET
    segment_id: JobText | UnsetType = UNSET
    segment_name: JobText | UnsetType = UNSET


class ExportJobRequest(ExportJobResource):
    """The body of CreateExportJob: the model names it apart from the resource."""


class ImportJobRequest(ImportJobResource):
    """The body of CreateImportJob: the model names it apart from the resource."""


class _JobResponse(_Shape, kw_only=True):
    application_id: str
    creation_date: str
    id: str
    job_status: JobStatus
    type: str
    completed_pieces: int | UnsetType = UNSET
    completion_date: str | UnsetType = UNSET
    failed_pieces: int | UnsetType = UNSET
    failures: list[str] | UnsetType = UNSET
    total_failures: int | UnsetType = UNSET
    total_pieces: int | UnsetType = UNSET
    total_processed: int | UnsetType = UNSET


class ExportJobResponse(_JobResponse, kw_only=True):
    definition: ExportJobResource


class ImportJobResponse(_JobResponse, kw_only=True):
    definition: ImportJobResource


class ExportJobsResponse(_Shape):
    item: list[ExportJobResponse]
    next_token: str | UnsetType = UNSET


class ImportJobsResponse(_Shape):
    item: list[ImportJobResponse]
    next_token: str | UnsetType = UNSET


def encode(value: object) -> bytes:
    """Serialise a shape (or plain data) to compact JSON."""
    return _encoder.encode(value)


_encoder = msgspec.json.Encoder()
