"""Compiling a `core.predicates` tree into one SQL condition with bound parameters, for
each store's dialect. Every client string reaches the database as a parameter; the SQL
text is built only from this module's constants, so no criterion can change a query.

The condition is written against an endpoints row `e`; the PostgreSQL dialect also reads
`d.j`, the row's document parsed once as jsonb (see `PostgresSegmentSql.FROM`).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from openpinpoint.core import predicates as p

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

    def __init__(self) -> None:
        self.params: list[Any] = []

    FROM = "endpoints AS e"
    CHANNEL = ""
    """The SQL of the row's ChannelType."""

    def members_query(
        self, app_id: str, pred: p.Predicate, after_key: str, limit: int
    ) -> tuple[str, list[Any]]:
        """The documents of up to `limit` ACTIVE members whose key sorts after `after_key`."""
        where = self._where(app_id, pred, after_key)
        return (
            f"SELECT e.doc FROM {self.FROM} WHERE {where}"
            f" ORDER BY e.id_key LIMIT {self.bind(limit)}",
            self.params,
        )

    def count_query(self, app_id: str, pred: p.Predicate) -> tuple[str, list[Any]]:
        """(ChannelType or "", member count) rows."""
        where = self._where(app_id, pred, "")
        return (
            f"SELECT coalesce({self.CHANNEL}, ''), count(*) FROM {self.FROM}"
            f" WHERE {where} GROUP BY 1",
            self.params,
        )

    def _where(self, app_id: str, pred: p.Predicate, after_key: str) -> str:
        app, after = self.bind(app_id), self.bind(after_key)
        condition = self.condition(pred)
        return f"e.app_id = {app} AND e.status = 'ACTIVE' AND e.id_key > {after} AND {condition}"

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
                return self.attribute(pred) if pred.values else "FALSE"
            case p.MetricTest():
                return self.metric(pred)
            case p.FieldIn():
                return self.field_in(pred) if pred.values else "FALSE"
            case p.Within():
                return self.within(pred)
            case p.EffectiveSince():
                return self.effective_since(pred)
            case p.Members():
                return self.members(pred)
        raise AssertionError(pred)

    def value_test(self, pred: p.AttributeTest, value: str, instant: str) -> str:
        """The test of one attribute value `value` (an SQL expression) against `pred`;
        `instant` is the SQL function that reads a text as `instant_key` does."""
        op = pred.op
        if op == "INCLUSIVE":
            return f"{value} IN ({self.bind(*pred.values)})"
        if op == "CONTAINS":
            tests = [self.POSITION.format(value, self.bind(c)) + " > 0" for c in pred.values]
            return "(" + " OR ".join(tests) + ")"
        if op == "ON":
            return f"substr({instant.format(value)}, 1, 10) = {self.bind(pred.values[0][:10])}"
        self.bind(*pred.values)
        return f"{instant.format(value)} {_DATE_OPS[op].format(self.MARK)}"

    def haversine(self, lat: str, lon: str, pred: p.Within, least: str) -> str:
        # The same formula, in the same order, as the tests' reference evaluator.
        m = self.MARK
        self.params += [pred.latitude, pred.longitude, pred.latitude, pred.km]
        return (
            f"2 * {p.EARTH_RADIUS_KM!r} * asin({least}(1, sqrt("
            f"power(sin(radians({lat} - {m}) / 2), 2)"
            f" + power(sin(radians({lon} - {m}) / 2), 2) * cos(radians({m})) * cos(radians({lat}))"
            f"))) <= {m}"
        )

    def attribute(self, pred: p.AttributeTest) -> str:
        raise NotImplementedError

    def metric(self, pred: p.MetricTest) -> str:
        raise NotImplementedError

    def field_in(self, pred: p.FieldIn) -> str:
        raise NotImplementedError

    def within(self, pred: p.Within) -> str:
        raise NotImplementedError

    def effective_since(self, pred: p.EffectiveSince) -> str:
        raise NotImplementedError

    def members(self, pred: p.Members) -> str:
        raise NotImplementedError


def _json_path(*keys: str) -> str:
    return "$." + ".".join(keys)


class SqliteSegmentSql(SegmentSql):
    """SQLite: the JSON1 functions over the `doc` text."""

    POSITION = "instr({0}, {1})"
    CHANNEL = "json_extract(e.doc, '$.ChannelType')"
    MAP_PATHS: ClassVar[dict[str, str]] = {
        "Attributes": "$.Attributes",
        "UserAttributes": "$.User.UserAttributes",
    }
    INSTANT = (
        "(CASE WHEN {0} GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*'"
        " THEN strftime('%Y-%m-%dT%H:%M:%f', {0}) END)"
    )

    def attribute(self, pred: p.AttributeTest) -> str:
        path = self.MAP_PATHS[pred.map]
        name = self.bind(pred.name)
        test = self.value_test(pred, "v.value", self.INSTANT)
        return (
            # json_extract shares one parse of the document with the other atoms (SQLite
            # caches it per statement); json_each(doc, path) would parse it again.
            f"EXISTS (SELECT 1 FROM json_each(json_extract(e.doc, '{path}')) AS a,"
            f" json_each(a.value) AS v WHERE a.key = {name} AND {test})"
        )

    def metric(self, pred: p.MetricTest) -> str:
        name = self.bind(pred.name)
        value = self.bind(pred.value)
        return (
            "EXISTS (SELECT 1 FROM json_each(json_extract(e.doc, '$.Metrics')) AS m"
            f" WHERE m.key = {name} AND m.value {_METRIC_OPS[pred.op]} {value})"
        )

    def field_in(self, pred: p.FieldIn) -> str:
        path = _json_path(*p.FIELD_PATHS[pred.field])
        return f"coalesce(lower(json_extract(e.doc, '{path}')) IN ({self.bind(*pred.values)}), 0)"

    def within(self, pred: p.Within) -> str:
        lat = "json_extract(e.doc, '$.Location.Latitude')"
        lon = "json_extract(e.doc, '$.Location.Longitude')"
        return f"coalesce({self.haversine(lat, lon, pred, 'min')}, 0)"

    def effective_since(self, pred: p.EffectiveSince) -> str:
        return f"coalesce(json_extract(e.doc, '$.EffectiveDate') >= {self.bind(pred.moment)}, 0)"

    def members(self, pred: p.Members) -> str:
        keys = self.bind(json.dumps(pred.endpoint_keys))
        users = self.bind(json.dumps(pred.user_ids))
        return (
            f"(e.id_key IN (SELECT value FROM json_each({keys}))"
            f" OR coalesce(e.user_id IN (SELECT value FROM json_each({users})), FALSE))"
        )


class PostgresSegmentSql(SegmentSql):
    """PostgreSQL: jsonb operators over `d.j`, the document parsed once per row."""

    MARK = "%s"
    # The document is JSON text; `::jsonb` refuses the \u0000 escape, so a document holding
    # one has each such string cut at it first (what SQLite's JSON functions read, too).
    # The lookbehind and the backslash pairs keep an escaped backslash before "u0000" as is.
    JSONB = (
        "CASE WHEN strpos(e.doc, '\\u0000') = 0 THEN e.doc::jsonb ELSE regexp_replace(e.doc,"
        " '(?<!\\\\)((?:\\\\\\\\)*)\\\\u0000(?:[^\"\\\\]|\\\\.)*\"', '\\1\"', 'g')::jsonb END"
    )
    FROM = f"endpoints AS e CROSS JOIN LATERAL (SELECT {JSONB} AS j OFFSET 0) AS d"
    MAP_PATHS: ClassVar[dict[str, str]] = {
        "Attributes": "d.j -> 'Attributes'",
        "UserAttributes": "d.j -> 'User' -> 'UserAttributes'",
    }
    INSTANT = "openpinpoint_instant({0})"
    POSITION = "strpos({0}, {1}::text)"
    CHANNEL = "d.j ->> 'ChannelType'"

    def attribute(self, pred: p.AttributeTest) -> str:
        values = f"({self.MAP_PATHS[pred.map]} -> {self.bind(pred.name)}::text)"
        if pred.op == "INCLUSIVE":
            return f"coalesce({values} ?| {self.bind(list(pred.values))}::text[], FALSE)"
        test = self.value_test(pred, 'v.x COLLATE "C"', self.INSTANT)
        return f"EXISTS (SELECT 1 FROM jsonb_array_elements_text({values}) AS v(x) WHERE {test})"

    def metric(self, pred: p.MetricTest) -> str:
        name = self.bind(pred.name)
        value = self.bind(pred.value)
        metric = f"(d.j -> 'Metrics' ->> {name}::text)::float8"
        return f"coalesce({metric} {_METRIC_OPS[pred.op]} {value}::float8, FALSE)"

    def field_in(self, pred: p.FieldIn) -> str:
        path = "{" + ",".join(p.FIELD_PATHS[pred.field]) + "}"
        text = f"lower((d.j #>> '{path}') COLLATE \"C\")"
        return f"coalesce({text} = ANY({self.bind(list(pred.values))}::text[]), FALSE)"

    def within(self, pred: p.Within) -> str:
        lat = "(d.j #>> '{Location,Latitude}')::float8"
        lon = "(d.j #>> '{Location,Longitude}')::float8"
        return f"coalesce({self.haversine(lat, lon, pred, 'least')}, FALSE)"

    def effective_since(self, pred: p.EffectiveSince) -> str:
        return (
            f"coalesce((d.j ->> 'EffectiveDate') COLLATE \"C\" >= {self.bind(pred.moment)}, FALSE)"
        )

    def members(self, pred: p.Members) -> str:
        keys = self.bind(list(pred.endpoint_keys))
        users = self.bind(list(pred.user_ids))
        return (
            f"(e.id_key = ANY({keys}::text[]) OR coalesce(e.user_id = ANY({users}::text[]), FALSE))"
        )
