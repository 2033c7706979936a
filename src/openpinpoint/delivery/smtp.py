"""Email over SMTP (`smtp://` and `smtps://`, M9), through a small pool of connections that
deliveries share (M6): fewer connections than recipients, each reused until it fails.

`smtp://[user:password@]host[:port][?starttls=required|off]`: port 25, STARTTLS when the
server offers it (required: refuse to send in the clear; off: never). `smtps://`: TLS from
the first byte, port 465. Certificates are verified against the system's trust store
(`SSL_CERT_FILE` adds a private CA). The envelope sender is the message's From address.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from email.utils import parseaddr
from functools import lru_cache
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from openpinpoint.delivery.base import (
    Delivery,
    Email,
    Outcome,
    answered,
    sent,
    shown_url,
    unreachable,
)
from openpinpoint.delivery.mime import compose

DEFAULT_POOL_SIZE = 8
CLOSING = 421
"""What a server answers on a connection it is about to close (an idle timeout)."""


class SmtpUrlError(ValueError):
    pass


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    use_tls: bool
    start_tls: bool | None
    """None: when offered; True: required; False: never."""
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_url(cls, url: str) -> SmtpSettings:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise SmtpUrlError(f"not an smtp:// or smtps:// URL with a host: {shown_url(url)}")
        query = parse_qs(parts.query)
        starttls = query.pop("starttls", [None])[-1]
        if query or starttls not in (None, "required", "off"):
            raise SmtpUrlError("the only option of an SMTP URL is ?starttls=required|off")
        smtps = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if smtps else 25),
            use_tls=smtps,
            start_tls=False if smtps else {None: None, "required": True, "off": False}[starttls],
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


class SmtpBackend:
    delivers = True

    def __init__(self, url: str, *, timeout: float, pool_size: int = DEFAULT_POOL_SIZE) -> None:
        self.settings = SmtpSettings.from_url(url)
        self.description = f"SMTP {shown_url(url)}"
        self.timeout = timeout
        self._slots = asyncio.Semaphore(pool_size)
        self._idle: list[aiosmtplib.SMTP] = []

    async def deliver(self, delivery: Delivery) -> Outcome:
        message = delivery.content
        assert isinstance(message, Email)
        data = compose(message)
        sender = _envelope_sender(message.from_address)
        async with self._slots:
            for attempt in ("idle", "fresh"):
                connection = self._idle.pop() if attempt == "idle" and self._idle else None
                reused = connection is not None
                kept = False
                try:
                    if connection is None:
                        connection = await self._connect()
                    await connection.sendmail(sender, [delivery.address], data)
                    kept = True
                    return sent(message.message_id)
                except aiosmtplib.SMTPRecipientsRefused as error:
                    refused = error.recipients[0]
                    return _smtp_answer(refused.code, refused.message)
                except aiosmtplib.SMTPResponseException as error:
                    if reused and error.code == CLOSING:
                        continue
                    return _smtp_answer(error.code, error.message)
                except (aiosmtplib.SMTPException, OSError) as error:
                    # An idle connection the server has since closed: one fresh try.
                    if reused:
                        continue
                    return unreachable(f"SMTP server unreachable: {error}")
                finally:
                    if connection is not None:
                        if kept:
                            self._idle.append(connection)
                        else:
                            connection.close()
        return unreachable("SMTP server disconnected")

    async def _connect(self) -> aiosmtplib.SMTP:
        settings = self.settings
        connection = aiosmtplib.SMTP(
            hostname=settings.host,
            port=settings.port,
            username=settings.username,
            password=settings.password,
            use_tls=settings.use_tls,
            start_tls=settings.start_tls,
            timeout=self.timeout,
        )
        await connection.connect()
        return connection

    async def close(self) -> None:
        while self._idle:
            connection = self._idle.pop()
            try:
                await connection.quit()
            except (aiosmtplib.SMTPException, OSError):
                connection.close()


@lru_cache(maxsize=1024)
def _envelope_sender(from_address: str) -> str:
    """`MAIL FROM` of a From header; one request sends many messages from one address."""
    return parseaddr(from_address)[1] or from_address


def _smtp_answer(code: int, text: str) -> Outcome:
    """SMTP replies have their own classes: 5yz will never work (PERMANENT_FAILURE, 400),
    4yz may work later (TEMPORARY_FAILURE, 503). The reply goes into StatusMessage."""
    message = f"SMTP {code} {text}".strip()
    if 500 <= code <= 599:
        return answered(400, message)
    if 400 <= code <= 499:
        return answered(503, message)
    return answered(0, message)
