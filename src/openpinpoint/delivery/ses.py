"""Email through Amazon SES v2 `SendEmail` (`--email-backend ses`). The message goes as raw
MIME, so the `Message-ID` OpenPinpoint reports is the one the recipient sees (M5). SES is
called in the region of the channel's `Identity` ARN, else the default AWS region."""

from __future__ import annotations

from openpinpoint.delivery.aws import AwsClients
from openpinpoint.delivery.base import Delivery, Email, Outcome, sent
from openpinpoint.delivery.mime import compose


class SesBackend:
    delivers = True
    description = "Amazon SES v2 SendEmail"

    def __init__(self, *, timeout: float) -> None:
        self._aws = AwsClients("sesv2", timeout=timeout)

    async def deliver(self, delivery: Delivery) -> Outcome:
        message = delivery.content
        assert isinstance(message, Email)
        request = {
            "FromEmailAddress": message.from_address,
            "Destination": {"ToAddresses": [delivery.address]},
            "Content": {"Raw": {"Data": compose(message)}},
        }
        if message.identity and message.identity.startswith("arn:"):
            request["FromEmailAddressIdentityArn"] = message.identity
        if message.configuration_set:
            request["ConfigurationSetName"] = message.configuration_set
        client = self._aws.client(_arn_region(message.identity))
        answer = await self._aws.call(client.send_email, **request)
        if isinstance(answer, Outcome):
            return answer
        return sent(message.message_id)

    async def close(self) -> None:
        self._aws.close()


def _arn_region(identity: str | None) -> str | None:
    parts = (identity or "").split(":")
    return parts[3] if len(parts) > 5 and parts[0] == "arn" and parts[3] else None
