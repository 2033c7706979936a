"""FCM HTTP v1 (P1): `messages:send` with an OAuth2 access token that the service account in
the channel's ServiceJson obtains by the JWT bearer grant (RFC 7523) at its `token_uri`.

One HTTP/2 client carries every FCM request of the process (keep-alive, multiplexed). Access
tokens are cached per service account until five minutes before they expire, and one lock per
account makes a burst of pushes fetch a single token."""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from openpinpoint.core.errors import BadRequest
from openpinpoint.core.push_credentials import (
    LEGACY_FCM_MESSAGE,
    gcm_uses_service_json,
    service_account,
)
from openpinpoint.delivery.base import Outcome, Push, answered, sent, unreachable
from openpinpoint.delivery.push_tls import Clock, tls_context

FCM_URL = "https://fcm.googleapis.com"
SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_LIFETIME = 3600
RENEW_BEFORE_EXPIRY = 300.0
"""Seconds before an access token's expiry at which it is no longer used, so that a token
never expires between being read from the cache and reaching FCM."""


@dataclass(frozen=True)
class _AccessToken:
    value: str
    use_until: float


class _TokenFailure(Exception):
    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.status_message)
        self.outcome = outcome


class FcmSender:
    def __init__(self, base_url: str, ca_file: str | None, clock: Clock) -> None:
        self._base_url = base_url.rstrip("/")
        self._clock = clock
        self._client = httpx.AsyncClient(
            http2=True, verify=tls_context(ca_file), timeout=None, follow_redirects=False
        )
        self._tokens: dict[str, _AccessToken] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def close(self) -> None:
        await self._client.aclose()

    async def send(self, push: Push) -> Outcome:
        if not gcm_uses_service_json(push.credentials):
            return Outcome("PERMANENT_FAILURE", 400, status_message=LEGACY_FCM_MESSAGE)
        try:
            account = service_account(str(push.credentials.get("ServiceJson")))
        except BadRequest as error:
            return Outcome("PERMANENT_FAILURE", 400, status_message=error.message)
        url = f"{self._base_url}/v1/projects/{account['project_id']}/messages:send"
        body = json.dumps(push.payload, separators=(",", ":")).encode()
        rejected: str | None = None
        try:
            # An access token FCM rejects (revoked, or cached across a clock jump) is
            # renewed once; a second rejection is the answer.
            for _attempt in range(2):
                token = await self._access_token(account, rejected)
                response = await self._client.post(
                    url,
                    content=body,
                    headers={
                        "authorization": f"Bearer {token}",
                        "content-type": "application/json; charset=UTF-8",
                    },
                )
                if response.status_code != 401 or rejected is not None:
                    break
                rejected = token
        except _TokenFailure as failure:
            return failure.outcome
        except httpx.TransportError as error:
            return unreachable(f"FCM: {type(error).__name__}: {error}")
        return _outcome(response)

    async def _access_token(self, account: dict[str, str], rejected: str | None) -> str:
        key = hashlib.sha256(
            f"{account['client_email']}\0{account['private_key']}".encode()
        ).hexdigest()
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            cached = self._tokens.get(key)
            if cached and cached.value != rejected and self._clock() < cached.use_until:
                return cached.value
            token = await self._fetch_token(account)
            self._tokens[key] = token
            return token.value

    async def _fetch_token(self, account: dict[str, str]) -> _AccessToken:
        now = self._clock()
        claims = {
            "iss": account["client_email"],
            "scope": SCOPE,
            "aud": account["token_uri"],
            "iat": int(now),
            "exp": int(now) + ASSERTION_LIFETIME,
        }
        key_id = account.get("private_key_id")
        assertion = jwt.encode(
            claims,
            account["private_key"],
            algorithm="RS256",
            headers={"kid": key_id} if key_id else None,
        )
        try:
            response = await self._client.post(
                account["token_uri"], data={"grant_type": GRANT_TYPE, "assertion": assertion}
            )
        except httpx.TransportError as error:
            raise _TokenFailure(unreachable(f"FCM token endpoint: {error}")) from error
        document = _json(response)
        if response.status_code != 200:
            reason = document.get("error_description") or document.get("error") or ""
            raise _TokenFailure(
                answered(response.status_code, f"FCM token endpoint refused: {reason}".strip())
            )
        value = document.get("access_token")
        if not isinstance(value, str) or not value:
            raise _TokenFailure(answered(502, "FCM token endpoint gave no access_token"))
        expires_in = document.get("expires_in")
        lifetime = float(expires_in) if isinstance(expires_in, int | float) else 3600.0
        # A short-lived token is used for half its life rather than not at all.
        margin = min(RENEW_BEFORE_EXPIRY, lifetime / 2)
        return _AccessToken(value, now + lifetime - margin)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        document = response.json()
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _outcome(response: httpx.Response) -> Outcome:
    document = _json(response)
    if response.status_code == 200:
        name = document.get("name")
        return sent(name if isinstance(name, str) else "")
    error = document.get("error")
    error = error if isinstance(error, dict) else {}
    status = str(error.get("status") or "")
    message = str(error.get("message") or response.reason_phrase)
    error_code = ""
    token_fault = False
    for detail in error.get("details") or []:
        if not isinstance(detail, dict):
            continue
        error_code = str(detail.get("errorCode") or error_code)
        for violation in detail.get("fieldViolations") or []:
            if isinstance(violation, dict) and violation.get("field") == "message.token":
                token_fault = True
    # M7: FCM's UNREGISTERED, or INVALID_ARGUMENT about the token itself (not the payload).
    address_invalid = error_code == "UNREGISTERED" or (
        status == "INVALID_ARGUMENT" and (token_fault or "registration token" in message.lower())
    )
    label = error_code or status or str(response.status_code)
    return answered(response.status_code, f"{label}: {message}", address_invalid=address_invalid)
