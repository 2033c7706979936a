"""The Handlebars dialect: syntax, compile errors with line and column, and safety (T5)."""

from __future__ import annotations

import contextlib
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openpinpoint.templating import RenderTooLarge, TemplateSyntaxError, compile_template
from openpinpoint.templating.values import MAX_EACH

DATA: dict[str, object] = {
    "User": {"UserId": "u1", "UserAttributes": {"Last Name": ["Doe"], "Tags": ["a", "b"]}},
    "Attributes": {"Plan": ["gold"], "Html": ["<b>&'\"`=</b>"]},
}


def render(source: str, data: dict[str, object] | None = None, escape: bool = False) -> str:
    return compile_template(source).render(DATA if data is None else data, escape=escape)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{User.UserAttributes.[Last Name]}}", "Doe"),
        ("{{User.UserAttributes.[Last Name].[0]}}", "Doe"),
        ("{{User.UserAttributes.Tags}}", "a,b"),
        ("{{User.UserAttributes.Tags.[1]}} {{User.UserAttributes.Tags.length}}", "b 2"),
        ("{{User/UserId}} {{this.User.UserId}} {{./User.UserId}}", "u1 u1 u1"),
        ("{{! a comment }}{{!-- {{not}} parsed --}}x", "x"),
        ("\\{{literal}} {{Attributes.Plan}}", "{{literal}} gold"),
        (
            "{{#each User.UserAttributes.Tags}}{{@index}}{{@first}}{{@last}}{{/each}}",
            "0truefalse1falsetrue",
        ),
        ("{{#each User.UserAttributes}}{{@key}}={{this}};{{/each}}", "Last Name=Doe;Tags=a,b;"),
        (
            "{{#each User.UserAttributes.Tags}}{{../User.UserId}}{{@root.User.UserId}}{{/each}}",
            "u1u1u1u1",
        ),
        (
            '{{lookup User.UserAttributes "Last Name"}} {{lookup User.UserAttributes.Tags 1}}',
            "Doe b",
        ),
        (
            '{{#*inline "greet"}}Hi {{UserId}}{{/inline}}{{> greet User}}. {{> "greet" User}}',
            "Hi u1. Hi u1",
        ),
        ("{{^if Attributes.Missing}}none{{/if}}", "none"),
        ("{{#if Attributes.Plan}}a{{^}}b{{/if}}", "a"),
        ("  {{~Attributes.Plan~}}  !", "gold!"),
        (
            "<ul>\n  {{#each User.UserAttributes.Tags}}\n  <li>{{this}}</li>\n  {{/each}}\n</ul>",
            "<ul>\n  <li>a</li>\n  <li>b</li>\n</ul>",
        ),
        ('{{"literal"}} {{true}} {{null}}|', "literal true |"),
    ],
)
def test_syntax(source: str, expected: str) -> None:
    assert render(source) == expected


def test_t4_double_braces_escape_only_when_asked_and_triple_braces_never() -> None:
    source = "{{Attributes.Html}}|{{{Attributes.Html}}}|{{&Attributes.Html}}"
    raw = "<b>&'\"`=</b>"
    assert render(source) == f"{raw}|{raw}|{raw}"
    escaped = "&lt;b&gt;&amp;&#x27;&quot;&#x60;&#x3D;&lt;/b&gt;"
    assert render(source, escape=True) == f"{escaped}|{raw}|{raw}"


@pytest.mark.parametrize(
    ("source", "message", "line", "column"),
    [
        ("Hi {{#if a}}x", "unclosed block {{#if}}", 1, 4),
        ("a\nb {{/each}}", "{{/each}} without an opening block", 2, 3),
        ("{{#if a}}\n{{/unless}}", "{{/unless}} does not close {{#if}}", 2, 1),
        ("x\n\n  {{bogus 1}}", "unknown helper 'bogus'", 3, 3),
        ("{{#bogus}}{{/bogus}}", "unknown block helper 'bogus'", 1, 1),
        ("{{upper (bogus)}}", "unknown helper 'bogus'", 1, 1),
        ("{{> missing}}", "partial 'missing' is not defined", 1, 1),
        ("ab {{x", "unclosed tag", 1, 4),
        ("{{upper (lower}}", "sub-expression without ')'", 1, 1),
        ('{{center "a" size=}}', "hash argument size= has no value", 1, 1),
        ("{{if a}}", "unknown helper 'if'", 1, 1),
        ("{{#> layout}}{{/layout}}", "unexpected '> layout'", 1, 1),
        ("{{}}", "empty expression", 1, 1),
        ("{{a}}" * 10_001, "more than 10000 tags", 1, 50_001),
    ],
)
def test_t3_syntax_errors_name_line_and_column(
    source: str, message: str, line: int, column: int
) -> None:
    with pytest.raises(TemplateSyntaxError) as raised:
        compile_template(source)
    assert message in raised.value.message
    assert (raised.value.line, raised.value.column) == (line, column)


BIG = {"Attributes": {"List": [str(i) for i in range(100_000)]}}
HOSTILE_DATA = {**DATA, "Attributes": {**DATA["Attributes"], **BIG["Attributes"]}}  # type: ignore[dict-item]

# Hostile templates (T5): each is refused at compile time (a TemplateSyntaxError, which the
# API answers with 400) or renders within its bounds (text, or RenderTooLarge).
HOSTILE = [
    ("{{__class__}}{{__init__.__globals__}}{{constructor.constructor}}", ""),
    ("{{User.__class__.__mro__}}{{User.UserId.__class__}}", ""),
    ('{{lookup User "__class__"}}{{lookup (lookup User "constructor") "constructor"}}', ""),
    ('{{lookup "abc" "upper"}}{{lookup User.UserAttributes.Tags "__len__"}}', ""),
    ('{{#with (lookup this "__dict__")}}{{this}}{{/with}}', ""),
    ("{{#each Attributes.List}}{{this}}{{/each}}", "".join(str(i) for i in range(MAX_EACH))),
    ('{{#*inline "a"}}{{> a}}{{/inline}}{{> a}}', TemplateSyntaxError),
    ('{{#*inline "a"}}{{> b}}{{/inline}}{{#*inline "b"}}{{> a}}{{/inline}}', TemplateSyntaxError),
    ("{{#if a}}" * 10_000 + "{{/if}}" * 10_000, TemplateSyntaxError),
    ("{{" + "(upper " * 10_000 + "x" + ")" * 10_000 + "}}", TemplateSyntaxError),
    (
        "{{#each Attributes.List}}{{#each ../Attributes.List}}{{#each ../../Attributes.List}}"
        "{{#each ../../../Attributes.List}}{{this}}{{/each}}{{/each}}{{/each}}{{/each}}",
        RenderTooLarge,
    ),
    ('{{center "x" size=999999999999999999999}}', RenderTooLarge),
    ('{{ljust "x" size=1000000 pad="ab"}}{{rjust "x" size=1000000}}', RenderTooLarge),
    (f"{{{{add {'9' * 5000} 1}}}} {{{{ordinalize {'9' * 5000}}}}}", "Infinity Infinity"),
    ("{{multiply 1e308 1e308}}{{divide 1 0}}{{floor -0}}|", "0|"),
    (
        "".join(
            f'{{{{#*inline "p{i}"}}}}{{{{> p{i + 1}}}}}{{{{> p{i + 1}}}}}{{{{/inline}}}}'
            for i in range(30)
        )
        + '{{#*inline "p30"}}x{{/inline}}{{> p0}}',
        RenderTooLarge,
    ),
    ('{{dateFormat "2020-01-01" "yyyy" tz="../../../../etc/passwd"}}', "2020"),
    ("<p>{{{Attributes.Html}}}</p>", "<p><b>&'\"`=</b></p>"),
]


@pytest.mark.parametrize(("source", "outcome"), HOSTILE)
def test_t5_hostile_templates_are_refused_or_render_within_bounds(
    source: str, outcome: object
) -> None:
    data = HOSTILE_DATA
    started = time.process_time()
    if outcome is TemplateSyntaxError:
        with pytest.raises(TemplateSyntaxError):
            compile_template(source)
    else:
        template = compile_template(source)
        started = time.process_time()
        if outcome is RenderTooLarge:
            with pytest.raises(RenderTooLarge):
                template.render(data, escape=True)
        else:
            assert template.render(data) == outcome
    # A budget, not a timing measurement: generous for a loaded machine, but a render that
    # walked all it was asked to would take seconds.
    assert time.process_time() - started < 0.5


def test_t5_rendering_stops_at_one_megabyte() -> None:
    template = compile_template('{{#each Attributes.List}}{{ljust "" size=100000}}{{/each}}')
    with pytest.raises(RenderTooLarge, match="exceeds"):
        template.render(BIG)
    fits = compile_template('{{#each Attributes.List}}{{ljust "" size=60000}}{{/each}}')
    assert len(fits.render(BIG)) == 60_000 * MAX_EACH


PIECES = st.sampled_from(
    [
        "{{", "}}", "{{{", "}}}", "{{#", "{{/", "{{^", "{{>", "{{!", "{{else}}", "~", "(",
        ")", "[", "]", '"', "'", "=", ".", "../", "@index", "this", "if", "each", "with",
        "unless", "eq", "upper", "center", "size=", "lookup", "inline", "*", " ", "\n",
        "Attributes", "User", "List", "[0]", "5", "1e999", "-", "x", "\\",
    ]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(PIECES, max_size=40).map("".join))
def test_t5_any_text_compiles_or_fails_cleanly_and_renders_within_bounds(source: str) -> None:
    try:
        template = compile_template(source)
    except TemplateSyntaxError as error:
        failure = error
    else:
        with contextlib.suppress(RenderTooLarge):
            assert isinstance(template.render(HOSTILE_DATA, escape=True), str)
        return
    assert failure.line >= 1
    assert failure.column >= 1
