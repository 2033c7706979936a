"""Every helper of spec 1.B: the user guide's example, and an edge case."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

import pytest

from openpinpoint.templating import RenderTooLarge, compile_template

DATA = {
    "User": {
        "UserAttributes": {
            "FirstName": ["Jane"],
            "FavoriteColors": ["red", "blue", "yellow"],
            "Age": ["21"],
        }
    },
    "Attributes": {"Plan": ["gold"], "Count": ["3"], "Empty": []},
}


def render(source: str, data: dict[str, object] | None = None) -> str:
    return compile_template(source).render(DATA if data is None else data)


# (template, output): first the user guide's example, then an edge case.
CASES = [
    # Built-in helpers
    (
        "{{#each User.UserAttributes.FavoriteColors}}<li>{{this}}</li>{{else}}none{{/each}}",
        "<li>red</li><li>blue</li><li>yellow</li>",
    ),
    (
        "{{#each Attributes.Empty}}x{{else}}You have no favorite colors.{{/each}}",
        "You have no favorite colors.",
    ),
    (
        "{{#if User.UserAttributes.FirstName.[0]}}Hello {{User.UserAttributes.FirstName.[0]}},"
        "{{else}}Hello,{{/if}}",
        "Hello Jane,",
    ),
    ("{{#if Attributes.Missing}}yes{{else}}Hello,{{/if}}", "Hello,"),
    ("{{#unless Attributes.Missing}}none{{/unless}}", "none"),
    ("{{#unless Attributes.Plan}}none{{else}}has{{/unless}}", "has"),
    ("{{#with User.UserAttributes}}{{FirstName}} {{../Attributes.Plan}}{{/with}}", "Jane gold"),
    ("{{#with Attributes.Missing}}x{{else}}no{{/with}}", "no"),
    # Conditionals, inline and block
    ("{{#and Attributes.Plan User}}both{{else}}not{{/and}}", "both"),
    ("{{and Attributes.Plan Attributes.Missing}}", "false"),
    ('{{#eq Attributes.Plan "gold"}}Gold member{{else}}Member{{/eq}}', "Gold member"),
    ('{{eq "5" 5}} {{eq "a" "A"}}', "true false"),
    ("{{#gt User.UserAttributes.Age 18}}adult{{else}}minor{{/gt}}", "adult"),
    ('{{gt "10" "9"}} {{gt "b" "a"}}', "true true"),
    ("{{#gte 21 User.UserAttributes.Age}}ok{{/gte}}", "ok"),
    ("{{gte 1 2}}", "false"),
    ("{{#lt 1 2}}less{{/lt}}", "less"),
    ('{{lt "a" "b" yes="y" no="n"}}', "y"),
    ("{{#lte 2 2}}ok{{/lte}}", "ok"),
    ("{{lte 3 2}}", "false"),
    ('{{#neq Attributes.Plan "silver"}}not silver{{/neq}}', "not silver"),
    ("{{neq 1 1}}", "false"),
    ("{{#not Attributes.Missing}}absent{{/not}}", "absent"),
    ("{{not Attributes.Plan}}", "false"),
    ("{{#or Attributes.Missing Attributes.Plan}}one{{/or}}", "one"),
    ("{{or Attributes.Missing Attributes.Empty}}", "false"),
    ('{{#if a}}1{{else eq Attributes.Plan "gold"}}2{{else}}3{{/if}}', "2"),
    # Strings
    ('{{abbreviate "First Last" 5}}', "Fi..."),
    ('{{abbreviate "Short" 5}} {{abbreviate "Longer" 2}}', "Short Lo"),
    ('{{capitalize "This is an example"}}', "This Is An Example"),
    ('{{capitalize "hELLO wORLD" fully=true}}', "Hello World"),
    ('{{capitalizeFirst "this is an example"}}', "This is an example"),
    ('{{capitalizeFirst ""}}', ""),
    ('{{center "Hello" size=21 pad="-"}}', "--------Hello--------"),
    ('{{center "Hello" size=2}}', "Hello"),
    ('{{cut "Remove this text" "this "}}', "Remove text"),
    ('{{cut "a b c"}}', "abc"),
    ('{{dateFormat "2020-11-04T18:42:53.813Z" "dd-MM-yyyy" tz=America/Los_Angeles}}', "04-11-2020"),
    (
        '{{dateFormat "2020-11-04T01:00:00Z" "full" tz=America/Los_Angeles}}',
        "Tuesday, November 3, 2020",
    ),
    ('{{dateFormat "not a date" "full"}}', ""),
    (
        '{{dateFormat "2020-11-04T18:42:53.813Z" "yyyy.MM.dd \'at\' HH:mm:ss.SSS z"}}',
        "2020.11.04 at 18:42:53.813 UTC",
    ),
    ('{{inflect 3 "battery" "batteries" true}}', "3 batteries"),
    ('{{inflect 1 "battery" "batteries"}}', "battery"),
    ('{{join User.UserAttributes.FavoriteColors " // "}}', "red // blue // yellow"),
    ('{{join "a" "b" "-" prefix="<" suffix=">"}}', "<a-b>"),
    ('{{ljust "Hello" size=15 pad="-"}}', "Hello----------"),
    ('{{ljust "Hello" size=7 pad="ab"}}', "Helloab"),
    ('{{lower "THIS IS AN EXAMPLE"}}', "this is an example"),
    ("{{lower Attributes.Missing}}", ""),
    ("{{ordinalize 3}} {{ordinalize 11}} {{ordinalize 22}}", "3rd 11th 22nd"),
    ('{{ordinalize "112"}} {{ordinalize "x"}}', "112th x"),
    ('{{replace "Hello Jane" "Jane" "Alex"}}', "Hello Alex"),
    ('{{replace "aaa" "" "b"}}', "aaa"),
    ('{{rjust "Hello" size=15 pad="-"}}', "----------Hello"),
    ('{{rjust "Hello" size=3}}', "Hello"),
    ('{{slugify "Join Us Today"}}', "join-us-today"),
    ('{{slugify "  Café -- au lait! "}}', "cafe-au-lait"),
    ('{{stripTags "<p>Hello <b>Jane</b></p>"}}', "Hello Jane"),
    ('{{stripTags "1 < 2"}}', "1 < 2"),
    ('{{substring "Hello world" 6}}', "world"),
    ('{{substring "Hello" 1 3}} {{substring "Hi" 5}}', "el "),
    ('{{upper "this is an example"}}', "THIS IS AN EXAMPLE"),
    ("{{upper (lower Attributes.Plan)}}", "GOLD"),
    ('{{yesno true yes="Yes" no="No"}}', "Yes"),
    ('{{yesno "false"}} {{yesno Attributes.Missing}}', "no maybe"),
    # Math and encoding
    ("{{add 5 2}}", "7"),
    ('{{add "1.5" Attributes.Count}} {{add "x" 1}}|', "4.5 |"),
    ("{{ceiling 5.23}}", "6"),
    ("{{ceiling -5.23}}", "-5"),
    ('{{decode64 "SGVsbG8gV29ybGQ="}}', "Hello World"),
    ('{{decode64 "%%%"}}|', "|"),
    ("{{divide 5 2}}", "2.5"),
    ("{{divide 5 0}}|", "|"),
    ('{{encode64 "Hello World"}}', "SGVsbG8gV29ybGQ="),
    ('{{encode64 ""}}|', "|"),
    ("{{floor 5.23}}", "5"),
    ("{{floor -5.23}}", "-6"),
    ("{{modulo 7 2}}", "1"),
    ("{{modulo -7 2}} {{modulo 7 0}}|", "-1 |"),
    ("{{multiply 7 2}}", "14"),
    (
        f"{{{{multiply 99999999999999999999 2}}}} {{{{multiply {'9' * 400} 2}}}}",
        "200000000000000000000 Infinity",
    ),
    ("{{round 5.5}}", "6"),
    (f"{{{{round -5.5}}}} {{{{round {'9' * 400}}}}}", "-5 Infinity"),
    ("{{subtract 7 2}}", "5"),
    ("{{subtract 0.3 0.1}}", "0.19999999999999998"),
]


@pytest.mark.parametrize(("source", "expected"), CASES)
def test_helper(source: str, expected: str) -> None:
    assert render(source) == expected


def test_every_helper_of_the_spec_has_a_case() -> None:
    spec = set(
        re.findall(
            r"\w+",
            """each if unless with and eq gt gte lt lte neq not or abbreviate capitalize
            capitalizeFirst center cut dateFormat inflect join ljust lower now ordinalize
            replace rjust slugify stripTags substring upper yesno add ceiling decode64 divide
            encode64 floor md5 modulo multiply round sha256 sha512 subtract uuid""",
        )
    )
    covered = {m for source, _ in CASES for m in re.findall(r"\{\{[#]?(\w+)", source)}
    covered |= {"md5", "sha256", "sha512", "uuid", "now"}  # their own tests below
    assert spec <= covered


@pytest.mark.parametrize("algorithm", ["md5", "sha256", "sha512"])
def test_digests(algorithm: str) -> None:
    expected = hashlib.new(algorithm, b"Hello World").hexdigest()
    assert render(f'{{{{{algorithm} "Hello World"}}}}') == expected
    # Edge: the digest of what a missing variable renders as, the empty string.
    assert render(f"{{{{{algorithm} Attributes.Missing}}}}") == hashlib.new(algorithm).hexdigest()


def test_uuid_is_new_each_time() -> None:
    first, second = render("{{uuid}}"), render("{{uuid}}")
    assert re.fullmatch(r"[0-9a-f-]{36}", first)
    assert first != second


def test_now_formats_the_current_time_in_the_zone_given() -> None:
    before = datetime.now(UTC).strftime("%Y")
    assert render('{{now "yyyy"}}') == before
    assert render('{{now "Z" tz=Asia/Kolkata}}') == "+0530"
    # Edge: an unknown zone falls back to UTC (T4).
    assert render('{{now "Z" tz=Nowhere/Else}}') == "+0000"


def test_padding_beyond_the_output_limit_is_refused_before_it_is_built() -> None:
    with pytest.raises(RenderTooLarge):
        render('{{center "x" size=1000000000000000}}')
