"""Routing on the raw, still-encoded request path.

The path is split on `/` first and each segment percent-decoded afterwards, so an id that
contains `/` (sent as `%2F`) stays one segment; a decoded path would route it wrongly.

A request for an operation of Amazon Pinpoint that this server does not serve (one in
botocore's model but not in `OPERATIONS`) is answered 501 `NotImplementedException` naming it, never
`NotFoundException`: code that catches NotFound to mean "no such resource" must not
mistake a missing feature for a missing endpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import cached_property
from operator import itemgetter
from typing import NamedTuple
from urllib.parse import unquote_to_bytes

from openpinpoint.core.errors import BadRequest, MethodNotAllowed, NotFound, UnsupportedOperation
from openpinpoint.wire.model import model_operations
from openpinpoint.wire.operations import Operation

_Pick = Callable[[Sequence[bytes]], tuple[bytes, ...]]


def _picker(positions: Sequence[int]) -> _Pick:
    """The path segments at `positions`, as a tuple, picked in C where there are two or more."""
    if len(positions) >= 2:
        return itemgetter(*positions)
    if positions:
        (position,) = positions
        return lambda parts: (parts[position],)
    return lambda parts: ()


class _Route(NamedTuple):
    """A URI pattern: the literal segments it needs, and the labels it binds."""

    literals: _Pick
    expected: tuple[bytes, ...]
    labels: _Pick
    names: tuple[str, ...]
    operation: Operation


def _route(operation: Operation) -> _Route:
    parts = operation.uri.split("/")
    literal = [n for n, part in enumerate(parts) if not part.startswith("{")]
    label = [n for n, part in enumerate(parts) if part.startswith("{")]
    return _Route(
        literals=_picker(literal),
        expected=tuple(parts[n].encode() for n in literal),
        labels=_picker(label),
        names=tuple(parts[n][1:-1].replace("-", "_") for n in label),
        operation=operation,
    )


def _decode_segment(raw: bytes) -> str:
    try:
        if b"%" not in raw:
            return raw.decode("utf-8")
        return unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("The request path is not valid percent-encoded UTF-8") from None


# By method and number of path segments: a GetEndpoint is tried against 16 patterns, not
# the 45 of every method with its length, each compared as one tuple.
_Routes = dict[tuple[str, int], list[_Route]]


def _routes(operations: Iterable[Operation]) -> _Routes:
    routes: _Routes = {}
    for operation in operations:
        route = _route(operation)
        routes.setdefault((operation.method, operation.uri.count("/") + 1), []).append(route)
    return routes


def _find(routes: _Routes, method: str, parts: list[bytes]) -> _Route | None:
    for route in routes.get((method, len(parts)), ()):
        if route.literals(parts) == route.expected:
            return route
    return None


class Router:
    def __init__(self, operations: Iterable[Operation]) -> None:
        self._served = tuple(operations)
        self._routes = _routes(self._served)
        self._methods = {operation.method for operation in self._served}

    @cached_property
    def _unserved(self) -> _Routes:
        served = {operation.name for operation in self._served}
        return _routes(op for op in model_operations() if op.name not in served)

    def match(self, method: str, raw_path: bytes) -> tuple[Operation, dict[str, str]]:
        """The operation for this method and path, with its URI labels decoded."""
        parts = raw_path.split(b"/")
        if route := _find(self._routes, method, parts):
            return route.operation, {
                name: _decode_segment(raw)
                for name, raw in zip(route.names, route.labels(parts), strict=True)
            }
        if unserved := _find(self._unserved, method, parts):
            operation = unserved.operation
            raise UnsupportedOperation(
                f"{operation.name} ({operation.method} {operation.uri}) is an Amazon "
                "Pinpoint operation that this OpenPinpoint server does not support"
            )
        if any(_find(self._routes, other, parts) for other in self._methods):
            raise MethodNotAllowed(f"Method {method} is not allowed on this resource")
        raise NotFound("No Pinpoint operation is served at this path")
