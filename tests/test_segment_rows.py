"""The `segment_fields` rows (store/segment_rows.py): what they hold, and that both stores
keep them in step with every way an endpoint is written, removed or migrated (S8)."""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from pathlib import Path
from typing import Any

import msgspec
import psycopg
import pytest

from conftest import STORES, new_store_url
from openpinpoint.core import predicates as p
from openpinpoint.core.shapes import EndpointResponse, encode
from openpinpoint.store import copy, postgres, sqlite
from openpinpoint.store.base import App, ReadTx, StoredEndpoint, WriteTx, stored_endpoint
from openpinpoint.store.open import open_store, sqlite_path
from openpinpoint.store.segment_rows import COLUMNS, SegmentRow, Split, segment_row, split, term

APP = "0" * 32
RED = p.AttributeTest("Attributes", "team", "INCLUSIVE", ("red",))
BLUE = p.AttributeTest("Attributes", "team", "INCLUSIVE", ("blue",))


def _endpoint(endpoint_id: str, team: str, status: str = "ACTIVE") -> EndpointResponse:
    return msgspec.convert(
        {
            "Id": endpoint_id,
            "ChannelType": "EMAIL",
            "EndpointStatus": status,
            "Attributes": {"team": [team]},
        },
        EndpointResponse,
    )


def _row(doc: dict[str, Any], status: str = "ACTIVE") -> Any:
    return segment_row("k", None, status, encode(msgspec.convert(doc, EndpointResponse)).decode())


def test_only_active_endpoints_have_a_row() -> None:
    assert _row({"Id": "k", "EndpointStatus": "INACTIVE"}, "INACTIVE") is None
    assert _row({"Id": "k", "EndpointStatus": "ACTIVE"}) is not None


def test_text_is_cut_at_nul_and_names_that_collide_once_cut_are_merged() -> None:
    row = _row(
        {
            "Demographic": {"Platform": "io\x00s"},
            "Attributes": {"a\x00x": ["1", "2\x00z"], "a\x00y": ["2", "3"]},
            "Metrics": {"m\x00": 1.0},
        }
    )
    assert row.platform == "io"
    assert msgspec.json.decode(row.attributes) == {"a": ["1", "2", "3"]}
    assert msgspec.json.decode(row.metrics) == {"m": 1.0}
    assert row.terms.count(term("Attributes", "a", "2")) == 1


def test_a_value_that_spells_another_term_does_not_hold_it() -> None:
    """Each term is a JSON array, and JSON escapes every quote inside a string, so no name
    or value can forge the encoding of another (map, name, value)."""
    forged = term("Attributes", "team", "blue")
    row = _row(
        {
            "Attributes": {"x": [forged, f'"{forged}', f'"],{forged}']},
            "User": {"UserAttributes": {"team": ["blue"]}},
        }
    )
    assert forged not in row.terms
    assert term("UserAttributes", "team", "blue") in row.terms


def _app() -> App:
    return App(
        id=APP,
        name="rows",
        arn=f"arn:aws:mobiletargeting:us-east-1:0:apps/{APP}",
        creation_date="2026-12-04T00:00:00.000Z",
        tags={},
    )


async def _counts(url: str, *steps: Any) -> list[tuple[int, int]]:
    """After each write step, how many members RED and BLUE have."""
    store = open_store(url)
    found = []
    try:
        await store.write(lambda tx: tx.insert_app(_app()))
        for step in steps:
            await store.write(step)
            red = await store.read(lambda tx: tx.count_segment(APP, RED))
            blue = await store.read(lambda tx: tx.count_segment(APP, BLUE))
            found.append((sum(red.values()), sum(blue.values())))
    finally:
        await store.close()
    return found


def test_rows_follow_every_write_of_an_endpoint(empty_store_url: str) -> None:
    """Put, a change of attribute, a change of status each way, and deletion, one endpoint
    at a time (each store's single-endpoint statements)."""
    steps = [
        lambda tx: [tx.put_endpoint(APP, _endpoint(i, "red")) for i in ("a", "b", "c")],
        lambda tx: tx.put_endpoint(APP, _endpoint("a", "blue")),
        lambda tx: tx.put_endpoint(APP, _endpoint("b", "red", "INACTIVE")),
        lambda tx: tx.put_endpoint(APP, _endpoint("b", "red")),
        lambda tx: tx.delete_endpoints(APP, ["c", "a"]),
    ]
    assert asyncio.run(_counts(empty_store_url, *steps)) == [
        (3, 0),
        (2, 1),
        (1, 1),
        (2, 1),
        (1, 0),
    ]


@pytest.mark.parametrize("many", [5, postgres.BULK_ENDPOINTS + 1], ids=["rows", "bulk"])
def test_rows_follow_multi_row_writes(empty_store_url: str, many: int) -> None:
    """`put_endpoints` (imports, migrate-store): below and above `BULK_ENDPOINTS`, where
    PostgreSQL copies the rows in, and again over the same keys (the copy meets them)."""
    ids = [f"e{n}" for n in range(many)]

    def put(team: str, inactive: int = 0) -> Any:
        statuses = ["INACTIVE"] * inactive + ["ACTIVE"] * (many - inactive)
        endpoints = [_endpoint(i, team, s) for i, s in zip(ids, statuses, strict=True)]
        return lambda tx: tx.put_endpoints(APP, map(stored_endpoint, endpoints))

    found = asyncio.run(_counts(empty_store_url, put("red"), put("blue", inactive=2)))
    assert found == [(many, 0), (0, many - 2)]


def _tables(url: str) -> dict[str, int]:
    query = f"SELECT count(*) FROM segment_fields WHERE app_id = '{APP}'"
    if url.startswith("sqlite"):
        with sqlite3.connect(sqlite_path(url)) as conn:
            return {"segment_fields": conn.execute(query).fetchone()[0]}
    with psycopg.connect(url) as pg:
        row = pg.execute(query).fetchone()
        assert row is not None
        return {"segment_fields": row[0]}


def test_deleting_the_app_deletes_its_rows(empty_store_url: str) -> None:
    steps = [
        lambda tx: [tx.put_endpoint(APP, _endpoint(i, "red")) for i in ("a", "b")],
        lambda tx: tx.delete_app(APP),
    ]
    assert asyncio.run(_counts(empty_store_url, *steps)) == [(2, 0), (0, 0)]
    assert _tables(empty_store_url) == {"segment_fields": 0}


def _older_store(url: str, endpoints: list[EndpointResponse]) -> None:
    """A store as the release before segment rows left it: every earlier migration, and
    endpoints written straight into their table."""
    rows = [(APP, *stored_endpoint(e)) for e in endpoints]
    insert = "INSERT INTO endpoints (app_id, id_key, user_id, address, status, doc) VALUES "
    if url.startswith("sqlite"):
        with sqlite3.connect(sqlite_path(url), isolation_level=None) as conn:
            for version in range(1, sqlite.SCHEMA_VERSION):
                for statement in sqlite.MIGRATIONS[version]:
                    assert isinstance(statement, str)
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {sqlite.SCHEMA_VERSION - 1}")
            conn.executemany(insert + "(?, ?, ?, ?, ?, ?)", rows)
        return
    with psycopg.connect(url, autocommit=True) as pg:
        pg.execute(
            "CREATE TABLE schema_migrations (version integer PRIMARY KEY,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for version in range(1, postgres.SCHEMA_VERSION):
            for step in postgres.MIGRATIONS[version]:
                assert isinstance(step, str)
                pg.execute(step)
            pg.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
        pg.cursor().executemany(insert + "(%s, %s, %s, %s, %s, %s)", rows)


def test_the_migration_fills_the_rows_of_endpoints_stored_before_it(empty_store_url: str) -> None:
    endpoints = [_endpoint(f"r{n}", "red") for n in range(3)]
    endpoints += [_endpoint("gone", "red", "INACTIVE"), _endpoint("b", "blue")]
    _older_store(empty_store_url, endpoints)
    store_app = _app()

    async def counts() -> tuple[int, int]:
        store = open_store(empty_store_url)
        try:
            await store.write(lambda tx: tx.insert_app(store_app))
            red = await store.read(lambda tx: tx.count_segment(APP, RED))
            blue = await store.read(lambda tx: tx.count_segment(APP, BLUE))
            return sum(red.values()), sum(blue.values())
        finally:
            await store.close()

    assert asyncio.run(counts()) == (3, 1)


def _count(tx: ReadTx, part: p.Predicate) -> dict[str, int]:
    return tx.count_segment(APP, part)


def test_every_column_is_written_where_the_dialects_read_it(empty_store_url: str) -> None:
    """One endpoint with every segmentable field, matched by a predicate on each column."""
    doc = {
        "Id": "all",
        "ChannelType": "GCM",
        "EndpointStatus": "ACTIVE",
        "Attributes": {"a": ["2024-05-01T10:00:00Z"]},
        "User": {"UserId": "u1", "UserAttributes": {"u": ["x y"]}},
        "Demographic": {"AppVersion": "1.2", "Make": "Acme", "Model": "M", "Platform": "IOS"},
        "Location": {"Country": "FR", "Latitude": 48.85, "Longitude": 2.35},
        "Metrics": {"m": 2.5},
        "EffectiveDate": "2026-12-01T00:00:00.000Z",
    }
    every = p.And(
        (
            p.AttributeTest("Attributes", "a", "ON", ("2024-05-01T00:00:00.000",)),
            p.AttributeTest("UserAttributes", "u", "CONTAINS", ("x ",)),
            p.AttributeTest("UserAttributes", "u", "INCLUSIVE", ("x y",)),
            p.MetricTest("m", "GREATER_THAN", 2.0),
            p.FieldIn("ChannelType", ("gcm",)),
            p.FieldIn("AppVersion", ("1.2",)),
            p.FieldIn("Make", ("acme",)),
            p.FieldIn("Model", ("m",)),
            p.FieldIn("Platform", ("ios",)),
            p.FieldIn("Country", ("fr",)),
            p.Within(48.86, 2.35, 5.0),
            p.EffectiveSince("2026-11-30T00:00:00.000Z"),
            p.Members(("nobody",), ("u1",)),
        )
    )

    async def run() -> tuple[dict[str, int], int]:
        store = open_store(empty_store_url)
        try:
            await store.write(lambda tx: tx.insert_app(_app()))
            endpoint = msgspec.convert(doc, EndpointResponse)
            await store.write(lambda tx: tx.put_endpoint(APP, endpoint))
            counted = await store.read(lambda tx: tx.count_segment(APP, every))
            each = 0
            for part in every.parts:
                found = await store.read(functools.partial(_count, part=part))
                each += sum(found.values())
            return counted, each
        finally:
            await store.close()

    assert asyncio.run(run()) == ({"GCM": 1}, len(every.parts))


def test_a_row_is_built_from_the_stored_document_alone() -> None:
    """`migrate-store` hands over documents as stored; the row needs nothing else."""
    stored = stored_endpoint(_endpoint("x", "red"))
    row = segment_row(stored.key, stored.user_id, stored.status, stored.doc)
    assert row is not None
    assert (row.key, row.channel, row.terms) == (
        "x",
        "EMAIL",
        "[" + term("Attributes", "team", "red") + "]",
    )


def _varied(count: int) -> list[EndpointResponse]:
    """Endpoints of every shape a row is made from: each part present or missing, text
    holding NUL, names that collide once cut, inactive ones among them."""
    endpoints = []
    for n in range(count):
        doc: dict[str, Any] = {"Id": f"v-{n:04d}", "EndpointStatus": "ACTIVE"}
        if n % 7 == 3:
            doc["EndpointStatus"] = "INACTIVE"
        if n % 2:
            doc["ChannelType"] = "SMS" if n % 4 == 1 else "EMAIL"
        if n % 3:
            doc["Attributes"] = {"team": [f"t{n % 5}"], "n\x00a": ["x"], "n\x00b": ["x", "y\x00z"]}
        if n % 5:
            doc["User"] = {"UserId": f"u{n // 3}", "UserAttributes": {"tier": ["gold", "é"]}}
        if n % 4 == 2:
            doc["Demographic"] = {"Platform": "io\x00s", "Make": "Acme", "AppVersion": "1.2"}
        if n % 6 == 1:
            doc["Location"] = {"Country": "FR", "Latitude": n / 7, "Longitude": -n / 3}
        if n % 2 == 0:
            doc["Metrics"] = {"score": n / 9, "m\x00": 1.0}
            doc["EffectiveDate"] = f"2026-12-{1 + n % 28:02d}T00:00:00.000Z"
        endpoints.append(msgspec.convert(doc, EndpointResponse))
    return endpoints


_JSON_COLUMNS = range(-3, 0)
"""The positions of the JSON columns at the end of a row (`SegmentRow`)."""


def _rows_as_stored(url: str) -> list[tuple[Any, ...]]:
    """The app's `segment_fields` rows, in key order: exactly as SQLite holds them, and as
    PostgreSQL gives them back (its jsonb columns decoded)."""
    query = f"SELECT {COLUMNS} FROM segment_fields WHERE app_id = '{APP}' ORDER BY k"
    if url.startswith("sqlite"):
        with sqlite3.connect(sqlite_path(url)) as conn:
            return conn.execute(query).fetchall()
    with psycopg.connect(url) as pg:
        return pg.execute(query).fetchall()


def _as_written(url: str, rows: list[SegmentRow]) -> list[tuple[Any, ...]]:
    """`rows` as the store at `url` would give them back (see `_rows_as_stored`)."""
    if url.startswith("sqlite"):
        return [tuple(row) for row in rows]
    decoded = []
    for row in rows:
        values: list[Any] = list(row)
        for i in _JSON_COLUMNS:
            values[i] = None if values[i] is None else msgspec.json.decode(values[i])
        decoded.append(tuple(values))
    return decoded


@pytest.mark.parametrize("source_kind", STORES)
@pytest.mark.parametrize("target_kind", STORES)
def test_a_copy_writes_each_row_the_target_would_make_itself(
    source_kind: str,
    target_kind: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`migrate-store` makes the rows of a page beside the write, not in it: over several
    pages (on PostgreSQL copied in bulk, and the last one not), the target holds the row of
    each active endpoint exactly as a write of that endpoint would have made it, and no
    other row."""
    monkeypatch.setattr(copy, "PAGE", postgres.BULK_ENDPOINTS + 1)
    endpoints = _varied(2 * copy.PAGE + 40)
    source_url = new_store_url(source_kind, request, tmp_path)
    target_url = new_store_url(target_kind, request, tmp_path)

    async def run() -> None:
        source, target = open_store(source_url), open_store(target_url)
        try:
            await source.write(lambda tx: tx.insert_app(_app()))
            await source.write(lambda tx: tx.put_endpoints(APP, map(stored_endpoint, endpoints)))
            await copy.copy_store(source, target)
        finally:
            await source.close()
            await target.close()

    asyncio.run(run())
    made = [
        row
        for e in sorted(map(stored_endpoint, endpoints))
        if (row := segment_row(e.key, e.user_id, e.status, e.doc)) is not None
    ]
    assert len(made) < len(endpoints)
    assert _rows_as_stored(target_url) == _as_written(target_url, made)


def test_a_write_refuses_rows_that_are_not_those_of_its_endpoints(empty_store_url: str) -> None:
    """`put_endpoints` takes rows made beforehand only when they are the split of the very
    endpoints it writes; otherwise it writes nothing."""
    red = [stored_endpoint(_endpoint(i, "red")) for i in ("a", "b")]
    others = [
        split([stored_endpoint(_endpoint("a", "red")), stored_endpoint(_endpoint("c", "red"))]),
        split(
            [
                stored_endpoint(_endpoint("a", "red")),
                stored_endpoint(_endpoint("b", "red", "INACTIVE")),
            ]
        ),
        split(red[:1]),
    ]

    async def run() -> None:
        store = open_store(empty_store_url)
        try:
            await store.write(lambda tx: tx.insert_app(_app()))
            for rows in others:
                with pytest.raises(ValueError, match="not those of the endpoints written"):
                    await store.write(functools.partial(_put, endpoints=red, rows=rows))
            assert await store.read(lambda tx: tx.count_endpoints(APP)) == 0
            await store.write(functools.partial(_put, endpoints=red, rows=split(red)))
            assert await store.read(lambda tx: tx.count_segment(APP, RED)) == {"EMAIL": 2}
        finally:
            await store.close()

    asyncio.run(run())


def _put(tx: WriteTx, endpoints: list[StoredEndpoint], rows: Split) -> None:
    tx.put_endpoints(APP, endpoints, rows)
