"""Routing on the raw, still-encoded request path.

The path is split on `/` first and each segment percent-decoded afterwards, so an id that
contains `/` (sent as `%2F`) stays one segment; a decoded path would route it wrongly.

A request for an operation of Amazon Pinpoint that this server does not serve (one in
botocore's model but not in `OPERATIONS`) is answered 501 `NotImplementedException` naming it, never
`NotFoundException`: code that catches NotFound to mean "no such resource" must not
mistake a missing feature for a missing endpoint.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property
from urllib.parse import unquote_to_bytes

from openpinpoint.core.errors import BadRequest, MethodNotAllowed, NotFound, UnsupportedOperation
from openpinpoint.wire.model import model_operations
from openpinpoint.wire.operations import Operation

# One pattern segment: a literal (bytes) or the argument name a label binds to (str).
_Segment = bytes | str


def _pattern(uri: str) -> tuple[_Segment, ...]:
    return tuple(
        part[1:-1].replace("-", "_") if part.startswith("{") else part.encode()
        for part in uri.split("/")
    )


def _decode_segment(raw: bytes) -> str:
    try:
        return unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("The request path is not valid percent-encoded UTF-8") from None


_Routes = dict[int, list[tuple[tuple[_Segment, ...], Operation]]]


def _routes(operations: Iterable[Operation]) -> _Routes:
    routes: _Routes = {}
    for operation in operations:
        pattern = _pattern(operation.uri)
        routes.setdefault(len(pattern), []).append((pattern, operation))
    return routes


def _find(
    routes: _Routes, method: str, parts: list[bytes]
) -> tuple[Operation | None, dict[str, bytes], bool]:
    """The operation for `method` on the split path, its raw labels, and whether the path
    matched an operation of any method."""
    path_matched = False
    for pattern, operation in routes.get(len(parts), ()):
        labels: dict[str, bytes] = {}
        for want, got in zip(pattern, parts, strict=True):
            if isinstance(want, bytes):
                if want != got:
                    break
            else:
                labels[want] = got
        else:
            path_matched = True
            if operation.method == method:
                return operation, labels, True
    return None, {}, path_matched


class Router:
    def __init__(self, operations: Iterable[Operation]) -> None:
        self._served = tuple(operations)
        self._routes = _routes(self._served)

    @cached_property
    def _unserved(self) -> _Routes:
        served = {operation.name for operation in self._served}
        return _routes(op for op in model_operations() if op.name not in served)

    def match(self, method: str, raw_path: bytes) -> tuple[Operation, dict[str, str]]:
        """The operation for this method and path, with its URI labels decoded."""
        parts = raw_path.split(b"/")
        operation, labels, path_matched = _find(self._routes, method, parts)
        if operation is not None:
            return operation, {name: _decode_segment(raw) for name, raw in labels.items()}
        unserved, _, _ = _find(self._unserved, method, parts)
        if unserved is not None:
            raise UnsupportedOperation(
                f"{unserved.name} ({unserved.method} {unserved.uri}) is an Amazon Pinpoint "
                "operation that this OpenPinpoint server does not support"
            )
        if path_matched:
            raise MethodNotAllowed(f"Method {method} is not allowed on this resource")
        raise NotFound("No Pinpoint operation is served at this path")
