"""Template versions (T2) and write-time checks (T3) in the domain core, on a memory store."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from memory_tx import MemoryTx
from openpinpoint.core import templates
from openpinpoint.core.endpoints import Stamp
from openpinpoint.core.errors import BadRequest, NotFound
from openpinpoint.core.template_shapes import DefaultPushNotificationTemplate as PushPart
from openpinpoint.core.template_shapes import (
    EmailTemplateRequest,
    MessageHeader,
    PushNotificationTemplateRequest,
    SMSTemplateRequest,
    SMSTemplateResponse,
    TemplateRequest,
)
from openpinpoint.store.base import SERVER_SCOPE, WriteTx
from openpinpoint.store.open import open_store

ARN = "arn:aws:mobiletargeting:us-east-1:000000000000:templates/t/SMS"


def stamp(n: int) -> Stamp:
    return Stamp(request_id=f"r{n}", now=f"2026-01-0{n}T00:00:00.000Z")


def sms(body: str, default_substitutions: str | None = None) -> SMSTemplateRequest:
    request = SMSTemplateRequest(body=body)
    if default_substitutions is not None:
        request.default_substitutions = default_substitutions
    return request


def created(name: str = "t") -> MemoryTx:
    tx = MemoryTx()
    templates.create_template(tx, name, "SMS", sms("v1"), arn=ARN, stamp=stamp(1))
    return tx


def update(tx: MemoryTx, body: str, *, new: bool = False, version: str | None = None) -> None:
    templates.update_template(
        tx, "t", "SMS", sms(body), arn=ARN, create_new_version=new, version=version, stamp=stamp(2)
    )


def body(tx: MemoryTx, version: str | None = None) -> object:
    found = templates.require_template(tx, "t", "SMS", version)
    assert isinstance(found, SMSTemplateResponse)
    return found.body, found.version


def test_t2_create_makes_version_1_active() -> None:
    tx = created()
    assert body(tx) == ("v1", "1")
    found = templates.require_template(tx, "t", "SMS", None)
    assert found.arn == ARN
    assert found.creation_date == found.last_modified_date


def test_t2_create_of_an_existing_name_and_type_is_refused_but_another_type_is_not() -> None:
    tx = created()
    with pytest.raises(BadRequest, match="already exists"):
        templates.create_template(tx, "t", "SMS", sms("again"), arn=ARN, stamp=stamp(1))
    templates.create_template(
        tx, "t", "EMAIL", EmailTemplateRequest(subject="s"), arn=ARN, stamp=stamp(1)
    )


def test_t2_new_version_does_not_change_the_active_version() -> None:
    tx = created()
    update(tx, "v2", new=True)
    assert body(tx) == ("v1", "1")
    assert body(tx, "2") == ("v2", "2")


def test_t2_update_without_version_overwrites_the_latest() -> None:
    tx = created()
    update(tx, "v2", new=True)
    update(tx, "v2 edited")
    assert body(tx, "2") == ("v2 edited", "2")
    latest = templates.require_template(tx, "t", "SMS", "2")
    assert latest.creation_date == stamp(1).now
    assert latest.last_modified_date == stamp(2).now


def test_t2_update_of_a_version_other_than_the_latest_is_refused() -> None:
    tx = created()
    update(tx, "v2", new=True)
    with pytest.raises(BadRequest, match="latest"):
        update(tx, "x", version="1")
    with pytest.raises(NotFound):
        update(tx, "x", version="7")
    with pytest.raises(BadRequest, match="create-new-version"):
        update(tx, "x", new=True, version="2")
    update(tx, "ok", version="2")
    assert body(tx, "2") == ("ok", "2")


def test_t2_missing_versions_and_templates_are_not_found() -> None:
    tx = created()
    for version in ("0", "2", "x", "-1", "99999999999"):
        with pytest.raises(NotFound):
            templates.require_template(tx, "t", "SMS", version)
    with pytest.raises(NotFound):
        templates.require_template(tx, "t", "EMAIL", None)


def test_t2_active_version_can_move_and_must_exist() -> None:
    tx = created()
    update(tx, "v2", new=True)
    templates.update_active_version(tx, "t", "SMS", "2")
    assert body(tx) == ("v2", "2")
    with pytest.raises(NotFound):
        templates.update_active_version(tx, "t", "SMS", "3")


def test_t2_deleting_the_active_version_is_refused_unless_it_is_the_only_one() -> None:
    tx = created()
    update(tx, "v2", new=True)
    with pytest.raises(BadRequest, match="active"):
        templates.delete_template(tx, "t", "SMS", "1")
    templates.delete_template(tx, "t", "SMS", "2")
    with pytest.raises(NotFound):
        templates.require_template(tx, "t", "SMS", "2")
    templates.delete_template(tx, "t", "SMS", "1")
    with pytest.raises(NotFound):
        templates.require_template(tx, "t", "SMS", None)
    assert tx.resources == {}


def test_t2_delete_without_version_deletes_every_version() -> None:
    tx = created()
    update(tx, "v2", new=True)
    templates.delete_template(tx, "t", "SMS", None)
    assert tx.resources == {}
    with pytest.raises(NotFound):
        templates.delete_template(tx, "t", "SMS", None)


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (sms("{{#if a}}x", default_substitutions="{}"), "Body does not compile: unclosed block"),
        (
            sms("a\n  {{nope 1}}"),
            "Body does not compile: unknown helper 'nope' at line 2, column 3",
        ),
        (sms("x", default_substitutions="[1]"), "DefaultSubstitutions must be a JSON object"),
        (sms("x", default_substitutions='{"a": 1}'), "DefaultSubstitutions must be a JSON object"),
        (sms("x", default_substitutions="{"), "DefaultSubstitutions is not valid JSON"),
        (sms("x" * 1601), "Body has 1601 characters; the limit is 1600"),
        (
            EmailTemplateRequest(subject="s", html_part="<p>{{/if}}</p>"),
            "HtmlPart does not compile: {{/if}} without an opening block at line 1, column 4",
        ),
        (
            EmailTemplateRequest(subject="s" * 300_000, text_part="t" * 300_001),
            "600001 characters together; the limit is 600000",
        ),
        (
            EmailTemplateRequest(headers=[MessageHeader(name="h", value="{{x")]),
            "Headers[0].Value does not compile: unclosed tag",
        ),
        (
            EmailTemplateRequest(headers=[MessageHeader(name="h", value="v")] * 16),
            "more than 15 headers",
        ),
        (
            PushNotificationTemplateRequest(default=PushPart(title="{{#each}}")),
            "Default.Title does not compile",
        ),
        (
            PushNotificationTemplateRequest(default=PushPart(body="b" * 4001)),
            "Default.Body has 4001 characters; the limit is 4000",
        ),
    ],
)
def test_t3_invalid_templates_are_refused_naming_the_part(
    request_: TemplateRequest, message: str
) -> None:
    with pytest.raises(BadRequest) as raised:
        templates.check_request(request_)
    assert message in raised.value.message


def test_t3_valid_templates_pass() -> None:
    templates.check_request(
        EmailTemplateRequest(
            subject="Hi {{User.UserAttributes.FirstName.[0]}}",
            html_part="<p>{{#each Attributes.Colors}}{{this}}{{/each}}</p>",
            default_substitutions='{"User.UserAttributes.FirstName": "there"}',
        )
    )


def test_template_names_are_checked() -> None:
    assert templates.check_name("a_B-9") == "a_B-9"
    for bad in ("", "-a", "a b", "a/b", "x" * 129):
        with pytest.raises(BadRequest, match="template-name"):
            templates.check_name(bad)


def test_list_templates_filters_by_prefix_and_type_and_pages() -> None:
    tx = MemoryTx()
    for name in ("a1", "a2", "a3", "b1"):
        templates.create_template(tx, name, "SMS", sms(name), arn=ARN, stamp=stamp(1))
        templates.create_template(
            tx, name, "EMAIL", EmailTemplateRequest(subject=name), arn=ARN, stamp=stamp(1)
        )
    page = templates.list_templates(tx, 2, None, "a", "SMS")
    assert [(i.template_name, i.template_type) for i in page.item] == [("a1", "SMS"), ("a2", "SMS")]
    assert isinstance(page.next_token, str)
    rest = templates.list_templates(tx, 2, page.next_token, "a", "SMS")
    assert [i.template_name for i in rest.item] == ["a3"]
    assert not rest.next_token
    everything = templates.list_templates(tx, 100, None, None, None)
    assert len(everything.item) == 8
    assert all(i.version == "1" for i in everything.item)
    with pytest.raises(BadRequest):
        templates.list_templates(tx, 2, "garbage", None, None)


def test_list_versions_pages_oldest_first() -> None:
    tx = created()
    update(tx, "v2", new=True)
    update(tx, "v3", new=True)
    page = templates.list_versions(tx, "t", "SMS", size=2, token=None, request_id="rid")
    assert [v.version for v in page.item] == ["1", "2"]
    assert page.request_id == "rid"
    rest = templates.list_versions(
        tx, "t", "SMS", size=2, token=page.next_token or None, request_id="rid"
    )
    assert [v.version for v in rest.item] == ["3"]


def test_the_template_quota_refuses_the_next_create(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(templates, "MAX_TEMPLATES", 2)
    tx = created("a")
    templates.create_template(tx, "b", "EMAIL", sms_email(), arn=ARN, stamp=stamp(1))
    with pytest.raises(BadRequest, match="2 templates, the limit"):
        templates.create_template(tx, "c", "SMS", sms("v1"), arn=ARN, stamp=stamp(1))


def sms_email() -> EmailTemplateRequest:
    return EmailTemplateRequest(subject="s", text_part="t")


def test_creates_racing_at_the_quota_never_exceed_it(
    empty_store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each create counts the templates and then adds one; on PostgreSQL two transactions
    # would both count below the quota unless creates wait for each other.
    monkeypatch.setattr(templates, "MAX_TEMPLATES", 3)

    def create(name: str) -> Callable[[WriteTx], None]:
        return lambda tx: templates.create_template(
            tx, name, "SMS", sms("v1"), arn=ARN, stamp=stamp(1)
        )

    async def race() -> int:
        store = open_store(empty_store_url)
        try:
            outcomes = await asyncio.gather(
                *(store.write(create(f"t{n}")) for n in range(12)), return_exceptions=True
            )
            refused = [o for o in outcomes if isinstance(o, BadRequest)]
            assert len(refused) + outcomes.count(None) == len(outcomes), outcomes
            return await store.read(
                lambda tx: len(tx.list_resources(SERVER_SCOPE, templates.ACTIVE_KIND, "", 100))
            )
        finally:
            await store.close()

    assert asyncio.run(race()) == 3
