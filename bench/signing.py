"""Signing recorded requests with SigV4, the way boto3 signs them, for wrk to replay.

wrk's Lua cannot compute an HMAC per request at any useful speed, so the harness records
the requests bench/pinpoint.lua generates, signs each here with botocore's own signer
(service `mobiletargeting`, region us-east-1) and hands the signed stream back to wrk to
replay. A signature stays valid for 15 minutes after its X-Amz-Date, so a stream is signed
right before the run that sends it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from openpinpoint.keys import AccessKey

SERVICE = "mobiletargeting"
REGION = "us-east-1"
# Replaced by the signer: the generated requests carry a SigV4-shaped stand-in.
_REPLACED = {"host", "authorization", "x-amz-date"}


def read_stream(path: Path) -> Iterator[bytes]:
    """The raw requests of a stream file: "<byte length>\\n<raw request>" after one another."""
    data = path.read_bytes()
    at = 0
    while at < len(data):
        newline = data.index(b"\n", at)
        end = newline + 1 + int(data[at:newline])
        yield data[newline + 1 : end]
        at = end


def _sign_one(raw: bytes, url: str, signer: SigV4Auth) -> bytes:
    head, _, body = raw.partition(b"\r\n\r\n")
    request_line, *header_lines = head.decode("latin-1").split("\r\n")
    method, path, version = request_line.split(" ")
    headers = {"Host": urlsplit(url).netloc}
    for line in header_lines:
        name, _, value = line.partition(":")
        if name.lower() not in _REPLACED:
            headers[name] = value.strip()
    request = AWSRequest(method=method, url=url + path, data=body, headers=headers)
    signer.add_auth(request)
    lines = [f"{method} {path} {version}", *(f"{n}: {v}" for n, v in request.headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def sign_stream(sources: list[Path], url: str, key: AccessKey, out: Path) -> int:
    """Signs every request of `sources` for the server at `url` into `out`; their number."""
    signer = SigV4Auth(Credentials(key.id, key.secret), SERVICE, REGION)
    count = 0
    with out.open("wb") as file:
        for source in sources:
            for raw in read_stream(source):
                signed = _sign_one(raw, url, signer)
                file.write(b"%d\n" % len(signed) + signed)
                count += 1
    return count
