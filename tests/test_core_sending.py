"""The send core without HTTP: masking (M8), push precedence (M4), payload layout (P1, P2)
and the order of skip checks (M3)."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from memory_tx import MemoryTx
from openpinpoint.core import endpoints
from openpinpoint.core import messaging_shapes as ms
from openpinpoint.core.channels import Channel
from openpinpoint.core.endpoints import Stamp
from openpinpoint.core.recipients import Plan, Recipient
from openpinpoint.core.sending import Request, Sender, decide, inactivate, mask
from openpinpoint.core.shapes import EndpointRequest, EndpointResponse
from openpinpoint.delivery.base import Delivery, Outcome, Sms
from openpinpoint.delivery.choose import Backends


@pytest.mark.parametrize(
    ("address", "shown"),
    [
        ("alice@example.com", "a***@example.com"),
        ("+12065550100", "+1206*****00"),
        ("fcm-device-token-abcdef", "fcm-***"),
        (None, "-"),
    ],
)
def test_m8_addresses_are_masked(address: str | None, shown: str) -> None:
    assert mask(address) == shown


def _message(**members: object) -> ms.DirectMessageConfiguration:
    return msgspec.convert(members, ms.DirectMessageConfiguration)


def test_m3_the_first_applicable_check_decides() -> None:
    inactive_opted_out = EndpointResponse(
        id="e",
        address="+12065550100",
        channel_type="SMS",
        endpoint_status="INACTIVE",
        opt_out="ALL",
    )
    config = ms.EndpointSendConfiguration()
    plan = Plan(
        channels={"SMS": Channel(platform="SMS", enabled=True, settings={})},
        recipients=[
            Recipient(config=config, channel_type=None, address=None, endpoint_id="x", found=False),
            Recipient(config=config, channel_type="VOICE", address="+1", endpoint_id="v"),
            Recipient(config=config, channel_type="EMAIL", address="a@b.c"),
            Recipient(
                config=config,
                channel_type="SMS",
                address="+12065550100",
                endpoint_id="e",
                endpoint=inactive_opted_out,
            ),
            Recipient(config=config, channel_type="SMS", address="+12065550101"),
            Recipient(config=config, channel_type="SMS", address="+12065550101"),
        ],
    )
    request = Request(request_id="r", app_id="a", message=_message(SMSMessage={"Body": "x"}))
    decided = decide(request, plan)
    outcomes = [d for d in decided if isinstance(d, Outcome)]
    assert [(o.status, o.status_code) for o in outcomes] == [
        ("PERMANENT_FAILURE", 404),
        ("PERMANENT_FAILURE", 400),
        ("PERMANENT_FAILURE", 400),
        ("PERMANENT_FAILURE", 400),
        ("DUPLICATE", 400),
    ]
    assert [o.status_message for o in outcomes[:4]] == [
        "Endpoint not found",
        "The VOICE channel type is not supported",
        "The EMAIL channel is not enabled",
        "Endpoint is inactive",
    ]
    assert isinstance(decided[4], Delivery)


def test_m7_invalid_addresses_make_their_endpoints_inactive() -> None:
    tx = MemoryTx()
    stamp = Stamp(request_id="r", now="2026-12-03T00:00:00.000Z")
    endpoints.update_endpoint(
        tx, "app", "Device", EndpointRequest(address="token", channel_type="GCM"), stamp
    )
    inactivate(tx, "app", ["Device", "deleted-meanwhile"], stamp)
    found = tx.get_endpoint("app", "device")
    assert found is not None
    assert found.endpoint_status == "INACTIVE"
    assert tx.get_endpoint("app", "deleted-meanwhile") is None


class _SlowForSome:
    """A back end that answers at once, except for the addresses it was told to hold."""

    description = "test"
    delivers = True

    def __init__(self, hold: set[str]) -> None:
        self.hold = hold
        self.held: list[str] = []
        self.cancelled: list[str] = []

    async def deliver(self, delivery: Delivery) -> Outcome:
        if delivery.address in self.hold:
            self.held.append(delivery.address)
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.cancelled.append(delivery.address)
                raise
        return Outcome("SUCCESSFUL", 200, message_id=f"id-{delivery.address}")

    async def close(self) -> None:
        pass


def _sms_to(address: str) -> Delivery:
    return Delivery("req", "app", None, address, Sms(to=address, body="hi"))


def test_m6_at_the_deadline_only_the_late_deliveries_fail_and_the_rest_keep_their_order() -> None:
    backend = _SlowForSome({"+12065550102"})
    sender = Sender(Backends(backend, backend, backend), timeout=0.2)
    skip = Outcome("OPT_OUT", 400, status_message="Endpoint has opted out")
    items: list[Delivery | Outcome] = [
        _sms_to("+12065550101"),
        skip,
        _sms_to("+12065550102"),
        _sms_to("+12065550103"),
    ]
    outcomes = asyncio.run(sender.deliver(items))
    assert [(o.status, o.message_id) for o in outcomes] == [
        ("SUCCESSFUL", "id-+12065550101"),
        ("OPT_OUT", None),
        ("TEMPORARY_FAILURE", None),
        ("SUCCESSFUL", "id-+12065550103"),
    ]
    assert outcomes[2].status_message == "No answer within 0.2 seconds"
    assert backend.cancelled == ["+12065550102"]


def test_m6_a_cancelled_request_cancels_its_deliveries() -> None:
    backend = _SlowForSome({"+12065550101", "+12065550102"})
    sender = Sender(Backends(backend, backend, backend), timeout=60)

    async def scenario() -> None:
        sending = asyncio.ensure_future(
            sender.deliver([_sms_to("+12065550101"), _sms_to("+12065550102")])
        )
        while len(backend.held) < 2:
            await asyncio.sleep(0)
        sending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sending
        await asyncio.sleep(0)  # the deliveries' own turn to see their cancellation
        # Checked before asyncio.run's shutdown, which would cancel leftovers by itself.
        assert sorted(backend.cancelled) == ["+12065550101", "+12065550102"]

    asyncio.run(scenario())
