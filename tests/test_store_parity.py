"""Behaviour that a store could get subtly wrong, checked on every store over HTTP."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import psycopg
import pytest

from conftest import run_cli
from openpinpoint.store import postgres, sqlite
from openpinpoint.store.open import open_store, sqlite_path


def test_user_endpoints_are_listed_in_byte_order_of_their_ids(client: Any, app_id: str) -> None:
    """Ids compare byte-wise on every store, whatever the database's collation."""
    ids = ["a_1", "z", "a-1", "é", "a1", "a.1"]
    for endpoint_id in ids:
        client.update_endpoint(
            ApplicationId=app_id,
            EndpointId=endpoint_id,
            EndpointRequest={"ChannelType": "SMS", "User": {"UserId": "sorted"}},
        )
    found = client.get_user_endpoints(ApplicationId=app_id, UserId="sorted")
    listed = [e["Id"] for e in found["EndpointsResponse"]["Item"]]
    assert listed == sorted(ids, key=lambda i: i.encode())
    assert listed == ["a-1", "a.1", "a1", "a_1", "z", "é"]


def test_nul_characters_in_addresses_and_attribute_names_are_kept(client: Any, app_id: str) -> None:
    """A JSON string may hold U+0000; PostgreSQL text cannot, so the store escapes it. G5
    still matches the address exactly, and the attribute name comes back unchanged."""
    for endpoint_id in ("first", "second"):
        client.update_endpoint(
            ApplicationId=app_id,
            EndpointId=endpoint_id,
            EndpointRequest={
                "ChannelType": "EMAIL",
                "Address": "a\x00b",
                "Attributes": {"n\x00me": ["v"], "\x01mark": ["w"]},
            },
        )
    client.update_endpoint(
        ApplicationId=app_id,
        EndpointId="other",
        EndpointRequest={"ChannelType": "EMAIL", "Address": "a\x010b"},
    )
    first = client.get_endpoint(ApplicationId=app_id, EndpointId="first")["EndpointResponse"]
    second = client.get_endpoint(ApplicationId=app_id, EndpointId="second")["EndpointResponse"]
    other = client.get_endpoint(ApplicationId=app_id, EndpointId="other")["EndpointResponse"]
    assert (first["Address"], first["EndpointStatus"]) == ("a\x00b", "INACTIVE")
    assert (second["Address"], second["EndpointStatus"]) == ("a\x00b", "ACTIVE")
    assert other["EndpointStatus"] == "ACTIVE"
    assert second["Attributes"] == {"n\x00me": ["v"], "\x01mark": ["w"]}
    removed = client.remove_attributes(
        ApplicationId=app_id,
        AttributeType="endpoint-custom-attributes",
        UpdateAttributesRequest={"Blacklist": ["n*", "\x01*"]},
    )
    assert removed["AttributesResource"]["Attributes"] == ["\x01mark", "n\x00me"]


@pytest.mark.parametrize("bad_id", ["ab\x00cd", "0" * 31 + "\x00"])
def test_an_application_id_holding_nul_is_not_found(client: Any, bad_id: str) -> None:
    with pytest.raises(client.exceptions.NotFoundException):
        client.get_app(ApplicationId=bad_id)
    with pytest.raises(client.exceptions.NotFoundException):
        client.list_tags_for_resource(
            ResourceArn=f"arn:aws:mobiletargeting:us-east-1:000000000000:apps/{bad_id}"
        )


def _mark_newer(url: str) -> None:
    """Make the store look as if a newer OpenPinpoint had migrated it."""
    asyncio.run(open_store(url).close())
    if url.startswith("sqlite"):
        with sqlite3.connect(sqlite_path(url)) as conn:
            conn.execute(f"PRAGMA user_version = {sqlite.SCHEMA_VERSION + 1}")
    else:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO schema_migrations (version) VALUES (%s)",
                (postgres.SCHEMA_VERSION + 1,),
            )


def test_a_store_written_by_a_newer_openpinpoint_is_refused(empty_store_url: str) -> None:
    """The server will not start on it (one line, no traceback) rather than damage it."""
    _mark_newer(empty_store_url)
    with pytest.raises(RuntimeError, match="newer than this OpenPinpoint"):
        open_store(empty_store_url)
    refused = run_cli("serve", "--port", "0", "--db", empty_store_url)
    assert refused.returncode == 2
    assert "newer than this OpenPinpoint understands" in refused.stderr
    assert "Traceback" not in refused.stderr
