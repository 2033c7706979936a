"""Identifiers, dates and cohorts (decisions G4, G8, G10)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import uuid
from datetime import UTC, datetime

from openpinpoint.core.errors import BadRequest

MAX_ID_LENGTH = 256
MAX_POSITION = 2**63 - 1
_FORBIDDEN_IN_ID = re.compile(r"[${}\x00-\x1f\x7f-\x9f]")
_HEX32 = re.compile(r"[0-9a-f]{32}")


def is_id(value: str) -> bool:
    """Whether `value` is a valid endpoint or user id (G8)."""
    return 1 <= len(value) <= MAX_ID_LENGTH and _FORBIDDEN_IN_ID.search(value) is None


def check_id(what: str, value: str) -> str:
    """Validate an endpoint or user id (G8) and return it unchanged."""
    if not is_id(value):
        shown = value if len(value) <= 64 else value[:61] + "..."
        raise BadRequest(
            f"{what} {shown!r} is invalid: it must be 1-{MAX_ID_LENGTH} characters with no "
            "'$', '{', '}' or control characters"
        )
    return value


def endpoint_key(endpoint_id: str) -> str:
    """The case-insensitive key under which an endpoint id is stored (G8)."""
    return endpoint_id.casefold()


def is_resource_id(value: str) -> bool:
    """Whether `value` has the shape of an application or job id: 32 lowercase hex."""
    return _HEX32.fullmatch(value) is not None


def new_resource_id() -> str:
    return uuid.uuid4().hex


def cohort_id(application_id: str, endpoint_id: str) -> str:
    """A stable cohort 0-99 for an endpoint, spread evenly by hashing (G4)."""
    digest = hashlib.sha256(f"{application_id}/{endpoint_key(endpoint_id)}".encode()).digest()
    return str(int.from_bytes(digest[:8], "big") % 100)


def format_date(moment: datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SS.sssZ` in UTC, the form every Pinpoint example uses (G4)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# `format_date`'s own form (years from 1000: strftime does not pad smaller ones).
_CANONICAL_DATE = re.compile(r"[1-9]\d{3}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def normalise_client_date(value: str) -> str | None:
    """A client-sent ISO 8601 date in canonical form, or None when it is not a valid date."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if _CANONICAL_DATE.fullmatch(value):
        # A valid date in the canonical form already (an export's): formatting it again
        # would give the same text, at half an import row's date-handling cost.
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return format_date(moment)
    except (OverflowError, ValueError):
        return None


def encode_page_token(kind: str, position: int) -> str:
    """An opaque NextToken for the page after `position` in a listing of `kind` (G10)."""
    return base64.urlsafe_b64encode(f"{kind}:{position}".encode()).decode().rstrip("=")


def decode_page_token(kind: str, token: str | None) -> int:
    """The position a NextToken of `kind` stands for (0 without one); 400 when it is not one."""
    if token is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        found, _, position = text.partition(":")
        # Every position fits a signed 64-bit column; a larger one was not issued here.
        if found == kind and position.isascii() and position.isdigit() and len(position) < 20:
            number = int(position)
            if number <= MAX_POSITION:
                return number
    except (binascii.Error, UnicodeError, ValueError):
        pass
    raise BadRequest("token is not a NextToken that this server issued")
