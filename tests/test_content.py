"""What each recipient gets (M4): push precedence and overrides."""

from __future__ import annotations

import msgspec

from openpinpoint.core import messaging_shapes as ms
from openpinpoint.core.content import resolve_push
from openpinpoint.core.push import PushNotification
from openpinpoint.core.recipients import Recipient


def _message(**members: object) -> ms.DirectMessageConfiguration:
    return msgspec.convert(members, ms.DirectMessageConfiguration)


def _address(config: ms.EndpointSendConfiguration) -> Recipient:
    return Recipient(config=config, channel_type="GCM", address="token")


def test_m4_push_members_come_from_the_first_layer_that_sets_them() -> None:
    message = _message(
        APNSMessage={"Title": "apns", "Sound": "ding"},
        GCMMessage={"Title": "gcm"},
        DefaultPushNotificationMessage={"Title": "default", "Body": "default body", "Url": "u"},
        DefaultMessage={"Body": "plain"},
    )
    found = resolve_push(message, "APNS_SANDBOX", _address(ms.EndpointSendConfiguration()))
    assert isinstance(found, PushNotification)
    assert (found.title, found.body, found.sound, found.url) == (
        "apns",
        "default body",
        "ding",
        "u",
    )
    only_default = resolve_push(
        _message(DefaultMessage={"Body": "plain"}), "GCM", _address(ms.EndpointSendConfiguration())
    )
    assert isinstance(only_default, PushNotification)
    assert only_default.body == "plain"
    overridden = resolve_push(
        message,
        "GCM",
        _address(ms.EndpointSendConfiguration(title_override="T", body_override="B")),
    )
    assert isinstance(overridden, PushNotification)
    assert (overridden.title, overridden.body) == ("T", "B")


def test_m4_nothing_to_push_is_said() -> None:
    assert isinstance(
        resolve_push(_message(), "GCM", _address(ms.EndpointSendConfiguration())), str
    )
