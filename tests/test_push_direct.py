"""The `direct` back end's dispatch: GCM to FCM, the APNs family to APNs, sandbox channels to
`--apns-sandbox-url` and production ones to `--apns-url` (P3)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from openpinpoint.delivery.base import Delivery, Outcome, Push, Sms
from openpinpoint.delivery.push_direct import DirectPush
from pushfakes import ApnsFake, Clock, Pki, apns, clock, pki
from test_delivery_apns import apns_delivery

__all__ = ["apns", "clock", "pki"]  # fixtures


@pytest.fixture
def sandbox(pki: Pki, clock: Clock) -> Iterator[ApnsFake]:
    fake = ApnsFake(pki, clock)
    yield fake
    fake.stop()


def deliver(backend_args: dict[str, str], delivery: Delivery) -> Outcome:
    async def run() -> Outcome:
        backend = DirectPush(**backend_args)  # type: ignore[arg-type]
        try:
            return await backend.deliver(delivery)
        finally:
            await backend.close()

    return asyncio.run(run())


@pytest.mark.parametrize(
    ("platform", "to_sandbox"),
    [("APNS", False), ("APNS_VOIP", False), ("APNS_SANDBOX", True), ("APNS_VOIP_SANDBOX", True)],
)
def test_p3_sandbox_channels_use_the_sandbox_url(
    apns: ApnsFake, sandbox: ApnsFake, pki: Pki, platform: str, to_sandbox: bool
) -> None:
    channel = apns.token_channel()
    sandbox.token_keys.update(apns.token_keys)
    sandbox.topics.update(apns.topics)
    args = {"apns_url": apns.url, "apns_sandbox_url": sandbox.url, "ca_file": str(pki.ca_file)}
    outcome = deliver(args, apns_delivery("t", channel, platform))
    assert outcome.status == "SUCCESSFUL", outcome
    assert (len(sandbox.received), len(apns.received)) == ((1, 0) if to_sandbox else (0, 1))


@pytest.mark.parametrize("platform", ["ADM", "BAIDU"])
def test_m3_push_platforms_without_a_direct_service_fail_permanently(platform: str) -> None:
    push = Push(platform, "t", {}, {}, {})
    outcome = deliver({}, Delivery("r", "a", "e", "t", push))
    assert (outcome.status, outcome.status_code) == ("PERMANENT_FAILURE", 400)
    assert platform in outcome.status_message


def test_push_back_end_refuses_other_content() -> None:
    with pytest.raises(TypeError):
        deliver({}, Delivery("r", "a", "e", "+1", Sms("+1", "hi")))


def test_push_back_end_describes_its_urls_without_secrets() -> None:
    backend = DirectPush(fcm_url="https://fcm.gateway", apns_url="https://apns.gateway")
    assert "https://fcm.gateway" in backend.description
    assert "https://apns.gateway" in backend.description
    assert backend.delivers
