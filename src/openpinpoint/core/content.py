"""What each recipient gets (M4): the email, SMS or push notification resolved from the
message's parts and the request's templates by Pinpoint's precedence, every text part
rendered for the recipient (T4), with the recipient's overrides."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from msgspec import UNSET

from openpinpoint.core import channels as ch
from openpinpoint.core import messaging_shapes as ms
from openpinpoint.core.personalize import RenderTooLarge, TemplateSyntaxError, render_part
from openpinpoint.core.push import PushNotification
from openpinpoint.core.push_payloads import push_content
from openpinpoint.core.recipients import Recipient, Templates
from openpinpoint.core.template_shapes import (
    EmailTemplateResponse,
    PushNotificationTemplateResponse,
    SMSTemplateResponse,
)
from openpinpoint.delivery.base import Email, Push, Sms


def content(
    message: ms.DirectMessageConfiguration,
    found: Templates,
    channel: ch.Channel,
    recipient: Recipient,
    context: Mapping[str, str],
) -> Email | Sms | Push | str:
    """The recipient's content, or why there is nothing to send (or it could not be
    rendered: T5's limits, a part that does not compile)."""
    try:
        if channel.platform == "EMAIL":
            return _email(message, found.email, channel, recipient)
        if channel.platform == "SMS":
            return _sms(message, found.sms, channel, recipient)
        return _push(message, found.push, channel, recipient, context)
    except RenderTooLarge as error:
        return f"The rendered message is too large: {error}"
    except TemplateSyntaxError as error:
        return f"The message does not compile as a template: {error}"


def _text(value: Any) -> str | None:
    return None if value is UNSET or value is None else str(value)


@dataclass(frozen=True)
class _Renderer:
    """Renders the text parts of one recipient's message (T4): the recipient's
    Substitutions over the message part's over DefaultMessage's, over the endpoint, over
    the template's DefaultSubstitutions when the part comes from the template."""

    recipient: Recipient
    layers: tuple[Mapping[str, Sequence[str]], ...]

    def __call__(
        self, source: str | None, *, defaults: str | None = None, html: bool = False
    ) -> str | None:
        if source is None:
            return None
        return render_part(
            source,
            endpoint=self.recipient.endpoint,
            substitutions=self.layers,
            defaults=defaults,
            html=html,
        )


def _renderer(recipient: Recipient, message: ms.DirectMessageConfiguration, part: Any) -> _Renderer:
    candidates = (
        recipient.config.substitutions,
        getattr(part, "substitutions", UNSET),
        UNSET if message.default_message is UNSET else message.default_message.substitutions,
    )
    return _Renderer(recipient, tuple(c for c in candidates if c is not UNSET))


def _email(
    message: ms.DirectMessageConfiguration,
    template: EmailTemplateResponse | None,
    channel: ch.Channel,
    recipient: Recipient,
) -> Email | str:
    config = recipient.config
    part = message.email_message if message.email_message is not UNSET else ms.EmailMessage()
    simple = part.simple_email if part.simple_email is not UNSET else ms.SimpleEmail()
    render = _renderer(recipient, message, part)
    from_address = _text(part.from_address) or str(channel.settings.get("FromAddress", ""))
    subject = _text(_data(simple.subject))
    text = _text(_data(simple.text_part))
    html = _text(_data(simple.html_part))
    headers = [(h.name, h.value) for h in (simple.headers or [])]
    defaults: str | None = None
    if text is None and html is None and template is not None:
        text, html = _text(template.text_part), _text(template.html_part)
        headers += [(h.name, h.value) for h in (template.headers or [])]
        defaults = _text(template.default_substitutions)
    if subject is None and template is not None:
        subject = _text(template.subject)
        defaults = _text(template.default_substitutions)
    if text is None and html is None:
        text = _text(part.body) or _text(_default_body(message))
    raw: bytes | None = None
    if part.raw_email is not UNSET and part.raw_email.data is not UNSET:
        raw = part.raw_email.data
    if config.raw_content is not UNSET:
        raw = config.raw_content.encode()
    if raw is None:
        if text is None and html is None:
            return "There is no email message to send (no SimpleEmail, template or DefaultMessage)"
        if not subject and config.title_override is UNSET:
            return "The email has no subject"
    subject = render(subject, defaults=defaults)
    text = render(text, defaults=defaults)
    html = render(html, defaults=defaults, html=True)
    if config.title_override is not UNSET:
        subject = config.title_override
    if config.body_override is not UNSET:
        text, html = config.body_override, None
    assert recipient.address is not None
    return Email(
        message_id=new_message_id(from_address),
        from_address=from_address,
        to=recipient.address,
        subject=subject or "",
        text=text,
        html=html,
        headers=tuple(
            (str(name), str(value))
            for name, value in headers
            if name is not UNSET and value is not UNSET
        ),
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
    message: ms.DirectMessageConfiguration,
    template: SMSTemplateResponse | None,
    channel: ch.Channel,
    recipient: Recipient,
) -> Sms | str:
    config = recipient.config
    part = message.sms_message if message.sms_message is not UNSET else ms.SMSMessage()
    body = _text(part.body)
    defaults: str | None = None
    if body is None and template is not None:
        body, defaults = _text(template.body), _text(template.default_substitutions)
    if body is None:
        body = _text(_default_body(message))
    body = _renderer(recipient, message, part)(body, defaults=defaults)
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
_RENDERED_PUSH_MEMBERS = ("title", "body", "url", "image_url", "media_url")


def resolve_push(
    message: ms.DirectMessageConfiguration,
    platform: str,
    recipient: Recipient,
    template: PushNotificationTemplateResponse | None = None,
) -> PushNotification | str:
    """M4 for push: each member from the first layer that sets it: the platform's message
    (GCMMessage, APNSMessage), the push template's part for the platform, its Default,
    DefaultPushNotificationMessage, then DefaultMessage's body; rendered (T4); then the
    recipient's overrides."""
    config = recipient.config
    own = message.gcm_message if platform == "GCM" else message.apns_message
    layers: list[Any] = [] if own is UNSET else [own]
    if template is not None:
        for part in (template.gcm if platform == "GCM" else template.apns, template.default):
            if part is not UNSET:
                layers.append(part)
    for fallback in (message.default_push_notification_message, message.default_message):
        if fallback is not UNSET:
            layers.append(fallback)
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
    render = _renderer(recipient, message, own)
    defaults = None if template is None else _text(template.default_substitutions)
    for member in _RENDERED_PUSH_MEMBERS:
        if member in members:
            members[member] = render(members[member], defaults=defaults)
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
    template: PushNotificationTemplateResponse | None,
    channel: ch.Channel,
    recipient: Recipient,
    context: Mapping[str, str],
) -> Push | str:
    assert recipient.address is not None
    notification = resolve_push(message, channel.platform, recipient, template)
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
