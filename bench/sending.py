"""The SendUsersMessages benchmark (issue 11): requests to 100 users with 3 endpoints each
(two email addresses and a phone), delivered to an SMTP sink and an SMS webhook sink on the
same machine, measured in deliveries per second against the target of 2,000/s on one
2-core machine.

With `--push`, the 3 endpoints are push endpoints instead (GCM, APNS with a token key,
APNS_SANDBOX with a certificate), delivered by the `direct` back end to the FCM and APNs
fakes of the tests (tests/pushfakes.py, in a process of their own), against the target of
3,000 pushes/s.

`.venv/bin/python bench/sending.py [--push] [--seconds S] [--clients N] [--workers W]`
prints the figures and writes them to bench/results/<time>-sending.json (-push.json).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import psutil
from botocore.config import Config

from servers import BENCH, Server, UsageMeter

TARGET = 2000.0
PUSH_TARGET = 3000.0
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
PUSH_MESSAGE = {
    "DefaultPushNotificationMessage": {
        "Title": "Your weekly summary",
        "Body": "Hello, here is what happened this week.",
        "Action": "DEEP_LINK",
        "Url": "app://summary",
    }
}
PUSH_CHANNELS = (("gcm", "GCM"), ("ios", "APNS"), ("dev", "APNS_SANDBOX"))


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


def _prepare(client: Any, fakes: dict[str, Any] | None) -> str:
    """An app with 100 users of 3 endpoints each: email and SMS, or (with the push fakes'
    credentials) GCM, APNS and APNS_SANDBOX."""
    app = client.create_app(CreateApplicationRequest={"Name": "sending-bench"})
    app_id = str(app["ApplicationResponse"]["Id"])
    items = (
        _push_endpoints(client, app_id, fakes) if fakes else _email_sms_endpoints(client, app_id)
    )
    for start in range(0, len(items), 100):
        client.update_endpoints_batch(
            ApplicationId=app_id, EndpointBatchRequest={"Item": items[start : start + 100]}
        )
    return app_id


def _email_sms_endpoints(client: Any, app_id: str) -> list[dict[str, Any]]:
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
    return items


def _push_endpoints(client: Any, app_id: str, fakes: dict[str, Any]) -> list[dict[str, Any]]:
    client.update_gcm_channel(
        ApplicationId=app_id, GCMChannelRequest={"ServiceJson": fakes["service_json"]}
    )
    client.update_apns_channel(ApplicationId=app_id, APNSChannelRequest=fakes["apns_token_channel"])
    client.update_apns_sandbox_channel(
        ApplicationId=app_id, APNSSandboxChannelRequest=fakes["apns_certificate_channel"]
    )
    return [
        {
            "Id": f"{i}-{kind}",
            "Address": f"{kind}{i:061d}",
            "ChannelType": channel,
            "User": {"UserId": f"user{i:03d}"},
        }
        for i in range(USERS)
        for kind, channel in PUSH_CHANNELS
    ]


def _push_fakes(directory: Path) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """The tests' FCM and APNs fakes in a process of their own, and what they trust."""
    fakes = subprocess.Popen(
        [sys.executable, str(BENCH.parent / "tests" / "pushfakes.py"), str(directory)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert fakes.stdout is not None
    if fakes.stdout.readline().strip() != "ready":
        fakes.kill()
        raise RuntimeError("the push fakes did not start")
    return fakes, json.loads((directory / "fakes.json").read_text())


def _cpu_seconds(pids: list[int]) -> float:
    """CPU time so far of the given processes: where the rest of the machine went."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
    return total


def _sender(url: str, app_id: str, until: float, message: dict[str, Any]) -> tuple[int, int, int]:
    """Requests made, deliveries that succeeded, and deliveries that did not."""
    client = _client(url)
    request = {"MessageConfiguration": message, "Users": {f"user{i:03d}": {} for i in range(USERS)}}
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
    parser.add_argument("--push", action="store_true", help="push endpoints, FCM and APNs fakes")
    args = parser.parse_args()
    python = sys.executable
    data = Path(tempfile.mkdtemp(prefix="openpinpoint-sending-bench-"))
    peers: list[Server] = []
    fakes_process: subprocess.Popen[str] | None = None
    fakes: dict[str, Any] | None = None
    message: dict[str, Any]
    if args.push:
        fakes_process, fakes = _push_fakes(data)
        delivery = [
            "--push-backend",
            "direct",
            "--fcm-url",
            fakes["fcm_url"],
            "--apns-url",
            fakes["apns_url"],
            "--apns-sandbox-url",
            fakes["apns_url"],
            "--push-ca-file",
            fakes["ca_file"],
        ]
        message, target = PUSH_MESSAGE, PUSH_TARGET
        scenario = "100 users x 3 push endpoints: GCM, APNS token, APNS_SANDBOX certificate"
    else:
        smtp_port, webhook_port = _free_port(), _free_port()
        peers = [
            Server(
                "smtp sink",
                [python, "sinks.py", "smtp", str(smtp_port)],
                f"http://127.0.0.1:{smtp_port}",
            ),
            Server(
                "webhook sink",
                [python, "sinks.py", "webhook", str(webhook_port)],
                f"http://127.0.0.1:{webhook_port}",
            ),
        ]
        delivery = [
            "--email-backend",
            f"smtp://127.0.0.1:{smtp_port}?starttls=off",
            "--sms-backend",
            f"http://127.0.0.1:{webhook_port}/sms",
        ]
        message, target = MESSAGE, TARGET
        scenario = "100 users x 3 endpoints: 2 email, 1 SMS"
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
            *delivery,
        ],
    )
    try:
        app_id = _prepare(_client(server.url), fakes)
        _sender(server.url, app_id, 0, message)  # one request to open connections
        others = [p.process.pid for p in peers] + ([fakes_process.pid] if fakes_process else [])
        others_before, clients_before = _cpu_seconds(others), time.process_time()
        with UsageMeter(server) as meter, ThreadPoolExecutor(args.clients) as pool:
            started = time.monotonic()
            until = started + args.seconds
            totals = list(
                pool.map(lambda _: _sender(server.url, app_id, until, message), range(args.clients))
            )
            elapsed = time.monotonic() - started
        usage = meter.usage
        others_cpu = _cpu_seconds(others) - others_before
        clients_cpu = time.process_time() - clients_before
    finally:
        for running in (server, *peers):
            running.stop()
        if fakes_process is not None:
            fakes_process.communicate(timeout=30)  # closes its stdin: it stops
    requests = sum(t[0] for t in totals)
    ok, failed = sum(t[1] for t in totals), sum(t[2] for t in totals)
    rate = ok / elapsed
    figures = {
        "scenario": f"SendUsersMessages ({scenario})",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "seconds": round(elapsed, 1),
        "clients": args.clients,
        "workers": args.workers,
        "requests": requests,
        "deliveries_ok": ok,
        "deliveries_failed": failed,
        "deliveries_per_second": round(rate),
        "target_per_second": target,
        "server_cpu_seconds": round(usage.cpu_seconds, 1),
        "server_cpu_ms_per_delivery": round(1000 * usage.cpu_seconds / max(ok, 1), 3),
        "server_peak_rss_mb": round(usage.peak_rss_bytes / 2**20),
        # The fakes (or sinks) and the clients share the machine: their CPU bounds the rate too.
        "peers_cpu_ms_per_delivery": round(1000 * others_cpu / max(ok, 1), 3),
        "clients_cpu_ms_per_delivery": round(1000 * clients_cpu / max(ok, 1), 3),
    }
    print(
        f"SendUsersMessages ({scenario}): {rate:,.0f} deliveries/s (target {target:,.0f}/s: "
        f"{'met' if rate >= target else 'not met'}); {requests} requests of 300 deliveries, "
        f"{failed} failed, in {elapsed:.1f} s with {args.clients} clients, "
        f"{args.workers} worker(s); CPU a delivery: "
        f"server {figures['server_cpu_ms_per_delivery']:.2f} ms, "
        f"{'fakes' if args.push else 'sinks'} {figures['peers_cpu_ms_per_delivery']:.2f} ms, "
        f"clients {figures['clients_cpu_ms_per_delivery']:.2f} ms"
    )
    suffix = "sending-push" if args.push else "sending"
    out = BENCH / "results" / f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{suffix}.json"
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
