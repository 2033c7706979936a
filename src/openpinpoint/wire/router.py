"""Routing on the raw, still-encoded request path.

The path is split on `/` first and each segment percent-decoded afterwards, so an id that
contains `/` (sent as `%2F`) stays one segment; a decoded path would route it wrongly.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import unquote_to_bytes

from openpinpoint.core.errors import BadRequest, MethodNotAllowed, NotFound
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


class Router:
    def __init__(self, operations: Iterable[Operation]) -> None:
        self._routes: dict[int, list[tuple[tuple[_Segment, ...], Operation]]] = {}
        for operation in operations:
            pattern = _pattern(operation.uri)
            self._routes.setdefault(len(pattern), []).append((pattern, operation))

    def match(self, method: str, raw_path: bytes) -> tuple[Operation, dict[str, str]]:
        """The operation for this method and path, with its URI labels decoded."""
        parts = raw_path.split(b"/")
        path_matched = False
        for pattern, operation in self._routes.get(len(parts), ()):
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
                    return operation, {name: _decode_segment(raw) for name, raw in labels.items()}
        if path_matched:
            raise MethodNotAllowed(f"Method {method} is not allowed on this resource")
        raise NotFound("No Pinpoint operation is served at this path")
