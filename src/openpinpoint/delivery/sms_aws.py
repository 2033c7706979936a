"""SMS through AWS End User Messaging SMS `SendTextMessage` (`--sms-backend aws`)."""

from __future__ import annotations

from typing import Any

from openpinpoint.delivery.aws import AwsClients
from openpinpoint.delivery.base import Delivery, Outcome, Sms, sent


class AwsSmsBackend:
    delivers = True
    description = "AWS End User Messaging SMS SendTextMessage"

    def __init__(self, *, timeout: float) -> None:
        self._aws = AwsClients("pinpoint-sms-voice-v2", timeout=timeout)

    async def deliver(self, delivery: Delivery) -> Outcome:
        sms = delivery.content
        assert isinstance(sms, Sms)
        request: dict[str, Any] = {
            "DestinationPhoneNumber": delivery.address,
            "MessageBody": sms.body,
            "MessageType": sms.message_type,
        }
        if sms.origination:
            request["OriginationIdentity"] = sms.origination
        if sms.keyword:
            request["Keyword"] = sms.keyword
        if delivery.context:
            request["Context"] = dict(delivery.context)
        answer = await self._aws.call(self._aws.client().send_text_message, **request)
        if isinstance(answer, Outcome):
            return answer
        return sent(str(answer["MessageId"]))

    async def close(self) -> None:
        self._aws.close()
