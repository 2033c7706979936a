"""The channel operations (Get/Update/Delete for each platform, GetChannels) and the direct
sends (SendMessages, SendUsersMessages): the provider methods of engagement.md sections 2
and 3. `PinpointProvider` inherits them."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import msgspec

from openpinpoint.core import channels as ch
from openpinpoint.core import messaging_shapes as ms
from openpinpoint.core import recipients, sending
from openpinpoint.core.errors import InternalServerError
from openpinpoint.core.sealing import Sealer
from openpinpoint.delivery.base import Outcome
from openpinpoint.store.base import ReadTx, Store, WriteTx

if TYPE_CHECKING:
    from openpinpoint.core.provider import RequestContext

T = TypeVar("T")


@dataclass(frozen=True)
class Messaging:
    """What channels and sends need from the server: the key that seals channel secrets
    and the back ends that deliver."""

    sealer: Sealer
    sender: sending.Sender


class MessagingOperations:
    store: Store
    messaging: Messaging | None

    def _messaging(self) -> Messaging:
        if self.messaging is None:
            raise InternalServerError("This server was started without delivery back ends")
        return self.messaging

    if TYPE_CHECKING:
        # PinpointProvider's, which runs `fn` in a transaction once the app is known to
        # exist and the caller may use it.
        async def _read_in_app(
            self, ctx: RequestContext, app_id: str, fn: Callable[[ReadTx], T]
        ) -> T: ...

        async def _write_in_app(
            self, ctx: RequestContext, app_id: str, fn: Callable[[WriteTx], T]
        ) -> T: ...

    # Channels (C1–C4)

    async def get_channels(self, ctx: RequestContext, application_id: str) -> ms.ChannelsResponse:
        return await self._read_in_app(
            ctx, application_id, lambda tx: ch.get_channels(tx, application_id)
        )

    async def _get_channel(
        self, ctx: RequestContext, application_id: str, platform: ch.Platform
    ) -> ms.ChannelResponse:
        return await self._read_in_app(
            ctx, application_id, lambda tx: ch.get_channel(tx, application_id, platform)
        )

    async def _update_channel(
        self,
        ctx: RequestContext,
        application_id: str,
        platform: ch.Platform,
        body: msgspec.Struct,
    ) -> ms.ChannelResponse:
        change = ch.Change(by=ctx.access_key_id, now=ctx.stamp.now)
        sealer = self._messaging().sealer
        return await self._write_in_app(
            ctx,
            application_id,
            lambda tx: ch.update_channel(
                tx, application_id, platform, body, change=change, sealer=sealer
            ),
        )

    async def _delete_channel(
        self, ctx: RequestContext, application_id: str, platform: ch.Platform
    ) -> ms.ChannelResponse:
        return await self._write_in_app(
            ctx, application_id, lambda tx: ch.delete_channel(tx, application_id, platform)
        )

    # Direct sends (M1–M8)

    async def send_messages(
        self, ctx: RequestContext, application_id: str, body: ms.MessageRequest
    ) -> ms.MessageResponse:
        ctx.access.require_app(application_id)
        recipients.check_message_request(body)
        messaging = self._messaging()
        plan = await self._read_in_app(
            ctx,
            application_id,
            lambda tx: recipients.plan_messages(tx, application_id, body, messaging.sealer),
        )
        outcomes = await self._send(ctx, application_id, body, plan)
        response = ms.MessageResponse(application_id=application_id, request_id=ctx.request_id)
        for recipient, outcome in zip(plan.recipients, outcomes, strict=True):
            if recipient.endpoint_id is None:
                if response.result is msgspec.UNSET:
                    response.result = {}
                found = sending.result(outcome, None)
                response.result[str(recipient.address)] = msgspec.convert(
                    msgspec.to_builtins(found), ms.MessageResult
                )
            else:
                if response.endpoint_result is msgspec.UNSET:
                    response.endpoint_result = {}
                response.endpoint_result[recipient.endpoint_id] = sending.result(
                    outcome, recipient.address
                )
        return response

    async def send_users_messages(
        self, ctx: RequestContext, application_id: str, body: ms.SendUsersMessageRequest
    ) -> ms.SendUsersMessageResponse:
        ctx.access.require_app(application_id)
        recipients.check_users_request(body)
        messaging = self._messaging()
        plan, users = await self._read_in_app(
            ctx,
            application_id,
            lambda tx: recipients.plan_users(tx, application_id, body, messaging.sealer),
        )
        outcomes = await self._send(ctx, application_id, body, plan)
        results: dict[str, dict[str, ms.EndpointMessageResult]] = {}
        for user_id, positions in users:
            results[user_id] = {
                str(plan.recipients[i].endpoint_id): sending.result(
                    outcomes[i], plan.recipients[i].address
                )
                for i in positions
            }
        return ms.SendUsersMessageResponse(
            application_id=application_id, request_id=ctx.request_id, result=results
        )

    async def _send(
        self,
        ctx: RequestContext,
        application_id: str,
        body: ms.MessageRequest | ms.SendUsersMessageRequest,
        plan: recipients.Plan,
    ) -> list[Outcome]:
        request = sending.Request(
            request_id=ctx.request_id,
            app_id=application_id,
            message=body.message_configuration,
            context=body.context or {},
        )
        decided = sending.decide(request, plan)
        outcomes = await self._messaging().sender.deliver(decided)
        invalid: list[str] = []
        for recipient, outcome in zip(plan.recipients, outcomes, strict=True):
            sending.log_outcome(ctx.request_id, application_id, recipient, outcome)
            if outcome.address_invalid and recipient.endpoint_id is not None:
                invalid.append(recipient.endpoint_id)
        if invalid:
            stamp = ctx.stamp
            await self.store.write(
                lambda tx: sending.inactivate(tx, application_id, invalid, stamp)
            )
        return outcomes


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _bind(platform: ch.Platform) -> None:
    """Give MessagingOperations the three methods of one platform's channel, named as the
    wire layer looks them up (GetEmailChannel -> get_email_channel)."""

    def get(
        self: MessagingOperations, ctx: RequestContext, application_id: str
    ) -> Awaitable[ms.ChannelResponse]:
        return self._get_channel(ctx, application_id, platform)

    def update(
        self: MessagingOperations, ctx: RequestContext, application_id: str, body: msgspec.Struct
    ) -> Awaitable[ms.ChannelResponse]:
        return self._update_channel(ctx, application_id, platform, body)

    def delete(
        self: MessagingOperations, ctx: RequestContext, application_id: str
    ) -> Awaitable[ms.ChannelResponse]:
        return self._delete_channel(ctx, application_id, platform)

    name = _snake(platform.operation)
    for verb, method in (("get", get), ("update", update), ("delete", delete)):
        setattr(MessagingOperations, f"{verb}_{name}_channel", method)


for _platform in ch.PLATFORMS:
    _bind(_platform)
