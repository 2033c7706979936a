"""The message-template operations (spec engagement.md section 1), mixed into the provider.

Templates belong to the server (T1): any key may read them, only an admin key may change
them. Every write is checked (T3) before its transaction starts, so nothing invalid is
stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from openpinpoint.core import apps, templates
from openpinpoint.core.errors import BadRequest, NotFound
from openpinpoint.core.shapes import MessageBody
from openpinpoint.core.template_shapes import (
    CreateTemplateMessageBody,
    EmailTemplateRequest,
    EmailTemplateResponse,
    PushNotificationTemplateRequest,
    PushNotificationTemplateResponse,
    SMSTemplateRequest,
    SMSTemplateResponse,
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
        raise NotFound(f"{value} templates are not served by OpenPinpoint")
    return templates.parse_type(value)


class TemplateOperations:
    store: Store
    account_id: str

    def _template_arn(self, ctx: RequestContext, name: str, kind: TemplateType) -> str:
        return templates.template_arn(ctx.region, self.account_id, name, kind)

    async def _create(
        self, ctx: RequestContext, name: str, kind: TemplateType, body: TemplateRequest
    ) -> CreateTemplateMessageBody:
        ctx.access.require_admin(_WRITE)
        templates.check_name(name)
        templates.check_request(body)
        arn, stamp = self._template_arn(ctx, name, kind), ctx.stamp
        await self.store.write(
            lambda tx: templates.create_template(tx, name, kind, body, arn=arn, stamp=stamp)
        )
        return CreateTemplateMessageBody(arn=arn, message="Created", request_id=ctx.request_id)

    async def _get(
        self, ctx: RequestContext, name: str, kind: TemplateType, version: str | None
    ) -> TemplateResponseShape:
        templates.check_name(name)
        return await self.store.read(lambda tx: templates.require_template(tx, name, kind, version))

    async def _update(
        self,
        ctx: RequestContext,
        name: str,
        kind: TemplateType,
        body: TemplateRequest,
        *,
        create_new_version: str | None,
        version: str | None,
    ) -> MessageBody:
        ctx.access.require_admin(_WRITE)
        templates.check_name(name)
        new_version = _flag(create_new_version)
        templates.check_request(body)
        arn, stamp = self._template_arn(ctx, name, kind), ctx.stamp
        await self.store.write(
            lambda tx: templates.update_template(
                tx,
                name,
                kind,
                body,
                arn=arn,
                create_new_version=new_version,
                version=version,
                stamp=stamp,
            )
        )
        return MessageBody(message="Accepted", request_id=ctx.request_id)

    async def _delete(
        self, ctx: RequestContext, name: str, kind: TemplateType, version: str | None
    ) -> MessageBody:
        ctx.access.require_admin(_WRITE)
        templates.check_name(name)
        await self.store.write(lambda tx: templates.delete_template(tx, name, kind, version))
        return MessageBody(message="Accepted", request_id=ctx.request_id)

    # Email templates

    async def create_email_template(
        self, ctx: RequestContext, template_name: str, body: EmailTemplateRequest
    ) -> CreateTemplateMessageBody:
        return await self._create(ctx, template_name, "EMAIL", body)

    async def get_email_template(
        self, ctx: RequestContext, template_name: str, version: str | None = None
    ) -> EmailTemplateResponse:
        found = await self._get(ctx, template_name, "EMAIL", version)
        assert isinstance(found, EmailTemplateResponse)
        return found

    async def update_email_template(
        self,
        ctx: RequestContext,
        template_name: str,
        body: EmailTemplateRequest,
        create_new_version: str | None = None,
        version: str | None = None,
    ) -> MessageBody:
        return await self._update(
            ctx,
            template_name,
            "EMAIL",
            body,
            create_new_version=create_new_version,
            version=version,
        )

    async def delete_email_template(
        self, ctx: RequestContext, template_name: str, version: str | None = None
    ) -> MessageBody:
        return await self._delete(ctx, template_name, "EMAIL", version)

    # SMS templates

    async def create_sms_template(
        self, ctx: RequestContext, template_name: str, body: SMSTemplateRequest
    ) -> CreateTemplateMessageBody:
        return await self._create(ctx, template_name, "SMS", body)

    async def get_sms_template(
        self, ctx: RequestContext, template_name: str, version: str | None = None
    ) -> SMSTemplateResponse:
        found = await self._get(ctx, template_name, "SMS", version)
        assert isinstance(found, SMSTemplateResponse)
        return found

    async def update_sms_template(
        self,
        ctx: RequestContext,
        template_name: str,
        body: SMSTemplateRequest,
        create_new_version: str | None = None,
        version: str | None = None,
    ) -> MessageBody:
        return await self._update(
            ctx,
            template_name,
            "SMS",
            body,
            create_new_version=create_new_version,
            version=version,
        )

    async def delete_sms_template(
        self, ctx: RequestContext, template_name: str, version: str | None = None
    ) -> MessageBody:
        return await self._delete(ctx, template_name, "SMS", version)

    # Push templates

    async def create_push_template(
        self, ctx: RequestContext, template_name: str, body: PushNotificationTemplateRequest
    ) -> CreateTemplateMessageBody:
        return await self._create(ctx, template_name, "PUSH", body)

    async def get_push_template(
        self, ctx: RequestContext, template_name: str, version: str | None = None
    ) -> PushNotificationTemplateResponse:
        found = await self._get(ctx, template_name, "PUSH", version)
        assert isinstance(found, PushNotificationTemplateResponse)
        return found

    async def update_push_template(
        self,
        ctx: RequestContext,
        template_name: str,
        body: PushNotificationTemplateRequest,
        create_new_version: str | None = None,
        version: str | None = None,
    ) -> MessageBody:
        return await self._update(
            ctx,
            template_name,
            "PUSH",
            body,
            create_new_version=create_new_version,
            version=version,
        )

    async def delete_push_template(
        self, ctx: RequestContext, template_name: str, version: str | None = None
    ) -> MessageBody:
        return await self._delete(ctx, template_name, "PUSH", version)

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
