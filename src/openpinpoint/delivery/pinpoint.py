"""Forwarding to Amazon Pinpoint's surviving address-based API (`pinpoint:APP_ID`, M9): each
message becomes a `SendMessages` with one address in application APP_ID, and Pinpoint's
result for that address becomes ours. Push payloads travel as the channel message's
`RawContent` (for FCM, the `message` object without its token, P2)."""

from __future__ import annotations

import json
from typing import Any

from openpinpoint.delivery.aws import AwsClients
from openpinpoint.delivery.base import Delivery, Outcome, Push, Sms, answered

_DELIVERY_STATUSES = frozenset(
    ("SUCCESSFUL", "THROTTLED", "TEMPORARY_FAILURE", "PERMANENT_FAILURE", "UNKNOWN_FAILURE")
)


class PinpointBackend:
    delivers = True

    def __init__(self, app_id: str, *, timeout: float) -> None:
        self.app_id = app_id
        self.description = f"Amazon Pinpoint SendMessages in application {app_id}"
        self._aws = AwsClients("pinpoint", timeout=timeout)

    async def deliver(self, delivery: Delivery) -> Outcome:
        channel, configuration = _message(delivery)
        request: dict[str, Any] = {
            "Addresses": {delivery.address: {"ChannelType": channel}},
            "MessageConfiguration": configuration,
        }
        if delivery.context:
            request["Context"] = dict(delivery.context)
        client = self._aws.client()
        answer = await self._aws.call(
            client.send_messages, ApplicationId=self.app_id, MessageRequest=request
        )
        if isinstance(answer, Outcome):
            return answer
        result = answer["MessageResponse"].get("Result", {}).get(delivery.address)
        if result is None or result.get("DeliveryStatus") not in _DELIVERY_STATUSES:
            return answered(0, "Amazon Pinpoint gave no result for the address")
        return Outcome(
            status=result["DeliveryStatus"],
            status_code=int(result["StatusCode"]),
            message_id=result.get("MessageId"),
            status_message=result.get("StatusMessage", ""),
            updated_token=result.get("UpdatedToken"),
        )

    async def close(self) -> None:
        self._aws.close()


def _message(delivery: Delivery) -> tuple[str, dict[str, Any]]:
    content = delivery.content
    if isinstance(content, Sms):
        sms: dict[str, Any] = {"Body": content.body, "MessageType": content.message_type}
        if content.origination:
            sms["OriginationNumber"] = content.origination
        if content.keyword:
            sms["Keyword"] = content.keyword
        if content.sender_id:
            sms["SenderId"] = content.sender_id
        return "SMS", {"SMSMessage": sms}
    assert isinstance(content, Push)
    if content.platform == "GCM":
        message = {k: v for k, v in content.payload.get("message", {}).items() if k != "token"}
        return "GCM", {"GCMMessage": {"RawContent": json.dumps(message)}}
    return content.platform, {"APNSMessage": {"RawContent": json.dumps(content.payload)}}
