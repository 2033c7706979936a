"""Plain HTTP requests for what boto3 cannot send: unknown members, bad JSON, odd paths.

They are signed with botocore's own SigV4 signer (as `TEST_KEY` unless told otherwise), so
they pass authentication like boto3's requests; a test may tamper with a signed request
before it is sent, or send it unsigned with `key=None`.
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

from conftest import TEST_KEY
from openpinpoint.keys import AccessKey


@dataclass
class RawResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def message(self) -> str:
        """The `Message` of an error body."""
        return str(self.json()["Message"])


@dataclass
class Prepared:
    """A request as it will go on the wire; tests may change any part after signing."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


def connect(url: str) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    assert parts.hostname is not None
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)


def sign(
    url: str,
    key: AccessKey,
    prepared: Prepared,
    *,
    region: str = "us-east-1",
    presign_expires: int | None = None,
) -> Prepared:
    """`prepared` signed for `key`, in the header form or presigned; its path is sent as is."""
    request = AWSRequest(
        method=prepared.method,
        url=url + prepared.path,
        data=prepared.body,
        headers={"Host": urlsplit(url).netloc, **prepared.headers},
    )
    credentials = Credentials(key.id, key.secret, key.session_token)
    if presign_expires is None:
        SigV4Auth(credentials, "mobiletargeting", region).add_auth(request)
    else:
        SigV4QueryAuth(credentials, "mobiletargeting", region, presign_expires).add_auth(request)
    split = urlsplit(request.url)
    path = split.path + (f"?{split.query}" if split.query else "")
    return Prepared(prepared.method, path, dict(request.headers.items()), prepared.body)


def send(url: str, prepared: Prepared) -> RawResponse:
    conn = connect(url)
    try:
        conn.putrequest(prepared.method, prepared.path, skip_accept_encoding=True)
        for name, value in prepared.headers.items():
            if name.lower() != "host":
                conn.putheader(name, value)
        if prepared.body or prepared.method in {"PUT", "POST"}:
            conn.putheader("Content-Length", str(len(prepared.body)))
        conn.endheaders(prepared.body or None)
        response = conn.getresponse()
        return RawResponse(response.status, response.getheaders(), response.read())
    finally:
        conn.close()


def raw_request(
    url: str,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    *,
    key: AccessKey | None = TEST_KEY,
    tamper: Callable[[Prepared], None] | None = None,
    **sign_options: Any,
) -> RawResponse:
    """Send one request with `path` exactly as given (no re-encoding), signed for `key`
    (unsigned when None); `tamper` may change the request after it is signed."""
    prepared = Prepared(method, path, dict(headers or {}), body or b"")
    if key is not None:
        prepared = sign(url, key, prepared, **sign_options)
    if tamper is not None:
        tamper(prepared)
    return send(url, prepared)
