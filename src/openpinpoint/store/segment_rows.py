"""The `segment_fields` row each store keeps beside an ACTIVE endpoint: the fields segment
dimensions test (S2-S5), read out of the document once when the endpoint is written, so
that evaluating a segment scans narrow rows of plain columns instead of parsing every
endpoint's JSON document (S8). Both stores build the row with this module, so they agree
on what it holds; `store/segment_sql.py` compiles predicates against it.

Text is cut at its first NUL, as the predicates compare it (`core/predicates.py`);
attribute names that collide once cut have their values merged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple

import msgspec

if TYPE_CHECKING:
    from openpinpoint.store.base import StoredEndpoint

ACTIVE = "ACTIVE"
_MAP_MARKS = {"Attributes": "A", "UserAttributes": "U"}
_NUL_ESCAPE = "\\u0000"
"""How a stored document (JSON text) spells NUL inside a string: its absence means no text
needs cutting."""


class _Demographic(msgspec.Struct, rename="pascal", gc=False):
    app_version: str | None = None
    make: str | None = None
    model: str | None = None
    platform: str | None = None


class _Location(msgspec.Struct, rename="pascal", gc=False):
    country: str | None = None
    latitude: float | None = None
    longitude: float | None = None


class _User(msgspec.Struct, rename="pascal", gc=False):
    user_attributes: dict[str, list[str]] | None = None


class _Segmentable(msgspec.Struct, rename="pascal", gc=False):
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
    """Every (map, name, value) of Attributes and UserAttributes, as one JSON array of
    `term`s, for exact (INCLUSIVE) tests by substring."""
    attributes: str | None
    """The Attributes map as JSON (names and values cut), for the other attribute tests."""
    user_attributes: str | None
    metrics: str | None


COLUMN_NAMES = ("k", *SegmentRow._fields[1:])
"""The table's names for SegmentRow's fields (the key is `k`)."""
COLUMNS = ", ".join(COLUMN_NAMES)


def term(map_name: str, name: str, value: str) -> str:
    """The JSON text `terms` holds for one value of an attribute: a test for that value is
    one substring search. Inside a JSON string every quote is escaped, so `["` occurs only
    where an array starts, and a match is always a whole (map, name, value) element."""
    return _encode([_MAP_MARKS[map_name], name, value]).decode()


def _cut(text: str | None) -> str | None:
    return text if text is None or "\x00" not in text else text.split("\x00", 1)[0]


def _cut_map(found: dict[str, list[str]]) -> dict[str, list[str]]:
    cut: dict[str, list[str]] = {}
    for name, values in found.items():
        merged = cut.setdefault(_cut(name) or "", [])
        merged += [v for v in map(_cut, values) if v is not None and v not in merged]
    return cut


_NO_USER = _User()
_NO_DEMOGRAPHIC = _Demographic()
_NO_LOCATION = _Location()
_ATTRIBUTES_MARK = _MAP_MARKS["Attributes"]
_USER_MARK = _MAP_MARKS["UserAttributes"]
_row_of = partial(tuple.__new__, SegmentRow)
"""SegmentRow of its values, without the named tuple's own `__new__` (a Python function that
cost a tenth of a row)."""


def segment_row(key: str, user_id: str | None, status: str, doc: str) -> SegmentRow | None:
    """The row of the endpoint stored as `doc`, or None when it is not ACTIVE: only active
    endpoints are members of any segment (S2)."""
    if status != ACTIVE:
        return None
    found = _decode(doc)
    attributes = found.attributes or {}
    user_attributes = (found.user or _NO_USER).user_attributes or {}
    metrics = found.metrics or {}
    demographic = found.demographic or _NO_DEMOGRAPHIC
    location = found.location or _NO_LOCATION
    text: tuple[str | None, ...] = (
        found.channel_type,
        demographic.app_version,
        demographic.make,
        demographic.model,
        demographic.platform,
        location.country,
        found.effective_date,
    )
    if _NUL_ESCAPE in doc:
        attributes, user_attributes = _cut_map(attributes), _cut_map(user_attributes)
        metrics = {_cut(name) or "": number for name, number in metrics.items()}
        text = tuple(map(_cut, text))
    channel, app_version, make, model, platform, country, effective = text
    terms = [[_ATTRIBUTES_MARK, n, v] for n, values in attributes.items() for v in values]
    terms += [[_USER_MARK, n, v] for n, values in user_attributes.items() for v in values]
    return _row_of(
        (
            key,
            user_id,
            channel,
            app_version,
            make,
            model,
            platform,
            country,
            location.latitude,
            location.longitude,
            effective,
            _encode(terms).decode(),
            _encode(attributes).decode() if attributes else None,
            _encode(user_attributes).decode() if user_attributes else None,
            _encode(metrics).decode() if metrics else None,
        ),
    )


class Split(NamedTuple):
    """What `split` makes of some endpoints."""

    active: list[SegmentRow]
    """The rows of the ACTIVE ones."""
    inactive: list[str]
    """The keys of the others, whose rows, if any, must go."""


def split(endpoints: Iterable[StoredEndpoint]) -> Split:
    """The rows of the ACTIVE endpoints among `endpoints`, and the keys of the others."""
    active: list[SegmentRow] = []
    inactive: list[str] = []
    for e in endpoints:
        row = segment_row(e.key, e.user_id, e.status, e.doc)
        if row is None:
            inactive.append(e.key)
        else:
            active.append(row)
    return Split(active, inactive)


def as_rows(values: Iterable[Sequence[Any]]) -> list[SegmentRow]:
    """The rows a store gives back, each its values in the order of `COLUMNS`."""
    return list(map(_row_of, values))


def with_kept(endpoints: Iterable[StoredEndpoint], kept: list[SegmentRow]) -> Split:
    """The split of `endpoints` whose rows a store kept (`ReadTx.list_segment_rows`)."""
    return Split(kept, [e.key for e in endpoints if e.status != ACTIVE])


def rows_of(endpoints: Mapping[str, StoredEndpoint], rows: Split | None) -> Split:
    """The `split` of `endpoints` (by key): `rows`, when the writer made it already, once
    checked to hold a row for each ACTIVE endpoint and the key of each other, in order."""
    if rows is None:
        return split(endpoints.values())
    active = [key for key, e in endpoints.items() if e.status == ACTIVE]
    inactive = [key for key, e in endpoints.items() if e.status != ACTIVE]
    if [row.key for row in rows.active] != active or rows.inactive != inactive:
        raise ValueError("the segment rows given are not those of the endpoints written")
    return rows
