"""The `serve` flags that choose how messages are delivered (M9)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from openpinpoint.defaults import (
    APNS_SANDBOX_URL,
    APNS_URL,
    DELIVERY_TIMEOUT,
    DIRECT,
    FCM_URL,
    OUTBOX,
)
from openpinpoint.store.open import data_dir

if TYPE_CHECKING:
    from openpinpoint.delivery.choose import BackendSettings


def add_delivery_arguments(serve_cmd: argparse.ArgumentParser) -> None:
    group = serve_cmd.add_argument_group("delivery (docs/sending.md)")
    group.add_argument(
        "--email-backend",
        metavar="BACKEND",
        default=os.environ.get("OPENPINPOINT_EMAIL_BACKEND", OUTBOX),
        help="outbox (default), smtp://[user:password@]host[:port][?starttls=required|off], "
        "smtps://..., or ses ($OPENPINPOINT_EMAIL_BACKEND)",
    )
    group.add_argument(
        "--sms-backend",
        metavar="BACKEND",
        default=os.environ.get("OPENPINPOINT_SMS_BACKEND", OUTBOX),
        help="outbox (default), aws, http(s)://... (a provider webhook), or pinpoint:APP_ID "
        "($OPENPINPOINT_SMS_BACKEND)",
    )
    group.add_argument(
        "--push-backend",
        metavar="BACKEND",
        default=os.environ.get("OPENPINPOINT_PUSH_BACKEND", DIRECT),
        help="direct (default: FCM and APNs with each channel's credentials, docs/push.md), "
        "outbox, or pinpoint:APP_ID ($OPENPINPOINT_PUSH_BACKEND)",
    )
    group.add_argument(
        "--fcm-url", metavar="URL", default=FCM_URL, help=f"FCM's base URL (default {FCM_URL})"
    )
    group.add_argument(
        "--apns-url",
        metavar="URL",
        default=APNS_URL,
        help=f"APNs' base URL for APNS and APNS_VOIP (default {APNS_URL})",
    )
    group.add_argument(
        "--apns-sandbox-url",
        metavar="URL",
        default=APNS_SANDBOX_URL,
        help=f"APNs' base URL for the sandbox channels (default {APNS_SANDBOX_URL})",
    )
    group.add_argument(
        "--push-ca-file",
        metavar="FILE",
        default=None,
        help="a CA bundle trusted besides the system's for FCM, APNs and token URLs "
        "(a private gateway, tests)",
    )
    group.add_argument(
        "--outbox",
        metavar="DIR",
        type=Path,
        default=os.environ.get("OPENPINPOINT_OUTBOX") or None,
        help="where the outbox writes (default outbox/ in the data directory; "
        "$OPENPINPOINT_OUTBOX)",
    )
    group.add_argument(
        "--webhook-secret",
        metavar="SECRET",
        default=os.environ.get("OPENPINPOINT_WEBHOOK_SECRET") or None,
        help="HMAC-SHA256 key of the SMS webhook's X-OpenPinpoint-Signature header "
        "($OPENPINPOINT_WEBHOOK_SECRET; the environment keeps it out of `ps`)",
    )
    group.add_argument(
        "--delivery-timeout",
        metavar="SECONDS",
        type=float,
        default=DELIVERY_TIMEOUT,
        help=f"deadline of each delivery attempt (default {DELIVERY_TIMEOUT:g})",
    )


def delivery_settings(args: argparse.Namespace, parser: argparse.ArgumentParser) -> BackendSettings:
    # Here, not at the top: only `serve` needs the delivery code (see openpinpoint.defaults).
    from openpinpoint.delivery.choose import (  # noqa: PLC0415
        BackendChoiceError,
        BackendSettings,
        check_settings,
    )

    settings = BackendSettings(
        outbox=(args.outbox or data_dir() / "outbox").resolve(),
        email=args.email_backend,
        sms=args.sms_backend,
        push=args.push_backend,
        webhook_secret=args.webhook_secret,
        timeout=args.delivery_timeout,
        fcm_url=args.fcm_url,
        apns_url=args.apns_url,
        apns_sandbox_url=args.apns_sandbox_url,
        push_ca_file=args.push_ca_file,
    )
    try:
        check_settings(settings)
    except BackendChoiceError as error:
        parser.error(str(error))
    return settings
