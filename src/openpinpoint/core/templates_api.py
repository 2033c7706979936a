"""The message-template operations (spec engagement.md section 1), mixed into the provider.

Templates belong to the server (T1): any key may read them, only an admin key may change
them. Every write is checked (T3) before its transaction starts, so nothing invalid is
stored.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from openpinpoint.core import apps, templates
from openpinpoint.core.errors import BadRequest, UnsupportedOperation
from openpinpoint.core.shapes import MessageBody
from openpinpoint.core.template_shapes import (
    CreateTemplateMessageBody,
    TemplateActiveVersionRequest,
    TemplateRequest,
    TemplateResponseShape,
    TemplatesResponse,
    TemplateType,
    TemplateVersionsResponse,
)
from openpinpoint.store.base import Store

if TYPE_CHECKING:
    from openpinpoint.core.provider import RequestContext

_WRITE = "create, update or delete message templates"
_UNSERVED_TYPES = ("VOICE", "INAPP")


def _flag(value: str | None) -> bool:
    if value is None or value.lower() == "false":
        return False
    if value.lower() == "true":
        return True
    raise BadRequest(f"create-new-version must be true or false, not {value!r}")


def _uri_type(value: str) -> TemplateType:
    if value in _UNSERVED_TYPES:
        # 501 like the per-type operations of these types (GetVoiceTemplate, ...), which
        # the router answers as unserved: a 404 would read as a missing template.
        raise UnsupportedOperation(f"{value} templates are not served by OpenPinpoint")
    return templates.parse_type(value)


def _create(kind: TemplateType) -> Callable[..., Awaitable[CreateTemplateMessageBody]]:
    async def create(
        self: TemplateOperations, ctx: RequestContext, template_name: str, body: TemplateRequest
    ) -> CreateTemplateMessageBody:
        ctx.access.require_admin(_WRITE)
        templates.check_name(template_name)
        templates.check_request(body)
        arn, stamp = self._template_arn(ctx, template_name, kind), ctx.stamp
        await self.store.write(
            lambda tx: templates.create_template(
                tx, template_name, kind, body, arn=arn, stamp=stamp
            )
        )
        return CreateTemplateMessageBody(arn=arn, message="Created", request_id=ctx.request_id)

    return create


def _get(kind: TemplateType) -> Callable[..., Awaitable[TemplateResponseShape]]:
    async def get(
        self: TemplateOperations,
        ctx: RequestContext,
        template_name: str,
        version: str | None = None,
    ) -> TemplateResponseShape:
        templates.check_name(template_name)
        return await self.store.read(
            lambda tx: templates.require_template(tx, template_name, kind, version)
        )

    return get


def _update(kind: TemplateType) -> Callable[..., Awaitable[MessageBody]]:
    async def update(
        self: TemplateOperations,
        ctx: RequestContext,
        template_name: str,
        body: TemplateRequest,
        *,
        create_new_version: str | None = None,
        version: str | None = None,
    ) -> MessageBody:
        ctx.access.require_admin(_WRITE)
        templates.check_name(template_name)
        new_version = _flag(create_new_version)
        templates.check_request(body)
        arn, stamp = self._template_arn(ctx, template_name, kind), ctx.stamp
        await self.store.write(
            lambda tx: templates.update_template(
                tx,
                template_name,
                kind,
                body,
                arn=arn,
                create_new_version=new_version,
                version=version,
                stamp=stamp,
            )
        )
        return MessageBody(message="Accepted", request_id=ctx.request_id)

    return update


def _delete(kind: TemplateType) -> Callable[..., Awaitable[MessageBody]]:
    async def delete(
        self: TemplateOperations,
        ctx: RequestContext,
        template_name: str,
        version: str | None = None,
    ) -> MessageBody:
        ctx.access.require_admin(_WRITE)
        templates.check_name(template_name)
        await self.store.write(
            lambda tx: templates.delete_template(tx, template_name, kind, version)
        )
        return MessageBody(message="Accepted", request_id=ctx.request_id)

    return delete


class TemplateOperations:
    """One method per template operation. The twelve Create/Get/Update/Delete operations
    differ only in the template type, so each is made for its type by the functions above;
    the wire layer has already decoded the body into that type's request shape."""

    store: Store
    account_id: str

    def _template_arn(self, ctx: RequestContext, name: str, kind: TemplateType) -> str:
        return templates.template_arn(ctx.region, self.account_id, name, kind)

    create_email_template = _create("EMAIL")
    get_email_template = _get("EMAIL")
    update_email_template = _update("EMAIL")
    delete_email_template = _delete("EMAIL")
    create_sms_template = _create("SMS")
    get_sms_template = _get("SMS")
    update_sms_template = _update("SMS")
    delete_sms_template = _delete("SMS")
    create_push_template = _create("PUSH")
    get_push_template = _get("PUSH")
    update_push_template = _update("PUSH")
    delete_push_template = _delete("PUSH")

    # Every type

    async def list_templates(
        self,
        ctx: RequestContext,
        next_token: str | None = None,
        page_size: str | None = None,
        prefix: str | None = None,
        template_type: str | None = None,
    ) -> TemplatesResponse:
        size = apps.page_size(page_size)
        if template_type in _UNSERVED_TYPES:
            # Not served, so none exist: a client listing every type gets an empty page.
            return TemplatesResponse(item=[])
        kind = None if template_type is None else templates.parse_type(template_type)
        return await self.store.read(
            lambda tx: templates.list_templates(tx, size, next_token, prefix, kind)
        )

    async def list_template_versions(
        self,
        ctx: RequestContext,
        template_name: str,
        template_type: str,
        next_token: str | None = None,
        page_size: str | None = None,
    ) -> TemplateVersionsResponse:
        kind, size = _uri_type(template_type), apps.page_size(page_size)
        templates.check_name(template_name)
        return await self.store.read(
            lambda tx: templates.list_versions(
                tx, template_name, kind, size=size, token=next_token, request_id=ctx.request_id
            )
        )

    async def update_template_active_version(
        self,
        ctx: RequestContext,
        template_name: str,
        template_type: str,
        body: TemplateActiveVersionRequest,
    ) -> MessageBody:
        ctx.access.require_admin(_WRITE)
        kind = _uri_type(template_type)
        templates.check_name(template_name)
        version = body.version if isinstance(body.version, str) else None
        await self.store.write(
            lambda tx: templates.update_active_version(tx, template_name, kind, version)
        )
        return MessageBody(message="Accepted", request_id=ctx.request_id)
