"""Message templates (spec engagement.md section 1): versions (T2), write-time checks (T3).

A template is kept as resources in the server's scope (T1): each version under kind
`template`, named `{name}/{TYPE}`, version 1, 2, ...; and under kind `template.active`
(version 0) the number of its active version. The active record exists exactly as long as
the template does.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

import msgspec

from openpinpoint.core.endpoints import Stamp
from openpinpoint.core.errors import BadRequest, NotFound
from openpinpoint.core.template_shapes import (
    EmailTemplateRequest,
    EmailTemplateResponse,
    PushNotificationTemplateRequest,
    PushNotificationTemplateResponse,
    SMSTemplateRequest,
    SMSTemplateResponse,
    TemplateRequest,
    TemplateResponse,
    TemplateResponseShape,
    TemplatesResponse,
    TemplateType,
    TemplateVersionResponse,
    TemplateVersionsResponse,
)
from openpinpoint.core.values import decode_page_token, encode_page_token
from openpinpoint.store.base import SERVER_SCOPE, ReadTx, Resource, WriteTx
from openpinpoint.templating import TemplateSyntaxError, compile_template

KIND = "template"
ACTIVE_KIND = "template.active"
QUOTA_KIND = "template.quota"
MAX_TEMPLATES = 20_000
MAX_VERSIONS = 5_000
MAX_SMS_BODY = 1_600
MAX_EMAIL_PARTS = 600_000
MAX_PUSH_PART = 4_000
MAX_HEADERS = 15
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")

RESPONSE_TYPES: dict[str, type[TemplateResponseShape]] = {
    "EMAIL": EmailTemplateResponse,
    "SMS": SMSTemplateResponse,
    "PUSH": PushNotificationTemplateResponse,
}
REQUEST_TYPES: dict[str, type[TemplateRequest]] = {
    "EMAIL": EmailTemplateRequest,
    "SMS": SMSTemplateRequest,
    "PUSH": PushNotificationTemplateRequest,
}


def template_arn(region: str, account_id: str, name: str, template_type: str) -> str:
    return f"arn:aws:mobiletargeting:{region}:{account_id}:templates/{name}/{template_type}"


def parse_type(value: str) -> TemplateType:
    """A `template-type` from a URI or query string: EMAIL, SMS or PUSH."""
    for known in ("EMAIL", "SMS", "PUSH"):
        if value == known:
            return known
    raise BadRequest(f"template-type {value!r} is not one of EMAIL, SMS, PUSH")


def check_name(name: str) -> str:
    if _NAME.fullmatch(name) is None:
        raise BadRequest(
            f"template-name {name[:140]!r} is invalid: it must start with a letter or digit "
            "and have at most 128 characters of A-Z, a-z, 0-9, '_' and '-'"
        )
    return name


def _key(name: str, kind: str) -> str:
    return f"{name}/{kind}"


def _version_number(version: str) -> int | None:
    return int(version) if version.isdigit() and len(version) < 10 else None


# Write-time checks (T3)


def _parts(request: TemplateRequest) -> Iterator[tuple[str, str]]:
    """Every templated string of a request, named as the client wrote it."""
    if isinstance(request, EmailTemplateRequest):
        for name, value in (
            ("Subject", request.subject),
            ("TextPart", request.text_part),
            ("HtmlPart", request.html_part),
        ):
            if isinstance(value, str):
                yield name, value
        for index, header in enumerate(request.headers or []):
            if isinstance(header.value, str):
                yield f"Headers[{index}].Value", header.value
    elif isinstance(request, SMSTemplateRequest):
        if isinstance(request.body, str):
            yield "Body", request.body
    else:
        for channel in ("ADM", "APNS", "Baidu", "Default", "GCM"):
            message = getattr(request, channel.lower())
            if message is msgspec.UNSET:
                continue
            for field, value in msgspec.structs.asdict(message).items():
                if isinstance(value, str) and field != "action":
                    yield f"{channel}.{_pascal(field)}", value


def _pascal(name: str) -> str:
    return "".join(word.capitalize() for word in name.split("_"))


def check_request(request: TemplateRequest) -> None:
    """T3: defaults that are a JSON object of strings, parts within their limits, and parts
    that compile; the first failure is a 400 naming the part (and line and column)."""
    defaults = request.default_substitutions
    if isinstance(defaults, str):
        try:
            parsed = json.loads(defaults)
        except ValueError as error:
            raise BadRequest(f"DefaultSubstitutions is not valid JSON: {error}") from None
        if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
            raise BadRequest("DefaultSubstitutions must be a JSON object whose values are strings")
    parts = list(_parts(request))
    _check_limits(request, parts)
    for part, source in parts:
        try:
            compile_template(source)
        except TemplateSyntaxError as error:
            raise BadRequest(
                f"{part} does not compile: {error.message} at line {error.line}, "
                f"column {error.column}"
            ) from None


def _check_limits(request: TemplateRequest, parts: list[tuple[str, str]]) -> None:
    if isinstance(request, EmailTemplateRequest):
        total = sum(len(source) for part, source in parts if not part.startswith("Headers"))
        if total > MAX_EMAIL_PARTS:
            raise BadRequest(
                f"Subject, TextPart and HtmlPart have {total} characters together; "
                f"the limit is {MAX_EMAIL_PARTS}"
            )
        if len(request.headers or []) > MAX_HEADERS:
            raise BadRequest(f"Headers has more than {MAX_HEADERS} headers")
        return
    limit = MAX_SMS_BODY if isinstance(request, SMSTemplateRequest) else MAX_PUSH_PART
    for part, source in parts:
        if len(source) > limit:
            raise BadRequest(f"{part} has {len(source)} characters; the limit is {limit}")


# Reading


@dataclass(frozen=True)
class _Template:
    name: str
    type: TemplateType
    active: int


def _head(tx: ReadTx, name: str, kind: TemplateType) -> _Template:
    found = tx.get_resource(SERVER_SCOPE, ACTIVE_KIND, _key(name, kind), 0)
    if found is None:
        raise NotFound(f"Template {name!r} of type {kind} not found")
    return _Template(name, kind, int(found.doc))


def _version(tx: ReadTx, template: _Template, version: str | None) -> Resource:
    number = template.active if version is None else _version_number(version)
    found = (
        None
        if number is None or number < 1
        else tx.get_resource(SERVER_SCOPE, KIND, _key(template.name, template.type), number)
    )
    if found is None:
        raise NotFound(f"Version {version!r} of template {template.name!r} not found")
    return found


def _response(resource: Resource, kind: str) -> TemplateResponseShape:
    response = msgspec.json.decode(resource.doc, type=RESPONSE_TYPES[kind])
    response.version = str(resource.version)
    return response


def require_template(
    tx: ReadTx, name: str, template_type: str, version: str | None
) -> EmailTemplateResponse | SMSTemplateResponse | PushNotificationTemplateResponse:
    """That version of the template, the active one when `version` is None; NotFound (T2)
    when the template or the version does not exist."""
    kind = parse_type(template_type.upper())
    template = _head(tx, name, kind)
    return _response(_version(tx, template, version), kind)


# Writing (T2)


def _store(tx: WriteTx, template: _Template, number: int, response: TemplateResponseShape) -> None:
    response.version = msgspec.UNSET
    tx.put_resource(
        Resource(
            scope=SERVER_SCOPE,
            kind=KIND,
            name=_key(template.name, template.type),
            version=number,
            doc=msgspec.json.encode(response).decode(),
        )
    )


def _set_active(tx: WriteTx, template: _Template, number: int) -> None:
    tx.put_resource(
        Resource(
            scope=SERVER_SCOPE,
            kind=ACTIVE_KIND,
            name=_key(template.name, template.type),
            version=0,
            doc=str(number),
        )
    )


def _build(
    request: TemplateRequest, template: _Template, arn: str, created: str, modified: str
) -> TemplateResponseShape:
    fields = msgspec.structs.asdict(request)
    return RESPONSE_TYPES[template.type](
        **fields,
        arn=arn,
        creation_date=created,
        last_modified_date=modified,
        template_name=template.name,
        template_type=template.type,
    )


def create_template(
    tx: WriteTx, name: str, kind: TemplateType, request: TemplateRequest, *, arn: str, stamp: Stamp
) -> None:
    if tx.get_resource(SERVER_SCOPE, ACTIVE_KIND, _key(name, kind), 0) is not None:
        raise BadRequest(f"Template already exists: {name} ({kind})")
    # Reading a resource in a write transaction holds it until commit (the store's contract),
    # so reading this never-written one makes creates take turns: two creates must not both
    # count below the quota.
    tx.get_resource(SERVER_SCOPE, QUOTA_KIND, "", 0)
    if len(tx.list_resources(SERVER_SCOPE, ACTIVE_KIND, "", MAX_TEMPLATES)) >= MAX_TEMPLATES:
        raise BadRequest(f"This server already holds {MAX_TEMPLATES} templates, the limit")
    template = _Template(name, kind, 1)
    _store(tx, template, 1, _build(request, template, arn, stamp.now, stamp.now))
    _set_active(tx, template, 1)


def update_template(
    tx: WriteTx,
    name: str,
    kind: TemplateType,
    request: TemplateRequest,
    *,
    arn: str,
    create_new_version: bool,
    version: str | None,
    stamp: Stamp,
) -> None:
    template = _head(tx, name, kind)
    latest = tx.get_resource(SERVER_SCOPE, KIND, _key(name, kind))
    assert latest is not None, "a template's active record outlived its versions"
    if version is not None:
        if create_new_version:
            raise BadRequest("version cannot be given with create-new-version=true")
        if _version(tx, template, version).version != latest.version:
            raise BadRequest(
                f"Only the latest version ({latest.version}) of a template can be updated"
            )
    previous = _response(latest, kind)
    # tags are deprecated on updates: the template keeps those it was created with.
    request.tags = previous.tags
    number = latest.version
    if create_new_version:
        if latest.version >= MAX_VERSIONS:
            raise BadRequest(f"A template has at most {MAX_VERSIONS} versions")
        number += 1
    _store(tx, template, number, _build(request, template, arn, previous.creation_date, stamp.now))


def delete_template(tx: WriteTx, name: str, kind: TemplateType, version: str | None) -> None:
    template = _head(tx, name, kind)
    key = _key(name, kind)
    if version is not None:
        number = _version(tx, template, version).version
        if len(tx.resource_versions(SERVER_SCOPE, KIND, key)) > 1:
            if number == template.active:
                raise BadRequest(
                    f"Version {number} is the active version: make another version active "
                    "before deleting it"
                )
            tx.delete_resource(SERVER_SCOPE, KIND, key, number)
            return
    tx.delete_resource(SERVER_SCOPE, KIND, key)
    tx.delete_resource(SERVER_SCOPE, ACTIVE_KIND, key)


def update_active_version(tx: WriteTx, name: str, kind: TemplateType, version: str | None) -> None:
    template = _head(tx, name, kind)
    if version is None:
        raise BadRequest("Version is required")
    _set_active(tx, template, _version(tx, template, version).version)


# Listing


def _encode_name_token(name: str) -> str:
    return base64.urlsafe_b64encode(f"templates:{name}".encode()).decode().rstrip("=")


def _decode_name_token(token: str | None) -> str:
    if token is None:
        return ""
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        text = ""
    if not text.startswith("templates:"):
        raise BadRequest("next-token is not a token this listing returned")
    return text.removeprefix("templates:")


def list_templates(
    tx: ReadTx, size: int, token: str | None, prefix: str | None, kind: TemplateType | None
) -> TemplatesResponse:
    """One page of templates in name order; each item describes the active version."""
    after = _decode_name_token(token)
    items: list[TemplateResponse] = []
    while len(items) <= size:
        heads = tx.list_resources(SERVER_SCOPE, ACTIVE_KIND, after, size + 1, prefix or "")
        for head in heads:
            name, _, head_kind = head.name.rpartition("/")
            if kind is not None and head_kind != kind:
                continue
            version = tx.get_resource(SERVER_SCOPE, KIND, head.name, int(head.doc))
            if version is not None:
                full = _response(version, head_kind)
                items.append(
                    TemplateResponse(
                        creation_date=full.creation_date,
                        last_modified_date=full.last_modified_date,
                        template_name=name,
                        template_type=full.template_type,
                        version=full.version,
                        tags=full.tags,
                        template_description=full.template_description,
                    )
                )
            if len(items) > size:
                break
        if len(heads) <= size:
            break
        after = heads[-1].name
    page = TemplatesResponse(item=items[:size])
    if len(items) > size:
        last = items[size - 1]
        page.next_token = _encode_name_token(_key(last.template_name, last.template_type))
    return page


def list_versions(
    tx: ReadTx, name: str, kind: TemplateType, *, size: int, token: str | None, request_id: str
) -> TemplateVersionsResponse:
    """One page of a template's versions, oldest first."""
    _head(tx, name, kind)
    after = decode_page_token("template-versions", token)
    versions = [
        r for r in tx.resource_versions(SERVER_SCOPE, KIND, _key(name, kind)) if r.version > after
    ]
    page = TemplateVersionsResponse(
        item=[_version_response(_response(r, kind)) for r in versions[:size]],
        message="Success",
        request_id=request_id,
    )
    if len(versions) > size:
        page.next_token = encode_page_token("template-versions", versions[size - 1].version)
    return page


def _version_response(full: TemplateResponseShape) -> TemplateVersionResponse:
    return TemplateVersionResponse(
        creation_date=full.creation_date,
        last_modified_date=full.last_modified_date,
        template_name=full.template_name,
        template_type=full.template_type,
        default_substitutions=full.default_substitutions,
        template_description=full.template_description,
        version=full.version,
    )
