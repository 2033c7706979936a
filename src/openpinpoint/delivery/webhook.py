"""SMS through a provider webhook (`--sms-backend http(s)://…`, M11): one JSON POST per
message over kept-alive connections (aiohttp; see docs/sending.md for why not httpx),
signed with HMAC-SHA256 when a secret is set."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid

import aiohttp

from openpinpoint.delivery.base import (
    Delivery,
    Outcome,
    Sms,
    answered,
    sent,
    shown_url,
    unreachable,
)
from openpinpoint.delivery.outbox import sms_record

SIGNATURE_HEADER = "X-OpenPinpoint-Signature"
MAX_CONNECTIONS = 64


class WebhookBackend:
    delivers = True

    def __init__(self, url: str, *, timeout: float, secret: str | None = None) -> None:
        self.url = url
        self.description = f"webhook {shown_url(url)}" + (" (signed)" if secret else "")
        self._secret = secret.encode() if secret else None
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        # Made on first use, inside the event loop that will use it.
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS), timeout=self._timeout
            )
        return self._session

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
            async with self._client().post(self.url, data=body, headers=headers) as answer:
                status = answer.status
                text = await answer.read()
        except (aiohttp.ClientError, TimeoutError) as error:
            return unreachable(f"webhook unreachable: {type(error).__name__}")
        if 200 <= status <= 299:
            return sent(_answered_id(text) or message_id)
        return answered(status, f"webhook answered {status}")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def _answered_id(text: bytes) -> str | None:
    try:
        found = json.loads(text).get("MessageId")
    except (ValueError, AttributeError):
        return None
    return found if isinstance(found, str) and found else None
