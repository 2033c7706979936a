"""The one interface every delivery back end implements (SMTP, SES, SMS providers, FCM,
APNs, Pinpoint forwarding, the outbox), and the result mapping they share (M5).

A back end only delivers and reports: the core has already chosen the recipient, skipped
whoever must be skipped (M3) and rendered the content (M4). Deadlines (`--delivery-timeout`)
are applied around `deliver` by the caller, so a back end must leave its connections usable
(or drop them) when a delivery is cancelled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

DeliveryStatus = Literal[
    "SUCCESSFUL",
    "THROTTLED",
    "TEMPORARY_FAILURE",
    "PERMANENT_FAILURE",
    "UNKNOWN_FAILURE",
    "OPT_OUT",
    "DUPLICATE",
]


@dataclass(frozen=True)
class Email:
    """A complete email. `message_id` is the `Message-ID` header's value without angle
    brackets, chosen by OpenPinpoint so that every back end reports the same id (M5)."""

    message_id: str
    from_address: str
    to: str
    subject: str
    text: str | None = None
    html: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    raw: bytes | None = None
    """`RawEmail.Data`: the whole MIME message as the client sent it, used as is."""
    reply_to: tuple[str, ...] = ()
    identity: str | None = None
    """The email channel's `Identity` (SES: an identity ARN, whose region SES is called in)."""
    configuration_set: str | None = None


@dataclass(frozen=True)
class Sms:
    to: str
    body: str
    origination: str | None = None
    """OriginationNumber, else SenderId, else the channel's SenderId or ShortCode (M10)."""
    message_type: str = "TRANSACTIONAL"
    keyword: str | None = None
    sender_id: str | None = None


@dataclass(frozen=True)
class Push:
    """A push notification exactly as `direct` sends it (P1, P2): `payload` is the JSON body
    (FCM: `{"message": {...}}`; APNs: the body with `aps`), `headers` the APNs headers ({}
    for FCM). `credentials` are the channel's decrypted secrets and settings (ServiceJson,
    TokenKey, TokenKeyId, TeamId, BundleId, Certificate, PrivateKey, ...)."""

    platform: str
    """The endpoint's ChannelType: GCM, APNS, APNS_SANDBOX, APNS_VOIP, APNS_VOIP_SANDBOX."""
    token: str
    payload: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)
    credentials: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Delivery:
    """One message to one recipient."""

    request_id: str
    application_id: str
    endpoint_id: str | None
    """None for a recipient given by address (SendMessages `Addresses`)."""
    address: str
    content: Email | Sms | Push
    context: Mapping[str, str] = field(default_factory=dict)
    """The request's `Context`, kept in delivery records (the outbox, webhooks)."""


@dataclass(frozen=True)
class Outcome:
    """What one delivery came to, in Pinpoint's `EndpointMessageResult` terms."""

    status: DeliveryStatus
    status_code: int
    message_id: str | None = None
    status_message: str = ""
    address_invalid: bool = False
    """The service says this address will never work again (M7: FCM UNREGISTERED, APNs
    410 or BadDeviceToken): the core sets the endpoint INACTIVE."""
    updated_token: str | None = None


def sent(message_id: str) -> Outcome:
    return Outcome("SUCCESSFUL", 200, message_id=message_id, status_message="Sent")


def answered(code: int, message: str, *, address_invalid: bool = False) -> Outcome:
    """A back end's answer other than success, mapped as M5: 429 THROTTLED, 5xx
    TEMPORARY_FAILURE, other 4xx PERMANENT_FAILURE, anything else UNKNOWN_FAILURE 500."""
    if code == 429:
        return Outcome("THROTTLED", 429, status_message=message)
    if 500 <= code <= 599:
        return Outcome("TEMPORARY_FAILURE", code, status_message=message)
    if 400 <= code <= 499:
        return Outcome(
            "PERMANENT_FAILURE", code, status_message=message, address_invalid=address_invalid
        )
    return Outcome("UNKNOWN_FAILURE", 500, status_message=message)


def unreachable(message: str) -> Outcome:
    """No answer: a timeout or a failed connection (M5: TEMPORARY_FAILURE, 503)."""
    return Outcome("TEMPORARY_FAILURE", 503, status_message=message)


class Backend(Protocol):
    description: str
    """What the start-up log says of this back end, without secrets."""
    delivers: bool
    """False for the outbox: its messages are written down, never delivered (M9 warns)."""

    async def deliver(self, delivery: Delivery) -> Outcome: ...

    async def close(self) -> None: ...


def shown_url(url: str) -> str:
    """A back end's URL as the log may show it: without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")).geturl()
