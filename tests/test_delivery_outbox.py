"""The outbox (M10): complete records only, one writer at a time, read by standard tools."""

from __future__ import annotations

import asyncio
import json
import mailbox
from pathlib import Path

from openpinpoint.delivery.base import Delivery, Email, Push, Sms
from openpinpoint.delivery.outbox import Outbox


def _deliveries() -> list[Delivery]:
    found = []
    for i in range(40):
        found += [
            Delivery(
                "r",
                "app",
                f"e{i}",
                f"u{i}@example.com",
                Email(
                    f"id{i}@example.com",
                    "from@example.com",
                    f"u{i}@example.com",
                    "Subject",
                    text="x" * 5000,
                ),
            ),
            Delivery(
                "r", "app", None, f"+1206555{i:04d}", Sms(to=f"+1206555{i:04d}", body="y" * 5000)
            ),
            Delivery(
                "r",
                "app",
                f"p{i}",
                f"token{i}",
                Push(
                    platform="APNS",
                    token=f"token{i}",
                    payload={"aps": {"alert": "z" * 5000}},
                    headers={"apns-push-type": "alert"},
                ),
            ),
        ]
    return found


def test_m10_concurrent_records_are_complete(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path)

    async def run() -> None:
        outcomes = await asyncio.gather(*(outbox.deliver(d) for d in _deliveries()))
        assert {o.status for o in outcomes} == {"SUCCESSFUL"}

    asyncio.run(run())
    sms = [json.loads(line) for line in (tmp_path / "sms.jsonl").read_text().splitlines()]
    push = [json.loads(line) for line in (tmp_path / "push.jsonl").read_text().splitlines()]
    assert len(sms) == len(push) == 40
    assert {len(r["Body"]) for r in sms} == {5000}
    assert set(sms[0]) == {
        "MessageId",
        "ApplicationId",
        "EndpointId",
        "To",
        "From",
        "Body",
        "MessageType",
        "Keyword",
        "Time",
    }
    assert set(push[0]) == {
        "MessageId",
        "ApplicationId",
        "EndpointId",
        "ChannelType",
        "Token",
        "Headers",
        "Payload",
        "Time",
    }
    assert push[0]["Headers"] == {"apns-push-type": "alert"}
    messages = list(mailbox.Maildir(tmp_path / "email", create=False))
    assert len(messages) == 40
    assert {m["Subject"] for m in messages} == {"Subject"}
    assert not list((tmp_path / "email" / "tmp").iterdir())
