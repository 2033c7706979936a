"""SendMessages and SendUsersMessages (M1–M8): who receives, who is skipped and why, what
each recipient gets, and delivering it all concurrently within a deadline.

A send runs in three steps. `check_*` refuses a malformed request as a whole (M1) before
anything is read. `plan_*` reads, in one store transaction, the channels and the
recipients' endpoints. `decide` then turns each recipient into either a result (a skip,
M3) or a `Delivery` (M4), and `Sender.deliver` sends the deliveries at once, each under
the `--delivery-timeout` deadline (M6), logging one line per recipient (M8).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from msgspec import UNSET

from openpinpoint.core import channels as ch
from openpinpoint.core import endpoints
from openpinpoint.core import messaging_shapes as ms
from openpinpoint.core.errors import BadRequest
from openpinpoint.core.push import PushNotification
from openpinpoint.core.sealing import Sealer
from openpinpoint.core.shapes import EndpointRequest, EndpointResponse
from openpinpoint.core.values import check_id, endpoint_key
from openpinpoint.delivery.base import (
    Backend,
    Delivery,
    DeliveryStatus,
    Email,
    Outcome,
    Push,
    Sms,
    unreachable,
)
from openpinpoint.delivery.choose import Backends
from openpinpoint.store.base import ReadTx, WriteTx

log = logging.getLogger("openpinpoint.delivery")

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
class Plan:
    """What one transaction read for a send: the app's channels and the recipients."""

    channels: Mapping[str, ch.Channel]
    recipients: Sequence[Recipient]


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
    return Plan(channels=_channels(tx, app_id, sealer), recipients=recipients)


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
    return Plan(channels=_channels(tx, app_id, sealer), recipients=recipients), users


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


# Who is skipped (M3) and what each recipient gets (M4)


def skipped(status: DeliveryStatus, message: str, code: int = 400) -> Outcome:
    return Outcome(status, code, status_message=message)


@dataclass(frozen=True)
class Request:
    """What every recipient's decision needs besides the recipient."""

    request_id: str
    app_id: str
    message: ms.DirectMessageConfiguration
    context: Mapping[str, str] = field(default_factory=dict)


def decide(request: Request, plan: Plan) -> list[Delivery | Outcome]:
    """For each recipient in order: the delivery to make, or the result of its skip (M3,
    in the order of checks the decision gives)."""
    decided: list[Delivery | Outcome] = []
    seen: set[tuple[str, str]] = set()
    for recipient in plan.recipients:
        decided.append(_decide_one(request, plan, recipient, seen))
    return decided


def _decide_one(
    request: Request, plan: Plan, recipient: Recipient, seen: set[tuple[str, str]]
) -> Delivery | Outcome:
    if not recipient.found:
        return skipped("PERMANENT_FAILURE", "Endpoint not found", 404)
    channel_type = recipient.channel_type
    if channel_type is None or channel_type not in SUPPORTED_CHANNELS:
        return skipped(
            "PERMANENT_FAILURE", f"The {channel_type or 'unknown'} channel type is not supported"
        )
    channel = plan.channels.get(channel_type)
    if channel is None or not channel.enabled:
        return skipped("PERMANENT_FAILURE", f"The {channel_type} channel is not enabled")
    endpoint = recipient.endpoint
    if endpoint is not None and endpoint.endpoint_status == "INACTIVE":
        return skipped("PERMANENT_FAILURE", "Endpoint is inactive")
    if endpoint is not None and endpoint.opt_out not in (UNSET, "NONE"):
        return skipped("OPT_OUT", "Endpoint has opted out")
    if not recipient.address:
        return skipped("PERMANENT_FAILURE", "Endpoint has no Address")
    context = {**request.context}
    if recipient.config.context is not UNSET:
        context.update(recipient.config.context)
    content = _content(request, channel, recipient, context)
    if isinstance(content, str):
        return skipped("PERMANENT_FAILURE", content)
    key = (channel_type, recipient.address)
    if key in seen:
        return skipped("DUPLICATE", "An earlier recipient of this request has the same address")
    seen.add(key)
    return Delivery(
        request_id=request.request_id,
        application_id=request.app_id,
        endpoint_id=recipient.endpoint_id,
        address=recipient.address,
        content=content,
        context=context,
    )


def _content(
    request: Request, channel: ch.Channel, recipient: Recipient, context: Mapping[str, str]
) -> Email | Sms | Push | str:
    """The recipient's content, or why there is nothing to send."""
    assert recipient.address is not None
    if channel.platform == "EMAIL":
        return _email(request.message, channel, recipient)
    if channel.platform == "SMS":
        return _sms(request.message, channel, recipient)
    return _push(request.message, channel, recipient, context)


def _text(value: Any) -> str | None:
    return None if value is UNSET or value is None else str(value)


def _email(
    message: ms.DirectMessageConfiguration, channel: ch.Channel, recipient: Recipient
) -> Email | str:
    config = recipient.config
    part = message.email_message if message.email_message is not UNSET else ms.EmailMessage()
    simple = part.simple_email if part.simple_email is not UNSET else ms.SimpleEmail()
    from_address = _text(part.from_address) or str(channel.settings.get("FromAddress", ""))
    subject = _text(_data(simple.subject))
    text = _text(_data(simple.text_part))
    html = _text(_data(simple.html_part))
    headers = tuple(
        (str(h.name), str(h.value))
        for h in (simple.headers or [])
        if h.name is not UNSET and h.value is not UNSET
    )
    raw: bytes | None = None
    if part.raw_email is not UNSET and part.raw_email.data is not UNSET:
        raw = part.raw_email.data
    if config.raw_content is not UNSET:
        raw = config.raw_content.encode()
    if text is None and html is None:
        text = _text(part.body) or _text(_default_body(message))
    if config.title_override is not UNSET:
        subject = config.title_override
    if config.body_override is not UNSET:
        text, html = config.body_override, None
    if raw is None:
        if text is None and html is None:
            return "There is no email message to send (no SimpleEmail, template or DefaultMessage)"
        if not subject:
            return "The email has no subject"
    assert recipient.address is not None
    return Email(
        message_id=new_message_id(from_address),
        from_address=from_address,
        to=recipient.address,
        subject=subject or "",
        text=text,
        html=html,
        headers=headers,
        raw=raw,
        reply_to=tuple(part.reply_to_addresses or ()),
        identity=_text(channel.settings.get("Identity")),
        configuration_set=_text(channel.settings.get("ConfigurationSet")),
    )


def _data(part: ms.SimpleEmailPart | Any) -> Any:
    return UNSET if part is UNSET else part.data


def _default_body(message: ms.DirectMessageConfiguration) -> Any:
    return UNSET if message.default_message is UNSET else message.default_message.body


def new_message_id(from_address: str) -> str:
    """A `Message-ID` (without angle brackets) in the sender's domain, as mail servers do."""
    domain = from_address.rpartition("@")[2].strip(" >") or "openpinpoint.invalid"
    return f"{uuid.uuid4().hex}@{domain}"


def _sms(
    message: ms.DirectMessageConfiguration, channel: ch.Channel, recipient: Recipient
) -> Sms | str:
    config = recipient.config
    part = message.sms_message if message.sms_message is not UNSET else ms.SMSMessage()
    body = _text(part.body) or _text(_default_body(message))
    if config.body_override is not UNSET:
        body = config.body_override
    if config.raw_content is not UNSET:
        body = config.raw_content
    if not body:
        return "There is no SMS message to send (no SMSMessage, template or DefaultMessage)"
    assert recipient.address is not None
    origination = (
        _text(part.origination_number)
        or _text(part.sender_id)
        or _text(channel.settings.get("SenderId"))
        or _text(channel.settings.get("ShortCode"))
    )
    return Sms(
        to=recipient.address,
        body=body,
        origination=origination,
        message_type=_text(part.message_type) or "TRANSACTIONAL",
        keyword=_text(part.keyword),
        sender_id=_text(part.sender_id),
    )


_PUSH_MEMBERS = tuple(name for name in PushNotification.__dataclass_fields__ if name != "data")
"""PushNotification members, named as the message members they come from."""


def resolve_push(
    message: ms.DirectMessageConfiguration, platform: str, config: ms.EndpointSendConfiguration
) -> PushNotification | str:
    """M4 for push: each member from the first layer that sets it: the platform's message
    (GCMMessage, APNSMessage), DefaultPushNotificationMessage, then DefaultMessage's body;
    then the recipient's overrides."""
    layers: list[Any] = []
    own = message.gcm_message if platform == "GCM" else message.apns_message
    if own is not UNSET:
        layers.append(own)
    if message.default_push_notification_message is not UNSET:
        layers.append(message.default_push_notification_message)
    if message.default_message is not UNSET:
        layers.append(message.default_message)
    members: dict[str, Any] = {}
    for member in _PUSH_MEMBERS:
        for layer in layers:
            value = getattr(layer, member, UNSET)
            if value is not UNSET:
                members[member] = value
                break
    data: dict[str, str] = {}
    for layer in reversed(layers):
        layer_data = getattr(layer, "data", UNSET)
        if layer_data is not UNSET:
            data.update(layer_data)
    if config.title_override is not UNSET:
        members["title"] = config.title_override
    if config.body_override is not UNSET:
        members["body"] = config.body_override
    if config.raw_content is not UNSET:
        members["raw_content"] = config.raw_content
    notification = PushNotification(data=data, **members)
    if not (
        notification.title
        or notification.body
        or notification.silent_push
        or notification.raw_content
        or data
    ):
        return "There is no push notification to send (no title, body, data or RawContent)"
    return notification


def _push(
    message: ms.DirectMessageConfiguration,
    channel: ch.Channel,
    recipient: Recipient,
    context: Mapping[str, str],
) -> Push | str:
    assert recipient.address is not None
    notification = resolve_push(message, channel.platform, recipient.config)
    if isinstance(notification, str):
        return notification
    payload, headers = push_content(
        notification, channel.platform, recipient.address, channel.settings, context
    )
    return Push(
        platform=channel.platform,
        token=recipient.address,
        payload=payload,
        headers=headers,
        credentials=channel.settings,
    )


def push_content(
    notification: PushNotification,
    platform: str,
    token: str,
    channel: Mapping[str, Any],
    context: Mapping[str, str],
) -> tuple[dict[str, Any], dict[str, str]]:
    """The FCM or APNs request body and the APNs headers (P1, P2) for one notification.

    The one place that builds payloads until the push payload builders of the native push
    issue replace it; the outbox and Pinpoint forwarding record exactly what this returns.
    """
    if platform == "GCM":
        return _fcm_payload(notification, token, context), {}
    return _apns_payload(notification, context), _apns_headers(notification, platform, channel)


def _fcm_payload(
    notification: PushNotification, token: str, context: Mapping[str, str]
) -> dict[str, Any]:
    if notification.raw_content is not None:
        return {"message": {**_json_object(notification.raw_content), "token": token}}
    data: dict[str, str] = {"pinpoint.campaign.campaign_id": "_DIRECT"}
    optional = {
        "pinpoint.notification.title": notification.title,
        "pinpoint.notification.body": notification.body,
        "pinpoint.notification.imageUrl": notification.image_url,
    }
    data.update({k: v for k, v in optional.items() if v is not None})
    data["pinpoint.notification.silentPush"] = "1" if notification.silent_push else "0"
    if notification.action == "OPEN_APP":
        data["pinpoint.openApp"] = "true"
    elif notification.action == "URL" and notification.url:
        data["pinpoint.url"] = notification.url
    elif notification.action == "DEEP_LINK" and notification.url:
        data["pinpoint.deeplink"] = notification.url
    data.update(notification.data)
    data.update({f"pinpoint.context.{k}": v for k, v in context.items()})
    android: dict[str, Any] = {}
    if notification.priority:
        android["priority"] = "HIGH" if notification.priority.lower() == "high" else "NORMAL"
    if notification.time_to_live is not None:
        android["ttl"] = f"{notification.time_to_live}s"
    if notification.collapse_key:
        android["collapse_key"] = notification.collapse_key
    message: dict[str, Any] = {"token": token, "data": data}
    if android:
        message["android"] = android
    return {"message": message}


def _apns_payload(notification: PushNotification, context: Mapping[str, str]) -> dict[str, Any]:
    if notification.raw_content is not None:
        return _json_object(notification.raw_content)
    aps: dict[str, Any] = {}
    alert = {k: v for k, v in (("title", notification.title), ("body", notification.body)) if v}
    if alert and not notification.silent_push:
        aps["alert"] = alert
    for key, value in (
        ("sound", notification.sound),
        ("badge", notification.badge),
        ("category", notification.category),
        ("thread-id", notification.thread_id),
    ):
        if value is not None:
            aps[key] = value
    if notification.silent_push:
        aps["content-available"] = 1
    if notification.media_url:
        aps["mutable-content"] = 1
    pinpoint: dict[str, Any] = {"campaign": {"campaign_id": "_DIRECT"}}
    if notification.action in ("URL", "DEEP_LINK") and notification.url:
        pinpoint["deeplink"] = notification.url
    pinpoint.update(context)
    data: dict[str, Any] = {"pinpoint": pinpoint}
    if notification.media_url:
        data["media-url"] = notification.media_url
    data.update(notification.data)
    return {"aps": aps, "data": data}


def _apns_headers(
    notification: PushNotification, platform: str, channel: Mapping[str, Any]
) -> dict[str, str]:
    voip = platform.startswith("APNS_VOIP")
    push_type = "voip" if voip else "background" if notification.silent_push else "alert"
    background = notification.silent_push or (notification.priority or "").lower() == "normal"
    headers = {
        "apns-push-type": notification.apns_push_type or push_type,
        "apns-priority": "5" if background else "10",
    }
    bundle = channel.get("BundleId")
    if bundle:
        headers["apns-topic"] = f"{bundle}.voip" if voip else str(bundle)
    if notification.collapse_id:
        headers["apns-collapse-id"] = notification.collapse_id
    return headers


def _json_object(text: str) -> dict[str, Any]:
    try:
        found = json.loads(text)
    except ValueError:
        raise BadRequest("RawContent is not JSON") from None
    if not isinstance(found, dict):
        raise BadRequest("RawContent is not a JSON object")
    return found


# Delivering (M6) and the delivery log (M8)


class Sender:
    def __init__(self, backends: Backends, *, timeout: float) -> None:
        self.backends = backends
        self.timeout = timeout

    def backend(self, delivery: Delivery) -> Backend:
        content = delivery.content
        if isinstance(content, Email):
            return self.backends.email
        if isinstance(content, Sms):
            return self.backends.sms
        return self.backends.push

    async def deliver(self, decided: Iterable[Delivery | Outcome]) -> list[Outcome]:
        """Every outcome, in order; skips as decided, deliveries as their back ends answer."""
        items = list(decided)
        return list(await asyncio.gather(*(self._one(item) for item in items)))

    async def _one(self, item: Delivery | Outcome) -> Outcome:
        if isinstance(item, Outcome):
            return item
        try:
            async with asyncio.timeout(self.timeout):
                return await self.backend(item).deliver(item)
        except TimeoutError:
            return unreachable(f"No answer within {self.timeout:g} seconds")
        except Exception:
            log.exception("delivery in request %s failed unexpectedly", item.request_id)
            return Outcome("UNKNOWN_FAILURE", 500, status_message="Internal error")


def inactivate(
    tx: WriteTx, app_id: str, endpoint_ids: Iterable[str], stamp: endpoints.Stamp
) -> None:
    """M7: endpoints whose address a push service called permanently invalid become INACTIVE
    (an ordinary endpoint write, G5/G12), so later sends skip them. An endpoint deleted
    since the send stays deleted."""
    for endpoint_id in endpoint_ids:
        if tx.get_endpoint(app_id, endpoint_key(endpoint_id)) is not None:
            endpoints.update_endpoint(
                tx, app_id, endpoint_id, EndpointRequest(endpoint_status="INACTIVE"), stamp
            )


def log_outcome(request_id: str, app_id: str, recipient: Recipient, outcome: Outcome) -> None:
    log.info(
        "delivery request=%s app=%s endpoint=%s channel=%s address=%s status=%s code=%d "
        "message_id=%s",
        request_id,
        app_id,
        recipient.endpoint_id or "-",
        recipient.channel_type or "-",
        mask(recipient.address),
        outcome.status,
        outcome.status_code,
        outcome.message_id or "-",
    )


def mask(address: str | None) -> str:
    """An address as the log shows it (M8): `a***@example.com`, `+1206*****00`, `abcd***`."""
    if not address:
        return "-"
    local, at, domain = address.rpartition("@")
    if at:
        return f"{local[:1]}***@{domain}"
    if address.startswith("+") and len(address) > 7:
        return address[:5] + "*" * (len(address) - 7) + address[-2:]
    return address[:4] + "***"


def result(outcome: Outcome, address: str | None) -> ms.EndpointMessageResult:
    found = ms.EndpointMessageResult(
        delivery_status=outcome.status,
        status_code=outcome.status_code,
        status_message=outcome.status_message,
    )
    if outcome.message_id is not None:
        found.message_id = outcome.message_id
    if outcome.updated_token is not None:
        found.updated_token = outcome.updated_token
    if address is not None:
        found.address = address
    return found
