"""`openpinpoint segment count|show`: a segment's size and members, read from the database
directly (S7), with the same store resolution as the other commands."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from openpinpoint.cli_where import existing_store, say
from openpinpoint.core import apps, segments
from openpinpoint.core.errors import PinpointError
from openpinpoint.core.shapes import EndpointResponse, encode
from openpinpoint.core.values import endpoint_key
from openpinpoint.store.base import ReadTx
from openpinpoint.store.open import StoreURLError, default_url, open_store

DEFAULT_LIMIT = 20
PAGE = 1000


def add_segment_command(
    commands: Any, add_store_options: Callable[[argparse.ArgumentParser], None]
) -> None:
    segment_cmd = commands.add_parser(
        "segment",
        help="count or list a segment's members",
        description="Evaluate a segment in the database (no server needs to run).",
    )
    actions = segment_cmd.add_subparsers(dest="action", metavar="ACTION", required=True)
    count = actions.add_parser(
        "count", help="members in total and per channel, and how long counting took"
    )
    show = actions.add_parser("show", help="list members (Id, ChannelType, Address)")
    show.add_argument(
        "--limit",
        type=int,
        default=DEFAULT_LIMIT,
        metavar="N",
        help=f"show at most N members (default {DEFAULT_LIMIT})",
    )
    for action in (count, show):
        action.add_argument("--app", required=True, metavar="ID", help="application id")
        action.add_argument("segment", metavar="SEGMENT_ID")
        action.add_argument("--version", type=int, metavar="N", help="a version (default: latest)")
        action.add_argument("--json", action="store_true", help="machine-readable output")
        add_store_options(action)


def segment_main(args: argparse.Namespace) -> int:
    if args.action == "show" and args.limit < 0:
        print("openpinpoint: --limit must be 0 or more", file=sys.stderr)
        return 2
    url = args.db or default_url()
    if not existing_store(url):
        return 2
    try:
        return asyncio.run(_run(args, url))
    except (PinpointError, StoreURLError, RuntimeError) as error:
        say(str(getattr(error, "message", error)))
        return 2


async def _run(args: argparse.Namespace, url: str) -> int:
    store = open_store(url)
    try:
        if args.action == "count":
            started = time.perf_counter()
            counts = await store.read(lambda tx: _count(tx, args.app, args.segment, args.version))
            _print_count(counts, time.perf_counter() - started, args.json)
        else:
            found = await store.read(
                lambda tx: _members(tx, args.app, args.segment, args.version, args.limit)
            )
            _print_members(found, args.json)
    finally:
        await store.close()
    return 0


def _count(tx: ReadTx, app_id: str, segment_id: str, version: int | None) -> dict[str, int]:
    apps.require_app(tx, app_id)
    pred = segments.predicate(tx, app_id, segment_id, version, datetime.now(UTC))
    return tx.count_segment(app_id, pred)


def _members(
    tx: ReadTx, app_id: str, segment_id: str, version: int | None, limit: int
) -> list[EndpointResponse]:
    apps.require_app(tx, app_id)
    pred = segments.predicate(tx, app_id, segment_id, version, datetime.now(UTC))
    found: list[EndpointResponse] = []
    after = ""
    while len(found) < limit:
        page = tx.segment_members(app_id, pred, after, min(PAGE, limit - len(found)))
        found += page
        if not page:
            break
        after = endpoint_key(str(page[-1].id))
    return found


def _print_count(counts: dict[str, int], seconds: float, as_json: bool) -> None:
    total = sum(counts.values())
    channels = {channel or "(none)": n for channel, n in sorted(counts.items())}
    if as_json:
        print(json.dumps({"Total": total, "ChannelCounts": channels, "Seconds": seconds}))
        return
    detail = ", ".join(f"{channel} {n}" for channel, n in channels.items())
    print(f"{total} members" + (f" ({detail})" if detail else "") + f" in {seconds:.3f} s")


def _print_members(found: list[EndpointResponse], as_json: bool) -> None:
    for endpoint in found:
        if as_json:
            print(encode(endpoint).decode())
        else:
            print(f"{endpoint.id}\t{endpoint.channel_type or ''}\t{endpoint.address or ''}")
