"""The send core without HTTP: masking (M8), push precedence (M4), payload layout (P1, P2)
and the order of skip checks (M3)."""

from __future__ import annotations

import msgspec
import pytest

from memory_tx import MemoryTx
from openpinpoint.core import endpoints
from openpinpoint.core import messaging_shapes as ms
from openpinpoint.core.channels import Channel
from openpinpoint.core.endpoints import Stamp
from openpinpoint.core.recipients import Plan, Recipient
from openpinpoint.core.sending import Request, decide, inactivate, mask
from openpinpoint.core.shapes import EndpointRequest, EndpointResponse
from openpinpoint.delivery.base import Delivery, Outcome


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
