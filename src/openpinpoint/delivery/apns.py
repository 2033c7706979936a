"""APNs over HTTP/2 (P2, P3): `POST /3/device/{token}` with token auth (an ES256 provider
JWT) or certificate auth (a TLS client certificate).

One HTTP/2 connection per (APNs host, credential), multiplexed, as Apple asks: a push to a
thousand devices is a thousand streams on one connection, not a thousand connections.
Provider JWTs are reused for 40 minutes (Apple refuses refreshing more often than every 20
minutes and tokens older than an hour); one APNs rejects as expired or invalid is replaced
and the push sent once more."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import jwt
import msgspec

from openpinpoint.core.errors import BadRequest
from openpinpoint.core.push_credentials import (
    apns_certificate_topic,
    apns_token_key,
    apns_uses_token,
)
from openpinpoint.delivery.base import Outcome, Push, answered, sent, unreachable
from openpinpoint.delivery.h2client import H2Client, H2ConnectionLost, H2Response
from openpinpoint.delivery.push_tls import Clock, tls_context, with_client_certificate

PROVIDER_TOKEN_REUSE = 40 * 60.0
RENEWABLE_REASONS = frozenset({"ExpiredProviderToken", "InvalidProviderToken"})
INVALID_ADDRESS_REASONS = frozenset({"BadDeviceToken", "Unregistered"})


@dataclass(frozen=True)
class _ProviderToken:
    value: str
    issued_at: float


class ApnsSender:
    def __init__(self, url: str, sandbox_url: str, ca_file: str | None, clock: Clock) -> None:
        self._url = url.rstrip("/")
        self._sandbox_url = sandbox_url.rstrip("/")
        self._ca_file = ca_file
        self._clock = clock
        self._clients: dict[tuple[str, str], H2Client] = {}
        self._tokens: dict[str, _ProviderToken] = {}

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.close()

    async def send(self, push: Push) -> Outcome:
        base_url = self._sandbox_url if push.platform.endswith("_SANDBOX") else self._url
        credentials = push.credentials
        token_auth = apns_uses_token(credentials)
        try:
            if token_auth:
                credential = _digest(
                    "token",
                    credentials.get("TeamId"),
                    credentials.get("TokenKeyId"),
                    credentials.get("TokenKey"),
                )
                client = self._client(base_url, credential, None)
            else:
                credential = _digest(
                    "cert", credentials.get("Certificate"), credentials.get("PrivateKey")
                )
                client = self._client(base_url, credential, credentials)
        except BadRequest as error:
            return Outcome("PERMANENT_FAILURE", 400, status_message=error.message)
        path = f"{urlsplit(base_url).path}/3/device/{quote(push.token, safe='')}"
        body = msgspec.json.encode(push.payload)
        rejected: str | None = None
        try:
            for _attempt in range(2):
                headers = dict(push.headers)
                if token_auth:
                    provider_token = self._provider_token(credential, credentials, rejected)
                    headers["authorization"] = f"bearer {provider_token}"
                response = await client.request("POST", path, headers, body, unique_path=True)
                reason = _reason(response)
                if not (token_auth and rejected is None and reason in RENEWABLE_REASONS):
                    break
                rejected = provider_token
        except BadRequest as error:
            return Outcome("PERMANENT_FAILURE", 400, status_message=error.message)
        except H2ConnectionLost as error:
            return unreachable(f"APNs: {error}")
        if response.status == 200:
            return sent(response.headers.get("apns-id", ""))
        return answered(
            response.status,
            reason or f"HTTP {response.status}",
            address_invalid=reason in INVALID_ADDRESS_REASONS,
        )

    def _client(
        self, base_url: str, credential: str, certificate: Mapping[str, Any] | None
    ) -> H2Client:
        key = (base_url, credential)
        client = self._clients.get(key)
        if client is None:
            context = tls_context(self._ca_file, http2_only=True)
            if certificate is not None:
                # Also checks that the pair is readable and matches, as C2 did.
                pem = str(certificate.get("Certificate"))
                private_key = str(certificate.get("PrivateKey"))
                apns_certificate_topic(pem, private_key)
                with_client_certificate(context, pem, private_key)
            parts = urlsplit(base_url)
            client = H2Client(f"{parts.scheme}://{parts.netloc}", context)
            self._clients[key] = client
        return client

    def _provider_token(
        self, credential: str, credentials: Mapping[str, Any], rejected: str | None
    ) -> str:
        now = self._clock()
        cached = self._tokens.get(credential)
        if (
            cached is not None
            and cached.value != rejected
            and now - cached.issued_at < PROVIDER_TOKEN_REUSE
        ):
            return cached.value
        value = jwt.encode(
            {"iss": credentials.get("TeamId"), "iat": int(now)},
            apns_token_key(str(credentials.get("TokenKey"))),
            algorithm="ES256",
            headers={"kid": credentials.get("TokenKeyId")},
        )
        self._tokens[credential] = _ProviderToken(value, now)
        return value


@functools.lru_cache(maxsize=64)
def _digest(*parts: Any) -> str:
    """A key for one credential, so that the map of connections holds no secret. Cached:
    hashing a key of kilobytes for every push cost more than the rest of choosing its
    connection, and the cache refers to the channel's own strings rather than copies."""
    return hashlib.sha256("\0".join(str(part) for part in parts).encode()).hexdigest()


def _reason(response: H2Response) -> str:
    if response.status == 200:
        return ""
    try:
        document = json.loads(response.body)
    except ValueError:
        return ""
    reason = document.get("reason") if isinstance(document, dict) else None
    return reason if isinstance(reason, str) else ""
