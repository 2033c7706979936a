"""`migrate-store` copies templates with every version and the active one, to either store."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from conftest import STORES, new_store_url, run_cli, sqlite_url
from openpinpoint.core import templates
from openpinpoint.core.endpoints import Stamp
from openpinpoint.core.template_shapes import SMSTemplateRequest
from openpinpoint.store.base import ReadTx, WriteTx
from openpinpoint.store.open import open_store

T = TypeVar("T")
STAMP = Stamp(request_id="r", now="2026-01-01T00:00:00.000Z")


def run(url: str, fn: Callable[[WriteTx], T]) -> T:
    async def go() -> T:
        store = open_store(url)
        try:
            return await store.write(fn)
        finally:
            await store.close()

    return asyncio.run(go())


def populate(tx: WriteTx) -> None:
    for name in ("a", "b"):
        templates.create_template(
            tx, name, "SMS", SMSTemplateRequest(body=f"{name}1"), arn="arn", stamp=STAMP
        )
    templates.update_template(
        tx,
        "a",
        "SMS",
        SMSTemplateRequest(body="a2"),
        arn="arn",
        create_new_version=True,
        version=None,
        stamp=STAMP,
    )
    templates.update_active_version(tx, "a", "SMS", "2")


def snapshot(tx: ReadTx) -> list[tuple[str, str | None, list[str | None]]]:
    listing = templates.list_templates(tx, 100, None, None, None)
    return [
        (
            item.template_name,
            item.version if isinstance(item.version, str) else None,
            [
                v.version if isinstance(v.version, str) else None
                for v in templates.list_versions(
                    tx, item.template_name, "SMS", size=100, token=None, request_id="r"
                ).item
            ],
        )
        for item in listing.item
    ]


@pytest.mark.parametrize("target_kind", STORES)
def test_migrate_store_copies_templates_with_their_versions(
    target_kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    source = sqlite_url(tmp_path / "source.db")
    run(source, populate)
    target = new_store_url(target_kind, request, tmp_path)
    done = run_cli("migrate-store", "--from", source, "--to", target)
    assert done.returncode == 0, done.stderr
    expected = [("a", "2", ["1", "2"]), ("b", "1", ["1"])]
    assert run(source, snapshot) == expected
    assert run(target, snapshot) == expected
    body = run(target, lambda tx: templates.require_template(tx, "a", "SMS", None))
    assert isinstance(body.version, str)
    assert body.version == "2"
