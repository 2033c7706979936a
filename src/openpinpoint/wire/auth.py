"""The authentication hook: who is calling, and from which region.

The wire layer asks its `Authenticator` about every request once the body is read and
before anything is routed, so an unauthenticated caller learns nothing, not even which
paths exist. `SigV4Authenticator` (wire/sigv4.py) verifies signatures against the access
keys; `NoAuthentication` (`--auth none`) trusts everyone and only reads the region from the
SigV4 credential scope, which boto3 always sends (it is what application ARNs are built from).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import parse_qs

from openpinpoint.core.access import FULL_ACCESS, Access
from openpinpoint.core.provider import DEFAULT_REGION

_SCOPE = re.compile(rb"Credential=[^/,\s]+/\d{8}/([a-z0-9-]{1,32})/")
_QUERY_SCOPE = re.compile(r"[^/]+/\d{8}/([a-z0-9-]{1,32})/")


@dataclass(frozen=True)
class HttpRequest:
    method: str
    raw_path: bytes
    query_string: bytes
    headers: Sequence[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: bytes) -> bytes | None:
        """The first value of a header; `name` in lower case."""
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None


@dataclass(frozen=True)
class Caller:
    region: str = DEFAULT_REGION
    access_key_id: str | None = None
    access: Access = FULL_ACCESS


class Authenticator(Protocol):
    def authenticate(self, request: HttpRequest) -> Caller:
        """The caller, or raise `Forbidden`."""
        ...


def signing_region(request: HttpRequest) -> str:
    """The region of the SigV4 scope (header or presigned form), else the default."""
    authorization = request.header(b"authorization")
    if authorization and (match := _SCOPE.search(authorization)):
        return match[1].decode()
    if b"X-Amz-Credential" in request.query_string:
        query = parse_qs(request.query_string.decode("utf-8", "replace"))
        for credential in query.get("X-Amz-Credential", []):
            if scope := _QUERY_SCOPE.match(credential):
                return scope[1]
    return DEFAULT_REGION


class NoAuthentication:
    """Every caller is let in (`--auth none`)."""

    def authenticate(self, request: HttpRequest) -> Caller:
        return Caller(region=signing_region(request))
