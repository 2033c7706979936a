"""What template values are, how they print and test true, and the render limits.

Values are the JSON kinds only (str, float, bool, None, list, dict): the renderer reaches
into a dict by key and a list by index, never into a Python object's attributes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

MAX_OUTPUT = 1_048_576
"""A rendered part over 1 MB (of UTF-8) is refused (T5)."""
MAX_STEPS = 20_000
"""Nodes and expressions one render may evaluate: far above any real message (an `each` of
15 items with ten variables is ~200), low enough to keep a hostile one under 50 ms."""
MAX_EACH = 15
"""`each` stops after this many items, as in Pinpoint."""


class RenderTooLarge(Exception):
    """The rendered message would exceed a limit of T5 (size, or the work it takes)."""


def to_text(value: object) -> str:
    """How Handlebars.js prints a value: lists joined by `,`, numbers without `.0`."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return number_text(float(value))
    if isinstance(value, list | tuple):
        return ",".join(to_text(item) for item in value)
    return ""


def number_text(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return repr(value)


def truthy(value: object) -> bool:
    """JavaScript's truth, with Handlebars' rule that an empty list is false."""
    if isinstance(value, float) and math.isnan(value):
        return False
    if isinstance(value, Mapping):
        return True
    return bool(value)


def scalar(value: object) -> object:
    """A one-item list stands for its item (attribute values are one-item lists)."""
    if isinstance(value, list | tuple) and len(value) == 1:
        return value[0]
    return value


def to_number(value: object) -> float | None:
    value = scalar(value)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def child(value: object, name: str) -> object:
    """`value.name` for template data: a dict's key, a list's index or `length`."""
    if isinstance(value, Mapping):
        return value.get(name)
    if isinstance(value, Sequence) and not isinstance(value, str):
        if name == "length":
            return float(len(value))
        if name.isdigit() and int(name) < len(value):
            return value[int(name)]
    return None
