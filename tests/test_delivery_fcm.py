"""The `direct` back end's FCM half against the FCM fake (HTTP/2, TLS, a real OAuth2 JWT
bearer grant): P1 on the wire, M5 mapping of every error class, M7, token caching."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from openpinpoint.core.push import PushNotification
from openpinpoint.core.push_payload import fcm_message
from openpinpoint.delivery.base import Delivery, Outcome, Push
from openpinpoint.delivery.push_direct import DirectPush

__all__ = ["clock", "fcm", "pki"]  # fixtures
from pushfakes import Clock, FcmFake, Pki, clock, fcm, pki


def gcm_delivery(token: str, credentials: dict[str, Any], **members: Any) -> Delivery:
    payload = fcm_message(PushNotification(**members), token, {"run": "1"})
    push = Push("GCM", token, payload, {}, credentials)
    return Delivery("req-1", "app-1", f"endpoint-{token}", token, push)


def deliver_all(
    fcm: FcmFake, pki: Pki, clock: Clock, deliveries: list[Delivery], *, timeout: float = 10.0
) -> list[Outcome]:
    async def scenario() -> list[Outcome]:
        backend = DirectPush(
            fcm_url=fcm.url, ca_file=str(pki.ca_file), timeout=timeout, clock=clock
        )
        try:
            return list(await asyncio.gather(*(backend.deliver(d) for d in deliveries)))
        finally:
            await backend.close()

    return asyncio.run(scenario())


def test_p1_push_reaches_fcm_with_the_data_payload_and_the_message_name(
    fcm: FcmFake, pki: Pki, clock: Clock
) -> None:
    credentials = {"ServiceJson": fcm.service_json()}
    [outcome] = deliver_all(fcm, pki, clock, [gcm_delivery("tok-1", credentials, title="Hi")])
    assert outcome.status == "SUCCESSFUL"
    assert outcome.message_id is not None
    assert outcome.message_id.startswith("projects/demo-project/messages/")
    [message] = fcm.messages
    assert message["token"] == "tok-1"
    assert message["data"]["pinpoint.notification.title"] == "Hi"
    assert message["data"]["pinpoint.context.run"] == "1"


def test_p1_one_access_token_serves_a_burst_and_a_thousand_pushes_share_few_connections(
    fcm: FcmFake, pki: Pki, clock: Clock
) -> None:
    credentials = {"ServiceJson": fcm.service_json()}
    deliveries = [gcm_delivery(f"tok-{i}", credentials, body="b") for i in range(1000)]
    outcomes = deliver_all(fcm, pki, clock, deliveries)
    assert {o.status for o in outcomes} == {"SUCCESSFUL"}
    assert fcm.token_requests == 1
    # The fake serves the token endpoint too: one connection for it, one for messages.
    assert fcm.server.connections == 2


def test_p1_access_token_is_renewed_shortly_before_it_expires(
    fcm: FcmFake, pki: Pki, clock: Clock
) -> None:
    credentials = {"ServiceJson": fcm.service_json()}

    async def scenario() -> list[str]:
        backend = DirectPush(fcm_url=fcm.url, ca_file=str(pki.ca_file), clock=clock)
        statuses: list[str] = []
        for step in (0, 3000, 600):  # 0 s, 50 min (cached), 60 min (renewed)
            clock.advance(step)
            statuses.append((await backend.deliver(gcm_delivery("t", credentials))).status)
            statuses.append(str(fcm.token_requests))
        await backend.close()
        return statuses

    assert asyncio.run(scenario()) == ["SUCCESSFUL", "1", "SUCCESSFUL", "1", "SUCCESSFUL", "2"]


def test_p1_rejected_access_token_is_renewed_once(fcm: FcmFake, pki: Pki, clock: Clock) -> None:
    credentials = {"ServiceJson": fcm.service_json()}

    async def scenario() -> Outcome:
        backend = DirectPush(fcm_url=fcm.url, ca_file=str(pki.ca_file), clock=clock)
        await backend.deliver(gcm_delivery("t", credentials))
        fcm.revoke_access_tokens()
        outcome = await backend.deliver(gcm_delivery("t", credentials))
        await backend.close()
        return outcome

    assert asyncio.run(scenario()).status == "SUCCESSFUL"
    assert fcm.token_requests == 2


def test_p1_token_endpoint_refusal_is_a_permanent_failure(
    fcm: FcmFake, pki: Pki, clock: Clock
) -> None:
    credentials = {"ServiceJson": fcm.service_json()}
    fcm.accounts.clear()  # the key was deleted in the Google console
    [outcome] = deliver_all(fcm, pki, clock, [gcm_delivery("t", credentials)])
    assert (outcome.status, outcome.status_code) == ("PERMANENT_FAILURE", 400)
    assert "invalid" in outcome.status_message.lower()


@pytest.mark.parametrize(
    "case",
    [
        ("UNREGISTERED", "PERMANENT_FAILURE", 404, True),
        ("INVALID_TOKEN", "PERMANENT_FAILURE", 400, True),
        ("INVALID_ARGUMENT", "PERMANENT_FAILURE", 400, False),
        ("QUOTA_EXCEEDED", "THROTTLED", 429, False),
        ("UNAVAILABLE", "TEMPORARY_FAILURE", 503, False),
    ],
)
def test_m5_m7_fcm_error_classes(
    fcm: FcmFake, pki: Pki, clock: Clock, case: tuple[str, str, int, bool]
) -> None:
    error, status, code, address_invalid = case
    credentials = {"ServiceJson": fcm.service_json()}
    fcm.errors["bad"] = error
    [outcome] = deliver_all(fcm, pki, clock, [gcm_delivery("bad", credentials)])
    assert (outcome.status, outcome.status_code, outcome.address_invalid) == (
        status,
        code,
        address_invalid,
    ), outcome
    assert error.split("_", maxsplit=1)[0] in outcome.status_message


def test_m5_fcm_stall_is_a_temporary_failure_and_others_still_go(
    fcm: FcmFake, pki: Pki, clock: Clock
) -> None:
    credentials = {"ServiceJson": fcm.service_json()}
    fcm.errors["stuck"] = "STALL"
    outcomes = deliver_all(
        fcm,
        pki,
        clock,
        [gcm_delivery("stuck", credentials), gcm_delivery("fine", credentials)],
        timeout=1.0,
    )
    assert [(o.status, o.status_code) for o in outcomes] == [
        ("TEMPORARY_FAILURE", 503),
        ("SUCCESSFUL", 200),
    ]


def test_m5_fcm_unreachable_is_a_temporary_failure(fcm: FcmFake, pki: Pki, clock: Clock) -> None:
    credentials = {"ServiceJson": fcm.service_json()}
    fcm.stop()
    [outcome] = deliver_all(fcm, pki, clock, [gcm_delivery("t", credentials)])
    assert (outcome.status, outcome.status_code) == ("TEMPORARY_FAILURE", 503)


def test_c2_legacy_api_key_channel_fails_permanently_without_a_request(
    fcm: FcmFake, pki: Pki, clock: Clock
) -> None:
    [outcome] = deliver_all(fcm, pki, clock, [gcm_delivery("t", {"ApiKey": "AIzaLegacy"})])
    assert (outcome.status, outcome.status_code) == ("PERMANENT_FAILURE", 400)
    assert outcome.status_message == "legacy FCM server keys no longer work; set ServiceJson"
    assert fcm.server.connections == 0
