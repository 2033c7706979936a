"""The segment columns of an endpoint's row: the fields segment dimensions test (S2-S5),
read out of the document once when the endpoint is written, so that evaluating a segment
compares plain columns instead of parsing every endpoint's JSON document (S8). Both stores
fill them with this module, so they agree on what they hold; `store/segment_sql.py`
compiles predicates against them.

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
_NUL_ESCAPE = "\\u0000"
"""How a stored document (JSON text) spells NUL inside a string: its absence means no text
needs cutting."""


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
_encode = msgspec.json.Encoder().encode


class SegmentRow(NamedTuple):
    """The segment columns of one endpoint row, in the tables' order. All None for an
    endpoint that is not ACTIVE: it is a member of no segment (S2)."""

    channel: str | None = None
    app_version: str | None = None
    make: str | None = None
    model: str | None = None
    platform: str | None = None
    country: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    effective: str | None = None
    terms: str | None = None
    """Every (map, name, value) of Attributes and UserAttributes as `term` encodes it, one
    after another after a leading separator, for exact (INCLUSIVE) tests by substring."""
    attributes: str | None = None
    """The Attributes map as JSON (names and values cut), for the other attribute tests."""
    user_attributes: str | None = None
    metrics: str | None = None


NOT_A_MEMBER = SegmentRow()
COLUMNS = ", ".join(SegmentRow._fields)


def term(map_name: str, name: str, value: str) -> str:
    """What `terms` holds for one value of an attribute, separators included: a test for
    that value is one substring search."""
    return _MAP_MARKS[map_name] + _encode([name, value]).decode() + _END


def _cut(text: str | None) -> str | None:
    return text if text is None or "\x00" not in text else text.split("\x00", 1)[0]


def _cut_map(found: dict[str, list[str]]) -> dict[str, list[str]]:
    cut: dict[str, list[str]] = {}
    for name, values in found.items():
        merged = cut.setdefault(_cut(name) or "", [])
        merged += [v for v in map(_cut, values) if v is not None and v not in merged]
    return cut


def _terms(mark: str, found: dict[str, list[str]]) -> str:
    return "".join(
        mark + _encode([name, value]).decode() + _END
        for name, values in found.items()
        for value in values
    )


def segment_row(status: str, doc: str) -> SegmentRow:
    """The segment columns of the endpoint stored as `doc` with `status`."""
    if status != ACTIVE:
        return NOT_A_MEMBER
    found = _decode(doc)
    attributes = found.attributes or {}
    user_attributes = (found.user.user_attributes if found.user else None) or {}
    metrics = found.metrics or {}
    demographic = found.demographic or _Demographic()
    location = found.location or _Location()
    if _NUL_ESCAPE in doc:
        attributes, user_attributes = _cut_map(attributes), _cut_map(user_attributes)
        metrics = {_cut(name) or "": number for name, number in metrics.items()}
        cut = _cut
    else:
        cut = _as_is
    # Positional: keywords would cost a fifth of the whole.
    return SegmentRow(
        cut(found.channel_type),
        cut(demographic.app_version),
        cut(demographic.make),
        cut(demographic.model),
        cut(demographic.platform),
        cut(location.country),
        location.latitude,
        location.longitude,
        cut(found.effective_date),
        _END + _terms("A", attributes) + _terms("U", user_attributes),
        _encode(attributes).decode() if attributes else None,
        _encode(user_attributes).decode() if user_attributes else None,
        _encode(metrics).decode() if metrics else None,
    )


def _as_is(text: str | None) -> str | None:
    return text
