"""Walk a compiled template's tree over template data, within the limits of T5.

Nothing here evaluates code or touches a Python attribute: paths step through dicts by key
and lists by index (`values.child`), helpers are looked up in a fixed table, and every node
and expression counts against a step budget, so the cost of one render is bounded whatever
the template and the data.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field

from openpinpoint.templating import helpers
from openpinpoint.templating.syntax import (
    Block,
    Call,
    Expr,
    Literal,
    Node,
    Output,
    Parsed,
    PartialCall,
    Path,
    Text,
    parse,
)
from openpinpoint.templating.values import (
    MAX_EACH,
    MAX_OUTPUT,
    MAX_STEPS,
    RenderTooLarge,
    child,
    to_text,
    truthy,
)

MAX_DEPTH = 100
"""Blocks and partial calls open at once while rendering (partials may call one another)."""

KNOWN_HELPERS = frozenset(helpers.HELPERS) | {"lookup"}
"""Helpers a mustache or sub-expression may call (blocks: `syntax.BLOCK_HELPERS`)."""


@dataclass(frozen=True, slots=True)
class _Frame:
    context: object
    parent: _Frame | None
    data: Mapping[str, object]


@dataclass(slots=True)
class _Run:
    partials: Mapping[str, tuple[Node, ...]]
    escape: bool
    root: object
    out: list[str] = field(default_factory=list)
    size: int = 0
    steps: int = 0
    depth: int = 0

    def step(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise RenderTooLarge(f"the template needs more than {MAX_STEPS} rendering steps")

    def write(self, text: str) -> None:
        self.size += len(text)
        if self.size > MAX_OUTPUT:
            raise RenderTooLarge(f"the rendered text exceeds {MAX_OUTPUT} bytes")
        self.out.append(text)

    def nodes(self, nodes: tuple[Node, ...], frame: _Frame) -> None:
        for node in nodes:
            self.step()
            if isinstance(node, Text):
                self.write(node.text)
            elif isinstance(node, Output):
                text = to_text(self.value(node.expr, frame))
                self.write(_escape(text) if self.escape and not node.raw else text)
            else:
                self.depth += 1
                if self.depth > MAX_DEPTH:
                    raise RenderTooLarge(f"blocks and partials nest deeper than {MAX_DEPTH}")
                if isinstance(node, Block):
                    self.block(node, frame)
                else:
                    self.partial(node, frame)
                self.depth -= 1

    def partial(self, node: PartialCall, frame: _Frame) -> None:
        if node.context is not None:
            frame = _Frame(self.value(node.context, frame), frame, frame.data)
        self.nodes(self.partials[node.name], frame)

    def block(self, node: Block, frame: _Frame) -> None:
        call = node.call
        args = [self.value(param, frame) for param in call.params]
        first = args[0] if args else None
        if call.name == "each":
            self.each(node, first, frame)
        elif call.name == "with":
            if truthy(first):
                self.nodes(node.body, _Frame(first, frame, frame.data))
            else:
                self.nodes(node.inverse, frame)
        else:
            if call.name == "if":
                chosen = truthy(first)
            elif call.name == "unless":
                chosen = not truthy(first)
            else:
                chosen = truthy(helpers.call(call.name, args, self.options(call, frame)))
            self.nodes(node.body if chosen else node.inverse, frame)

    def each(self, node: Block, items: object, frame: _Frame) -> None:
        if isinstance(items, Mapping):
            pairs: list[tuple[object, object]] = list(items.items())[:MAX_EACH]
        elif isinstance(items, list | tuple):
            pairs = list(enumerate(items[:MAX_EACH]))
        else:
            pairs = []
        if not pairs:
            self.nodes(node.inverse, frame)
            return
        for position, (key, item) in enumerate(pairs):
            data = {
                **frame.data,
                "index": float(position),
                "key": key if isinstance(key, str) else float(position),
                "first": position == 0,
                "last": position == len(pairs) - 1,
            }
            self.nodes(node.body, _Frame(item, frame, data))

    def options(self, call: Call, frame: _Frame) -> dict[str, object]:
        options = {}
        for key, expr in call.hash:
            value = self.value(expr, frame)
            if key == "tz" and value is None and isinstance(expr, Path):
                # `tz=America/New_York` is written unquoted in Pinpoint's examples.
                value = expr.written
            options[key] = value
        return options

    def value(self, expr: Expr, frame: _Frame) -> object:
        self.step()
        if isinstance(expr, Literal):
            return expr.value
        if isinstance(expr, Path):
            return self.resolve(expr, frame)
        args = [self.value(param, frame) for param in expr.params]
        if expr.name == "lookup":
            key = args[1] if len(args) > 1 else None
            return child(args[0] if args else None, to_text(key))
        options = self.options(expr, frame)
        result = helpers.call(expr.name, args, options)
        if isinstance(result, bool) and expr.name in helpers.CONDITIONS:
            answer = options.get("yes" if result else "no")
            return result if answer is None else answer
        return result

    def resolve(self, path: Path, frame: _Frame) -> object:
        for _ in range(path.up):
            frame = frame.parent or frame
        parts = path.parts
        if path.data:
            if not parts:
                return None
            value = self.root if parts[0] == "root" else frame.data.get(parts[0])
            parts = parts[1:]
        else:
            value = frame.context
        for part in parts:
            if value is None:
                return None
            value = child(value, part)
        return value


@dataclass(frozen=True, slots=True)
class CompiledTemplate:
    """A template parsed once, to render any number of times."""

    source: str
    parsed: Parsed
    static: str | None = None
    """The text every render gives, for a template without expressions (most push titles
    and bodies): sending then needs no variables for it."""

    def render(self, data: Mapping[str, object], *, escape: bool = False) -> str:
        """The text for `data` (template values only); `escape` HTML-escapes `{{x}}`.
        Raises `RenderTooLarge` past a limit of T5."""
        if self.static is not None:
            return self.static
        run = _Run(self.parsed.partials, escape, data)
        run.nodes(self.parsed.nodes, _Frame(data, None, {}))
        text = "".join(run.out)
        if len(text.encode()) > MAX_OUTPUT:
            raise RenderTooLarge(f"the rendered text exceeds {MAX_OUTPUT} bytes")
        return text


def compile_template(source: str) -> CompiledTemplate:
    """Parse and check `source`; raises `TemplateSyntaxError` with its line and column."""
    parsed = parse(source, KNOWN_HELPERS)
    static: str | None = None
    if all(isinstance(node, Text) for node in parsed.nodes):
        text = "".join(node.text for node in parsed.nodes if isinstance(node, Text))
        # Past the limit, render() runs in full and raises as T5 says.
        static = text if len(text.encode()) <= MAX_OUTPUT else None
    return CompiledTemplate(source, parsed, static)


_HANDLEBARS_ESCAPES = str.maketrans({"`": "&#x60;", "=": "&#x3D;"})


def _escape(text: str) -> str:
    """Handlebars.js's escaping: HTML's five characters plus the backquote and `=`."""
    return html.escape(text).translate(_HANDLEBARS_ESCAPES)
