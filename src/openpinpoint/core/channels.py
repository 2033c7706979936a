"""Channels (C1–C4): one stored document per (application, platform), kept as a `Resource`
of kind "channel" named after the platform in lower case.

A channel document holds the request members sent so far (`Settings`), the secret ones
sealed (`Secrets`, C3), and the bookkeeping of C1. Validation (C2) runs on the channel as
it will be after the update, through one validator per platform in `VALIDATORS`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

import msgspec

from openpinpoint.core import messaging_shapes as ms
from openpinpoint.core.errors import BadRequest, NotFound
from openpinpoint.core.push_credentials import validate_apns_channel, validate_gcm_channel
from openpinpoint.core.sealing import Sealer
from openpinpoint.store.base import ReadTx, Resource, WriteTx

KIND = "channel"
ANONYMOUS = "openpinpoint"
"""`LastModifiedBy` of changes made with `--auth none` (C1)."""


@dataclass(frozen=True)
class Platform:
    name: str
    """`Platform` as Pinpoint spells it: EMAIL, APNS_VOIP_SANDBOX, ..."""
    operation: str
    """How the model's operation names spell it: Email, ApnsVoipSandbox, ..."""
    request: type[msgspec.Struct]
    response: type[ms.ChannelResponse]
    secrets: tuple[str, ...] = ()
    """Request members sealed at rest and never returned (C3)."""

    @property
    def id(self) -> str:
        return self.name.lower()


_APNS_SECRETS = ("Certificate", "PrivateKey", "TokenKey")

PLATFORMS: tuple[Platform, ...] = (
    Platform("EMAIL", "Email", ms.EmailChannelRequest, ms.EmailChannelResponse),
    Platform("SMS", "Sms", ms.SMSChannelRequest, ms.SMSChannelResponse),
    Platform("GCM", "Gcm", ms.GCMChannelRequest, ms.GCMChannelResponse, ("ApiKey", "ServiceJson")),
    Platform("APNS", "Apns", ms.APNSChannelRequest, ms.APNSChannelResponse, _APNS_SECRETS),
    Platform(
        "APNS_SANDBOX",
        "ApnsSandbox",
        ms.APNSSandboxChannelRequest,
        ms.APNSSandboxChannelResponse,
        _APNS_SECRETS,
    ),
    Platform(
        "APNS_VOIP",
        "ApnsVoip",
        ms.APNSVoipChannelRequest,
        ms.APNSVoipChannelResponse,
        _APNS_SECRETS,
    ),
    Platform(
        "APNS_VOIP_SANDBOX",
        "ApnsVoipSandbox",
        ms.APNSVoipSandboxChannelRequest,
        ms.APNSVoipSandboxChannelResponse,
        _APNS_SECRETS,
    ),
    Platform("ADM", "Adm", ms.ADMChannelRequest, ms.ADMChannelResponse, ("ClientSecret",)),
    Platform(
        "BAIDU", "Baidu", ms.BaiduChannelRequest, ms.BaiduChannelResponse, ("ApiKey", "SecretKey")
    ),
    Platform("VOICE", "Voice", ms.VoiceChannelRequest, ms.VoiceChannelResponse),
)
PLATFORM = {platform.name: platform for platform in PLATFORMS}


@dataclass(frozen=True)
class Channel:
    """A stored channel with its secrets opened: what a delivery needs."""

    platform: str
    enabled: bool
    settings: Mapping[str, Any]
    """Every member set so far, secrets included (opened)."""


@dataclass(frozen=True)
class Change:
    """Who changes a channel, and when (C1)."""

    by: str | None
    now: str


def get_channel(tx: ReadTx, app_id: str, platform: Platform) -> ms.ChannelResponse:
    doc = _stored(tx, app_id, platform)
    if doc is None:
        raise NotFound(f"The {platform.name} channel of application {app_id} is not configured")
    return response(app_id, platform, doc)


def get_channels(tx: ReadTx, app_id: str) -> ms.ChannelsResponse:
    found: dict[str, ms.ChannelResponse] = {}
    for platform in PLATFORMS:
        doc = _stored(tx, app_id, platform)
        if doc is not None:
            found[platform.name] = response(app_id, platform, doc, ms.ChannelResponse)
    return ms.ChannelsResponse(channels=found)


def update_channel(
    tx: WriteTx,
    app_id: str,
    platform: Platform,
    request: msgspec.Struct,
    *,
    change: Change,
    sealer: Sealer,
) -> ms.ChannelResponse:
    sent: dict[str, Any] = msgspec.to_builtins(request)
    before = _stored(tx, app_id, platform)
    if before is None:
        doc: dict[str, Any] = {
            "CreationDate": change.now,
            "Version": 0,
            "Settings": {"Enabled": True},
            "Secrets": {},
        }
    else:
        doc = before
    settings = {**doc["Settings"], **{k: v for k, v in sent.items() if k not in platform.secrets}}
    secrets = {**open_secrets(doc, app_id, platform, sealer)}
    secrets.update({k: v for k, v in sent.items() if k in platform.secrets})
    VALIDATORS[platform.name](platform, {**settings, **secrets})
    doc["Settings"] = settings
    doc["Secrets"] = {
        name: sealer.seal(value, _where(app_id, platform, name)) for name, value in secrets.items()
    }
    doc["Version"] += 1
    doc["LastModifiedDate"] = change.now
    doc["LastModifiedBy"] = change.by or ANONYMOUS
    tx.put_resource(Resource(scope=app_id, kind=KIND, name=platform.id, doc=json.dumps(doc)))
    return response(app_id, platform, doc)


def delete_channel(tx: WriteTx, app_id: str, platform: Platform) -> ms.ChannelResponse:
    found = get_channel(tx, app_id, platform)
    tx.delete_resource(app_id, KIND, platform.id)
    return found


def load_channel(tx: ReadTx, app_id: str, platform: str, sealer: Sealer) -> Channel | None:
    """The app's channel for `platform` with its secrets opened, or None if never set."""
    known = PLATFORM[platform]
    doc = _stored(tx, app_id, known)
    if doc is None:
        return None
    settings = {**doc["Settings"], **open_secrets(doc, app_id, known, sealer)}
    enabled = bool(settings.get("Enabled", True))
    return Channel(platform=platform, enabled=enabled, settings=settings)


def open_secrets(
    doc: Mapping[str, Any], app_id: str, platform: Platform, sealer: Sealer
) -> dict[str, str]:
    return {
        name: sealer.open(value, _where(app_id, platform, name))
        for name, value in doc["Secrets"].items()
    }


def response(
    app_id: str,
    platform: Platform,
    doc: Mapping[str, Any],
    shape: type[ms.ChannelResponse] | None = None,
) -> ms.ChannelResponse:
    """The channel as `shape` (the platform's own response unless given) shows it."""
    shape = shape or platform.response
    settings = doc["Settings"]
    secrets = doc["Secrets"]
    members: dict[str, Any] = dict(settings)
    members.update(
        ApplicationId=app_id,
        CreationDate=doc["CreationDate"],
        Enabled=bool(settings.get("Enabled", True)),
        HasCredential=bool(secrets),
        Id=platform.id,
        IsArchived=False,
        LastModifiedBy=doc["LastModifiedBy"],
        LastModifiedDate=doc["LastModifiedDate"],
        Platform=platform.name,
        Version=doc["Version"],
    )
    if platform.response is ms.GCMChannelResponse:
        members["HasFcmServiceCredentials"] = "ServiceJson" in secrets
    if issubclass(platform.response, ms.APNSChannelResponse):
        members["HasTokenKey"] = "TokenKey" in secrets
    known = {field.encode_name for field in msgspec.structs.fields(shape)}
    return msgspec.convert({name: value for name, value in members.items() if name in known}, shape)


def _stored(tx: ReadTx, app_id: str, platform: Platform) -> dict[str, Any] | None:
    found = tx.get_resource(app_id, KIND, platform.id)
    return None if found is None else dict(json.loads(found.doc))


def _where(app_id: str, platform: Platform, member: str) -> str:
    return f"{app_id}/{platform.name}/{member}"


# Validation (C2): one function per platform, on the channel as it will be.

Validator = Callable[[Platform, Mapping[str, Any]], None]


def _validate_email(platform: Platform, channel: Mapping[str, Any]) -> None:
    address = str(channel.get("FromAddress", ""))
    _, parsed = parseaddr(address)
    local, at, domain = parsed.rpartition("@")
    if not (at and local and "." in domain and parsed.strip() == parsed):
        raise BadRequest(f"FromAddress {address!r} is not an email address")
    if not str(channel.get("Identity", "")).strip():
        raise BadRequest("Identity must not be empty")


def _validate_gcm(platform: Platform, channel: Mapping[str, Any]) -> None:
    validate_gcm_channel(channel)


def _validate_apns(platform: Platform, channel: Mapping[str, Any]) -> None:
    validate_apns_channel(channel)


def _validate_nothing(platform: Platform, channel: Mapping[str, Any]) -> None:
    """SMS, voice, ADM and Baidu: the request shape says all there is to check."""


VALIDATORS: dict[str, Validator] = {
    "EMAIL": _validate_email,
    "SMS": _validate_nothing,
    "GCM": _validate_gcm,
    "APNS": _validate_apns,
    "APNS_SANDBOX": _validate_apns,
    "APNS_VOIP": _validate_apns,
    "APNS_VOIP_SANDBOX": _validate_apns,
    "ADM": _validate_nothing,
    "BAIDU": _validate_nothing,
    "VOICE": _validate_nothing,
}
