"""Helpers for the segment semantics tests: a store with its own event loop, evaluating a
segment definition through the server's code path (stored definition, predicate, SQL), and
a plain-Python reference evaluator that knows nothing of the server's code."""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import msgspec

from openpinpoint.core import segments
from openpinpoint.core.segment_shapes import WriteSegmentRequest
from openpinpoint.core.shapes import EndpointResponse
from openpinpoint.core.values import new_resource_id
from openpinpoint.store.base import App, ReadTx, Store, WriteTx
from openpinpoint.store.open import open_store

T = TypeVar("T")
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Segments:
    """One store, driven from synchronous tests."""

    def __init__(self, url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.store: Store = self.loop.run_until_complete(self._open(url))

    @staticmethod
    async def _open(url: str) -> Store:
        return open_store(url)

    def read(self, fn: Callable[[ReadTx], T]) -> T:
        return self.loop.run_until_complete(self.store.read(fn))

    def write(self, fn: Callable[[WriteTx], T]) -> T:
        return self.loop.run_until_complete(self.store.write(fn))

    def close(self) -> None:
        self.loop.run_until_complete(self.store.close())
        self.loop.close()

    def new_app(self, endpoints: list[dict[str, Any]]) -> str:
        app_id = new_resource_id()
        app = App(
            id=app_id,
            name="seg",
            arn=f"arn:aws:mobiletargeting:us-east-1:0:apps/{app_id}",
            creation_date=stamp(NOW),
            tags={},
        )
        docs = [msgspec.convert(e, EndpointResponse) for e in endpoints]

        def put(tx: WriteTx) -> None:
            tx.insert_app(app)
            for doc in docs:
                tx.put_endpoint(app_id, doc)

        self.write(put)
        return app_id

    def create(self, app_id: str, body: dict[str, Any]) -> str:
        request = msgspec.convert(body, WriteSegmentRequest)
        segment_id = new_resource_id()

        def create(tx: WriteTx) -> None:
            app = tx.get_app(app_id)
            assert app is not None
            segments.create(tx, app, segment_id, request, stamp(NOW))

        self.write(create)
        return segment_id

    def update(self, app_id: str, segment_id: str, body: dict[str, Any]) -> None:
        request = msgspec.convert(body, WriteSegmentRequest)
        self.write(lambda tx: segments.update(tx, app_id, segment_id, request, stamp(NOW)))

    def members(
        self, app_id: str, segment_id: str, version: int | None = None, page: int = 7
    ) -> set[str]:
        """The members' ids, read in small pages to exercise paging."""

        def read(tx: ReadTx) -> set[str]:
            pred = segments.predicate(tx, app_id, segment_id, version, NOW)
            found: list[str] = []
            after = ""
            while batch := tx.segment_members(app_id, pred, after, page):
                found += [str(e.id) for e in batch]
                after = str(batch[-1].id).casefold()
            assert len(found) == len(set(found))
            return set(found)

        return self.read(read)

    def count(self, app_id: str, segment_id: str) -> dict[str, int]:
        return self.read(
            lambda tx: tx.count_segment(
                app_id, segments.predicate(tx, app_id, segment_id, None, NOW)
            )
        )

    def evaluate(self, app_id: str, body: dict[str, Any]) -> set[str]:
        return self.members(app_id, self.create(app_id, body))


# The reference evaluator (S2-S5 read literally)

_INSTANT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?(?:Z|[+-][0-9]{2}:[0-9]{2})?)?"
)
_RECENCY = {"HR_24": 1, "DAY_7": 7, "DAY_14": 14, "DAY_30": 30}


def instant(text: str) -> datetime | None:
    if not _INSTANT.fullmatch(text):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _cut(text: str) -> str:
    """Text as both stores read it: up to its first NUL."""
    return text.split("\x00", 1)[0]


def _attribute(values: list[str] | None, criterion: dict[str, Any]) -> bool:
    kind = criterion.get("AttributeType", "INCLUSIVE")
    wanted = criterion["Values"]
    have = [_cut(v) for v in values or []]
    if kind == "INCLUSIVE":
        return any(v in wanted for v in have)
    if kind == "EXCLUSIVE":
        return not any(v in wanted for v in have)
    if kind == "CONTAINS":
        return any(c in v for v in have for c in wanted)
    moments = [m for m in map(instant, have) if m is not None]
    bounds = [instant(c) for c in wanted]
    assert all(b is not None for b in bounds)
    if kind == "BEFORE":
        return any(m < bounds[0] for m in moments)  # type: ignore[operator]
    if kind == "AFTER":
        return any(m > bounds[0] for m in moments)  # type: ignore[operator]
    if kind == "ON":
        return any(m.date() == bounds[0].date() for m in moments)  # type: ignore[union-attr]
    return any(bounds[0] <= m <= bounds[1] for m in moments)  # type: ignore[operator]


def _lower(text: str) -> str:
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in text)


def _set(value: str | None, dimension: dict[str, Any]) -> bool:
    inside = value is not None and _lower(_cut(value)) in {_lower(v) for v in dimension["Values"]}
    return not inside if dimension.get("DimensionType") == "EXCLUSIVE" else inside


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    a = math.sin(math.radians(lat1 - lat2) / 2) ** 2 + math.sin(
        math.radians(lon1 - lon2) / 2
    ) ** 2 * math.cos(math.radians(lat2)) * math.cos(math.radians(lat1))
    return 2 * 6371.0088 * math.asin(min(1, math.sqrt(a)))


_METRIC: dict[str, Callable[[float, float], bool]] = {
    "GREATER_THAN": lambda a, b: a > b,
    "LESS_THAN": lambda a, b: a < b,
    "GREATER_THAN_OR_EQUAL": lambda a, b: a >= b,
    "LESS_THAN_OR_EQUAL": lambda a, b: a <= b,
    "EQUAL": lambda a, b: a == b,
}


def dimensions_match(e: dict[str, Any], d: dict[str, Any], now: datetime = NOW) -> bool:
    attrs = {_cut(k): v for k, v in (e.get("Attributes") or {}).items()}
    user_attrs = {
        _cut(k): v for k, v in ((e.get("User") or {}).get("UserAttributes") or {}).items()
    }
    for name, c in (d.get("Attributes") or {}).items():
        if not _attribute(attrs.get(name), c):
            return False
    for name, c in (d.get("UserAttributes") or {}).items():
        if not _attribute(user_attrs.get(name), c):
            return False
    for name, c in (d.get("Metrics") or {}).items():
        value = (e.get("Metrics") or {}).get(name)
        if value is None or not _METRIC[c["ComparisonOperator"]](value, c["Value"]):
            return False
    demo = e.get("Demographic") or {}
    fields = {
        "AppVersion": demo.get("AppVersion"),
        "Channel": e.get("ChannelType"),
        "DeviceType": demo.get("Platform"),
        "Make": demo.get("Make"),
        "Model": demo.get("Model"),
        "Platform": demo.get("Platform"),
    }
    for name, c in (d.get("Demographic") or {}).items():
        if not _set(fields[name], c):
            return False
    loc = d.get("Location") or {}
    here = e.get("Location") or {}
    if "Country" in loc and not _set(here.get("Country"), loc["Country"]):
        return False
    if "GPSPoint" in loc:
        gps = loc["GPSPoint"]
        if "Latitude" not in here or "Longitude" not in here:
            return False
        centre = gps["Coordinates"]
        if (
            distance_km(
                here["Latitude"], here["Longitude"], centre["Latitude"], centre["Longitude"]
            )
            > gps["RangeInKilometers"]
        ):
            return False
    recency = (d.get("Behavior") or {}).get("Recency")
    if recency:
        since = now - timedelta(days=_RECENCY[recency["Duration"]])
        seen = e.get("EffectiveDate")
        active = seen is not None and datetime.fromisoformat(seen) >= since
        if active != (recency["RecencyType"] == "ACTIVE"):
            return False
    return True


def _combine(how: str, results: list[bool]) -> bool:
    if how == "ANY":
        return any(results)
    if how == "NONE":
        return not any(results)
    return all(results)


def reference(
    endpoints: list[dict[str, Any]], body: dict[str, Any], sources: dict[str, dict[str, Any]]
) -> set[str]:
    """The ids of the members of `body`; `sources` maps segment ids to their definitions."""

    def member(e: dict[str, Any], definition: dict[str, Any]) -> bool:
        if e.get("EndpointStatus") != "ACTIVE":
            return False
        if "Dimensions" in definition and not dimensions_match(e, definition["Dimensions"]):
            return False
        groups = definition.get("SegmentGroups")
        if not groups or not groups.get("Groups"):
            return True
        results = []
        for g in groups["Groups"]:
            refs = g.get("SourceSegments") or []
            base = (
                _combine(g.get("SourceType", "ALL"), [member(e, sources[r["Id"]]) for r in refs])
                if refs
                else True
            )
            dims = g.get("Dimensions") or []
            filtered = (
                _combine(g.get("Type", "ALL"), [dimensions_match(e, x) for x in dims])
                if dims
                else True
            )
            results.append(base and filtered)
        return _combine(groups.get("Include", "ALL"), results)

    return {e["Id"] for e in endpoints if member(e, body)}
