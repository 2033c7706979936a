"""The `direct` back end's APNs half against the APNs fake (HTTP/2 over TLS, real ES256
provider tokens and client certificates): P2 and P3 on the wire, M5 mapping of every error
class, M7, provider-token reuse and renewal, one connection per host and credential."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from openpinpoint.core.push import PushNotification
from openpinpoint.core.push_payload import apns_request
from openpinpoint.delivery.base import Delivery, Outcome, Push
from openpinpoint.delivery.push_direct import DirectPush
from pushfakes import ApnsFake, Clock, Pki, apns, clock, pki

__all__ = ["apns", "clock", "pki"]  # fixtures

T = TypeVar("T")


def apns_delivery(
    token: str, channel: dict[str, Any], platform: str = "APNS", **members: Any
) -> Delivery:
    headers, body = apns_request(
        PushNotification(**members), platform, channel.get("BundleId"), {"run": "1"}, 0.0
    )
    push = Push(platform, token, body, headers, channel)
    return Delivery("req-1", "app-1", f"endpoint-{token}", token, push)


def with_backend(
    apns: ApnsFake,
    pki: Pki,
    clock: Clock,
    scenario: Callable[[DirectPush], Awaitable[T]],
    timeout: float = 10.0,
) -> T:
    async def run() -> T:
        backend = DirectPush(
            apns_url=apns.url,
            apns_sandbox_url=apns.url,
            ca_file=str(pki.ca_file),
            timeout=timeout,
            clock=clock,
        )
        try:
            return await scenario(backend)
        finally:
            await backend.close()

    return asyncio.run(run())


def deliver_all(
    apns: ApnsFake, pki: Pki, clock: Clock, deliveries: list[Delivery], timeout: float = 10.0
) -> list[Outcome]:
    async def scenario(backend: DirectPush) -> list[Outcome]:
        return list(await asyncio.gather(*(backend.deliver(d) for d in deliveries)))

    return with_backend(apns, pki, clock, scenario, timeout)


@pytest.mark.parametrize("platform", ["APNS", "APNS_SANDBOX", "APNS_VOIP", "APNS_VOIP_SANDBOX"])
def test_p2_token_auth_push_reaches_apns_with_headers_and_apns_id(
    apns: ApnsFake, pki: Pki, clock: Clock, platform: str
) -> None:
    channel = apns.token_channel()
    [outcome] = deliver_all(
        apns, pki, clock, [apns_delivery("a1b2", channel, platform, title="T", body="B")]
    )
    assert outcome.status == "SUCCESSFUL", outcome
    [received] = apns.received
    assert re.fullmatch(r"[0-9A-F-]{36}", outcome.message_id or "")
    assert received.token == "a1b2"
    assert not received.certificate_auth
    voip = "VOIP" in platform
    assert received.headers["apns-topic"] == ("com.example.app.voip" if voip else "com.example.app")
    assert received.headers["apns-push-type"] == ("voip" if voip else "alert")
    assert received.headers["apns-priority"] == "10"
    assert received.body["aps"]["alert"] == {"title": "T", "body": "B"}
    assert received.body["data"]["pinpoint"]["run"] == "1"


def test_p2_certificate_auth_uses_the_client_certificate(
    apns: ApnsFake, pki: Pki, clock: Clock
) -> None:
    channel = apns.certificate_channel("com.example.certapp")
    [outcome] = deliver_all(apns, pki, clock, [apns_delivery("c0ffee", channel, body="B")])
    assert outcome.status == "SUCCESSFUL", outcome
    [received] = apns.received
    assert received.certificate_auth
    assert "authorization" not in received.headers


def test_p2_background_push_and_expiration_pass_apns_checks(
    apns: ApnsFake, pki: Pki, clock: Clock
) -> None:
    channel = apns.token_channel()
    [outcome] = deliver_all(
        apns,
        pki,
        clock,
        [apns_delivery("t", channel, silent_push=True, time_to_live=60, collapse_id="c")],
    )
    assert outcome.status == "SUCCESSFUL", outcome
    headers = apns.received[0].headers
    assert (headers["apns-push-type"], headers["apns-priority"]) == ("background", "5")
    assert headers["apns-expiration"] == "60"  # the delivery was built at time 0
    assert headers["apns-collapse-id"] == "c"


def test_p2_a_thousand_pushes_share_one_connection_and_one_provider_token(
    apns: ApnsFake, pki: Pki, clock: Clock
) -> None:
    channel = apns.token_channel()
    deliveries = [apns_delivery(f"{i:064x}", channel, body="b") for i in range(1000)]
    outcomes = deliver_all(apns, pki, clock, deliveries)
    assert {o.status for o in outcomes} == {"SUCCESSFUL"}
    assert apns.server.connections == 1
    assert len(set(apns.provider_tokens)) == 1


def test_p2_one_connection_per_host_and_credential(apns: ApnsFake, pki: Pki, clock: Clock) -> None:
    first, second = apns.token_channel(), apns.token_channel("com.example.other")
    certificate = apns.certificate_channel()
    deliveries = [
        apns_delivery(f"t{i}", channel)
        for i in range(20)
        for channel in (first, second, certificate)
    ]
    outcomes = deliver_all(apns, pki, clock, deliveries)
    assert {o.status for o in outcomes} == {"SUCCESSFUL"}
    assert apns.server.connections == 3
    assert len(set(apns.provider_tokens)) == 2


def test_p2_provider_token_is_reused_for_40_minutes_then_replaced(
    apns: ApnsFake, pki: Pki, clock: Clock
) -> None:
    channel = apns.token_channel()

    async def scenario(backend: DirectPush) -> list[str]:
        statuses: list[str] = []
        for step in (0, 39 * 60, 2 * 60):  # 0, 39 min (reused), 41 min (new token)
            clock.advance(step)
            statuses.append((await backend.deliver(apns_delivery("t", channel))).status)
        return statuses

    assert with_backend(apns, pki, clock, scenario) == ["SUCCESSFUL"] * 3
    first, reused, renewed = apns.provider_tokens
    assert first == reused != renewed


@pytest.mark.parametrize("reason", ["ExpiredProviderToken", "InvalidProviderToken"])
def test_p2_rejected_provider_token_is_renewed_once(
    apns: ApnsFake, pki: Pki, clock: Clock, reason: str
) -> None:
    channel = apns.token_channel()
    apns.refuse_provider_tokens = [reason]
    [outcome] = deliver_all(apns, pki, clock, [apns_delivery("t", channel)])
    assert outcome.status == "SUCCESSFUL", outcome


@pytest.mark.parametrize("reason", ["ExpiredProviderToken", "InvalidProviderToken"])
def test_p2_provider_token_rejected_twice_is_a_permanent_failure(
    apns: ApnsFake, pki: Pki, clock: Clock, reason: str
) -> None:
    channel = apns.token_channel()
    apns.refuse_provider_tokens = [reason, reason]
    [outcome] = deliver_all(apns, pki, clock, [apns_delivery("t", channel)])
    assert (outcome.status, outcome.status_code, outcome.status_message) == (
        "PERMANENT_FAILURE",
        403,
        reason,
    )
    assert not outcome.address_invalid
    assert apns.refuse_provider_tokens == []


def test_p2_a_key_apple_does_not_know_is_a_permanent_failure(
    apns: ApnsFake, pki: Pki, clock: Clock
) -> None:
    channel = apns.token_channel()
    apns.forget_keys()
    [outcome] = deliver_all(apns, pki, clock, [apns_delivery("t", channel)])
    assert (outcome.status, outcome.status_code, outcome.status_message) == (
        "PERMANENT_FAILURE",
        403,
        "InvalidProviderToken",
    )


@pytest.mark.parametrize(
    "case",
    [
        ("BadDeviceToken", "PERMANENT_FAILURE", 400, True),
        ("Unregistered", "PERMANENT_FAILURE", 410, True),
        ("TooManyRequests", "THROTTLED", 429, False),
        ("InternalServerError", "TEMPORARY_FAILURE", 500, False),
        ("ServiceUnavailable", "TEMPORARY_FAILURE", 503, False),
    ],
)
def test_m5_m7_apns_error_classes(
    apns: ApnsFake, pki: Pki, clock: Clock, case: tuple[str, str, int, bool]
) -> None:
    reason, status, code, address_invalid = case
    channel = apns.token_channel()
    apns.errors["bad"] = reason
    [outcome] = deliver_all(apns, pki, clock, [apns_delivery("bad", channel)])
    assert (outcome.status, outcome.status_code, outcome.status_message) == (status, code, reason)
    assert outcome.address_invalid is address_invalid


def test_m5_apns_stall_is_a_temporary_failure_and_the_connection_stays_usable(
    apns: ApnsFake, pki: Pki, clock: Clock
) -> None:
    channel = apns.token_channel()
    apns.errors["stuck"] = "STALL"

    async def scenario(backend: DirectPush) -> list[Outcome]:
        stuck = await backend.deliver(apns_delivery("stuck", channel))
        after = await backend.deliver(apns_delivery("fine", channel))
        return [stuck, after]

    stuck, after = with_backend(apns, pki, clock, scenario, timeout=0.5)
    assert (stuck.status, stuck.status_code) == ("TEMPORARY_FAILURE", 503)
    assert after.status == "SUCCESSFUL"
    assert apns.server.connections == 1


def test_m5_apns_unreachable_is_a_temporary_failure(apns: ApnsFake, pki: Pki, clock: Clock) -> None:
    channel = apns.token_channel()
    apns.stop()
    [outcome] = deliver_all(apns, pki, clock, [apns_delivery("t", channel)])
    assert (outcome.status, outcome.status_code) == ("TEMPORARY_FAILURE", 503)


def test_p2_apns_rejects_what_a_wrong_header_would_give(
    apns: ApnsFake, pki: Pki, clock: Clock
) -> None:
    """The fake really checks: a background push sent at priority 10 is refused."""
    channel = apns.token_channel()
    delivery = apns_delivery("t", channel, silent_push=True)
    assert isinstance(delivery.content, Push)
    bad = Push(
        "APNS",
        "t",
        delivery.content.payload,
        {**delivery.content.headers, "apns-priority": "10"},
        channel,
    )
    [outcome] = deliver_all(apns, pki, clock, [Delivery("r", "a", "e", "t", bad)])
    assert (outcome.status_code, outcome.status_message) == (400, "BadPriority")
