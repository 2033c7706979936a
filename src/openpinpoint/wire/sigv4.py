"""AWS Signature Version 4 verification, service `mobiletargeting`.

Both forms are accepted: the `Authorization` header that every SDK sends, and the
presigned query string (`X-Amz-Signature` and friends). The canonical request is built the
way botocore builds the one it signs: the raw path with dot segments and repeated slashes
removed, then percent-encoded once more; the query pairs as sent, sorted; the signed
headers, trimmed; and the SHA-256 of the body actually received. Every refusal is a 403
`ForbiddenException` whose message says which check failed and never anything about the
secret.
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import hmac
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import quote, unquote

from openpinpoint.core.errors import Forbidden
from openpinpoint.keys import AccessKey
from openpinpoint.wire.auth import Caller, HttpRequest

SERVICE = "mobiletargeting"
ALGORITHM = "AWS4-HMAC-SHA256"
MAX_CLOCK_SKEW = 15 * 60
MAX_PRESIGNED_EXPIRES = 7 * 24 * 3600
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_AMZ_DATE_PATTERN = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z")
_REGION = re.compile(r"[a-z0-9-]{1,32}")


class KeyLookup(Protocol):
    def lookup(self, key_id: str) -> AccessKey | None: ...


@dataclass(frozen=True)
class _Signed:
    """What a request claims about its signature, from either form."""

    key_id: str
    date: str
    region: str
    amz_date: str
    signed_headers: list[str]
    signature: str
    presigned: bool
    expires: int = 0


def _missing(what: str) -> Forbidden:
    return Forbidden(f"Missing credentials: {what}")


def _malformed(what: str) -> Forbidden:
    return Forbidden(f"Malformed signature: {what}")


class SigV4Authenticator:
    """Lets in requests signed with a known access key; `clock` returns Unix time."""

    def __init__(self, keys: KeyLookup, clock: Callable[[], float] = time.time) -> None:
        self._keys = keys
        self._clock = clock

    def authenticate(self, request: HttpRequest) -> Caller:
        query = _query_pairs(request.query_string)
        signed = _claims(request, query)
        key = self._keys.lookup(signed.key_id)
        if key is None:
            raise Forbidden(
                f"Unknown access key: {signed.key_id[:64]!r} is not an access key of this server "
                "(it may have been revoked)"
            )
        self._check_time(signed)
        _check_session_token(request, query, signed, key)
        canonical = _canonical_request(request, query, signed)
        scope = f"{signed.date}/{signed.region}/{SERVICE}/aws4_request"
        string_to_sign = "\n".join(
            (ALGORITHM, signed.amz_date, scope, _sha256_hex(canonical.encode()))
        )
        expected = hmac.new(
            _signing_key(key.secret, signed.date, signed.region),
            string_to_sign.encode(),
            hashlib.sha256,
        ).hexdigest()
        if not hmac.compare_digest(expected.encode(), signed.signature.encode()):
            raise Forbidden(
                "Signature mismatch: the request's signature is not the one computed with this "
                "access key from its method, path, query string, signed headers and body"
            )
        return Caller(region=signed.region, access_key_id=key.id, access=key.access)

    def _check_time(self, signed: _Signed) -> None:
        signed_at = _timestamp(signed.amz_date)
        if signed.amz_date[:8] != signed.date:
            raise _malformed(
                f"the credential scope date {signed.date} is not the date of X-Amz-Date "
                f"{signed.amz_date}"
            )
        now = self._clock()
        age = now - signed_at
        if age < -MAX_CLOCK_SKEW:
            raise Forbidden(
                f"Request not yet valid: X-Amz-Date {signed.amz_date} is more than 15 minutes "
                f"ahead of the server's time {_amz_date(now)}"
            )
        limit = signed.expires if signed.presigned else MAX_CLOCK_SKEW
        if age > limit:
            raise Forbidden(
                f"Request expired: X-Amz-Date {signed.amz_date} is more than {limit} seconds "
                f"before the server's time {_amz_date(now)}"
            )


def _timestamp(amz_date: str) -> float:
    """Unix time of a `YYYYMMDDTHHMMSSZ` date (strptime is several times slower)."""
    match = _AMZ_DATE_PATTERN.fullmatch(amz_date)
    if match is not None:
        year, month, day, hour, minute, second = map(int, match.groups())
        if 1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 61:
            return float(calendar.timegm((year, month, day, hour, minute, second)))
    raise _malformed(f"X-Amz-Date {amz_date!r} is not YYYYMMDDTHHMMSSZ")


def _amz_date(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime(_AMZ_DATE)


def _claims(request: HttpRequest, query: list[tuple[str, str]]) -> _Signed:
    authorization = request.header(b"authorization")
    presigned = any(name == "X-Amz-Signature" for name, _ in query)
    if authorization is not None and presigned:
        raise _malformed("the request has both an Authorization header and X-Amz-Signature")
    if authorization is not None:
        return _header_claims(request, authorization.decode("latin-1"))
    if presigned:
        return _query_claims(query)
    raise _missing(
        "the request is not signed (no Authorization header and no X-Amz-Signature query "
        "parameter); sign it with AWS Signature Version 4 and an access key of this server"
    )


def _header_claims(request: HttpRequest, authorization: str) -> _Signed:
    algorithm, _, rest = authorization.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise _malformed(f"the Authorization header does not use {ALGORITHM}")
    parts: dict[str, str] = {}
    for part in rest.split(","):
        name, _, value = part.strip().partition("=")
        parts[name] = value
    for required in ("Credential", "SignedHeaders", "Signature"):
        if not parts.get(required):
            raise _malformed(f"the Authorization header has no {required}")
    amz_date = request.header(b"x-amz-date")
    if amz_date is None:
        raise _missing("the request has no X-Amz-Date header")
    signed_headers = parts["SignedHeaders"].split(";")
    if "x-amz-date" not in signed_headers:
        raise _malformed("X-Amz-Date is not among the signed headers")
    key_id, date, region = _credential(parts["Credential"])
    return _Signed(
        key_id=key_id,
        date=date,
        region=region,
        amz_date=amz_date.decode("latin-1"),
        signed_headers=signed_headers,
        signature=parts["Signature"],
        presigned=False,
    )


def _query_claims(query: list[tuple[str, str]]) -> _Signed:
    values: dict[str, str] = {}
    for name, value in query:
        if name.startswith("X-Amz-"):
            if name in values:
                raise _malformed(f"the query string repeats {name}")
            values[name] = unquote(value)
    for required in (
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
    ):
        if not values.get(required):
            raise _missing(f"the presigned request has no {required}")
    if values["X-Amz-Algorithm"] != ALGORITHM:
        raise _malformed(f"X-Amz-Algorithm is not {ALGORITHM}")
    expires = values["X-Amz-Expires"]
    if not (expires.isascii() and expires.isdigit()) or not (
        1 <= int(expires) <= MAX_PRESIGNED_EXPIRES
    ):
        raise _malformed(
            f"X-Amz-Expires must be a number of seconds from 1 to {MAX_PRESIGNED_EXPIRES}"
        )
    key_id, date, region = _credential(values["X-Amz-Credential"])
    return _Signed(
        key_id=key_id,
        date=date,
        region=region,
        amz_date=values["X-Amz-Date"],
        signed_headers=values["X-Amz-SignedHeaders"].split(";"),
        signature=values.get("X-Amz-Signature", ""),
        presigned=True,
        expires=int(expires),
    )


def _credential(credential: str) -> tuple[str, str, str]:
    """The key id, date and region of `KEY/YYYYMMDD/REGION/mobiletargeting/aws4_request`."""
    parts = credential.split("/")
    if len(parts) != 5 or not parts[0]:
        raise _malformed("Credential is not KEY_ID/YYYYMMDD/REGION/SERVICE/aws4_request")
    key_id, date, region, service, terminator = parts
    if not (len(date) == 8 and date.isascii() and date.isdigit()):
        raise _malformed(f"the credential scope date {date!r} is not YYYYMMDD")
    if not _REGION.fullmatch(region):
        raise _malformed(f"the credential scope region {region!r} is not a region name")
    if service != SERVICE:
        raise _malformed(f"the credential scope names service {service!r}, not {SERVICE!r}")
    if terminator != "aws4_request":
        raise _malformed("the credential scope does not end in aws4_request")
    return key_id, date, region


def _check_session_token(
    request: HttpRequest, query: list[tuple[str, str]], signed: _Signed, key: AccessKey
) -> None:
    header = request.header(b"x-amz-security-token")
    sent = header.decode("latin-1") if header is not None else None
    for name, value in query:
        if name == "X-Amz-Security-Token":
            sent = unquote(value)
    if key.session_token is None:
        if sent is not None:
            raise Forbidden(
                "X-Amz-Security-Token is refused: this access key has no session token "
                "configured (create it with `openpinpoint keys create --session-token`)"
            )
        return
    if sent is None:
        raise _missing("this access key requires X-Amz-Security-Token")
    if header is not None and "x-amz-security-token" not in signed.signed_headers:
        raise _malformed("X-Amz-Security-Token is not among the signed headers")
    if not hmac.compare_digest(sent.encode(), key.session_token.encode()):
        raise Forbidden("Invalid session token: X-Amz-Security-Token is not this key's token")


def _canonical_request(request: HttpRequest, query: list[tuple[str, str]], signed: _Signed) -> str:
    if "host" not in signed.signed_headers:
        raise _malformed("Host is not among the signed headers")
    values: dict[str, list[str]] = {name: [] for name in signed.signed_headers}
    for name, value in request.headers:
        lowered = name.decode("latin-1").lower()
        if lowered in values:
            values[lowered].append(" ".join(value.decode("latin-1").split()))
    headers = "".join(f"{name}:{','.join(values[name])}\n" for name in signed.signed_headers)
    pairs = sorted(
        pair for pair in query if not (signed.presigned and pair[0] == "X-Amz-Signature")
    )
    return "\n".join(
        (
            request.method,
            _canonical_path(request.raw_path),
            "&".join(f"{name}={value}" for name, value in pairs),
            headers,
            ";".join(signed.signed_headers),
            _payload_hash(request, signed),
        )
    )


def _canonical_path(raw_path: bytes) -> str:
    """The raw path without `.`/`..` segments and empty ones, percent-encoded once more."""
    kept: list[bytes] = []
    for segment in raw_path.split(b"/"):
        if segment == b"..":
            if kept:
                kept.pop()
        elif segment and segment != b".":
            kept.append(segment)
    path = b"/" + b"/".join(kept)
    if raw_path.endswith(b"/") and kept:
        path += b"/"
    return quote(path, safe="/~")


def _payload_hash(request: HttpRequest, signed: _Signed) -> str:
    actual = _sha256_hex(request.body)
    stated_header = request.header(b"x-amz-content-sha256")
    stated = stated_header.decode("latin-1") if stated_header is not None else None
    if stated is None:
        return actual
    if stated == UNSIGNED_PAYLOAD and signed.presigned:
        return stated
    if stated != actual:
        raise Forbidden(
            "Signature mismatch: X-Amz-Content-SHA256 is not the SHA-256 of the body received"
            + (
                " (UNSIGNED-PAYLOAD is accepted only on presigned requests)"
                if stated == UNSIGNED_PAYLOAD
                else ""
            )
        )
    return actual


def _query_pairs(query_string: bytes) -> list[tuple[str, str]]:
    """The query's name/value pairs exactly as sent, still percent-encoded."""
    if not query_string:
        return []
    pairs = []
    for piece in query_string.decode("latin-1").split("&"):
        name, _, value = piece.partition("=")
        pairs.append((name, value))
    return pairs


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@functools.lru_cache(maxsize=256)
def _signing_key(secret: str, date: str, region: str) -> bytes:
    """The key derived for one day and region; cached, as each key signs many requests."""
    key = f"AWS4{secret}".encode()
    for part in (date, region, SERVICE, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key
