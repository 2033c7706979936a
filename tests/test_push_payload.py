"""P1 and P2: the payload keys that Amplify's libraries and the AWS mobile SDKs read (the
reader of each key is named in docs/push.md), one test per key."""

from __future__ import annotations

import json
from typing import Any

import pytest

from openpinpoint.core.errors import BadRequest
from openpinpoint.core.push import PushNotification
from openpinpoint.core.push_payload import apns_request, fcm_message

NOW = 1_800_000_000.0


def fcm_data(**members: Any) -> dict[str, str]:
    data: dict[str, str] = fcm_message(PushNotification(**members), "tok", {})["message"]["data"]
    return data


def fcm_android(**members: Any) -> dict[str, str]:
    android: dict[str, str] = fcm_message(PushNotification(**members), "tok", {})["message"].get(
        "android", {}
    )
    return android


def apns(platform: str = "APNS", **members: Any) -> tuple[dict[str, str], dict[str, Any]]:
    return apns_request(PushNotification(**members), platform, "com.example.app", {}, NOW)


# P1: FCM


def test_p1_message_is_a_data_message_to_the_token() -> None:
    message = fcm_message(PushNotification(title="T", body="B"), "device-1", {})["message"]
    assert message["token"] == "device-1"
    assert "notification" not in message
    assert all(isinstance(value, str) for value in message["data"].values())


def test_p1_title_key() -> None:
    assert fcm_data(title="Hello")["pinpoint.notification.title"] == "Hello"


def test_p1_body_key() -> None:
    assert fcm_data(body="World")["pinpoint.notification.body"] == "World"


def test_p1_image_url_key_only_when_set() -> None:
    assert fcm_data(image_url="https://i/x.png")["pinpoint.notification.imageUrl"] == (
        "https://i/x.png"
    )
    assert "pinpoint.notification.imageUrl" not in fcm_data()


def test_p1_icon_keys_read_by_aws_sdk_android() -> None:
    data = fcm_data(
        image_icon_url="https://i/icon.png",
        small_image_icon_url="https://i/small.png",
        icon_reference="ic_stat",
    )
    assert data["pinpoint.notification.imageIconUrl"] == "https://i/icon.png"
    assert data["pinpoint.notification.imageSmallIconUrl"] == "https://i/small.png"
    assert data["pinpoint.notification.icon"] == "ic_stat"


def test_p1_silent_push_key_is_1_or_0() -> None:
    assert fcm_data(silent_push=True)["pinpoint.notification.silentPush"] == "1"
    assert fcm_data()["pinpoint.notification.silentPush"] == "0"


def test_p1_open_app_key_for_open_app_and_by_default() -> None:
    assert fcm_data(action="OPEN_APP")["pinpoint.openApp"] == "true"
    assert fcm_data()["pinpoint.openApp"] == "true"
    assert "pinpoint.openApp" not in fcm_data(action="URL", url="https://x")


def test_p1_url_key_for_url_action() -> None:
    data = fcm_data(action="URL", url="https://example.com/a")
    assert data["pinpoint.url"] == "https://example.com/a"
    assert "pinpoint.deeplink" not in data


def test_p1_deeplink_key_for_deep_link_action() -> None:
    data = fcm_data(action="DEEP_LINK", url="myapp://item/1")
    assert data["pinpoint.deeplink"] == "myapp://item/1"
    assert "pinpoint.url" not in data


def test_p1_campaign_id_is_direct() -> None:
    assert fcm_data()["pinpoint.campaign.campaign_id"] == "_DIRECT"


def test_p1_data_members_are_kept_but_cannot_replace_pinpoints_keys() -> None:
    data = fcm_data(title="T", data={"orderId": "42", "pinpoint.notification.title": "x"})
    assert data["orderId"] == "42"
    assert data["pinpoint.notification.title"] == "T"


def test_p1_context_members_are_pinpoint_context_keys() -> None:
    data = fcm_message(PushNotification(), "tok", {"batch": "7"})["message"]["data"]
    assert data["pinpoint.context.batch"] == "7"


@pytest.mark.parametrize(
    ("priority", "fcm"), [("high", "HIGH"), ("normal", "NORMAL"), ("10", "HIGH")]
)
def test_p1_priority_is_fcms_enum_name(priority: str, fcm: str) -> None:
    assert fcm_android(priority=priority)["priority"] == fcm


def test_p1_time_to_live_is_a_duration_string() -> None:
    assert fcm_android(time_to_live=3600)["ttl"] == "3600s"
    assert fcm_android(time_to_live=0)["ttl"] == "0s"


def test_p1_collapse_key() -> None:
    assert fcm_android(collapse_key="news")["collapse_key"] == "news"
    assert fcm_android() == {}


def test_p1_raw_content_is_the_message_object_plus_the_token() -> None:
    raw = json.dumps({"notification": {"title": "raw"}, "token": "other"})
    body = fcm_message(PushNotification(title="ignored", raw_content=raw), "device-1", {})
    assert body == {"message": {"notification": {"title": "raw"}, "token": "device-1"}}


@pytest.mark.parametrize("raw", ["not json", "[1, 2]", '"text"'])
def test_p1_raw_content_that_is_not_a_json_object_is_refused(raw: str) -> None:
    with pytest.raises(BadRequest, match="RawContent"):
        fcm_message(PushNotification(raw_content=raw), "tok", {})


# P2: APNs


def test_p2_alert_title_and_body() -> None:
    assert apns(title="T", body="B")[1]["aps"]["alert"] == {"title": "T", "body": "B"}


def test_p2_sound_badge_category_thread_id() -> None:
    aps = apns(sound="ping.caf", badge=3, category="REPLY", thread_id="chat-9")[1]["aps"]
    assert (aps["sound"], aps["badge"], aps["category"], aps["thread-id"]) == (
        "ping.caf",
        3,
        "REPLY",
        "chat-9",
    )


def test_p2_silent_push_is_content_available_background_priority_5() -> None:
    headers, body = apns(title="T", silent_push=True)
    assert body["aps"]["content-available"] == 1
    assert "alert" not in body["aps"]
    assert headers["apns-push-type"] == "background"
    assert headers["apns-priority"] == "5"


def test_p2_media_url_is_data_media_url_with_mutable_content() -> None:
    body = apns(media_url="https://i/cat.jpg")[1]
    assert body["data"]["media-url"] == "https://i/cat.jpg"
    assert body["aps"]["mutable-content"] == 1


@pytest.mark.parametrize("action", ["URL", "DEEP_LINK"])
def test_p2_url_and_deep_link_are_data_pinpoint_deeplink(action: str) -> None:
    body = apns(action=action, url="myapp://x")[1]
    assert body["data"]["pinpoint"]["deeplink"] == "myapp://x"


def test_p2_open_app_has_no_deeplink() -> None:
    assert "deeplink" not in apns(action="OPEN_APP", url="myapp://x")[1]["data"]["pinpoint"]


def test_p2_campaign_id_is_direct_under_data_pinpoint_campaign() -> None:
    assert apns()[1]["data"]["pinpoint"]["campaign"] == {"campaign_id": "_DIRECT"}


def test_p2_context_is_merged_into_data_pinpoint() -> None:
    body = apns_request(PushNotification(), "APNS", "b", {"batch": "7"}, NOW)[1]
    assert body["data"]["pinpoint"]["batch"] == "7"
    assert body["data"]["pinpoint"]["campaign"] == {"campaign_id": "_DIRECT"}


def test_p2_data_members_go_in_data() -> None:
    assert apns(data={"orderId": "42"})[1]["data"]["orderId"] == "42"


def test_p2_headers_topic_push_type_priority() -> None:
    headers = apns(title="T")[0]
    assert headers == {
        "apns-push-type": "alert",
        "apns-topic": "com.example.app",
        "apns-priority": "10",
    }


def test_p2_priority_normal_is_5() -> None:
    assert apns(priority="normal")[0]["apns-priority"] == "5"


@pytest.mark.parametrize("platform", ["APNS_VOIP", "APNS_VOIP_SANDBOX"])
def test_p2_voip_topic_and_push_type(platform: str) -> None:
    headers = apns(platform)[0]
    assert headers["apns-topic"] == "com.example.app.voip"
    assert headers["apns-push-type"] == "voip"


def test_p2_expiration_is_now_plus_time_to_live_and_0_for_0() -> None:
    assert apns(time_to_live=60)[0]["apns-expiration"] == str(int(NOW) + 60)
    assert apns(time_to_live=0)[0]["apns-expiration"] == "0"
    assert "apns-expiration" not in apns()[0]


def test_p2_collapse_id_header() -> None:
    assert apns(collapse_id="score")[0]["apns-collapse-id"] == "score"


def test_p2_certificate_channel_without_bundle_id_leaves_topic_to_apns() -> None:
    assert "apns-topic" not in apns_request(PushNotification(), "APNS", None, {}, NOW)[0]


def test_p2_raw_content_is_sent_as_is() -> None:
    raw = {"aps": {"alert": "raw"}, "custom": [1, 2]}
    headers, body = apns(title="ignored", raw_content=json.dumps(raw))
    assert body == raw
    assert headers["apns-topic"] == "com.example.app"
