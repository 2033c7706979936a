"""A push notification as the core resolved it for one recipient (M4): the channel's
message, the push template's part or the defaults, merged and rendered. The payload that
FCM or APNs receives (P1, P2) is built from this, the same for every back end."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

PushAction = Literal["OPEN_APP", "DEEP_LINK", "URL"]


@dataclass(frozen=True)
class PushNotification:
    """The members of GCMMessage, APNSMessage and DefaultPushNotificationMessage that have a
    place in a payload, after precedence (M4), rendering (T4) and the recipient's
    TitleOverride/BodyOverride. `raw_content`, when set, replaces the whole payload."""

    title: str | None = None
    body: str | None = None
    action: PushAction | None = None
    url: str | None = None
    silent_push: bool = False
    image_url: str | None = None
    image_icon_url: str | None = None
    small_image_icon_url: str | None = None
    icon_reference: str | None = None
    media_url: str | None = None
    sound: str | None = None
    badge: int | None = None
    priority: str | None = None
    time_to_live: int | None = None
    collapse_key: str | None = None
    collapse_id: str | None = None
    thread_id: str | None = None
    category: str | None = None
    apns_push_type: str | None = None
    data: dict[str, str] = field(default_factory=dict)
    raw_content: str | None = None
