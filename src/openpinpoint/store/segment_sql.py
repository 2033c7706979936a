"""Compiling a `core.predicates` tree into one SQL condition with bound parameters, for
each store's dialect. Every client string reaches the database as a parameter; the SQL
text is built only from this module's constants, so no criterion can change a query.

The condition is written against a `segment_fields` row `s` (`store/segment_rows.py`): the
segmentable fields of one ACTIVE endpoint, in columns, so a segment scans narrow rows and
parses no endpoint document.
"""

from __future__ import annotations

import json
import math
from typing import Any

from openpinpoint.core import predicates as p
from openpinpoint.store.segment_rows import term

_METRIC_OPS = {
    "GREATER_THAN": ">",
    "LESS_THAN": "<",
    "GREATER_THAN_OR_EQUAL": ">=",
    "LESS_THAN_OR_EQUAL": "<=",
    "EQUAL": "=",
}
_DATE_OPS = {"BEFORE": "< {0}", "AFTER": "> {0}", "BETWEEN": "BETWEEN {0} AND {0}"}


class SegmentSql:
    """A dialect-neutral walk over the tree; subclasses supply the atoms."""

    MARK = "?"
    POSITION = ""
    """The SQL of "where {1} starts in {0}, or 0"."""
    LOWER = "lower({0})"
    """The SQL of {0} with ASCII letters lowercased (and nothing else)."""
    LEAST = ""

    def __init__(self) -> None:
        self.params: list[Any] = []

    def members_query(
        self,
        app_id: str,
        pred: p.Predicate,
        after_key: str,
        limit: int,
        until_key: str | None = None,
    ) -> tuple[str, list[Any]]:
        """The documents of up to `limit` members whose key sorts after `after_key` (and
        not after `until_key`): the narrow rows are walked in key order and joined to
        their endpoints only once they match, so a page costs the rows it passes over, not
        a scan of the app. (SQLite keeps the tables of a CROSS JOIN in the order written;
        PostgreSQL plans it as the inner join it is.)"""
        where = self._where(app_id, pred, after_key)
        if until_key is not None:
            where += f" AND s.k <= {self.bind(until_key)}"
        return (
            "SELECT e.doc FROM segment_fields AS s CROSS JOIN endpoints AS e"
            f" WHERE e.app_id = s.app_id AND e.id_key = s.k AND {where}"
            f" ORDER BY s.k LIMIT {self.bind(limit)}",
            self.params,
        )

    def window_end_query(self, app_id: str, after_key: str, rows: int) -> tuple[str, list[Any]]:
        """The key `rows` segment rows after `after_key` (walking the key, no condition)."""
        app, after, skip = self.bind(app_id), self.bind(after_key), self.bind(rows - 1)
        return (
            f"SELECT k FROM segment_fields WHERE app_id = {app} AND k > {after}"
            f" ORDER BY k LIMIT 1 OFFSET {skip}",
            self.params,
        )

    def count_query(self, app_id: str, pred: p.Predicate) -> tuple[str, list[Any]]:
        """(ChannelType or "", member count) rows."""
        where = self._where(app_id, pred, "")
        return (
            f"SELECT coalesce(s.channel, ''), count(*) FROM segment_fields AS s"
            f" WHERE {where} GROUP BY 1",
            self.params,
        )

    def _where(self, app_id: str, pred: p.Predicate, after_key: str) -> str:
        app, after = self.bind(app_id), self.bind(after_key)
        return f"s.app_id = {app} AND s.k > {after} AND {self.condition(pred)}"

    def bind(self, *values: Any) -> str:
        self.params += values
        return ", ".join([self.MARK] * len(values))

    def condition(self, pred: p.Predicate) -> str:
        match pred:
            case p.Everything():
                return "TRUE"
            case p.And(parts):
                return "(" + " AND ".join(map(self.condition, parts)) + ")" if parts else "TRUE"
            case p.Or(parts):
                return "(" + " OR ".join(map(self.condition, parts)) + ")" if parts else "FALSE"
            case p.Not(part):
                return f"NOT {self.condition(part)}"
            case p.AttributeTest():
                if not pred.values:
                    return "FALSE"
                return self.inclusive(pred) if pred.op == "INCLUSIVE" else self.attribute(pred)
            case p.MetricTest():
                return self.metric(pred)
            case p.FieldIn():
                return self.field_in(pred) if pred.values else "FALSE"
            case p.Within():
                return self.within(pred)
            case p.EffectiveSince():
                return f"coalesce(s.effective >= {self.bind(pred.moment)}, FALSE)"
            case p.Members():
                return self.members(pred)
        raise AssertionError(pred)

    def inclusive(self, pred: p.AttributeTest) -> str:
        # One substring search per value in the row's `terms`, which holds each value with
        # its map and name around it, so a match is an exact one (segment_rows.term).
        tests = [
            self.POSITION.format("s.terms", self.bind(term(pred.map, pred.name, value))) + " > 0"
            for value in pred.values
        ]
        return "(" + " OR ".join(tests) + ")"

    def value_test(self, pred: p.AttributeTest, value: str, instant: str) -> str:
        """The test of one attribute value `value` (an SQL expression) against `pred`;
        `instant` is the SQL function that reads a text as `instant_key` does."""
        op = pred.op
        if op == "CONTAINS":
            tests = [self.POSITION.format(value, self.bind(c)) + " > 0" for c in pred.values]
            return "(" + " OR ".join(tests) + ")"
        if op == "ON":
            return f"substr({instant.format(value)}, 1, 10) = {self.bind(pred.values[0][:10])}"
        self.bind(*pred.values)
        return f"{instant.format(value)} {_DATE_OPS[op].format(self.MARK)}"

    def field_in(self, pred: p.FieldIn) -> str:
        column = _FIELD_COLUMNS[pred.field]
        lowered = self.LOWER.format(f"s.{column}")
        return f"coalesce({lowered} IN ({self.bind(*pred.values)}), FALSE)"

    def within(self, pred: p.Within) -> str:
        # Plain comparisons spare most rows the trigonometry. A point farther than `km`
        # along a meridian cannot be within range (the great-circle distance is at least
        # that); nor can one whose longitude differs from the centre's by more than the
        # cap's widest, asin(sin r / cos latitude), when the cap holds no pole and crosses
        # no antimeridian (else the band is left out). The margins cover rounding; the
        # haversine decides the rest.
        arc = pred.km / p.EARTH_RADIUS_KM
        reach = math.degrees(arc) + 1e-6
        bands = [
            f"s.latitude BETWEEN {self.bind(pred.latitude - reach)}"
            f" AND {self.bind(pred.latitude + reach)}"
        ]
        if abs(pred.latitude) + reach < 89:
            spread = (
                math.degrees(math.asin(math.sin(arc) / math.cos(math.radians(pred.latitude))))
                + 1e-6
            )
            west, east = pred.longitude - spread, pred.longitude + spread
            if west >= -180 and east <= 180:
                bands.append(f"s.longitude BETWEEN {self.bind(west)} AND {self.bind(east)}")
        m = self.MARK
        self.params += [pred.latitude, pred.longitude, pred.latitude, pred.km]
        # CASE, because SQLite computes both sides of an AND inside a function's argument.
        # The same formula, in the same order, as the tests' reference evaluator.
        return (
            f"CASE WHEN {' AND '.join(bands)} THEN coalesce(2 * {p.EARTH_RADIUS_KM!r}"
            f" * asin({self.LEAST}(1, sqrt(power(sin(radians(s.latitude - {m}) / 2), 2)"
            f" + power(sin(radians(s.longitude - {m}) / 2), 2) * cos(radians({m}))"
            f" * cos(radians(s.latitude))))) <= {m}, FALSE) ELSE FALSE END"
        )

    def members(self, pred: p.Members) -> str:
        keys, users = self.key_list(pred.endpoint_keys), self.key_list(pred.user_ids)
        return f"(s.k IN ({keys}) OR coalesce(s.user_id IN ({users}), FALSE))"

    def key_list(self, keys: tuple[str, ...]) -> str:
        """The SQL of a list of texts bound as one parameter, for `IN (...)`."""
        raise NotImplementedError

    def attribute(self, pred: p.AttributeTest) -> str:
        raise NotImplementedError

    def metric(self, pred: p.MetricTest) -> str:
        raise NotImplementedError


_FIELD_COLUMNS: dict[p.Field, str] = {
    "ChannelType": "channel",
    "AppVersion": "app_version",
    "Make": "make",
    "Model": "model",
    "Platform": "platform",
    "Country": "country",
}
_MAP_COLUMNS = {"Attributes": "s.attributes", "UserAttributes": "s.user_attributes"}


def _label_path(name: str) -> str | None:
    """The JSON path of the member `name` of a map, where SQLite can look it up directly:
    its path syntax has no escapes, and it matches a label against the member's JSON text
    as written, so only a name that the row's encoder writes as it is (no quote,
    backslash or control character) has one. Any other name is compared member by member
    (json_each), which is slower and as exact."""
    if any(c in '"\\' or c < " " for c in name):
        return None
    return f'$."{name}"'


class SqliteSegmentSql(SegmentSql):
    """SQLite: columns, and the JSON1 functions over the small attribute and metric maps."""

    POSITION = "instr({0}, {1})"
    LEAST = "min"
    # SQLite takes an impossible day (2024-02-30) as it is written, and counts it as one
    # of the days after it: a date that does not come back the same from its day number
    # is none, as on PostgreSQL.
    INSTANT = (
        "(CASE WHEN {0} GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*'"
        " AND date(julianday(substr({0}, 1, 10))) = substr({0}, 1, 10)"
        " THEN strftime('%Y-%m-%dT%H:%M:%f', {0}) END)"
    )

    def attribute(self, pred: p.AttributeTest) -> str:
        column = _MAP_COLUMNS[pred.map]
        path = _label_path(pred.name)
        # The attribute's values `v`, found by path or member by member; bound before the
        # test's own parameters, in the order the SQL names them.
        if path is None:
            name = self.bind(pred.name)
            values = f"json_each({column}) AS a, json_each(a.value) AS v WHERE a.key = {name} AND"
        else:
            values = f"json_each({column}, {self.bind(path)}) AS v WHERE"
        test = self.value_test(pred, "v.value", self.INSTANT)
        return f"EXISTS (SELECT 1 FROM {values} {test})"

    def metric(self, pred: p.MetricTest) -> str:
        path = _label_path(pred.name)
        if path is None:
            name = self.bind(pred.name)
            value = self.bind(pred.value)
            return (
                "EXISTS (SELECT 1 FROM json_each(s.metrics) AS m"
                f" WHERE m.key = {name} AND m.value {_METRIC_OPS[pred.op]} {value})"
            )
        found = f"json_extract(s.metrics, {self.bind(path)})"
        return f"coalesce({found} {_METRIC_OPS[pred.op]} {self.bind(pred.value)}, FALSE)"

    def key_list(self, keys: tuple[str, ...]) -> str:
        return f"SELECT value FROM json_each({self.bind(json.dumps(keys))})"


class PostgresSegmentSql(SegmentSql):
    """PostgreSQL: columns, and jsonb operators over the attribute and metric maps."""

    MARK = "%s"
    INSTANT = "openpinpoint_instant({0})"
    POSITION = "strpos({0}, {1}::text)"
    LOWER = 'lower({0} COLLATE "C")'
    LEAST = "least"

    def attribute(self, pred: p.AttributeTest) -> str:
        values = f"({_MAP_COLUMNS[pred.map]} -> {self.bind(pred.name)}::text)"
        test = self.value_test(pred, 'v.x COLLATE "C"', self.INSTANT)
        return f"EXISTS (SELECT 1 FROM jsonb_array_elements_text({values}) AS v(x) WHERE {test})"

    def metric(self, pred: p.MetricTest) -> str:
        name = self.bind(pred.name)
        value = self.bind(pred.value)
        metric = f"(s.metrics ->> {name}::text)::float8"
        return f"coalesce({metric} {_METRIC_OPS[pred.op]} {value}::float8, FALSE)"

    def key_list(self, keys: tuple[str, ...]) -> str:
        return f"SELECT unnest({self.bind(list(keys))}::text[])"
