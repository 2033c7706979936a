"""Segments (engagement spec section 5, decisions S1-S10): checking a definition, storing
its versions, and compiling it into a `core.predicates` tree that the store evaluates.

A segment version is a `Resource` (scope: app id, kind "segment", name: segment id) whose
document is the SegmentResponse; an imported segment's members are a second resource of
kind "segment-members" with the same name and version. Membership is never decided here:
`predicate` turns a definition (and its sources, resolved in the same transaction) into a
tree that `ReadTx.count_segment` / `segment_members` compile to SQL.

The meaning of each dimension, in the order the spec gives it:
- only ACTIVE endpoints are members (S2, the stores add that condition);
- attribute criteria compare the endpoint's values exactly; date criteria read both sides
  as instants (`instant_key`), compared at millisecond precision in UTC (S3);
- metrics compare numbers, a missing metric never matches; demographic fields, channel and
  country compare ASCII-case-insensitively, EXCLUSIVE matching an endpoint without the
  field (S4, S10);
- GPS: haversine distance ≤ range, boundaries included; recency: EffectiveDate at or after
  now minus the duration (S4);
- groups: base population (sources by SourceType) and dimensions (by Type), groups
  combined by Include; an empty list filters nothing (S5).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from datetime import datetime, timedelta

import msgspec
from msgspec import UNSET

from openpinpoint.core import apps
from openpinpoint.core import predicates as p
from openpinpoint.core.errors import BadRequest, NotFound
from openpinpoint.core.segment_shapes import (
    MAX_DIMENSIONS,
    AttributeDimension,
    Combination,
    SegmentDimensions,
    SegmentGroupList,
    SegmentImportResource,
    SegmentReference,
    SegmentResponse,
    SegmentsResponse,
    SetDimension,
    WriteSegmentRequest,
)
from openpinpoint.core.shapes import ImportJobResponse
from openpinpoint.core.values import format_date, normalise_client_date
from openpinpoint.store.base import App, ReadTx, Resource, WriteTx

KIND = "segment"
MEMBERS_KIND = "segment-members"
DATE_OPS = ("BEFORE", "AFTER", "ON", "BETWEEN")
RECENCY = {
    "HR_24": timedelta(hours=24),
    "DAY_7": timedelta(days=7),
    "DAY_14": timedelta(days=14),
    "DAY_30": timedelta(days=30),
}
MAX_RANGE_KM = 20_000.0
INSTANT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?(?:Z|[+-][0-9]{2}:[0-9]{2})?)?"
)
"""The ISO-8601 instants a date criterion reads (the same pattern gates the SQL side)."""


class Members(msgspec.Struct, rename="pascal"):
    """An imported segment's members, as its import job resolved them."""

    endpoint_keys: list[str]
    user_ids: list[str]


_decode_segment = msgspec.json.Decoder(SegmentResponse).decode
_decode_members = msgspec.json.Decoder(Members).decode
_encode = msgspec.json.Encoder().encode


def instant_key(value: str) -> str | None:
    """`value` as a UTC instant `YYYY-MM-DDTHH:MM:SS.mmm` (sortable text), or None when it
    is not one. A date alone is midnight UTC; a time without a zone is UTC (S10)."""
    if INSTANT.fullmatch(value) is None:
        return None
    canonical = normalise_client_date(value)
    return canonical.removesuffix("Z") if canonical else None


def segment_arn(app_arn: str, segment_id: str) -> str:
    return f"{app_arn}/segments/{segment_id}"


_SEGMENT_ARN = re.compile(
    r"arn:aws:mobiletargeting:[^:]*:[^:]*:apps/(?P<app>[^/]+)/segments/(?P<id>[^/]+)"
)


def is_segment_arn(arn: str) -> bool:
    return _SEGMENT_ARN.fullmatch(arn) is not None


# Tags (S10: TagResource, UntagResource and ListTagsForResource work on segment ARNs; the
# tags belong to the segment, so they are kept on its latest version)


def _by_arn(tx: ReadTx, arn: str) -> SegmentResponse:
    match = _SEGMENT_ARN.fullmatch(arn)
    assert match is not None
    segment = get(tx, match["app"], match["id"])
    if segment.arn != arn:
        raise NotFound(f"Resource {arn!r} not found")
    return segment


def tags(tx: ReadTx, arn: str) -> dict[str, str]:
    return _by_arn(tx, arn).tags or {}


def tag(tx: WriteTx, arn: str, new: dict[str, str]) -> None:
    segment = _by_arn(tx, arn)
    segment.tags = apps.merged_tags(segment.tags or {}, new)
    _store(tx, segment)


def untag(tx: WriteTx, arn: str, keys: list[str]) -> None:
    segment = _by_arn(tx, arn)
    segment.tags = apps.remaining_tags(segment.tags or {}, keys)
    _store(tx, segment)


# Checking a definition (S3, S4, S9, S10)


def _dimension_count(dimensions: SegmentDimensions) -> int:
    count = len(dimensions.attributes or {}) + len(dimensions.user_attributes or {})
    count += len(dimensions.metrics or {})
    if dimensions.demographic is not UNSET:
        count += sum(
            1
            for f in dimensions.demographic.__struct_fields__
            if getattr(dimensions.demographic, f) is not UNSET
        )
    if dimensions.location is not UNSET:
        count += (dimensions.location.country is not UNSET) + (
            dimensions.location.gps_point is not UNSET
        )
    if dimensions.behavior is not UNSET and dimensions.behavior.recency is not UNSET:
        count += 1
    return count


def _all_dimensions(body: WriteSegmentRequest) -> Iterator[tuple[str, SegmentDimensions]]:
    if body.dimensions is not UNSET:
        yield "Dimensions", body.dimensions
    if body.segment_groups is not UNSET:
        for g, group in enumerate(body.segment_groups.groups or []):
            for d, dims in enumerate(group.dimensions or []):
                yield f"SegmentGroups.Groups[{g}].Dimensions[{d}]", dims


def _check_attributes(where: str, attributes: dict[str, AttributeDimension]) -> None:
    for name, criterion in attributes.items():
        member = f"{where}.{name!r}"
        if "\x00" in name or any("\x00" in value for value in criterion.values):
            raise BadRequest(f"{member}: attribute names and Values may not contain NUL (U+0000)")
        op = criterion.attribute_type or "INCLUSIVE"
        if op not in DATE_OPS:
            continue
        wanted = 2 if op == "BETWEEN" else 1
        if len(criterion.values) != wanted:
            raise BadRequest(
                f"{member}: AttributeType {op} takes exactly {wanted} value(s), "
                f"got {len(criterion.values)}"
            )
        instants = [instant_key(value) for value in criterion.values]
        for value, instant in zip(criterion.values, instants, strict=True):
            if instant is None:
                raise BadRequest(f"{member}: {value!r} is not an ISO-8601 date or date-time")
        if op == "BETWEEN" and str(instants[0]) > str(instants[1]):
            raise BadRequest(f"{member}: BETWEEN needs the first value ≤ the second")


def _check_set(member: str, dimension: SetDimension | msgspec.UnsetType) -> None:
    if dimension is not UNSET and any("\x00" in value for value in dimension.values):
        raise BadRequest(f"{member}.Values may not contain NUL (U+0000)")


def _check_dimensions(where: str, dimensions: SegmentDimensions) -> None:
    _check_attributes(f"{where}.Attributes", dimensions.attributes or {})
    _check_attributes(f"{where}.UserAttributes", dimensions.user_attributes or {})
    for name in dimensions.metrics or {}:
        if "\x00" in name:
            raise BadRequest(f"{where}.Metrics: metric names may not contain NUL (U+0000)")
    if dimensions.demographic is not UNSET:
        for f in dimensions.demographic.__struct_fields__:
            _check_set(f"{where}.Demographic.{f}", getattr(dimensions.demographic, f))
    if dimensions.location is not UNSET:
        _check_set(f"{where}.Location.Country", dimensions.location.country)
        gps = dimensions.location.gps_point
        if gps is not UNSET:
            km = gps.range_in_kilometers
            if km is UNSET or not 0 < km <= MAX_RANGE_KM:
                raise BadRequest(
                    f"{where}.Location.GPSPoint.RangeInKilometers is required and must be "
                    f"greater than 0 and at most {MAX_RANGE_KM:g}"
                )


def check_definition(tx: ReadTx, app_id: str, segment_id: str, body: WriteSegmentRequest) -> None:
    """Refuse a definition that breaks S3-S5, S9 or S10 (400 naming the member)."""
    total = 0
    for where, dimensions in _all_dimensions(body):
        _check_dimensions(where, dimensions)
        total += _dimension_count(dimensions)
    if total > MAX_DIMENSIONS:
        raise BadRequest(
            f"a segment has at most {MAX_DIMENSIONS} dimensions (all groups together); "
            f"this one has {total}"
        )
    if body.segment_groups is UNSET:
        return
    for g, group in enumerate(body.segment_groups.groups or []):
        types = []
        for s, ref in enumerate(group.source_segments or []):
            member = f"SegmentGroups.Groups[{g}].SourceSegments[{s}]"
            source = tx.get_resource(app_id, KIND, ref.id, ref.version or None)
            if source is None:
                shown = "" if ref.version is UNSET else f" version {ref.version}"
                raise BadRequest(
                    f"{member}: segment {ref.id!r}{shown} does not exist in this application"
                )
            types.append(_decode_segment(source.doc).segment_type)
            if _uses(tx, app_id, ref, segment_id, set()):
                raise BadRequest(
                    f"{member}: segment {ref.id!r} would make this segment its own source"
                )
        if "IMPORT" in types and len(types) > 1:
            raise BadRequest(
                f"SegmentGroups.Groups[{g}].SourceSegments: a group takes one IMPORT segment or "
                "any number of DIMENSIONAL ones, not both"
            )


def _references(segment: SegmentResponse) -> list[SegmentReference]:
    groups = segment.segment_groups.groups or [] if segment.segment_groups is not UNSET else []
    return [ref for group in groups for ref in group.source_segments or []]


def _uses(tx: ReadTx, app_id: str, ref: SegmentReference, target: str, seen: set[str]) -> bool:
    """Whether `ref` is `target` or reaches it through its own sources."""
    if ref.id == target:
        return True
    key = f"{ref.id}/{ref.version}"
    if key in seen:
        return False
    seen.add(key)
    found = tx.get_resource(app_id, KIND, ref.id, ref.version or None)
    if found is None:
        return False
    return any(
        _uses(tx, app_id, inner, target, seen) for inner in _references(_decode_segment(found.doc))
    )


# Storing versions (S1, S10)


def _store(tx: WriteTx, segment: SegmentResponse) -> None:
    assert isinstance(segment.version, int)
    tx.put_resource(
        Resource(
            scope=segment.application_id,
            kind=KIND,
            name=segment.id,
            version=segment.version,
            doc=_encode(segment).decode(),
        )
    )


def create(
    tx: WriteTx, app: App, segment_id: str, body: WriteSegmentRequest, now: str
) -> SegmentResponse:
    check_definition(tx, app.id, segment_id, body)
    segment = SegmentResponse(
        application_id=app.id,
        arn=segment_arn(app.arn, segment_id),
        creation_date=now,
        id=segment_id,
        segment_type="DIMENSIONAL",
        dimensions=body.dimensions,
        last_modified_date=now,
        name=body.name,
        segment_groups=body.segment_groups,
        tags=body.tags or {},
        version=1,
    )
    _store(tx, segment)
    return segment


def version_number(value: str) -> int:
    """The `{version}` of GetSegmentVersion: a whole number from 1."""
    if not value.isascii() or not value.isdigit() or int(value) < 1:
        raise BadRequest(f"version must be a whole number from 1, not {value[:20]!r}")
    return int(value)


def get(tx: ReadTx, app_id: str, segment_id: str, version: int | None = None) -> SegmentResponse:
    found = tx.get_resource(app_id, KIND, segment_id, version)
    if found is None:
        shown = "" if version is None else f" version {version}"
        raise NotFound(f"Segment {segment_id!r}{shown} not found in application {app_id}")
    return _decode_segment(found.doc)


def update(
    tx: WriteTx, app_id: str, segment_id: str, body: WriteSegmentRequest, now: str
) -> SegmentResponse:
    current = get(tx, app_id, segment_id)
    if current.segment_type == "IMPORT":
        raise BadRequest(
            f"Segment {segment_id!r} is an IMPORT segment: re-import with CreateImportJob "
            "and SegmentId to change it"
        )
    check_definition(tx, app_id, segment_id, body)
    current.dimensions = body.dimensions
    current.segment_groups = body.segment_groups
    if body.name is not UNSET:
        current.name = body.name
    current.version = int(current.version or 0) + 1
    current.last_modified_date = _later(now, current.last_modified_date)
    _store(tx, current)
    return current


def _later(now: str, previous: str | msgspec.UnsetType) -> str:
    """`now`, or just after `previous` when the clock has not moved past it (S10: grows)."""
    if isinstance(previous, str) and now <= previous:
        return format_date(datetime.fromisoformat(previous) + timedelta(milliseconds=1))
    return now


def _all_latest(tx: ReadTx, app_id: str) -> Iterator[SegmentResponse]:
    after = ""
    while page := tx.list_resources(app_id, KIND, after, 1000):
        yield from (_decode_segment(r.doc) for r in page)
        after = page[-1].name


def delete(tx: WriteTx, app_id: str, segment_id: str) -> SegmentResponse:
    segment = get(tx, app_id, segment_id)
    users = [
        s
        for s in _all_latest(tx, app_id)
        if s.id != segment_id and any(ref.id == segment_id for ref in _references(s))
    ]
    if users:
        names = ", ".join(f"{s.id} ({s.name or ''})" for s in users)
        raise BadRequest(
            f"Segment {segment_id!r} is a source of other segments; change or delete them "
            f"first: {names}"
        )
    tx.delete_resource(app_id, KIND, segment_id)
    tx.delete_resource(app_id, MEMBERS_KIND, segment_id)
    return segment


def define_import(
    tx: WriteTx, app_id: str, job: ImportJobResponse, members: Members, now: str
) -> SegmentResponse:
    """Create the IMPORT segment an import job defines, or replace its members as a new
    version (S6). Size and ChannelCounts are the members at this moment."""
    definition = job.definition
    assert isinstance(definition.segment_id, str)
    app = apps.require_app(tx, app_id)
    found = tx.get_resource(app_id, KIND, definition.segment_id)
    previous = _decode_segment(found.doc) if found else None
    unique = Members(
        endpoint_keys=list(dict.fromkeys(members.endpoint_keys)),
        user_ids=list(dict.fromkeys(members.user_ids)),
    )
    counts = tx.count_segment(
        app_id, p.Members(tuple(unique.endpoint_keys), tuple(unique.user_ids))
    )
    segment = SegmentResponse(
        application_id=app_id,
        arn=segment_arn(app.arn, definition.segment_id),
        creation_date=previous.creation_date if previous else now,
        id=definition.segment_id,
        segment_type="IMPORT",
        import_definition=SegmentImportResource(
            external_id=definition.external_id or "",
            format=definition.format,
            role_arn=definition.role_arn,
            s3_url=definition.s3_url,
            size=sum(counts.values()),
            channel_counts={channel: n for channel, n in counts.items() if channel},
        ),
        last_modified_date=_later(now, previous.last_modified_date) if previous else now,
        name=definition.segment_name or (previous.name if previous else UNSET),
        tags=previous.tags if previous else {},
        version=int(previous.version or 0) + 1 if previous else 1,
    )
    _store(tx, segment)
    tx.put_resource(
        Resource(
            scope=app_id,
            kind=MEMBERS_KIND,
            name=segment.id,
            version=int(segment.version or 1),
            doc=_encode(unique).decode(),
        )
    )
    return segment


# Listing (G10 paging: an opaque token holding the last id or version of the page)


def _token(kind: str, after: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{after}".encode()).decode().rstrip("=")


def _after(kind: str, token: str | None) -> str:
    if token is None:
        return ""
    try:
        found, _, after = (
            base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().partition(":")
        )
        if found == kind and after:
            return after
    except (binascii.Error, UnicodeError, ValueError):
        pass
    raise BadRequest("token is not a NextToken that this server issued")


def list_segments(tx: ReadTx, app_id: str, size: int, token: str | None) -> SegmentsResponse:
    rows = tx.list_resources(app_id, KIND, _after("segments", token), size + 1)
    page = SegmentsResponse(item=[_decode_segment(r.doc) for r in rows[:size]])
    if len(rows) > size:
        page.next_token = _token("segments", rows[size - 1].name)
    return page


def list_versions(
    tx: ReadTx, app_id: str, segment_id: str, size: int, token: str | None
) -> SegmentsResponse:
    get(tx, app_id, segment_id)
    after = _after("segment-versions", token)
    below = int(after) if after.isdigit() else None
    if token is not None and below is None:
        raise BadRequest("token is not a NextToken that this server issued")
    versions = [
        r
        for r in reversed(tx.resource_versions(app_id, KIND, segment_id))
        if below is None or r.version < below
    ]
    page = SegmentsResponse(item=[_decode_segment(r.doc) for r in versions[:size]])
    if len(versions) > size:
        page.next_token = _token("segment-versions", str(versions[size - 1].version))
    return page


# Compiling a definition into a predicate (S2-S6)


def _combine(how: Combination | msgspec.UnsetType, parts: list[p.Predicate]) -> p.Predicate:
    if how == "ANY":
        return p.Or(tuple(parts))
    if how == "NONE":
        return p.Not(p.Or(tuple(parts)))
    return p.And(tuple(parts))


def _attribute(map_name: p.AttributeMap, name: str, criterion: AttributeDimension) -> p.Predicate:
    op = criterion.attribute_type or "INCLUSIVE"
    if op in DATE_OPS:
        values = tuple(str(instant_key(v)) for v in criterion.values)
        return p.AttributeTest(map_name, name, op, values)  # type: ignore[arg-type]
    if op == "EXCLUSIVE":
        return p.Not(p.AttributeTest(map_name, name, "INCLUSIVE", tuple(criterion.values)))
    return p.AttributeTest(map_name, name, op, tuple(criterion.values))


def _field(field: p.Field, dimension: SetDimension) -> p.Predicate:
    test = p.FieldIn(field, tuple(v.translate(p.ASCII_LOWER) for v in dimension.values))
    return p.Not(test) if dimension.dimension_type == "EXCLUSIVE" else test


def dimensions_predicate(dimensions: SegmentDimensions, now: datetime) -> p.Predicate:
    parts: list[p.Predicate] = []
    for name, criterion in (dimensions.attributes or {}).items():
        parts.append(_attribute("Attributes", name, criterion))
    for name, criterion in (dimensions.user_attributes or {}).items():
        parts.append(_attribute("UserAttributes", name, criterion))
    for name, metric in (dimensions.metrics or {}).items():
        parts.append(p.MetricTest(name, metric.comparison_operator, metric.value))
    demographic = dimensions.demographic
    if demographic is not UNSET:
        fields: list[tuple[p.Field, SetDimension | msgspec.UnsetType]] = [
            ("AppVersion", demographic.app_version),
            ("ChannelType", demographic.channel),
            ("Platform", demographic.device_type),
            ("Make", demographic.make),
            ("Model", demographic.model),
            ("Platform", demographic.platform),
        ]
        parts += [_field(field, dim) for field, dim in fields if dim is not UNSET]
    location = dimensions.location
    if location is not UNSET:
        if location.country is not UNSET:
            parts.append(_field("Country", location.country))
        gps = location.gps_point
        if gps is not UNSET:
            parts.append(
                p.Within(
                    gps.coordinates.latitude,
                    gps.coordinates.longitude,
                    float(gps.range_in_kilometers or 0),
                )
            )
    if dimensions.behavior is not UNSET and dimensions.behavior.recency is not UNSET:
        recency = dimensions.behavior.recency
        active = p.EffectiveSince(format_date(now - RECENCY[recency.duration]))
        parts.append(active if recency.recency_type == "ACTIVE" else p.Not(active))
    return p.And(tuple(parts))


def _groups_predicate(
    tx: ReadTx, app_id: str, groups: SegmentGroupList, now: datetime, seen: frozenset[str]
) -> p.Predicate:
    compiled: list[p.Predicate] = []
    for group in groups.groups or []:
        sources = [_source(tx, app_id, ref, now, seen) for ref in group.source_segments or []]
        base = _combine(group.source_type, sources) if sources else p.Everything()
        dims = [dimensions_predicate(d, now) for d in group.dimensions or []]
        compiled.append(p.And((base, _combine(group.type, dims))) if dims else base)
    return _combine(groups.include, compiled) if compiled else p.Everything()


def _source(
    tx: ReadTx, app_id: str, ref: SegmentReference, now: datetime, seen: frozenset[str]
) -> p.Predicate:
    """A source's predicate; a source that is gone (or a loop, impossible by S10) is empty."""
    found = tx.get_resource(app_id, KIND, ref.id, ref.version or None)
    if found is None or ref.id in seen:
        return p.NOTHING
    return _segment_predicate(tx, app_id, _decode_segment(found.doc), now, seen | {ref.id})


def _segment_predicate(
    tx: ReadTx, app_id: str, segment: SegmentResponse, now: datetime, seen: frozenset[str]
) -> p.Predicate:
    if segment.segment_type == "IMPORT":
        members = tx.get_resource(app_id, MEMBERS_KIND, segment.id, segment.version or None)
        if members is None:
            return p.NOTHING
        found = _decode_members(members.doc)
        return p.Members(tuple(found.endpoint_keys), tuple(found.user_ids))
    parts: list[p.Predicate] = []
    if segment.dimensions is not UNSET:
        parts.append(dimensions_predicate(segment.dimensions, now))
    if segment.segment_groups is not UNSET:
        parts.append(_groups_predicate(tx, app_id, segment.segment_groups, now, seen))
    return p.And(tuple(parts))


def predicate(
    tx: ReadTx, app_id: str, segment_id: str, version: int | None, now: datetime
) -> p.Predicate:
    """The membership predicate of that version of the segment (404 when there is none)."""
    segment = get(tx, app_id, segment_id, version)
    return _segment_predicate(tx, app_id, segment, now, frozenset({segment_id}))
