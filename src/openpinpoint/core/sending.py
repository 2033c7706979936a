"""SendMessages and SendUsersMessages (M1–M8): who is skipped and why, delivering to
everyone else concurrently within a deadline, the results and the delivery log.

A send runs in three steps. `recipients.check_*` refuses a malformed request as a whole
(M1) before anything is read, and `recipients.plan_*` reads the channels and the
recipients' endpoints in one store transaction (M2). `decide` then turns each recipient
into either a result (a skip, M3) or a `Delivery` (its content from `content`, M4), and
`Sender.deliver` sends the deliveries at once, each under the `--delivery-timeout`
deadline (M6); the caller logs one line per recipient (M8).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from msgspec import UNSET

from openpinpoint.core import endpoints
from openpinpoint.core import messaging_shapes as ms
from openpinpoint.core.content import content
from openpinpoint.core.recipients import SUPPORTED_CHANNELS, Plan, Recipient
from openpinpoint.core.shapes import EndpointRequest
from openpinpoint.core.values import endpoint_key
from openpinpoint.delivery.base import (
    Backend,
    Delivery,
    DeliveryStatus,
    Email,
    Outcome,
    Sms,
    unreachable,
)
from openpinpoint.delivery.choose import Backends
from openpinpoint.store.base import WriteTx

log = logging.getLogger("openpinpoint.delivery")


# Who is skipped (M3)


def skipped(status: DeliveryStatus, message: str, code: int = 400) -> Outcome:
    return Outcome(status, code, status_message=message)


@dataclass(frozen=True)
class Request:
    """What every recipient's decision needs besides the recipient."""

    request_id: str
    app_id: str
    message: ms.DirectMessageConfiguration
    context: Mapping[str, str] = field(default_factory=dict)


def decide(request: Request, plan: Plan) -> list[Delivery | Outcome]:
    """For each recipient in order: the delivery to make, or the result of its skip (M3,
    in the order of checks the decision gives)."""
    decided: list[Delivery | Outcome] = []
    seen: set[tuple[str, str]] = set()
    for recipient in plan.recipients:
        decided.append(_decide_one(request, plan, recipient, seen))
    return decided


def _decide_one(
    request: Request, plan: Plan, recipient: Recipient, seen: set[tuple[str, str]]
) -> Delivery | Outcome:
    if not recipient.found:
        return skipped("PERMANENT_FAILURE", "Endpoint not found", 404)
    channel_type = recipient.channel_type
    if channel_type is None or channel_type not in SUPPORTED_CHANNELS:
        return skipped(
            "PERMANENT_FAILURE", f"The {channel_type or 'unknown'} channel type is not supported"
        )
    channel = plan.channels.get(channel_type)
    if channel is None or not channel.enabled:
        return skipped("PERMANENT_FAILURE", f"The {channel_type} channel is not enabled")
    endpoint = recipient.endpoint
    if endpoint is not None and endpoint.endpoint_status == "INACTIVE":
        return skipped("PERMANENT_FAILURE", "Endpoint is inactive")
    if endpoint is not None and endpoint.opt_out not in (UNSET, "NONE"):
        return skipped("OPT_OUT", "Endpoint has opted out")
    if not recipient.address:
        return skipped("PERMANENT_FAILURE", "Endpoint has no Address")
    context = {**request.context}
    if recipient.config.context is not UNSET:
        context.update(recipient.config.context)
    found = content(request.message, plan.templates, channel, recipient, context)
    if isinstance(found, str):
        return skipped("PERMANENT_FAILURE", found)
    key = (channel_type, recipient.address)
    if key in seen:
        return skipped("DUPLICATE", "An earlier recipient of this request has the same address")
    seen.add(key)
    return Delivery(
        request_id=request.request_id,
        application_id=request.app_id,
        endpoint_id=recipient.endpoint_id,
        address=recipient.address,
        content=found,
        context=context,
    )


# Delivering (M6) and the delivery log (M8)


class Sender:
    def __init__(self, backends: Backends, *, timeout: float) -> None:
        self.backends = backends
        self.timeout = timeout

    def backend(self, delivery: Delivery) -> Backend:
        content = delivery.content
        if isinstance(content, Email):
            return self.backends.email
        if isinstance(content, Sms):
            return self.backends.sms
        return self.backends.push

    async def deliver(self, decided: Iterable[Delivery | Outcome]) -> list[Outcome]:
        """Every outcome, in order; skips as decided, deliveries as their back ends answer.

        The deliveries start together, so one deadline serves them all (M6): a timer per
        delivery cost a twentieth of a push's time. A delivery still running at the
        deadline is cancelled and reported unreachable; the others keep their answers."""
        items = list(decided)
        running = {
            index: asyncio.ensure_future(self._one(item))
            for index, item in enumerate(items)
            if isinstance(item, Delivery)
        }
        if running:
            try:
                _, late = await asyncio.wait(running.values(), timeout=self.timeout)
            finally:
                # Past the deadline, or the request itself was cancelled.
                for pending in running.values():
                    pending.cancel()
            if late:
                await asyncio.wait(late)
        outcomes: list[Outcome] = []
        for index, item in enumerate(items):
            task = running.get(index)
            if task is None:
                assert isinstance(item, Outcome)
                outcomes.append(item)
            elif task.cancelled():
                outcomes.append(unreachable(f"No answer within {self.timeout:g} seconds"))
            else:
                outcomes.append(task.result())
        return outcomes

    async def _one(self, item: Delivery) -> Outcome:
        try:
            return await self.backend(item).deliver(item)
        except Exception:
            log.exception("delivery in request %s failed unexpectedly", item.request_id)
            return Outcome("UNKNOWN_FAILURE", 500, status_message="Internal error")


def inactivate(
    tx: WriteTx, app_id: str, endpoint_ids: Iterable[str], stamp: endpoints.Stamp
) -> None:
    """M7: endpoints whose address a push service called permanently invalid become INACTIVE
    (an ordinary endpoint write, G5/G12), so later sends skip them. An endpoint deleted
    since the send stays deleted."""
    for endpoint_id in endpoint_ids:
        if tx.get_endpoint(app_id, endpoint_key(endpoint_id)) is not None:
            endpoints.update_endpoint(
                tx, app_id, endpoint_id, EndpointRequest(endpoint_status="INACTIVE"), stamp
            )


def log_outcome(request_id: str, app_id: str, recipient: Recipient, outcome: Outcome) -> None:
    log.info(
        "delivery request=%s app=%s endpoint=%s channel=%s address=%s status=%s code=%d "
        "message_id=%s",
        request_id,
        app_id,
        recipient.endpoint_id or "-",
        recipient.channel_type or "-",
        mask(recipient.address),
        outcome.status,
        outcome.status_code,
        outcome.message_id or "-",
    )


def mask(address: str | None) -> str:
    """An address as the log shows it (M8): `a***@example.com`, `+1206*****00`, `abcd***`."""
    if not address:
        return "-"
    local, at, domain = address.rpartition("@")
    if at:
        return f"{local[:1]}***@{domain}"
    if address.startswith("+") and len(address) > 7:
        return address[:5] + "*" * (len(address) - 7) + address[-2:]
    return address[:4] + "***"


def result(outcome: Outcome, address: str | None) -> ms.EndpointMessageResult:
    found = ms.EndpointMessageResult(
        delivery_status=outcome.status,
        status_code=outcome.status_code,
        status_message=outcome.status_message,
    )
    if outcome.message_id is not None:
        found.message_id = outcome.message_id
    if outcome.updated_token is not None:
        found.updated_token = outcome.updated_token
    if address is not None:
        found.address = address
    return found
