"""Handlebars source → a tree of plain nodes (no code generation: the tree is only walked).

The dialect is Pinpoint's (Handlebars.js as the user guide describes it): `{{path}}`,
`{{{raw}}}` and `{{&raw}}`, comments, blocks with `{{else}}` and `{{else helper ...}}`
chains, whitespace control (`~`), standalone lines, `[segment literals]`, `../`, `@data`
variables, sub-expressions, hash arguments and inline partials. Every helper and partial
name is checked here, so a template that compiles can fail at render time only by
exceeding a limit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_NESTING = 64
"""Blocks and sub-expressions nested deeper than this are refused at compile time: no real
message needs them, and the renderer recurses on the tree."""


MAX_PARTIALS = 100
MAX_TAGS = 10_000
"""Tags (`{{...}}`) in one template: more could never render within the step budget of
`values.MAX_STEPS`, and stopping early keeps a hostile template cheap to refuse."""


class TemplateSyntaxError(Exception):
    """The template does not compile. `line` and `column` count from 1."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"{message} at line {line}, column {column}")
        self.message = message
        self.line = line
        self.column = column


@dataclass(frozen=True, slots=True)
class Path:
    parts: tuple[str, ...]
    up: int = 0
    """How many `../` precede the path."""
    data: bool = False
    """An `@name` variable (`@index`, `@root`, ...)."""
    written: str = ""
    """The path as the template spells it, for messages."""


@dataclass(frozen=True, slots=True)
class Literal:
    value: str | float | bool | None


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    params: tuple[Expr, ...] = ()
    hash: tuple[tuple[str, Expr], ...] = ()


Expr = Path | Literal | Call


@dataclass(frozen=True, slots=True)
class Text:
    text: str


@dataclass(frozen=True, slots=True)
class Output:
    expr: Expr
    raw: bool


@dataclass(frozen=True, slots=True)
class Block:
    call: Call
    body: tuple[Node, ...]
    inverse: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class PartialCall:
    name: str
    context: Expr | None


Node = Text | Output | Block | PartialCall


BLOCK_HELPERS = frozenset(
    {"if", "unless", "each", "with", "and", "eq", "gt", "gte", "lt", "lte", "neq", "not", "or"}
)
"""Helpers that may open a block; the conditionals among them also work inline."""


@dataclass(frozen=True, slots=True)
class Parsed:
    nodes: tuple[Node, ...]
    partials: dict[str, tuple[Node, ...]]


@dataclass(slots=True)
class _Tag:
    kind: str
    """output, raw, open, inverse, else, close, comment, partial or inline."""
    content: str
    line: int
    column: int
    strip_before: bool
    strip_after: bool


_OPENERS = (
    ("!--", "comment", "--}}"),
    ("!", "comment", "}}"),
    ("{", "raw", "}}}"),
    ("&", "raw", "}}"),
    ("#*", "inline", "}}"),
    ("#", "open", "}}"),
    ("^", "inverse", "}}"),
    ("/", "close", "}}"),
    (">", "partial", "}}"),
    ("", "output", "}}"),
)
_STANDALONE = frozenset({"open", "inverse", "else", "close", "comment", "partial", "inline"})


class _Lines:
    """Line and column of offsets met in increasing order, in time linear in the source."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.offset = 0
        self.line = 1
        self.line_start = 0

    def at(self, offset: int) -> tuple[int, int]:
        self.line += self.source.count("\n", self.offset, offset)
        newline = self.source.rfind("\n", self.offset, offset)
        if newline >= 0:
            self.line_start = newline + 1
        self.offset = offset
        return self.line, offset - self.line_start + 1


def _tokenize(source: str) -> list[str | _Tag]:
    """Texts at even indices, tags at odd ones."""
    tokens: list[str | _Tag] = []
    text: list[str] = []
    lines = _Lines(source)
    pos = depth = 0
    while (start := source.find("{{", pos)) >= 0:
        if start > 0 and source[start - 1] == "\\":
            # `\{{` writes a literal `{{`.
            text.append(source[pos : start - 1] + "{{")
            pos = start + 2
            continue
        text.append(source[pos:start])
        tokens.append("".join(text))
        text = []
        line, column = lines.at(start)
        pos = start + 2
        strip_before = source.startswith("~", pos)
        pos += strip_before
        kind, closer = "output", "}}"
        for prefix, kind, closer in _OPENERS:  # noqa: B007 - the last match is the default
            if source.startswith(prefix, pos):
                pos += len(prefix)
                break
        end = source.find(closer, pos)
        if end < 0:
            raise TemplateSyntaxError(f"unclosed tag: no {closer!r}", line, column)
        content = source[pos:end]
        pos = end + len(closer)
        strip_after = content.endswith("~")
        if strip_after:
            content = content[:-1]
        content = content.strip()
        if kind == "output" and (content == "else" or content.startswith("else ")):
            kind, content = "else", content[4:].strip()
        elif kind == "inverse" and not content:
            kind = "else"
        # Counted here, before any parsing, so that deep nesting is refused in time
        # proportional to the limit rather than to the template.
        depth += kind in ("open", "inverse", "inline")
        depth -= kind == "close"
        if depth > MAX_NESTING:
            raise TemplateSyntaxError(f"blocks nested deeper than {MAX_NESTING}", line, column)
        if len(tokens) > 2 * MAX_TAGS:
            raise TemplateSyntaxError(f"more than {MAX_TAGS} tags", line, column)
        tokens.append(_Tag(kind, content, line, column, strip_before, strip_after))
    text.append(source[pos:])
    tokens.append("".join(text))
    return tokens


_LEADING_LINE = re.compile(r"^[ \t]*\r?\n")
_TRAILING_LINE = re.compile(r"\n[ \t]*$")


def _strip_whitespace(tokens: list[str | _Tag]) -> None:
    """Handlebars' standalone rule (a block tag alone on its line takes the line with it),
    then `~` (which strips all whitespace on its side)."""
    last = len(tokens) - 1
    standalone = []
    for i in range(1, last, 2):
        tag, before, after = tokens[i], str(tokens[i - 1]), str(tokens[i + 1])
        assert isinstance(tag, _Tag)
        line_start = _TRAILING_LINE.search(before) or (i == 1 and not before.strip(" \t"))
        line_end = _LEADING_LINE.match(after) or (i + 1 == last and not after.strip(" \t"))
        if tag.kind in _STANDALONE and line_start and line_end:
            standalone.append(i)
    for i in standalone:
        tokens[i - 1] = str(tokens[i - 1]).rstrip(" \t")
        after = str(tokens[i + 1])
        stripped = _LEADING_LINE.sub("", after, count=1)
        tokens[i + 1] = after.lstrip(" \t") if stripped == after else stripped
    for i in range(1, last, 2):
        tag = tokens[i]
        assert isinstance(tag, _Tag)
        if tag.strip_before:
            tokens[i - 1] = str(tokens[i - 1]).rstrip()
        if tag.strip_after:
            tokens[i + 1] = str(tokens[i + 1]).lstrip()


_ID = r"[^\s!\"#%&'()*+,./;<=>@\[\\\]^`{|}~]+"
_SEGMENT = rf"(?:{_ID}|\[[^\]]*\])"
_EXPR_TOKEN = re.compile(
    rf"""\s*(?:
      (?P<open>\() | (?P<close>\)) |
      (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*') |
      (?P<number>-?\d+(?:\.\d+)?(?=[\s)]|$)) |
      (?P<key>{_ID})= |
      (?P<path>(?:\.\./)*@?(?:{_SEGMENT}|\.)(?:[./]{_SEGMENT})*)
    )""",
    re.VERBOSE,
)
_ESCAPE = re.compile(r"\\(.)")


class _ExprParser:
    def __init__(self, tag: _Tag, helpers: frozenset[str]) -> None:
        self.tag = tag
        self.text = tag.content
        self.pos = 0
        self.helpers = helpers

    def error(self, message: str) -> TemplateSyntaxError:
        return TemplateSyntaxError(message, self.tag.line, self.tag.column)

    def next_token(self) -> re.Match[str] | None:
        if self.pos >= len(self.text) or not self.text[self.pos :].strip():
            self.pos = len(self.text)
            return None
        match = _EXPR_TOKEN.match(self.text, self.pos)
        if match is None or match.end() == self.pos:
            rest = self.text[self.pos :].strip()
            raise self.error(f"unexpected {rest[:20]!r} in {{{{{self.text[:40]}}}}}")
        self.pos = match.end()
        return match

    def peek_close(self) -> bool:
        return self.text[self.pos :].lstrip().startswith(")")

    def call(self, depth: int = 0) -> tuple[Expr, tuple[Expr, ...], tuple[tuple[str, Expr], ...]]:
        """The head of a mustache or sub-expression, its parameters and hash arguments."""
        if depth > MAX_NESTING:
            raise self.error(f"sub-expressions nested deeper than {MAX_NESTING}")
        first = self.next_token()
        if first is None:
            raise self.error("empty expression")
        head = self.operand(first, depth)
        params: list[Expr] = []
        pairs: list[tuple[str, Expr]] = []
        while not self.peek_close() and (token := self.next_token()) is not None:
            if token.group("key"):
                value = self.next_token()
                if value is None or value.group("key"):
                    raise self.error(f"hash argument {token.group('key')}= has no value")
                pairs.append((token.group("key"), self.operand(value, depth)))
            elif pairs:
                raise self.error("a positional argument follows a hash argument")
            else:
                params.append(self.operand(token, depth))
        return head, tuple(params), tuple(pairs)

    def operand(self, token: re.Match[str], depth: int) -> Expr:
        if token.group("open"):
            head, params, pairs = self.call(depth + 1)
            closing = self.next_token()
            if closing is None or not closing.group("close"):
                raise self.error("sub-expression without ')'")
            return self.helper_call(head, params, pairs)
        if token.group("string"):
            return Literal(_ESCAPE.sub(r"\1", token.group("string")[1:-1]))
        if token.group("number"):
            return Literal(float(token.group("number")))
        if token.group("path"):
            return _path(token.group("path"))
        raise self.error(f"unexpected {token.group(0).strip()!r}")

    def helper_call(
        self, head: Expr, params: tuple[Expr, ...], pairs: tuple[tuple[str, Expr], ...]
    ) -> Call:
        name = _helper_name(head)
        if name is None or name not in self.helpers:
            spelled = head.written if isinstance(head, Path) else repr(head)
            raise self.error(f"unknown helper {spelled!r}")
        return Call(name, params, pairs)

    def mustache(self) -> Expr:
        head, params, pairs = self.call()
        if self.pos < len(self.text):
            raise self.error("unexpected ')'")
        if params or pairs or _helper_name(head) in self.helpers:
            return self.helper_call(head, params, pairs)
        return head


def _helper_name(head: Expr) -> str | None:
    if isinstance(head, Path) and not head.up and not head.data and len(head.parts) == 1:
        return head.parts[0]
    return None


_LITERALS: dict[str, bool | None] = {"true": True, "false": False, "null": None}


def _path(written: str) -> Expr:
    if written in _LITERALS:
        return Literal(_LITERALS[written])
    if written == "undefined":
        return Literal(None)
    rest, up = written, 0
    while rest.startswith("../"):
        rest, up = rest[3:], up + 1
    data = rest.startswith("@")
    rest = rest[data:]
    parts = [
        segment[1:-1] if segment.startswith("[") else segment
        for segment in re.findall(rf"{_SEGMENT}|(?<![^./])\.(?=$|[./])", rest)
    ]
    # `this` and `.` name the current context only as a path's first segment.
    if parts and parts[0] in ("this", ".") and not data:
        parts = parts[1:]
    return Path(tuple(p for p in parts if p != "."), up, data, written)


class _Parser:
    def __init__(self, tokens: list[str | _Tag], helpers: frozenset[str]) -> None:
        self.tokens = tokens
        self.helpers = helpers
        self.partials: dict[str, tuple[Node, ...]] = {}
        self.calls: list[tuple[str, _Tag]] = []

    def parse(self) -> Parsed:
        nodes, end, _ = self.sequence(0, None, 0)
        if end is not None:
            raise TemplateSyntaxError(
                f"{{{{{end.kind_text()}}}}} without an opening block", end.line, end.column
            )
        for name, tag in self.calls:
            if name not in self.partials:
                raise TemplateSyntaxError(f"partial {name!r} is not defined", tag.line, tag.column)
        if len(self.partials) > MAX_PARTIALS:
            raise TemplateSyntaxError(f"more than {MAX_PARTIALS} inline partials", 1, 1)
        _check_recursion(self.partials)
        return Parsed(nodes, self.partials)

    def sequence(
        self, index: int, opener: _Tag | None, depth: int
    ) -> tuple[tuple[Node, ...], _End | None, int]:
        """Nodes from `index` up to an `{{else}}` or a closing tag (returned) or the end."""
        if depth > MAX_NESTING:
            assert opener is not None
            raise TemplateSyntaxError(
                f"blocks nested deeper than {MAX_NESTING}", opener.line, opener.column
            )
        nodes: list[Node] = []
        while index < len(self.tokens):
            token = self.tokens[index]
            index += 1
            if isinstance(token, str):
                if token:
                    nodes.append(Text(token))
                continue
            kind = token.kind
            if kind in ("else", "close"):
                return tuple(nodes), _End(token), index
            if kind == "comment":
                continue
            parser = _ExprParser(token, self.helpers)
            if kind in ("output", "raw"):
                nodes.append(Output(parser.mustache(), raw=kind == "raw"))
            elif kind == "partial":
                nodes.append(self.partial_call(token, parser))
            elif kind == "inline":
                index = self.inline(token, parser, index, depth)
            else:
                block, index = self.block(token, parser, index, depth, inverted=kind == "inverse")
                nodes.append(block)
        if opener is not None:
            raise TemplateSyntaxError(
                f"unclosed block {{{{#{opener.content.split()[0] if opener.content else ''}}}}}",
                opener.line,
                opener.column,
            )
        return tuple(nodes), None, index

    def partial_call(self, token: _Tag, parser: _ExprParser) -> PartialCall:
        head, params, pairs = parser.call()
        if isinstance(head, Literal) and isinstance(head.value, str):
            name = head.value
        elif (simple := _helper_name(head)) is not None:
            name = simple
        else:
            raise parser.error("a partial's name must be a plain name or a string")
        if len(params) > 1 or pairs:
            raise parser.error("a partial takes at most one context argument")
        self.calls.append((name, token))
        return PartialCall(name, params[0] if params else None)

    def inline(self, token: _Tag, parser: _ExprParser, index: int, depth: int) -> int:
        head, params, pairs = parser.call()
        if _helper_name(head) != "inline" or len(params) != 1 or pairs:
            raise parser.error('a decorator must be {{#* inline "name"}}')
        name = params[0]
        if not (isinstance(name, Literal) and isinstance(name.value, str)):
            raise parser.error("an inline partial's name must be a string")
        body, end, index = self.sequence(index, token, depth + 1)
        if end is None or end.tag.kind != "close" or end.tag.content != "inline":
            raise _mismatch(token, "inline", end)
        self.partials[name.value] = body
        return index

    def block(
        self,
        token: _Tag,
        parser: _ExprParser,
        index: int,
        depth: int,
        *,
        inverted: bool,
        closer: str | None = None,
    ) -> tuple[Block, int]:
        """A block from its opening tag to its closing one (`closer`: the name that closes
        it, when an `{{else helper}}` chain opened it)."""
        head, params, pairs = parser.call()
        name = _helper_name(head)
        if name is None or name not in BLOCK_HELPERS:
            spelled = head.written if isinstance(head, Path) else token.content
            raise parser.error(f"unknown block helper {spelled!r}")
        call = Call(name, params, pairs)
        body, end, index = self.sequence(index, token, depth + 1)
        inverse: tuple[Node, ...] = ()
        if end is not None and end.tag.kind == "else":
            if end.tag.content:
                # `{{else if x}}` opens a block that shares this one's closing tag.
                chained = _Tag("open", end.tag.content, end.tag.line, end.tag.column, False, False)
                nested, index = self.block(
                    chained,
                    _ExprParser(chained, self.helpers),
                    index,
                    depth + 1,
                    inverted=False,
                    closer=closer or name,
                )
                return _finish(call, body, (nested,), inverted), index
            inverse, end, index = self.sequence(index, token, depth + 1)
        if end is None or end.tag.kind != "close" or end.tag.content != (closer or name):
            raise _mismatch(token, closer or name, end)
        return _finish(call, body, inverse, inverted), index


def _finish(call: Call, body: tuple[Node, ...], inverse: tuple[Node, ...], inverted: bool) -> Block:
    return Block(call, inverse, body) if inverted else Block(call, body, inverse)


@dataclass(frozen=True, slots=True)
class _End:
    tag: _Tag

    @property
    def line(self) -> int:
        return self.tag.line

    @property
    def column(self) -> int:
        return self.tag.column

    def kind_text(self) -> str:
        return "else" if self.tag.kind == "else" else f"/{self.tag.content}"


def _mismatch(opener: _Tag, name: str, end: _End | None) -> TemplateSyntaxError:
    if end is None:
        return TemplateSyntaxError(f"unclosed block {{{{#{name}}}}}", opener.line, opener.column)
    return TemplateSyntaxError(
        f"{{{{{end.kind_text()}}}}} does not close {{{{#{name}}}}}", end.line, end.column
    )


def _partial_calls(nodes: tuple[Node, ...]) -> set[str]:
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, PartialCall):
            found.add(node.name)
        elif isinstance(node, Block):
            found |= _partial_calls(node.body) | _partial_calls(node.inverse)
    return found


def _check_recursion(partials: dict[str, tuple[Node, ...]]) -> None:
    """A partial that reaches itself could only recurse until a limit stops it: the data a
    template sees (endpoint attributes) has no tree to walk, so refuse it up front."""
    calls = {name: _partial_calls(body) for name, body in partials.items()}
    done: set[str] = set()

    def visit(name: str, trail: tuple[str, ...]) -> None:
        if name in trail:
            cycle = " > ".join((*trail[trail.index(name) :], name))
            raise TemplateSyntaxError(f"partials call themselves: {cycle}", 1, 1)
        if name in done:
            return
        for callee in sorted(calls.get(name, ())):
            visit(callee, (*trail, name))
        done.add(name)

    for name in sorted(calls):
        visit(name, ())


def parse(source: str, helpers: frozenset[str]) -> Parsed:
    tokens = _tokenize(source)
    _strip_whitespace(tokens)
    return _Parser(tokens, helpers).parse()
