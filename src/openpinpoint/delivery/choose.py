"""The back ends a server delivers through, chosen once from its flags (M9)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from openpinpoint.defaults import (
    APNS_SANDBOX_URL,
    APNS_URL,
    DELIVERY_TIMEOUT,
    DIRECT,
    FCM_URL,
    OUTBOX,
)
from openpinpoint.delivery.base import Backend
from openpinpoint.delivery.outbox import Outbox
from openpinpoint.delivery.push_direct import DirectPush
from openpinpoint.delivery.smtp import SmtpBackend, SmtpSettings, SmtpUrlError

log = logging.getLogger("openpinpoint.delivery")

PINPOINT = "pinpoint:"


class BackendChoiceError(ValueError):
    pass


@dataclass(frozen=True)
class BackendSettings:
    outbox: Path
    email: str = OUTBOX
    sms: str = OUTBOX
    push: str = DIRECT
    webhook_secret: str | None = None
    timeout: float = DELIVERY_TIMEOUT
    fcm_url: str = FCM_URL
    apns_url: str = APNS_URL
    apns_sandbox_url: str = APNS_SANDBOX_URL
    push_ca_file: str | None = None
    """A CA bundle trusted, besides the system's, for FCM, APNs and token URLs."""


@dataclass(frozen=True)
class Backends:
    email: Backend
    sms: Backend
    push: Backend

    def all(self) -> tuple[Backend, ...]:
        return (self.email, self.sms, self.push)

    async def close(self) -> None:
        for backend in {id(b): b for b in self.all()}.values():
            await backend.close()


def check_settings(settings: BackendSettings) -> None:
    """Refuse a flag value that names no back end (`BackendChoiceError` names the flag),
    without opening anything."""
    _email_kind(settings.email)
    _sms_kind(settings.sms)
    _push_kind(settings.push)
    if settings.timeout <= 0:
        raise BackendChoiceError("--delivery-timeout must be more than 0 seconds")
    for flag, url in (
        ("--fcm-url", settings.fcm_url),
        ("--apns-url", settings.apns_url),
        ("--apns-sandbox-url", settings.apns_sandbox_url),
    ):
        if not url.startswith("https://") or len(url) <= len("https://"):
            raise BackendChoiceError(f"{flag} must be an https:// URL")
    if settings.push_ca_file is not None and not Path(settings.push_ca_file).is_file():
        raise BackendChoiceError(f"--push-ca-file {settings.push_ca_file} is not a file")


def open_backends(settings: BackendSettings) -> Backends:
    # Only a server imports the clients of AWS and webhooks (boto3, aiohttp): a quarter of
    # a second that every other command, `migrate-store` above all, would pay at start.
    from openpinpoint.delivery.pinpoint import PinpointBackend  # noqa: PLC0415
    from openpinpoint.delivery.ses import SesBackend  # noqa: PLC0415
    from openpinpoint.delivery.sms_aws import AwsSmsBackend  # noqa: PLC0415
    from openpinpoint.delivery.webhook import WebhookBackend  # noqa: PLC0415

    check_settings(settings)
    outboxes: list[Outbox] = []

    def outbox() -> Outbox:
        if not outboxes:
            outboxes.append(Outbox(settings.outbox))
        return outboxes[0]

    timeout = settings.timeout
    email: Backend
    kind = _email_kind(settings.email)
    if kind == OUTBOX:
        email = outbox()
    elif kind == "ses":
        email = SesBackend(timeout=timeout)
    else:
        email = SmtpBackend(settings.email, timeout=timeout)
    sms: Backend
    kind = _sms_kind(settings.sms)
    if kind == OUTBOX:
        sms = outbox()
    elif kind == "aws":
        sms = AwsSmsBackend(timeout=timeout)
    elif kind == "webhook":
        sms = WebhookBackend(settings.sms, timeout=timeout, secret=settings.webhook_secret)
    else:
        sms = PinpointBackend(settings.sms.removeprefix(PINPOINT), timeout=timeout)
    push: Backend
    kind = _push_kind(settings.push)
    if kind == DIRECT:
        push = DirectPush(
            fcm_url=settings.fcm_url,
            apns_url=settings.apns_url,
            apns_sandbox_url=settings.apns_sandbox_url,
            ca_file=settings.push_ca_file,
            timeout=timeout,
        )
    elif kind == OUTBOX:
        push = outbox()
    else:
        push = PinpointBackend(settings.push.removeprefix(PINPOINT), timeout=timeout)
    return Backends(email=email, sms=sms, push=push)


def _email_kind(value: str) -> str:
    if value in (OUTBOX, "ses"):
        return value
    if value.startswith(("smtp://", "smtps://")):
        try:
            SmtpSettings.from_url(value)
        except SmtpUrlError as error:
            raise BackendChoiceError(f"--email-backend: {error}") from None
        return "smtp"
    raise BackendChoiceError("--email-backend must be outbox, ses, smtp://... or smtps://...")


def _sms_kind(value: str) -> str:
    if value in (OUTBOX, "aws"):
        return value
    if value.startswith(("http://", "https://")):
        return "webhook"
    if not _is_pinpoint(value, "--sms-backend"):
        raise BackendChoiceError(
            "--sms-backend must be outbox, aws, http(s)://... or pinpoint:APP_ID"
        )
    return PINPOINT


def _push_kind(value: str) -> str:
    if value in (DIRECT, OUTBOX):
        return value
    if not _is_pinpoint(value, "--push-backend"):
        raise BackendChoiceError("--push-backend must be direct, outbox or pinpoint:APP_ID")
    return PINPOINT


def _is_pinpoint(value: str, flag: str) -> bool:
    if not value.startswith(PINPOINT):
        return False
    if not value.removeprefix(PINPOINT):
        raise BackendChoiceError(f"{flag} pinpoint:APP_ID needs the application id")
    return True


def log_backends(backends: Backends) -> None:
    named = (("email", backends.email), ("SMS", backends.sms), ("push", backends.push))
    for channel, backend in named:
        if backend.delivers:
            log.info("%s messages are delivered through %s", channel, backend.description)
        else:
            log.warning("%s messages are NOT DELIVERED: %s", channel, backend.description)
