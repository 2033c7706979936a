"""Pinpoint's template helpers (user guide, "Using message template helpers").

A helper takes its evaluated positional arguments and hash arguments and returns a value.
Helpers see only template values (strings, numbers, lists, dicts), and every size a client
can choose (padding widths) is checked against the output limit before anything is built.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import re
import unicodedata
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from openpinpoint.templating.dates import format_date, parse_date, zone
from openpinpoint.templating.values import (
    MAX_OUTPUT,
    RenderTooLarge,
    number_text,
    scalar,
    to_number,
    to_text,
    truthy,
)

Args = Sequence[object]
Options = Mapping[str, object]
Helper = Callable[[Args, Options], object]


def _arg(args: Args, index: int) -> object:
    return args[index] if index < len(args) else None


def _text(args: Args, index: int = 0) -> str:
    return to_text(_arg(args, index))


def _int(value: object, default: int = 0) -> int:
    number = to_number(value)
    if number is None or not math.isfinite(number):
        return default
    return int(number)


def _size(options: Options, args: Args, index: int) -> int:
    size = _int(options.get("size", _arg(args, index)))
    if size > MAX_OUTPUT:
        raise RenderTooLarge(f"a padding size of {size} exceeds the {MAX_OUTPUT}-byte limit")
    return size


def _pad(options: Options) -> str:
    return to_text(options.get("pad", " ")) or " "


def _fill(pad: str, width: int) -> str:
    return (pad * (width // len(pad) + 1))[: max(width, 0)]


# Strings


def abbreviate(args: Args, options: Options) -> str:
    text, width = _text(args), _int(_arg(args, 1), default=len(_text(args)))
    if len(text) <= width:
        return text
    if width < 4:
        return text[: max(width, 0)]
    return text[: width - 3] + "..."


def capitalize(args: Args, options: Options) -> str:
    fully = truthy(options.get("fully", False))
    return re.sub(
        r"\S+",
        lambda m: m.group(0)[:1].upper() + (m.group(0)[1:].lower() if fully else m.group(0)[1:]),
        _text(args),
    )


def capitalize_first(args: Args, options: Options) -> str:
    text = _text(args)
    return text[:1].upper() + text[1:]


def center(args: Args, options: Options) -> str:
    text, size = _text(args), _size(options, args, 1)
    missing = size - len(text)
    if missing <= 0:
        return text
    pad = _pad(options)
    return _fill(pad, missing // 2) + text + _fill(pad, missing - missing // 2)


def ljust(args: Args, options: Options) -> str:
    text, size = _text(args), _size(options, args, 1)
    return text + _fill(_pad(options), size - len(text))


def rjust(args: Args, options: Options) -> str:
    text, size = _text(args), _size(options, args, 1)
    return _fill(_pad(options), size - len(text)) + text


def cut(args: Args, options: Options) -> str:
    removed = _text(args, 1) if len(args) > 1 else " "
    return _text(args).replace(removed, "") if removed else _text(args)


def date_format(args: Args, options: Options) -> str:
    moment = parse_date(scalar(_arg(args, 0)))
    if moment is None:
        return ""
    pattern = _text(args, 1) or to_text(options.get("format")) or "medium"
    return format_date(moment.astimezone(zone(options.get("tz"))), pattern)


def now(args: Args, options: Options) -> str:
    pattern = _text(args) or to_text(options.get("format")) or "medium"
    return format_date(datetime.now(zone(options.get("tz"))), pattern)


def inflect(args: Args, options: Options) -> str:
    count = to_number(_arg(args, 0))
    word = _text(args, 1) if count == 1 else _text(args, 2)
    include = truthy(options.get("includeCount", scalar(_arg(args, 3))))
    if include and count is not None:
        return f"{number_text(count)} {word}"
    return word


def join(args: Args, options: Options) -> str:
    if len(args) > 1:
        values, separator = args[:-1], to_text(args[-1])
    else:
        values, separator = args, ","
    items: list[str] = []
    for value in values:
        if isinstance(value, list | tuple):
            items.extend(to_text(item) for item in value)
        else:
            items.append(to_text(value))
    prefix, suffix = to_text(options.get("prefix")), to_text(options.get("suffix"))
    return prefix + separator.join(items) + suffix


def lower(args: Args, options: Options) -> str:
    return _text(args).lower()


def upper(args: Args, options: Options) -> str:
    return _text(args).upper()


def ordinalize(args: Args, options: Options) -> str:
    number = to_number(_arg(args, 0))
    if number is None or not math.isfinite(number):
        return _text(args)
    whole = int(number)
    suffix = (
        "th"
        if 10 <= abs(whole) % 100 <= 20
        else {1: "st", 2: "nd", 3: "rd"}.get(abs(whole) % 10, "th")
    )
    return f"{whole}{suffix}"


def replace(args: Args, options: Options) -> str:
    target = _text(args, 1)
    if not target:
        return _text(args)
    result = _text(args).replace(target, _text(args, 2))
    if len(result) > MAX_OUTPUT:
        raise RenderTooLarge(f"replace produced more than {MAX_OUTPUT} characters")
    return result


def slugify(args: Args, options: Options) -> str:
    text = unicodedata.normalize("NFKD", _text(args)).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def strip_tags(args: Args, options: Options) -> str:
    return re.sub(r"<[^>]*>", "", _text(args))


def substring(args: Args, options: Options) -> str:
    text = _text(args)
    start = _int(_arg(args, 1))
    end = _int(_arg(args, 2), default=len(text)) if len(args) > 2 else len(text)
    return text[max(start, 0) : max(end, 0)]


def yesno(args: Args, options: Options) -> str:
    value = scalar(_arg(args, 0))
    if isinstance(value, str) and value.lower() in ("true", "false"):
        value = value.lower() == "true"
    if value is True:
        return to_text(options.get("yes", "yes"))
    if value is False:
        return to_text(options.get("no", "no"))
    return to_text(options.get("maybe", "maybe"))


# Math and encoding


def _numbers(args: Args, count: int) -> list[float] | None:
    numbers = [to_number(_arg(args, i)) for i in range(count)]
    if any(n is None for n in numbers):
        return None
    return [n for n in numbers if n is not None]


def _arithmetic(operation: Callable[[float, float], float]) -> Helper:
    def helper(args: Args, options: Options) -> object:
        numbers = _numbers(args, 2)
        return None if numbers is None else operation(numbers[0], numbers[1])

    return helper


def _rounding(operation: Callable[[float], float]) -> Helper:
    def helper(args: Args, options: Options) -> object:
        numbers = _numbers(args, 1)
        if numbers is None or not math.isfinite(numbers[0]):
            return None if numbers is None else numbers[0]
        return float(operation(numbers[0]))

    return helper


def _js_round(value: float) -> float:
    return float(math.floor(value + 0.5))


def _digest(algorithm: str) -> Helper:
    def helper(args: Args, options: Options) -> str:
        return hashlib.new(algorithm, _text(args).encode()).hexdigest()

    return helper


def encode64(args: Args, options: Options) -> str:
    return base64.b64encode(_text(args).encode()).decode("ascii")


def decode64(args: Args, options: Options) -> str:
    try:
        return base64.b64decode(_text(args), validate=True).decode("utf-8", errors="replace")
    except binascii.Error:
        return ""


def new_uuid(args: Args, options: Options) -> str:
    return str(uuid.uuid4())


# Conditionals: a block picks its body or its `{{else}}`; inline they give true or false.


def _compare(args: Args) -> float | None:
    """<0, 0 or >0; numbers compare as numbers, anything else as text."""
    left, right = scalar(_arg(args, 0)), scalar(_arg(args, 1))
    a, b = to_number(left), to_number(right)
    if a is not None and b is not None:
        return a - b
    x, y = to_text(left), to_text(right)
    return float((x > y) - (x < y))


def _condition(test: Callable[[Args], bool]) -> Helper:
    def helper(args: Args, options: Options) -> bool:
        return test(args)

    return helper


def _ordered(test: Callable[[float], bool]) -> Callable[[Args], bool]:
    def check(args: Args) -> bool:
        difference = _compare(args)
        return difference is not None and test(difference)

    return check


CONDITIONS: dict[str, Helper] = {
    "and": _condition(lambda args: bool(args) and all(truthy(a) for a in args)),
    "or": _condition(lambda args: any(truthy(a) for a in args)),
    "not": _condition(lambda args: not any(truthy(a) for a in args)),
    "eq": _condition(_ordered(lambda d: d == 0)),
    "neq": _condition(_ordered(lambda d: d != 0)),
    "gt": _condition(_ordered(lambda d: d > 0)),
    "gte": _condition(_ordered(lambda d: d >= 0)),
    "lt": _condition(_ordered(lambda d: d < 0)),
    "lte": _condition(_ordered(lambda d: d <= 0)),
}

HELPERS: dict[str, Helper] = {
    "abbreviate": abbreviate,
    "capitalize": capitalize,
    "capitalizeFirst": capitalize_first,
    "center": center,
    "cut": cut,
    "dateFormat": date_format,
    "inflect": inflect,
    "join": join,
    "ljust": ljust,
    "lower": lower,
    "now": now,
    "ordinalize": ordinalize,
    "replace": replace,
    "rjust": rjust,
    "slugify": slugify,
    "stripTags": strip_tags,
    "substring": substring,
    "upper": upper,
    "yesno": yesno,
    "add": _arithmetic(lambda a, b: a + b),
    "subtract": _arithmetic(lambda a, b: a - b),
    "multiply": _arithmetic(lambda a, b: a * b),
    "divide": _arithmetic(lambda a, b: a / b),
    "modulo": _arithmetic(math.fmod),
    "ceiling": _rounding(math.ceil),
    "floor": _rounding(math.floor),
    "round": _rounding(_js_round),
    "encode64": encode64,
    "decode64": decode64,
    "md5": _digest("md5"),
    "sha256": _digest("sha256"),
    "sha512": _digest("sha512"),
    "uuid": new_uuid,
    **CONDITIONS,
}
"""Every helper a template may call inline (`{{name args}}` or a sub-expression)."""


def call(name: str, args: Args, options: Options) -> object:
    """Run a helper. Arithmetic a client can push out of range (a division by zero, an
    overflow, a malformed number) gives no value rather than an error."""
    try:
        return HELPERS[name](args, options)
    except (ArithmeticError, ValueError):
        return None
