"""store/segment_sql.py: every client string reaches the database as a bound parameter."""

from __future__ import annotations

import pytest

from openpinpoint.core import predicates as p
from openpinpoint.store.segment_sql import PostgresSegmentSql, SegmentSql, SqliteSegmentSql

HOSTILE = ["it's", "100%", "a_b", "back\\slash", "x'); DROP TABLE endpoints; --", '"q"']


def _every_atom(text: str) -> p.Predicate:
    return p.And(
        (
            *(p.AttributeTest("Attributes", text, op, (text,)) for op in ("INCLUSIVE", "CONTAINS")),
            p.AttributeTest("UserAttributes", text, "BETWEEN", (text, text)),
            p.Not(p.MetricTest(text, "EQUAL", 1.0)),
            p.Or((p.FieldIn("Platform", (text,)), p.FieldIn("Country", (text,)))),
            p.EffectiveSince(text),
            p.Members((text,), (text,)),
            p.Within(1.0, 2.0, 3.0),
        )
    )


@pytest.mark.parametrize("dialect", [SqliteSegmentSql, PostgresSegmentSql])
@pytest.mark.parametrize("text", HOSTILE)
def test_s8_no_client_text_is_pasted_into_the_sql(dialect: type[SegmentSql], text: str) -> None:
    sql, params = dialect().members_query(text, _every_atom(text), text, 10)
    assert text not in sql
    assert text in params or [text] in params or f'["{text}"]' in str(params)
    assert sql.count(dialect.MARK) == len(params)


def test_s8_empty_criteria_and_empty_combinations_are_constants() -> None:
    compiler = SqliteSegmentSql()
    assert compiler.condition(p.And(())) == "TRUE"
    assert compiler.condition(p.NOTHING) == "FALSE"
    assert compiler.condition(p.FieldIn("Make", ())) == "FALSE"
    assert compiler.params == []
