"""A whole template rendered for one endpoint, part by part, as a recipient would see it
(T6). Push parts follow Pinpoint's resolution: the endpoint's channel template first, then
the Default template, field by field."""

from __future__ import annotations

import msgspec

from openpinpoint.core.personalize import render_part
from openpinpoint.core.shapes import EndpointResponse
from openpinpoint.core.template_shapes import (
    EmailTemplateResponse,
    PushNotificationTemplateResponse,
    SMSTemplateResponse,
)

PUSH_CHANNEL_TEMPLATES = {
    # An endpoint's ChannelType → the push template member that serves it.
    "GCM": "gcm",
    "APNS": "apns",
    "APNS_SANDBOX": "apns",
    "APNS_VOIP": "apns",
    "APNS_VOIP_SANDBOX": "apns",
    "ADM": "adm",
    "BAIDU": "baidu",
}
_PUSH_ORDER = (
    "title",
    "body",
    "url",
    "image_url",
    "image_icon_url",
    "small_image_icon_url",
    "media_url",
    "sound",
    "raw_content",
)


def _push_fields(template: PushNotificationTemplateResponse, channel: str | None) -> dict[str, str]:
    fields: dict[str, str] = {}
    sources = [template.default]
    if channel is not None:
        sources.append(getattr(template, channel))
    for source in sources:
        if isinstance(source, msgspec.Struct):
            fields.update(
                (name, value)
                for name, value in msgspec.structs.asdict(source).items()
                if isinstance(value, str) and name != "action"
            )
    return fields


def template_parts(
    template: EmailTemplateResponse | SMSTemplateResponse | PushNotificationTemplateResponse,
    endpoint: EndpointResponse,
) -> list[tuple[str, str]]:
    """(part name, source) for each part the endpoint's message would carry."""
    if isinstance(template, EmailTemplateResponse):
        parts = [
            ("Subject", template.subject),
            ("TextPart", template.text_part),
            ("HtmlPart", template.html_part),
        ]
        parts += [(f"Header {h.name}", h.value) for h in template.headers or []]
        return [(name, value) for name, value in parts if isinstance(value, str)]
    if isinstance(template, SMSTemplateResponse):
        return [("Body", template.body)] if isinstance(template.body, str) else []
    channel = (
        PUSH_CHANNEL_TEMPLATES.get(endpoint.channel_type)
        if isinstance(endpoint.channel_type, str)
        else None
    )
    fields = _push_fields(template, channel)
    return [
        ("".join(word.capitalize() for word in name.split("_")), fields[name])
        for name in _PUSH_ORDER
        if name in fields
    ]


def render_template(
    template: EmailTemplateResponse | SMSTemplateResponse | PushNotificationTemplateResponse,
    endpoint: EndpointResponse,
) -> list[tuple[str, str]]:
    """Each part's name and its text rendered for `endpoint` (T4; no Substitutions, as a
    message without any would carry)."""
    defaults = template.default_substitutions
    return [
        (
            name,
            render_part(
                source,
                endpoint=endpoint,
                defaults=defaults if isinstance(defaults, str) else None,
                html=name == "HtmlPart",
            ),
        )
        for name, source in template_parts(template, endpoint)
    ]
