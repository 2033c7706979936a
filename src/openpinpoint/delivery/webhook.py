"""SMS through a provider webhook (`--sms-backend http(s)://…`, M11): one JSON POST per
message over kept-alive connections, signed with HMAC-SHA256 when a secret is set."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid

import httpx

from openpinpoint.delivery.base import Delivery, Outcome, Sms, answered, sent, unreachable
from openpinpoint.delivery.outbox import sms_record

SIGNATURE_HEADER = "X-OpenPinpoint-Signature"


class WebhookBackend:
    delivers = True

    def __init__(self, url: str, *, timeout: float, secret: str | None = None) -> None:
        self.url = url
        self.description = f"webhook {url}" + (" (signed)" if secret else "")
        self._secret = secret.encode() if secret else None
        self._client = httpx.AsyncClient(
            timeout=timeout, limits=httpx.Limits(max_connections=64, max_keepalive_connections=64)
        )

    async def deliver(self, delivery: Delivery) -> Outcome:
        sms = delivery.content
        assert isinstance(sms, Sms)
        message_id = str(uuid.uuid4())
        body = json.dumps(
            {
                "MessageId": message_id,
                "ApplicationId": delivery.application_id,
                "EndpointId": delivery.endpoint_id,
                **sms_record(sms),
            },
            ensure_ascii=False,
        ).encode()
        headers = {"Content-Type": "application/json"}
        if self._secret is not None:
            digest = hmac.new(self._secret, body, hashlib.sha256).hexdigest()
            headers[SIGNATURE_HEADER] = f"sha256={digest}"
        try:
            answer = await self._client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as error:
            return unreachable(f"webhook unreachable: {type(error).__name__}")
        if 200 <= answer.status_code <= 299:
            return sent(_answered_id(answer) or message_id)
        return answered(answer.status_code, f"webhook answered {answer.status_code}")

    async def close(self) -> None:
        await self._client.aclose()


def _answered_id(answer: httpx.Response) -> str | None:
    try:
        found = answer.json().get("MessageId")
    except (ValueError, AttributeError):
        return None
    return found if isinstance(found, str) and found else None
