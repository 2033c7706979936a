"""Render one template part for one recipient (T4): the variables it sees, their
precedence, and HTML escaping only in an email's HtmlPart.

The sending path and `openpinpoint render` both come through `render_part`, so a preview
shows exactly what a recipient would receive.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import msgspec

from openpinpoint.core.shapes import EndpointResponse
from openpinpoint.templating import (
    CompiledTemplate,
    RenderTooLarge,
    TemplateSyntaxError,
    compile_template,
)

__all__ = ["RenderTooLarge", "TemplateSyntaxError", "render_part", "variables"]


@lru_cache(maxsize=256)
def _compiled(source: str) -> CompiledTemplate:
    """Sending renders the same few parts for many recipients: compile each once. The cache
    holds at most 256 parts (each at most 600,000 characters, T3)."""
    return compile_template(source)


@lru_cache(maxsize=256)
def _defaults(defaults: str) -> dict[str, str]:
    try:
        parsed = json.loads(defaults)
    except ValueError:
        return {}
    if not isinstance(parsed, dict):
        return {}
    return {key: value for key, value in parsed.items() if isinstance(value, str)}


def _segments(key: str) -> list[str]:
    """`"User.UserAttributes.[Last Name]"` → its path segments, brackets removed."""
    return [
        part[1:-1] if part.startswith("[") and part.endswith("]") else part
        for part in key.split(".")
    ]


def _put(tree: dict[str, Any], key: str, value: object) -> None:
    *parents, leaf = _segments(key)
    node = tree
    for name in parents:
        below = node.get(name)
        if not isinstance(below, dict):
            below = node[name] = {}
        node = below
    node[leaf] = value


def _merge(tree: dict[str, Any], upper: Mapping[str, Any]) -> None:
    """Lay `upper` over `tree` key by key; a value in `upper` wins over one below."""
    for key, value in upper.items():
        below = tree.get(key)
        if isinstance(value, Mapping) and isinstance(below, dict):
            _merge(below, value)
        else:
            tree[key] = value


def variables(
    endpoint: EndpointResponse | None,
    substitutions: Sequence[Mapping[str, Sequence[str]]] = (),
    defaults: str | None = None,
) -> dict[str, Any]:
    """The data a template sees, built from the lowest precedence up: the template's
    defaults, the endpoint (with its user's attributes), then each `Substitutions` layer."""
    tree: dict[str, Any] = {}
    for key, value in _defaults(defaults).items() if defaults else ():
        # A default stands for a variable's value, which for an attribute is a list: as a
        # one-item list it renders as itself and also answers `.[0]`.
        _put(tree, key, [value])
    if endpoint is not None:
        _merge(tree, msgspec.to_builtins(endpoint))
    for layer in reversed(substitutions):
        for key, values in layer.items():
            _put(tree, key, list(values))
    return tree


def render_part(
    source: str,
    *,
    endpoint: EndpointResponse | None,
    substitutions: Sequence[Mapping[str, Sequence[str]]] = (),
    defaults: str | None = None,
    html: bool = False,
) -> str:
    """One template part rendered for one recipient.

    `substitutions` are the `Substitutions` maps, highest precedence first (the recipient's,
    the channel message's, the DefaultMessage's); then come the endpoint's own data (None
    for an address recipient), then `defaults` (the template's DefaultSubstitutions JSON).
    `html` escapes `{{x}}` (an email's HtmlPart only). Raises `TemplateSyntaxError` for a
    part that does not compile and `RenderTooLarge` past the limits of T5 (1 MB of output).
    """
    compiled = _compiled(source)
    if compiled.static is not None:
        return compiled.static
    return compiled.render(variables(endpoint, substitutions, defaults), escape=html)
