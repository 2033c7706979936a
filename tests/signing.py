"""Raw HTTP requests signed (or deliberately mis-signed) with botocore's own SigV4 signer.

For what boto3 will not send (odd paths, bad bodies) that must still pass authentication,
and for tampering with a correctly signed request before it is sent.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from openpinpoint.keys import AccessKey


@dataclass
class Prepared:
    """A request as it will go on the wire; tests may change any part after signing."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class RawResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def message(self) -> str:
        return str(self.json()["Message"])


def sign(
    url: str,
    key: AccessKey,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    headers: dict[str, str] | None = None,
    region: str = "us-east-1",
    presign_expires: int | None = None,
) -> Prepared:
    """`path` (with any query) exactly as it will be sent, signed for `key`."""
    netloc = urlsplit(url).netloc
    all_headers = {"Host": netloc, **(headers or {})}
    if body:
        all_headers.setdefault("Content-Type", "application/json")
    request = AWSRequest(method=method, url=url + path, data=body, headers=all_headers)
    credentials = Credentials(key.id, key.secret, key.session_token)
    if presign_expires is None:
        SigV4Auth(credentials, "mobiletargeting", region).add_auth(request)
    else:
        SigV4QueryAuth(credentials, "mobiletargeting", region, presign_expires).add_auth(request)
    split = urlsplit(request.url)
    signed_path = split.path + (f"?{split.query}" if split.query else "")
    return Prepared(method, signed_path, dict(request.headers.items()), body)


def send(url: str, prepared: Prepared) -> RawResponse:
    parts = urlsplit(url)
    assert parts.hostname is not None
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.putrequest(prepared.method, prepared.path, skip_host=True, skip_accept_encoding=True)
        for name, value in prepared.headers.items():
            conn.putheader(name, value)
        if prepared.body or prepared.method in {"PUT", "POST"}:
            conn.putheader("Content-Length", str(len(prepared.body)))
        conn.endheaders(prepared.body or None)
        response = conn.getresponse()
        return RawResponse(response.status, response.getheaders(), response.read())
    finally:
        conn.close()


def signed_request(
    url: str,
    key: AccessKey,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    tamper: Callable[[Prepared], None] | None = None,
    **sign_options: Any,
) -> RawResponse:
    """Sign, optionally tamper with the signed request, and send it."""
    prepared = sign(url, key, method, path, body, **sign_options)
    if tamper is not None:
        tamper(prepared)
    return send(url, prepared)
