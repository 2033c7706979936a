"""Import and export file formats (spec D.13, D.14).

Export: gzip-compressed newline-delimited JSON, one EndpointResponse per line, the format
Amazon Pinpoint's export jobs write. Import: newline-delimited JSON (one endpoint per line,
which includes Amazon Pinpoint's export lines) or CSV with dot-path headers, each UTF-8,
plain or gzip-compressed. Parsing turns each line into an endpoint request or a reason why
it is not one; the endpoint rules themselves run later, in `core.jobs`.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, cast

import msgspec
from msgspec import UNSET, UnsetType

from openpinpoint.core.shapes import (
    EndpointBatchItem,
    EndpointDemographic,
    EndpointLocation,
    EndpointResponse,
    ImportFormat,
    encode,
)

SUFFIXES: dict[ImportFormat, tuple[str, ...]] = {
    "JSON": (".json", ".ndjson", ".jsonl"),
    "CSV": (".csv",),
}


class ImportedEndpoint(EndpointBatchItem):
    """One line of an import file: an endpoint request with its `Id`, and optionally the
    members an Amazon Pinpoint export line carries besides (kept on create, see
    `endpoints.Origin`; `ApplicationId` is the source app's and is ignored)."""

    application_id: str | UnsetType = UNSET
    cohort_id: str | UnsetType = UNSET
    creation_date: str | UnsetType = UNSET


@dataclass(frozen=True)
class Row:
    """A parsed line: `endpoint`, or the `error` that makes it unusable."""

    line: int
    endpoint: ImportedEndpoint | None = None
    error: str | None = None


class HeaderError(ValueError):
    """A CSV header that cannot be mapped to endpoint members: the whole file is unusable."""


_decode_line = msgspec.json.Decoder(ImportedEndpoint).decode


def format_of(url: str) -> ImportFormat | None:
    """The import format a file's name says it has, or None. A bare `.gz` is JSON: that is
    how Amazon Pinpoint names its export pieces."""
    name = url.lower()
    for fmt, suffixes in SUFFIXES.items():
        if name.endswith(suffixes) or name.endswith(tuple(s + ".gz" for s in suffixes)):
            return fmt
    return "JSON" if name.endswith(".gz") else None


def export_lines(app_id: str, endpoints: Iterable[EndpointResponse]) -> bytes:
    """One export piece: gzip NDJSON, one EndpointResponse (with ApplicationId) per line."""
    lines = []
    for endpoint in endpoints:
        endpoint.application_id = app_id
        lines.append(encode(endpoint))
    lines.append(b"")
    return gzip.compress(b"\n".join(lines), compresslevel=6)


def read_rows(source: BinaryIO, url: str, fmt: ImportFormat, skip: int = 0) -> Iterator[Row]:
    """The rows of one file after its first `skip` lines; gzip when the name ends in `.gz`.

    Raises HeaderError (CSV) before yielding anything when the header is unusable.
    """
    stream = (
        cast(BinaryIO, gzip.GzipFile(fileobj=source)) if url.lower().endswith(".gz") else source
    )
    if fmt == "JSON":
        return _json_rows(stream, skip)
    return _csv_rows(stream, skip)


def _json_rows(stream: BinaryIO, skip: int) -> Iterator[Row]:
    for number, raw in enumerate(stream, start=1):
        if number <= skip:
            continue
        text = raw.removeprefix(b"\xef\xbb\xbf") if number == 1 else raw
        if not text.strip():
            continue
        try:
            yield Row(number, endpoint=_decode_line(text))
        except msgspec.ValidationError as error:
            yield Row(number, error=f"invalid endpoint: {error}")
        except msgspec.DecodeError as error:
            yield Row(number, error=f"not valid JSON: {error}")
        except UnicodeDecodeError:
            yield Row(number, error="not valid UTF-8")


# Members a CSV column may name, by dot path (D.14); `*` stands for an attribute name.
_SCALARS = ("Address", "ChannelType", "Id", "OptOut", "RequestId", "EffectiveDate")
_NESTED = {
    "Demographic": frozenset(EndpointDemographic.__struct_encode_fields__),
    "Location": frozenset(EndpointLocation.__struct_encode_fields__),
}
_MULTI_VALUED = ("Attributes.", "User.UserAttributes.")


@dataclass(frozen=True)
class _Column:
    path: tuple[str, ...]
    multi: bool


def _column(header: str) -> _Column:
    if header in _SCALARS or header == "User.UserId":
        return _Column(tuple(header.split(".")), multi=False)
    for prefix in _MULTI_VALUED:
        if header.startswith(prefix) and len(header) > len(prefix):
            return _Column((*prefix.rstrip(".").split("."), header[len(prefix) :]), multi=True)
    if header.startswith("Metrics.") and len(header) > len("Metrics."):
        return _Column(("Metrics", header[len("Metrics.") :]), multi=False)
    group, _, member = header.partition(".")
    if member in _NESTED.get(group, ()):
        return _Column((group, member), multi=False)
    raise HeaderError(
        f"column {header!r} is not an endpoint member this import understands; use "
        + ", ".join(_SCALARS)
        + ", Attributes.NAME, Metrics.NAME, User.UserId, User.UserAttributes.NAME, "
        "Demographic.MEMBER or Location.MEMBER"
    )


def _columns(header: list[str]) -> list[_Column]:
    columns = [_column(name.strip()) for name in header]
    seen: set[tuple[str, ...]] = set()
    for column in columns:
        if column.path in seen and not column.multi:
            raise HeaderError(
                f"column {'.'.join(column.path)!r} appears twice; only Attributes.NAME and "
                "User.UserAttributes.NAME columns may repeat (one per value)"
            )
        seen.add(column.path)
    return columns


def _csv_rows(stream: BinaryIO, skip: int) -> Iterator[Row]:
    # surrogateescape keeps bad bytes visible, so one bad row fails alone, not the file.
    text = io.TextIOWrapper(stream, encoding="utf-8", errors="surrogateescape", newline="")
    reader = csv.reader(text, strict=True)
    try:
        header = next(reader, None)
    except (csv.Error, UnicodeDecodeError) as error:
        raise HeaderError(f"line 1: {error}") from None
    if header is None:
        return
    if header:
        header[0] = header[0].removeprefix("\ufeff")
    columns = _columns(header)
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield Row(reader.line_num, error=f"not valid CSV: {error}")
            continue
        if reader.line_num <= skip or not any(cell.strip() for cell in cells):
            continue
        yield _csv_row(reader.line_num, columns, cells)


def _csv_row(line: int, columns: list[_Column], cells: list[str]) -> Row:
    if len(cells) != len(columns):
        return Row(line, error=f"has {len(cells)} fields; the header has {len(columns)}")
    document: dict[str, Any] = {}
    for column, value in zip(columns, cells, strict=True):
        if value == "":
            continue
        if any("\udc80" <= char <= "\udcff" for char in value):
            return Row(line, error="not valid UTF-8")
        *parents, leaf = column.path
        cell: str | float = value
        if parents == ["Metrics"]:
            try:
                cell = float(value)
            except ValueError:
                cell = math.nan
            if not math.isfinite(cell):
                return Row(line, error=f"Metrics.{leaf}: {value!r} is not a finite number")
        target = document
        for name in parents:
            target = target.setdefault(name, {})
        if column.multi:
            target.setdefault(leaf, []).append(cell)
        else:
            target[leaf] = cell
    try:
        return Row(line, endpoint=msgspec.convert(document, ImportedEndpoint, strict=False))
    except msgspec.ValidationError as error:
        return Row(line, error=f"invalid endpoint: {error}")
