"""What each recipient gets (M4): the email, SMS or push notification resolved from the
message's parts by Pinpoint's precedence, with the recipient's overrides."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from msgspec import UNSET

from openpinpoint.core import channels as ch
from openpinpoint.core import messaging_shapes as ms
from openpinpoint.core.push import PushNotification
from openpinpoint.core.push_payloads import push_content
from openpinpoint.core.recipients import Recipient
from openpinpoint.delivery.base import Email, Push, Sms


def content(
    message: ms.DirectMessageConfiguration,
    channel: ch.Channel,
    recipient: Recipient,
    context: Mapping[str, str],
) -> Email | Sms | Push | str:
    """The recipient's content, or why there is nothing to send."""
    assert recipient.address is not None
    if channel.platform == "EMAIL":
        return _email(message, channel, recipient)
    if channel.platform == "SMS":
        return _sms(message, channel, recipient)
    return _push(message, channel, recipient, context)


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
