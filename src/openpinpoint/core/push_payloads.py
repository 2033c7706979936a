"""FCM and APNs request bodies and APNs headers (P1, P2) for a resolved push notification.

This is the one place that builds push payloads until the native push issue's builders
replace it; the outbox and Pinpoint forwarding record exactly what it returns.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from openpinpoint.core.errors import BadRequest
from openpinpoint.core.push import PushNotification


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
