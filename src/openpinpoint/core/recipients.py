"""Who a send reaches (M1, M2): the checks of the whole request, made before anything is
read, and the recipients and channels read in one store transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from msgspec import UNSET, UnsetType

from openpinpoint.core import channels as ch
from openpinpoint.core import messaging_shapes as ms
from openpinpoint.core import templates
from openpinpoint.core.errors import BadRequest
from openpinpoint.core.sealing import Sealer
from openpinpoint.core.shapes import EndpointResponse
from openpinpoint.core.template_shapes import (
    EmailTemplateResponse,
    PushNotificationTemplateResponse,
    SMSTemplateResponse,
)
from openpinpoint.core.values import check_id, endpoint_key
from openpinpoint.store.base import ReadTx

MAX_RECIPIENTS = 100
PUSH_CHANNELS = frozenset(("GCM", "APNS", "APNS_SANDBOX", "APNS_VOIP", "APNS_VOIP_SANDBOX"))
SUPPORTED_CHANNELS = PUSH_CHANNELS | {"EMAIL", "SMS"}


# M1: whole-request checks


def check_message_request(body: ms.MessageRequest) -> None:
    addresses = body.addresses or {}
    endpoints = body.endpoints or {}
    count = len(addresses) + len(endpoints)
    if not 1 <= count <= MAX_RECIPIENTS:
        raise BadRequest(
            f"Addresses and Endpoints hold {count} recipients together; a request sends to "
            f"1-{MAX_RECIPIENTS}"
        )
    for address, config in addresses.items():
        if config.channel_type is UNSET:
            raise BadRequest(f"Addresses[{address!r}].ChannelType is required")
    for endpoint_id in endpoints:
        check_id("Endpoints key (an endpoint id)", endpoint_id)


def check_users_request(body: ms.SendUsersMessageRequest) -> None:
    if not 1 <= len(body.users) <= MAX_RECIPIENTS:
        raise BadRequest(
            f"Users holds {len(body.users)} users; a request sends to 1-{MAX_RECIPIENTS} users"
        )
    for user_id in body.users:
        check_id("Users key (a user id)", user_id)


# Who receives (M2)


@dataclass(frozen=True)
class Recipient:
    config: ms.EndpointSendConfiguration
    channel_type: str | None
    address: str | None
    endpoint_id: str | None = None
    """None for a recipient given by address."""
    endpoint: EndpointResponse | None = None
    found: bool = True
    """False for an endpoint id that names no endpoint."""


@dataclass(frozen=True)
class Templates:
    """The templates a request's `TemplateConfiguration` names, read once per request."""

    email: EmailTemplateResponse | None = None
    sms: SMSTemplateResponse | None = None
    push: PushNotificationTemplateResponse | None = None


@dataclass(frozen=True)
class Plan:
    """What one transaction read for a send: the app's channels, the recipients and the
    templates."""

    channels: Mapping[str, ch.Channel]
    recipients: Sequence[Recipient]
    templates: Templates = field(default_factory=Templates)


def load_templates(tx: ReadTx, configuration: ms.TemplateConfiguration | UnsetType) -> Templates:
    """M1: a named template or version that does not exist is a 404 for the whole request
    (raised here, before anything is sent)."""
    if configuration is UNSET:
        return Templates()
    found: dict[str, Any] = {}
    for member, template_type in (
        ("email_template", "EMAIL"),
        ("sms_template", "SMS"),
        ("push_template", "PUSH"),
    ):
        reference = getattr(configuration, member)
        if reference is not UNSET and reference.name is not UNSET:
            version = None if reference.version is UNSET else reference.version
            found[member.removesuffix("_template")] = templates.require_template(
                tx, reference.name, template_type, version
            )
    return Templates(**found)


def plan_messages(tx: ReadTx, app_id: str, body: ms.MessageRequest, sealer: Sealer) -> Plan:
    recipients = [
        Recipient(config=config, channel_type=str(config.channel_type), address=address)
        for address, config in (body.addresses or {}).items()
    ]
    for endpoint_id, config in (body.endpoints or {}).items():
        endpoint = tx.get_endpoint(app_id, endpoint_key(endpoint_id))
        if endpoint is None:
            recipients.append(
                Recipient(
                    config=config,
                    channel_type=None,
                    address=None,
                    endpoint_id=endpoint_id,
                    found=False,
                )
            )
        else:
            recipients.append(_endpoint_recipient(endpoint, config))
    return Plan(
        channels=_channels(tx, app_id, sealer),
        recipients=recipients,
        templates=load_templates(tx, body.template_configuration),
    )


def plan_users(
    tx: ReadTx, app_id: str, body: ms.SendUsersMessageRequest, sealer: Sealer
) -> tuple[Plan, list[tuple[str, list[int]]]]:
    """The plan, and for each user (body order) the positions of its recipients."""
    recipients: list[Recipient] = []
    users: list[tuple[str, list[int]]] = []
    for user_id, config in body.users.items():
        found = sorted(tx.user_endpoints(app_id, user_id), key=lambda e: str(e.id))
        positions = list(range(len(recipients), len(recipients) + len(found)))
        recipients.extend(_endpoint_recipient(endpoint, config) for endpoint in found)
        users.append((user_id, positions))
    plan = Plan(
        channels=_channels(tx, app_id, sealer),
        recipients=recipients,
        templates=load_templates(tx, body.template_configuration),
    )
    return plan, users


def _endpoint_recipient(
    endpoint: EndpointResponse, config: ms.EndpointSendConfiguration
) -> Recipient:
    return Recipient(
        config=config,
        channel_type=None if endpoint.channel_type is UNSET else str(endpoint.channel_type),
        address=None if endpoint.address is UNSET else str(endpoint.address),
        endpoint_id=str(endpoint.id),
        endpoint=endpoint,
    )


def _channels(tx: ReadTx, app_id: str, sealer: Sealer) -> dict[str, ch.Channel]:
    found = {}
    for platform in ("EMAIL", "SMS", *sorted(PUSH_CHANNELS)):
        channel = ch.load_channel(tx, app_id, platform, sealer)
        if channel is not None:
            found[platform] = channel
    return found
