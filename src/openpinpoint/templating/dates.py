"""Dates for `dateFormat` and `now`: Java SimpleDateFormat patterns, as Pinpoint takes them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

STYLES = {
    "full": "EEEE, MMMM d, y",
    "long": "MMMM d, y",
    "medium": "MMM d, y",
    "short": "M/d/yy",
}
"""Java's date styles for the US locale."""

_FIELD = re.compile(r"'([^']*)'|([A-Za-z])\2*")


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def zone(name: object) -> tzinfo:
    """The IANA zone named, or UTC (T4) for no name or an unknown one."""
    if isinstance(name, str) and name in _zone_names():
        return ZoneInfo(name)
    return UTC


def parse_date(value: object) -> datetime | None:
    """An ISO 8601 string (as endpoints carry dates) or milliseconds since the epoch."""
    try:
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value.strip())
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value / 1000, UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def format_date(moment: datetime, pattern: str) -> str:
    pattern = STYLES.get(pattern, pattern)
    return _FIELD.sub(lambda m: _field(moment, m), pattern)


def _pad(number: int, width: int) -> str:
    return str(number).zfill(width)


def _offset(moment: datetime, colon: bool) -> str:
    delta = moment.utcoffset()
    minutes = int(delta.total_seconds() // 60) if delta else 0
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}{':' if colon else ''}{minutes:02d}"


def _field(moment: datetime, match: re.Match[str]) -> str:
    if match.group(1) is not None:
        return match.group(1) or "'"
    letter, width = match.group(2), len(match.group(0))
    if letter == "y":
        return _pad(moment.year % 100, 2) if width == 2 else _pad(moment.year, width)
    if letter == "M":
        if width >= 4:
            return moment.strftime("%B")
        return moment.strftime("%b") if width == 3 else _pad(moment.month, width)
    if letter == "E":
        return moment.strftime("%A") if width >= 4 else moment.strftime("%a")
    numbers = {
        "d": moment.day,
        "H": moment.hour,
        "k": moment.hour or 24,
        "K": moment.hour % 12,
        "h": moment.hour % 12 or 12,
        "m": moment.minute,
        "s": moment.second,
        "S": moment.microsecond // 1000,
        "D": moment.timetuple().tm_yday,
        "u": moment.isoweekday(),
    }
    if letter in numbers:
        return _pad(numbers[letter], width)
    if letter == "a":
        return "AM" if moment.hour < 12 else "PM"
    if letter == "z":
        return moment.tzname() or "UTC"
    if letter == "Z":
        return _offset(moment, colon=False)
    if letter == "X":
        if not moment.utcoffset():
            return "Z"
        text = _offset(moment, colon=width >= 3)
        return text[:3] if width == 1 else text
    # Other pattern letters are reserved in Java; print them as written.
    return match.group(0)
