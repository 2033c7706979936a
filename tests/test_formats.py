"""Unit tests of the import/export file formats (spec D.13, D.14)."""

from __future__ import annotations

import gzip
import io
import json

import pytest

from openpinpoint.core.formats import HeaderError, Row, export_lines, format_of, read_rows
from openpinpoint.core.shapes import EndpointResponse, ImportFormat


def rows(data: bytes, fmt: ImportFormat, name: str = "f", skip: int = 0) -> list[Row]:
    return list(read_rows(io.BytesIO(data), name, fmt, skip))


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.csv", "CSV"),
        ("a.CSV.gz", "CSV"),
        ("a.json", "JSON"),
        ("a.ndjson.gz", "JSON"),
        ("a.jsonl", "JSON"),
        ("part-00000.gz", "JSON"),
        ("a.txt", None),
    ],
)
def test_format_follows_the_file_name(name: str, fmt: ImportFormat | None) -> None:
    assert format_of(name) == fmt


def test_csv_header_may_start_with_a_byte_order_mark() -> None:
    (row,) = rows("\ufeffId,Address\nx,+1\n".encode(), "CSV")
    assert row.endpoint is not None
    assert (row.endpoint.id, row.endpoint.address) == ("x", "+1")


def test_csv_columns_other_than_attributes_may_not_repeat() -> None:
    with pytest.raises(HeaderError, match="'Address' appears twice"):
        rows(b"Address,Address\na,b\n", "CSV")


def test_csv_rows_fail_alone_with_their_physical_line_numbers() -> None:
    data = b"Id,Metrics.m\nok,1\n\nshort\nbad,x\nutf,\xff\nfine,2\n"
    found = rows(data, "CSV")
    assert [(r.line, r.error is None) for r in found] == [
        (2, True),
        (4, False),
        (5, False),
        (6, False),
        (7, True),
    ]
    assert "1 fields; the header has 2" in str(found[1].error)
    assert "Metrics.m" in str(found[2].error)
    assert found[3].error == "not valid UTF-8"


def test_csv_reading_resumes_after_the_lines_already_done() -> None:
    data = b"Id\na\nb\nc\n"
    assert [r.line for r in rows(data, "CSV", skip=3)] == [4]


def test_json_lines_are_numbered_and_blank_lines_skipped() -> None:
    data = gzip.compress(b'{"Id":"a"}\n\n{"Id":1}\n\xff\n{"Id":"b","User":{}}\n')
    found = rows(data, "JSON", name="x.json.gz")
    assert [r.line for r in found] == [1, 3, 4, 5]
    assert "Expected `str`" in str(found[1].error)
    assert found[2].error is not None
    assert found[3].endpoint is not None


def test_export_piece_is_gzip_ndjson_with_the_application_id() -> None:
    piece = export_lines("app1", [EndpointResponse(id="a"), EndpointResponse(id="b")])
    lines = gzip.decompress(piece).decode().splitlines()
    assert [json.loads(line) for line in lines] == [
        {"ApplicationId": "app1", "Id": "a"},
        {"ApplicationId": "app1", "Id": "b"},
    ]
