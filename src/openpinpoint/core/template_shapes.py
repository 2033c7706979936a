"""The message-template shapes of Pinpoint's model (EMAIL, SMS and PUSH templates)."""

from __future__ import annotations

from typing import Literal

from msgspec import UNSET, UnsetType, field

from openpinpoint.core.shapes import TagMap, _Shape

TemplateType = Literal["EMAIL", "SMS", "PUSH"]
"""The template types this server keeps (VOICE and INAPP are not served)."""
PushAction = Literal["OPEN_APP", "DEEP_LINK", "URL"]


class MessageHeader(_Shape):
    name: str | UnsetType = UNSET
    value: str | UnsetType = UNSET


class _TemplateRequest(_Shape, kw_only=True):
    default_substitutions: str | UnsetType = UNSET
    recommender_id: str | UnsetType = UNSET
    """Stored and returned; no recommender model is ever called."""
    tags: TagMap | UnsetType = field(default=UNSET, name="tags")
    template_description: str | UnsetType = UNSET


class EmailTemplateRequest(_TemplateRequest, kw_only=True):
    html_part: str | UnsetType = UNSET
    subject: str | UnsetType = UNSET
    headers: list[MessageHeader] | UnsetType = UNSET
    text_part: str | UnsetType = UNSET


class SMSTemplateRequest(_TemplateRequest, kw_only=True):
    body: str | UnsetType = UNSET


class DefaultPushNotificationTemplate(_Shape, kw_only=True):
    action: PushAction | UnsetType = UNSET
    body: str | UnsetType = UNSET
    sound: str | UnsetType = UNSET
    title: str | UnsetType = UNSET
    url: str | UnsetType = UNSET


class APNSPushNotificationTemplate(DefaultPushNotificationTemplate, kw_only=True):
    media_url: str | UnsetType = UNSET
    raw_content: str | UnsetType = UNSET


class AndroidPushNotificationTemplate(DefaultPushNotificationTemplate, kw_only=True):
    image_icon_url: str | UnsetType = UNSET
    image_url: str | UnsetType = UNSET
    raw_content: str | UnsetType = UNSET
    small_image_icon_url: str | UnsetType = UNSET


class PushNotificationTemplateRequest(_TemplateRequest, kw_only=True):
    adm: AndroidPushNotificationTemplate | UnsetType = field(default=UNSET, name="ADM")
    apns: APNSPushNotificationTemplate | UnsetType = field(default=UNSET, name="APNS")
    baidu: AndroidPushNotificationTemplate | UnsetType = UNSET
    default: DefaultPushNotificationTemplate | UnsetType = UNSET
    gcm: AndroidPushNotificationTemplate | UnsetType = field(default=UNSET, name="GCM")


# msgspec structs take fields from one base only, so each response repeats the head fields
# that Pinpoint adds to its request shape.


class EmailTemplateResponse(EmailTemplateRequest, kw_only=True):
    creation_date: str
    last_modified_date: str
    template_name: str
    template_type: TemplateType
    arn: str | UnsetType = UNSET
    version: str | UnsetType = UNSET


class SMSTemplateResponse(SMSTemplateRequest, kw_only=True):
    creation_date: str
    last_modified_date: str
    template_name: str
    template_type: TemplateType
    arn: str | UnsetType = UNSET
    version: str | UnsetType = UNSET


class PushNotificationTemplateResponse(PushNotificationTemplateRequest, kw_only=True):
    creation_date: str
    last_modified_date: str
    template_name: str
    template_type: TemplateType
    arn: str | UnsetType = UNSET
    version: str | UnsetType = UNSET


TemplateRequest = EmailTemplateRequest | SMSTemplateRequest | PushNotificationTemplateRequest
TemplateResponseShape = (
    EmailTemplateResponse | SMSTemplateResponse | PushNotificationTemplateResponse
)


class TemplateResponse(_Shape, kw_only=True):
    """An item of ListTemplates: no content, no DefaultSubstitutions."""

    creation_date: str
    last_modified_date: str
    template_name: str
    template_type: TemplateType
    arn: str | UnsetType = UNSET
    version: str | UnsetType = UNSET
    tags: dict[str, str] | UnsetType = field(default=UNSET, name="tags")
    template_description: str | UnsetType = UNSET


class TemplatesResponse(_Shape):
    item: list[TemplateResponse]
    next_token: str | UnsetType = UNSET


class TemplateVersionResponse(_Shape, kw_only=True):
    creation_date: str
    last_modified_date: str
    template_name: str
    template_type: str
    default_substitutions: str | UnsetType = UNSET
    template_description: str | UnsetType = UNSET
    version: str | UnsetType = UNSET


class TemplateVersionsResponse(_Shape, kw_only=True):
    item: list[TemplateVersionResponse]
    message: str | UnsetType = UNSET
    next_token: str | UnsetType = UNSET
    request_id: str | UnsetType = field(default=UNSET, name="RequestID")


class CreateTemplateMessageBody(_Shape, kw_only=True):
    arn: str | UnsetType = UNSET
    message: str | UnsetType = UNSET
    request_id: str | UnsetType = field(default=UNSET, name="RequestID")


class TemplateActiveVersionRequest(_Shape):
    version: str | UnsetType = UNSET
