"""T4: the variables one recipient's message sees, their precedence, and escaping."""

from __future__ import annotations

from typing import Any

import pytest

from openpinpoint.core.personalize import RenderTooLarge, TemplateSyntaxError, render_part
from openpinpoint.core.shapes import EndpointDemographic, EndpointResponse, EndpointUser

ENDPOINT = EndpointResponse(
    address="jane@example.com",
    channel_type="EMAIL",
    id="e1",
    attributes={"Plan": ["gold"], "Colors": ["red", "blue"]},
    metrics={"Score": 4.0},
    demographic=EndpointDemographic(platform="ios"),
    user=EndpointUser(user_id="u1", user_attributes={"FirstName": ["Jane"], "Last Name": ["Doe"]}),
)


def test_t4_the_endpoint_fields_and_its_users_attributes_are_variables() -> None:
    source = (
        "{{Address}} {{ChannelType}} {{Id}} {{Attributes.Plan}} {{Attributes.Colors}} "
        "{{Metrics.Score}} {{Demographic.Platform}} {{User.UserId}} "
        "{{User.UserAttributes.FirstName.[0]}} {{User.UserAttributes.[Last Name]}}"
    )
    assert render_part(source, endpoint=ENDPOINT) == (
        "jane@example.com EMAIL e1 gold red,blue 4 ios u1 Jane Doe"
    )


def test_t4_precedence_recipient_then_message_then_endpoint_then_defaults() -> None:
    source = (
        "{{Attributes.Plan}} {{Attributes.A}} {{Attributes.B}} {{Attributes.C}} {{Attributes.D}}"
    )
    recipient = {"Attributes.A": ["recipient"]}
    message = {"Attributes.A": ["message"], "Attributes.B": ["message"]}
    default_message = {"Attributes.B": ["default message"], "Attributes.C": ["default message"]}
    defaults = '{"Attributes.Plan": "default", "Attributes.C": "default", "Attributes.D": "d"}'
    rendered = render_part(
        source,
        endpoint=ENDPOINT,
        substitutions=[recipient, message, default_message],
        defaults=defaults,
    )
    assert rendered == "gold recipient message default message d"


def test_t4_substitutions_override_the_endpoint_key_by_key() -> None:
    rendered = render_part(
        "{{Attributes.Plan}} {{Attributes.Colors.[1]}} {{User.UserAttributes.FirstName.[0]}}",
        endpoint=ENDPOINT,
        substitutions=[{"Attributes.Plan": ["silver"], "User.UserAttributes.FirstName": ["Al"]}],
    )
    assert rendered == "silver blue Al"


def test_t4_defaults_fill_what_an_address_recipient_lacks() -> None:
    rendered = render_part(
        "Hi {{User.UserAttributes.FirstName.[0]}}{{Attributes.Missing}}!",
        endpoint=None,
        defaults='{"User.UserAttributes.FirstName": "there"}',
    )
    assert rendered == "Hi there!"


def test_t4_a_missing_variable_without_default_renders_as_nothing() -> None:
    assert render_part("[{{Attributes.Nope}}]", endpoint=ENDPOINT) == "[]"


def test_t4_html_escaping_only_in_html_parts() -> None:
    tricky = EndpointResponse(attributes={"Name": ["<script>x</script>"]})
    source = "{{Attributes.Name}}|{{{Attributes.Name}}}"
    assert render_part(source, endpoint=tricky) == "<script>x</script>|<script>x</script>"
    assert render_part(source, endpoint=tricky, html=True) == (
        "&lt;script&gt;x&lt;/script&gt;|<script>x</script>"
    )


def test_t5_output_over_one_megabyte_raises() -> None:
    wide = EndpointResponse(attributes={"L": [str(i) for i in range(15)]})
    with pytest.raises(RenderTooLarge):
        render_part('{{#each Attributes.L}}{{ljust "" size=80000}}{{/each}}', endpoint=wide)


def test_a_part_that_does_not_compile_raises_its_syntax_error() -> None:
    with pytest.raises(TemplateSyntaxError):
        render_part("{{#if}}", endpoint=None)


class _Untouchable(dict[str, list[str]]):
    def items(self) -> Any:
        raise AssertionError("a part without expressions read the variables")


def test_a_part_without_expressions_is_sent_as_written_without_building_variables() -> None:
    html = "<p>Tom &amp; Jerry</p> {{! a comment }}\\{{not a variable}}"
    assert render_part(html, endpoint=ENDPOINT, substitutions=[_Untouchable()], html=True) == (
        "<p>Tom &amp; Jerry</p> {{not a variable}}"
    )


def test_t5_a_part_without_expressions_over_one_megabyte_still_raises() -> None:
    with pytest.raises(RenderTooLarge):
        render_part("€" * 400_000, endpoint=None)
