"""The SendUsersMessages benchmark (issue 11): requests to 100 users with 3 endpoints each
(two email addresses and a phone), delivered to an SMTP sink and an SMS webhook sink on the
same machine, measured in deliveries per second against the target of 2,000/s on one
2-core machine.

`.venv/bin/python bench/sending.py [--seconds S] [--clients N] [--workers W]` prints the
figures and writes them to bench/results/<time>-sending.json.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from servers import BENCH, Server, UsageMeter

TARGET = 2000.0
USERS = 100
MESSAGE = {
    "EmailMessage": {
        "SimpleEmail": {
            "Subject": {"Data": "Your weekly summary"},
            "TextPart": {"Data": "Hello, here is what happened this week."},
            "HtmlPart": {"Data": "<p>Hello, here is what happened this week.</p>"},
        }
    },
    "SMSMessage": {"Body": "Your code is 123456"},
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _client(url: str) -> Any:
    return boto3.client(
        "pinpoint",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=Config(retries={"max_attempts": 1}, max_pool_connections=64, read_timeout=120),
    )


def _prepare(client: Any) -> str:
    app = client.create_app(CreateApplicationRequest={"Name": "sending-bench"})
    app_id = str(app["ApplicationResponse"]["Id"])
    client.update_email_channel(
        ApplicationId=app_id,
        EmailChannelRequest={"FromAddress": "bench@example.com", "Identity": "example.com"},
    )
    client.update_sms_channel(ApplicationId=app_id, SMSChannelRequest={"SenderId": "Bench"})
    items = []
    for i in range(USERS):
        user = {"UserId": f"user{i:03d}"}
        items += [
            {
                "Id": f"{i}-home",
                "Address": f"u{i}@example.com",
                "ChannelType": "EMAIL",
                "User": user,
            },
            {
                "Id": f"{i}-work",
                "Address": f"u{i}@example.org",
                "ChannelType": "EMAIL",
                "User": user,
            },
            {"Id": f"{i}-sms", "Address": f"+1206555{i:04d}", "ChannelType": "SMS", "User": user},
        ]
    for start in range(0, len(items), 100):
        client.update_endpoints_batch(
            ApplicationId=app_id, EndpointBatchRequest={"Item": items[start : start + 100]}
        )
    return app_id


def _sender(url: str, app_id: str, until: float) -> tuple[int, int, int]:
    """Requests made, deliveries that succeeded, and deliveries that did not."""
    client = _client(url)
    request = {"MessageConfiguration": MESSAGE, "Users": {f"user{i:03d}": {} for i in range(USERS)}}
    requests = ok = failed = 0
    while time.monotonic() < until:
        result = client.send_users_messages(ApplicationId=app_id, SendUsersMessageRequest=request)
        requests += 1
        for endpoints in result["SendUsersMessageResponse"]["Result"].values():
            for outcome in endpoints.values():
                if outcome["DeliveryStatus"] == "SUCCESSFUL":
                    ok += 1
                else:
                    failed += 1
    return requests, ok, failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=4, help="requests in flight at once")
    parser.add_argument("--workers", type=int, default=1, help="OpenPinpoint worker processes")
    args = parser.parse_args()
    python = sys.executable
    smtp_port, webhook_port = _free_port(), _free_port()
    smtp = Server(
        "smtp sink", [python, "sinks.py", "smtp", str(smtp_port)], f"http://127.0.0.1:{smtp_port}"
    )
    webhook = Server(
        "webhook sink",
        [python, "sinks.py", "webhook", str(webhook_port)],
        f"http://127.0.0.1:{webhook_port}",
    )
    data = Path(tempfile.mkdtemp(prefix="openpinpoint-sending-bench-"))
    server = Server(
        "openpinpoint",
        [
            python,
            "-m",
            "openpinpoint",
            "serve",
            "--port",
            "0",
            "--auth",
            "none",
            "--db",
            f"sqlite:///{data}/bench.db",
            "--outbox",
            str(data / "outbox"),
            "--workers",
            str(args.workers),
            "--log-level",
            "info",
            "--email-backend",
            f"smtp://127.0.0.1:{smtp_port}?starttls=off",
            "--sms-backend",
            f"http://127.0.0.1:{webhook_port}/sms",
        ],
    )
    try:
        app_id = _prepare(_client(server.url))
        _sender(server.url, app_id, 0)  # one request to open connections
        with UsageMeter(server) as meter, ThreadPoolExecutor(args.clients) as pool:
            started = time.monotonic()
            until = started + args.seconds
            totals = list(
                pool.map(lambda _: _sender(server.url, app_id, until), range(args.clients))
            )
            elapsed = time.monotonic() - started
        usage = meter.usage
    finally:
        for running in (server, webhook, smtp):
            running.stop()
    requests = sum(t[0] for t in totals)
    ok, failed = sum(t[1] for t in totals), sum(t[2] for t in totals)
    rate = ok / elapsed
    figures = {
        "scenario": "SendUsersMessages (100 users x 3 endpoints: 2 email, 1 SMS)",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "seconds": round(elapsed, 1),
        "clients": args.clients,
        "workers": args.workers,
        "requests": requests,
        "deliveries_ok": ok,
        "deliveries_failed": failed,
        "deliveries_per_second": round(rate),
        "target_per_second": TARGET,
        "server_cpu_seconds": round(usage.cpu_seconds, 1),
        "server_cpu_ms_per_delivery": round(1000 * usage.cpu_seconds / max(ok, 1), 3),
        "server_peak_rss_mb": round(usage.peak_rss_bytes / 2**20),
    }
    print(
        f"SendUsersMessages: {rate:,.0f} deliveries/s (target {TARGET:,.0f}/s: "
        f"{'met' if rate >= TARGET else 'not met'}); {requests} requests of 300 deliveries, "
        f"{failed} failed, in {elapsed:.1f} s with {args.clients} clients, "
        f"{args.workers} worker(s); server CPU {1000 * usage.cpu_seconds / max(ok, 1):.2f} ms "
        "a delivery"
    )
    out = BENCH / "results" / f"{datetime.now(UTC):%Y%m%d-%H%M%S}-sending.json"
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
