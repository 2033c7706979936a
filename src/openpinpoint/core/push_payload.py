"""The bodies FCM and APNs receive for one push (P1, P2), in the layout that Amplify's
push-notification libraries and the AWS mobile SDKs read (docs/push.md lists, per key, the
client code that reads it). Every back end that records or sends a push uses these, so the
outbox's `Payload` is exactly what `direct` sends."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from openpinpoint.core.errors import BadRequest
from openpinpoint.core.push import PushNotification

DIRECT_CAMPAIGN_ID = "_DIRECT"
"""What Pinpoint puts in `campaign_id` for a direct send; Amplify's React Native library
ignores an Android message without a campaign id, and the iOS SDKs need the `campaign`
object to record events."""

VOIP_PLATFORMS = frozenset({"APNS_VOIP", "APNS_VOIP_SANDBOX"})
APNS_PLATFORMS = frozenset({"APNS", "APNS_SANDBOX", *VOIP_PLATFORMS})

# Pinpoint accepts APNs' numbers as well as words for Priority (APNSMessage documents both).
_HIGH = frozenset({"high", "10"})
_NORMAL = frozenset({"normal", "5"})


def _raw_object(raw_content: str) -> dict[str, Any]:
    try:
        value = json.loads(raw_content)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise BadRequest("RawContent must be a JSON object")
    return value


def _priority(priority: str | None) -> str | None:
    """'high' or 'normal' in any case (or APNs' 10 and 5), else None."""
    if priority is None:
        return None
    word = priority.strip().lower()
    if word in _HIGH:
        return "high"
    if word in _NORMAL:
        return "normal"
    return None


def fcm_message(
    notification: PushNotification, token: str, context: Mapping[str, str]
) -> dict[str, Any]:
    """P1: the whole FCM HTTP v1 request body, `{"message": {...}}`: a data message, so
    that the app's Pinpoint handler (not the system tray) builds the notification."""
    n = notification
    if n.raw_content is not None:
        return {"message": {**_raw_object(n.raw_content), "token": token}}
    pinpoint: dict[str, str | None] = {
        "pinpoint.notification.title": n.title,
        "pinpoint.notification.body": n.body,
        "pinpoint.notification.imageUrl": n.image_url,
        "pinpoint.notification.imageIconUrl": n.image_icon_url,
        "pinpoint.notification.imageSmallIconUrl": n.small_image_icon_url,
        "pinpoint.notification.icon": n.icon_reference,
        "pinpoint.notification.silentPush": "1" if n.silent_push else "0",
        "pinpoint.openApp": "true" if n.action in (None, "OPEN_APP") else None,
        "pinpoint.url": n.url if n.action == "URL" else None,
        "pinpoint.deeplink": n.url if n.action == "DEEP_LINK" else None,
        "pinpoint.campaign.campaign_id": DIRECT_CAMPAIGN_ID,
    }
    # Pinpoint's own keys win over Data members of the same name: an app reading
    # `pinpoint.notification.title` must get the title.
    data = dict(n.data)
    data.update({f"pinpoint.context.{key}": value for key, value in context.items()})
    data.update({key: value for key, value in pinpoint.items() if value is not None})
    android: dict[str, str] = {}
    priority = _priority(n.priority)
    if priority is not None:
        android["priority"] = priority.upper()
    if n.time_to_live is not None:
        android["ttl"] = f"{n.time_to_live}s"
    if n.collapse_key is not None:
        android["collapse_key"] = n.collapse_key
    message: dict[str, Any] = {"token": token, "data": data}
    if android:
        message["android"] = android
    return {"message": message}


def apns_push_type(notification: PushNotification, platform: str) -> str:
    if notification.apns_push_type is not None:
        return notification.apns_push_type
    if platform in VOIP_PLATFORMS:
        return "voip"
    return "background" if notification.silent_push else "alert"


def apns_request(
    notification: PushNotification,
    platform: str,
    bundle_id: str | None,
    context: Mapping[str, str],
    now: float,
) -> tuple[dict[str, str], dict[str, Any]]:
    """P2: the APNs request headers (without `authorization`, which the back end adds)
    and JSON body. `bundle_id` None (a certificate channel without BundleId) leaves out
    `apns-topic`, so APNs takes the certificate's own topic."""
    n = notification
    push_type = apns_push_type(n, platform)
    headers = {"apns-push-type": push_type}
    if bundle_id:
        voip = platform in VOIP_PLATFORMS and not bundle_id.endswith(".voip")
        headers["apns-topic"] = f"{bundle_id}.voip" if voip else bundle_id
    background = push_type == "background" or _priority(n.priority) == "normal"
    # APNs refuses priority 10 for background pushes.
    headers["apns-priority"] = "5" if background else "10"
    if n.time_to_live is not None:
        expiration = 0 if n.time_to_live == 0 else int(now) + n.time_to_live
        headers["apns-expiration"] = str(expiration)
    if n.collapse_id is not None:
        headers["apns-collapse-id"] = n.collapse_id
    if n.raw_content is not None:
        return headers, _raw_object(n.raw_content)
    return headers, {"aps": _aps(n), "data": _apns_data(n, context)}


def _aps(n: PushNotification) -> dict[str, Any]:
    aps: dict[str, Any] = {}
    alert = {key: value for key, value in (("title", n.title), ("body", n.body)) if value}
    if alert and not n.silent_push:
        aps["alert"] = alert
    if n.sound is not None:
        aps["sound"] = n.sound
    if n.badge is not None:
        aps["badge"] = n.badge
    if n.category is not None:
        aps["category"] = n.category
    if n.thread_id is not None:
        aps["thread-id"] = n.thread_id
    if n.silent_push:
        aps["content-available"] = 1
    if n.media_url is not None:
        # Lets the app's notification service extension download the media first.
        aps["mutable-content"] = 1
    return aps


def _apns_data(n: PushNotification, context: Mapping[str, str]) -> dict[str, Any]:
    pinpoint: dict[str, Any] = dict(context)
    if n.action in ("URL", "DEEP_LINK") and n.url is not None:
        pinpoint["deeplink"] = n.url
    pinpoint["campaign"] = {"campaign_id": DIRECT_CAMPAIGN_ID}
    data: dict[str, Any] = dict(n.data)
    if n.media_url is not None:
        data["media-url"] = n.media_url
    data["pinpoint"] = pinpoint
    return data
