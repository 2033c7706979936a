"""The FCM or APNs request (P1, P2) for a resolved push notification, as the sending core
hands it to a back end: what `direct` sends, and what the outbox and Pinpoint forwarding
record. The builders themselves are in `push_payload`."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from openpinpoint.core.push import PushNotification
from openpinpoint.core.push_payload import apns_request, fcm_message


def push_content(
    notification: PushNotification,
    platform: str,
    token: str,
    channel: Mapping[str, Any],
    context: Mapping[str, str],
) -> tuple[dict[str, Any], dict[str, str]]:
    """The request body and the APNs headers ({} for FCM)."""
    if platform == "GCM":
        return fcm_message(notification, token, context), {}
    bundle_id = channel.get("BundleId")
    headers, body = apns_request(
        notification, platform, str(bundle_id) if bundle_id else None, context, time.time()
    )
    return body, headers
