"""The `segment_fields` row each store keeps beside an ACTIVE endpoint: the fields segment
dimensions test (S2-S5), read out of the document once when the endpoint is written, so
that evaluating a segment scans narrow rows of plain columns instead of parsing every
endpoint's JSON document (S8). Both stores build the row with this module, so they agree
on what it holds; `store/segment_sql.py` compiles predicates against it.

Text is cut at its first NUL, as the predicates compare it (`core/predicates.py`);
attribute names that collide once cut have their values merged.
"""

from __future__ import annotations

from typing import NamedTuple

import msgspec

ACTIVE = "ACTIVE"
_END = "\x1e"
"""Ends each entry of `terms`. JSON escapes every control character inside a string, so
an encoded name or value never holds it."""
_MAP_MARKS = {"Attributes": "A", "UserAttributes": "U"}


class _Demographic(msgspec.Struct, rename="pascal"):
    app_version: str | None = None
    make: str | None = None
    model: str | None = None
    platform: str | None = None


class _Location(msgspec.Struct, rename="pascal"):
    country: str | None = None
    latitude: float | None = None
    longitude: float | None = None


class _User(msgspec.Struct, rename="pascal"):
    user_attributes: dict[str, list[str]] | None = None


class _Segmentable(msgspec.Struct, rename="pascal"):
    """The parts of a stored endpoint document that a segment can test."""

    channel_type: str | None = None
    attributes: dict[str, list[str]] | None = None
    demographic: _Demographic | None = None
    effective_date: str | None = None
    location: _Location | None = None
    metrics: dict[str, float] | None = None
    user: _User | None = None


_decode = msgspec.json.Decoder(_Segmentable).decode
_encode = msgspec.json.encode


class SegmentRow(NamedTuple):
    """One `segment_fields` row, without its app id. Column order is the tables' order."""

    key: str
    user_id: str | None
    channel: str | None
    app_version: str | None
    make: str | None
    model: str | None
    platform: str | None
    country: str | None
    latitude: float | None
    longitude: float | None
    effective: str | None
    terms: str
    """Every (map, name, value) of Attributes and UserAttributes as `term` encodes it, one
    after another after a leading separator, for exact (INCLUSIVE) tests by substring."""
    attributes: str | None
    """The Attributes map as JSON (names and values cut), for the other attribute tests."""
    user_attributes: str | None
    metrics: str | None


COLUMNS = (
    "k, user_id, channel, app_version, make, model, platform, country, latitude, longitude,"
    " effective, terms, attributes, user_attributes, metrics"
)


def term(map_name: str, name: str, value: str) -> str:
    """What `terms` holds for one value of an attribute, separators included: a test for
    that value is one substring search."""
    mark = _MAP_MARKS[map_name]
    return f"{mark}{_encode(name).decode()}{_encode(value).decode()}{_END}"


def _cut(text: str | None) -> str | None:
    return text if text is None or "\x00" not in text else text.split("\x00", 1)[0]


def _attribute_map(found: dict[str, list[str]] | None) -> dict[str, list[str]]:
    cut: dict[str, list[str]] = {}
    for name, values in (found or {}).items():
        merged = cut.setdefault(_cut(name) or "", [])
        merged += [v for v in map(_cut, values) if v is not None and v not in merged]
    return cut


def _json(found: dict[str, list[str]] | dict[str, float]) -> str | None:
    return _encode(found).decode() if found else None


def segment_row(key: str, user_id: str | None, status: str, doc: str) -> SegmentRow | None:
    """The row of the endpoint stored as `doc`, or None when it is not ACTIVE: only active
    endpoints are members of any segment (S2)."""
    if status != ACTIVE:
        return None
    found = _decode(doc)
    attributes = _attribute_map(found.attributes)
    user_attributes = _attribute_map(found.user.user_attributes if found.user else None)
    terms = _END + "".join(
        term(map_name, name, value)
        for map_name, values_by_name in (
            ("Attributes", attributes),
            ("UserAttributes", user_attributes),
        )
        for name, values in values_by_name.items()
        for value in values
    )
    metrics: dict[str, float] = {}
    for name, number in (found.metrics or {}).items():
        metrics[_cut(name) or ""] = number
    demographic = found.demographic or _Demographic()
    location = found.location or _Location()
    return SegmentRow(
        key=key,
        user_id=user_id,
        channel=_cut(found.channel_type),
        app_version=_cut(demographic.app_version),
        make=_cut(demographic.make),
        model=_cut(demographic.model),
        platform=_cut(demographic.platform),
        country=_cut(location.country),
        latitude=location.latitude,
        longitude=location.longitude,
        effective=_cut(found.effective_date),
        terms=terms,
        attributes=_json(attributes),
        user_attributes=_json(user_attributes),
        metrics=_json(metrics),
    )
