"""Push payloads (P1, P2) as the outbox records them."""

from __future__ import annotations

from openpinpoint.core.push import PushNotification
from openpinpoint.core.push_payloads import push_content


def test_p2_apns_voip_headers_and_body() -> None:
    notification = PushNotification(title="t", body="b", action="DEEP_LINK", url="app://x", badge=3)
    payload, headers = push_content(
        notification, "APNS_VOIP", "token", {"BundleId": "com.example"}, {"k": "v"}
    )
    assert headers == {
        "apns-push-type": "voip",
        "apns-priority": "10",
        "apns-topic": "com.example.voip",
    }
    assert payload == {
        "aps": {"alert": {"title": "t", "body": "b"}, "badge": 3},
        "data": {
            "pinpoint": {"campaign": {"campaign_id": "_DIRECT"}, "deeplink": "app://x", "k": "v"}
        },
    }
