"""FCM HTTP v1 (P1): `messages:send` with an OAuth2 access token that the service account in
the channel's ServiceJson obtains by the JWT bearer grant (RFC 7523) at its `token_uri`.

One HTTP/2 connection carries every FCM request of the process (multiplexed). Access
tokens are cached per service account until five minutes before they expire, and one lock per
account makes a burst of pushes fetch a single token."""

from __future__ import annotations

import asyncio
import functools
import hashlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import jwt
import msgspec

from openpinpoint.core.errors import BadRequest
from openpinpoint.core.push_credentials import (
    LEGACY_FCM_MESSAGE,
    gcm_uses_service_json,
    service_account,
)
from openpinpoint.delivery.base import Outcome, Push, answered, sent, unreachable
from openpinpoint.delivery.h2client import H2Client, H2ConnectionLost, H2Response
from openpinpoint.delivery.push_tls import Clock, tls_context

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
        parts = urlsplit(base_url)
        self._prefix = parts.path.rstrip("/")
        self._clock = clock
        self._context = tls_context(ca_file, http2_only=True)
        self._fcm = H2Client(f"{parts.scheme}://{parts.netloc}", self._context)
        self._token_clients: dict[str, H2Client] = {}
        self._tokens: dict[str, _AccessToken] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def close(self) -> None:
        for client in (self._fcm, *self._token_clients.values()):
            await client.close()

    def _token_client(self, origin: str) -> H2Client:
        client = self._token_clients.get(origin)
        if client is None:
            client = self._token_clients[origin] = H2Client(origin, self._context)
        return client

    async def send(self, push: Push) -> Outcome:
        if not gcm_uses_service_json(push.credentials):
            return Outcome("PERMANENT_FAILURE", 400, status_message=LEGACY_FCM_MESSAGE)
        try:
            account = _account(str(push.credentials.get("ServiceJson")))
        except BadRequest as error:
            return Outcome("PERMANENT_FAILURE", 400, status_message=error.message)
        path = f"{self._prefix}/v1/projects/{quote(account['project_id'])}/messages:send"
        body = msgspec.json.encode(push.payload)
        rejected: str | None = None
        try:
            # An access token FCM rejects (revoked, or cached across a clock jump) is
            # renewed once; a second rejection is the answer.
            for _attempt in range(2):
                token = await self._access_token(account, rejected)
                response = await self._fcm.request(
                    "POST",
                    path,
                    {
                        "authorization": f"Bearer {token}",
                        "content-type": "application/json; charset=UTF-8",
                    },
                    body,
                )
                if response.status != 401 or rejected is not None:
                    break
                rejected = token
        except _TokenFailure as failure:
            return failure.outcome
        except H2ConnectionLost as error:
            return unreachable(f"FCM: {error}")
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
        token_uri = urlsplit(account["token_uri"])
        client = self._token_client(f"{token_uri.scheme}://{token_uri.netloc}")
        form = urlencode({"grant_type": GRANT_TYPE, "assertion": assertion}).encode()
        try:
            response = await client.request(
                "POST",
                token_uri.path or "/",
                {"content-type": "application/x-www-form-urlencoded"},
                form,
            )
        except H2ConnectionLost as error:
            raise _TokenFailure(unreachable(f"FCM token endpoint: {error}")) from error
        document = _json(response)
        if response.status != 200:
            reason = document.get("error_description") or document.get("error") or ""
            raise _TokenFailure(
                answered(response.status, f"FCM token endpoint refused: {reason}".strip())
            )
        value = document.get("access_token")
        if not isinstance(value, str) or not value:
            raise _TokenFailure(answered(502, "FCM token endpoint gave no access_token"))
        expires_in = document.get("expires_in")
        lifetime = float(expires_in) if isinstance(expires_in, int | float) else 3600.0
        # A short-lived token is used for half its life rather than not at all.
        margin = min(RENEW_BEFORE_EXPIRY, lifetime / 2)
        return _AccessToken(value, now + lifetime - margin)


@functools.lru_cache(maxsize=256)
def _account(service_json: str) -> dict[str, str]:
    """The parsed account, kept: checking an RSA key costs tens of milliseconds."""
    return service_account(service_json)


def _json(response: H2Response) -> dict[str, Any]:
    try:
        document = msgspec.json.decode(response.body)
    except msgspec.DecodeError:
        return {}
    return document if isinstance(document, dict) else {}


def _outcome(response: H2Response) -> Outcome:
    document = _json(response)
    if response.status == 200:
        name = document.get("name")
        return sent(name if isinstance(name, str) else "")
    error = document.get("error")
    error = error if isinstance(error, dict) else {}
    status = str(error.get("status") or "")
    message = str(error.get("message") or f"HTTP {response.status}")
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
    label = error_code or status or str(response.status)
    return answered(response.status, f"{label}: {message}", address_invalid=address_invalid)
