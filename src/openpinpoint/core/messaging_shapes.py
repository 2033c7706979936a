"""The shapes of channels and direct sends (botocore model `pinpoint` 2016-12-01): the
channel requests and responses, `MessageRequest`, `SendUsersMessageRequest` and their
results. Names the model spells in capitals (`SMSMessage`, `APNSPushType`) are given
explicitly; the rest follow the PascalCase rule of `shapes._Shape`."""

from __future__ import annotations

from typing import Literal

from msgspec import UNSET, UnsetType, field

from openpinpoint.core.shapes import ChannelType, _Shape
from openpinpoint.core.template_shapes import MessageHeader
from openpinpoint.delivery.base import DeliveryStatus

Action = Literal["OPEN_APP", "DEEP_LINK", "URL"]
Substitutions = dict[str, list[str]]

# Channel requests


class EmailChannelRequest(_Shape):
    from_address: str
    identity: str
    configuration_set: str | UnsetType = UNSET
    enabled: bool | UnsetType = UNSET
    role_arn: str | UnsetType = UNSET
    orchestration_sending_role_arn: str | UnsetType = UNSET


class SMSChannelRequest(_Shape):
    enabled: bool | UnsetType = UNSET
    sender_id: str | UnsetType = UNSET
    short_code: str | UnsetType = UNSET


class GCMChannelRequest(_Shape):
    api_key: str | UnsetType = UNSET
    default_authentication_method: str | UnsetType = UNSET
    enabled: bool | UnsetType = UNSET
    service_json: str | UnsetType = UNSET


class APNSChannelRequest(_Shape):
    bundle_id: str | UnsetType = UNSET
    certificate: str | UnsetType = UNSET
    default_authentication_method: str | UnsetType = UNSET
    enabled: bool | UnsetType = UNSET
    private_key: str | UnsetType = UNSET
    team_id: str | UnsetType = UNSET
    token_key: str | UnsetType = UNSET
    token_key_id: str | UnsetType = UNSET


class APNSSandboxChannelRequest(APNSChannelRequest):
    pass


class APNSVoipChannelRequest(APNSChannelRequest):
    pass


class APNSVoipSandboxChannelRequest(APNSChannelRequest):
    pass


class ADMChannelRequest(_Shape):
    client_id: str
    client_secret: str
    enabled: bool | UnsetType = UNSET


class BaiduChannelRequest(_Shape):
    api_key: str
    secret_key: str
    enabled: bool | UnsetType = UNSET


class VoiceChannelRequest(_Shape):
    enabled: bool | UnsetType = UNSET


ChannelRequest = (
    EmailChannelRequest
    | SMSChannelRequest
    | GCMChannelRequest
    | APNSChannelRequest
    | ADMChannelRequest
    | BaiduChannelRequest
    | VoiceChannelRequest
)

# Channel responses


class ChannelResponse(_Shape, kw_only=True):
    """What every channel response holds; alone, it is an entry of `GetChannels`."""

    application_id: str | UnsetType = UNSET
    creation_date: str | UnsetType = UNSET
    enabled: bool | UnsetType = UNSET
    has_credential: bool | UnsetType = UNSET
    id: str | UnsetType = UNSET
    is_archived: bool | UnsetType = UNSET
    last_modified_by: str | UnsetType = UNSET
    last_modified_date: str | UnsetType = UNSET
    version: int | UnsetType = UNSET


class _PlatformChannelResponse(ChannelResponse, kw_only=True):
    platform: str


class EmailChannelResponse(_PlatformChannelResponse, kw_only=True):
    configuration_set: str | UnsetType = UNSET
    from_address: str | UnsetType = UNSET
    identity: str | UnsetType = UNSET
    role_arn: str | UnsetType = UNSET
    orchestration_sending_role_arn: str | UnsetType = UNSET


class SMSChannelResponse(_PlatformChannelResponse, kw_only=True):
    sender_id: str | UnsetType = UNSET
    short_code: str | UnsetType = UNSET


class GCMChannelResponse(_PlatformChannelResponse, kw_only=True):
    default_authentication_method: str | UnsetType = UNSET
    has_fcm_service_credentials: bool | UnsetType = UNSET


class APNSChannelResponse(_PlatformChannelResponse, kw_only=True):
    default_authentication_method: str | UnsetType = UNSET
    has_token_key: bool | UnsetType = UNSET


class APNSSandboxChannelResponse(APNSChannelResponse, kw_only=True):
    pass


class APNSVoipChannelResponse(APNSChannelResponse, kw_only=True):
    pass


class APNSVoipSandboxChannelResponse(APNSChannelResponse, kw_only=True):
    pass


class ADMChannelResponse(_PlatformChannelResponse, kw_only=True):
    pass


class BaiduChannelResponse(_PlatformChannelResponse, kw_only=True):
    pass


class VoiceChannelResponse(_PlatformChannelResponse, kw_only=True):
    pass


class ChannelsResponse(_Shape):
    channels: dict[str, ChannelResponse]


# Direct sends: the message parts


class SimpleEmailPart(_Shape):
    charset: str | UnsetType = UNSET
    data: str | UnsetType = UNSET


class SimpleEmail(_Shape):
    html_part: SimpleEmailPart | UnsetType = UNSET
    subject: SimpleEmailPart | UnsetType = UNSET
    text_part: SimpleEmailPart | UnsetType = UNSET
    headers: list[MessageHeader] | UnsetType = UNSET


class RawEmail(_Shape):
    data: bytes | UnsetType = UNSET


class EmailMessage(_Shape):
    body: str | UnsetType = UNSET
    feedback_forwarding_address: str | UnsetType = UNSET
    from_address: str | UnsetType = UNSET
    raw_email: RawEmail | UnsetType = UNSET
    reply_to_addresses: list[str] | UnsetType = UNSET
    simple_email: SimpleEmail | UnsetType = UNSET
    substitutions: Substitutions | UnsetType = UNSET


class SMSMessage(_Shape):
    body: str | UnsetType = UNSET
    keyword: str | UnsetType = UNSET
    media_url: str | UnsetType = UNSET
    message_type: Literal["TRANSACTIONAL", "PROMOTIONAL"] | UnsetType = UNSET
    origination_number: str | UnsetType = UNSET
    sender_id: str | UnsetType = UNSET
    substitutions: Substitutions | UnsetType = UNSET
    entity_id: str | UnsetType = UNSET
    template_id: str | UnsetType = UNSET


class DefaultMessage(_Shape):
    body: str | UnsetType = UNSET
    substitutions: Substitutions | UnsetType = UNSET


class DefaultPushNotificationMessage(_Shape):
    action: Action | UnsetType = UNSET
    body: str | UnsetType = UNSET
    data: dict[str, str] | UnsetType = UNSET
    silent_push: bool | UnsetType = UNSET
    substitutions: Substitutions | UnsetType = UNSET
    title: str | UnsetType = UNSET
    url: str | UnsetType = UNSET


class GCMMessage(DefaultPushNotificationMessage):
    collapse_key: str | UnsetType = UNSET
    icon_reference: str | UnsetType = UNSET
    image_icon_url: str | UnsetType = UNSET
    image_url: str | UnsetType = UNSET
    preferred_authentication_method: str | UnsetType = UNSET
    priority: str | UnsetType = UNSET
    raw_content: str | UnsetType = UNSET
    restricted_package_name: str | UnsetType = UNSET
    small_image_icon_url: str | UnsetType = UNSET
    sound: str | UnsetType = UNSET
    time_to_live: int | UnsetType = UNSET


class APNSMessage(DefaultPushNotificationMessage):
    apns_push_type: str | UnsetType = field(default=UNSET, name="APNSPushType")
    badge: int | UnsetType = UNSET
    category: str | UnsetType = UNSET
    collapse_id: str | UnsetType = UNSET
    media_url: str | UnsetType = UNSET
    preferred_authentication_method: str | UnsetType = UNSET
    priority: str | UnsetType = UNSET
    raw_content: str | UnsetType = UNSET
    sound: str | UnsetType = UNSET
    thread_id: str | UnsetType = UNSET
    time_to_live: int | UnsetType = UNSET


class ADMMessage(DefaultPushNotificationMessage):
    consolidation_key: str | UnsetType = UNSET
    expires_after: str | UnsetType = UNSET
    icon_reference: str | UnsetType = UNSET
    image_icon_url: str | UnsetType = UNSET
    image_url: str | UnsetType = UNSET
    md5: str | UnsetType = field(default=UNSET, name="MD5")
    raw_content: str | UnsetType = UNSET
    small_image_icon_url: str | UnsetType = UNSET
    sound: str | UnsetType = UNSET


class BaiduMessage(DefaultPushNotificationMessage):
    icon_reference: str | UnsetType = UNSET
    image_icon_url: str | UnsetType = UNSET
    image_url: str | UnsetType = UNSET
    raw_content: str | UnsetType = UNSET
    small_image_icon_url: str | UnsetType = UNSET
    sound: str | UnsetType = UNSET
    time_to_live: int | UnsetType = UNSET


class VoiceMessage(_Shape):
    body: str | UnsetType = UNSET
    language_code: str | UnsetType = UNSET
    origination_number: str | UnsetType = UNSET
    substitutions: Substitutions | UnsetType = UNSET
    voice_id: str | UnsetType = UNSET


class DirectMessageConfiguration(_Shape):
    adm_message: ADMMessage | UnsetType = field(default=UNSET, name="ADMMessage")
    apns_message: APNSMessage | UnsetType = field(default=UNSET, name="APNSMessage")
    baidu_message: BaiduMessage | UnsetType = UNSET
    default_message: DefaultMessage | UnsetType = UNSET
    default_push_notification_message: DefaultPushNotificationMessage | UnsetType = UNSET
    email_message: EmailMessage | UnsetType = UNSET
    gcm_message: GCMMessage | UnsetType = field(default=UNSET, name="GCMMessage")
    sms_message: SMSMessage | UnsetType = field(default=UNSET, name="SMSMessage")
    voice_message: VoiceMessage | UnsetType = UNSET


class Template(_Shape):
    name: str | UnsetType = UNSET
    version: str | UnsetType = UNSET


class TemplateConfiguration(_Shape):
    email_template: Template | UnsetType = UNSET
    push_template: Template | UnsetType = UNSET
    sms_template: Template | UnsetType = field(default=UNSET, name="SMSTemplate")
    voice_template: Template | UnsetType = UNSET
    in_app_template: Template | UnsetType = UNSET


class EndpointSendConfiguration(_Shape):
    body_override: str | UnsetType = UNSET
    context: dict[str, str] | UnsetType = UNSET
    raw_content: str | UnsetType = UNSET
    substitutions: Substitutions | UnsetType = UNSET
    title_override: str | UnsetType = UNSET


class AddressConfiguration(EndpointSendConfiguration):
    channel_type: ChannelType | UnsetType = UNSET


class MessageRequest(_Shape):
    message_configuration: DirectMessageConfiguration
    addresses: dict[str, AddressConfiguration] | UnsetType = UNSET
    context: dict[str, str] | UnsetType = UNSET
    endpoints: dict[str, EndpointSendConfiguration] | UnsetType = UNSET
    template_configuration: TemplateConfiguration | UnsetType = UNSET
    trace_id: str | UnsetType = UNSET


class SendUsersMessageRequest(_Shape):
    message_configuration: DirectMessageConfiguration
    users: dict[str, EndpointSendConfiguration]
    context: dict[str, str] | UnsetType = UNSET
    template_configuration: TemplateConfiguration | UnsetType = UNSET
    trace_id: str | UnsetType = UNSET


# Direct sends: the results


class MessageResult(_Shape, kw_only=True):
    delivery_status: DeliveryStatus
    status_code: int
    message_id: str | UnsetType = UNSET
    status_message: str | UnsetType = UNSET
    updated_token: str | UnsetType = UNSET


class EndpointMessageResult(MessageResult, kw_only=True):
    address: str | UnsetType = UNSET


class MessageResponse(_Shape, kw_only=True):
    application_id: str
    endpoint_result: dict[str, EndpointMessageResult] | UnsetType = UNSET
    request_id: str | UnsetType = UNSET
    result: dict[str, MessageResult] | UnsetType = UNSET


class SendUsersMessageResponse(_Shape, kw_only=True):
    application_id: str
    request_id: str | UnsetType = UNSET
    result: dict[str, dict[str, EndpointMessageResult]] | UnsetType = UNSET
