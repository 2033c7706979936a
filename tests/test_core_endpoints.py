"""Unit tests of the endpoint rules (core/endpoints.py) over an in-memory transaction."""

from __future__ import annotations

import dataclasses
from typing import Any

import msgspec
import pytest

from memory_tx import MemoryTx
from openpinpoint.core import endpoints
from openpinpoint.core.errors import BadRequest, NotFound
from openpinpoint.core.shapes import EndpointRequest, EndpointResponse

APP = "a" * 32
STAMP = endpoints.Stamp(request_id="req-1", now="2026-01-01T00:00:00.000Z")


def update(tx: MemoryTx, endpoint_id: str, **request: Any) -> None:
    body = msgspec.json.decode(msgspec.json.encode(request), type=EndpointRequest)
    endpoints.update_endpoint(tx, APP, endpoint_id, body, STAMP)


def test_new_endpoint_gets_defaults_from_the_stamp() -> None:
    tx = MemoryTx()
    update(tx, "e1", ChannelType="EMAIL")
    endpoint = endpoints.get_endpoint(tx, APP, "e1")
    assert (endpoint.creation_date, endpoint.effective_date) == (STAMP.now, STAMP.now)
    assert (endpoint.request_id, endpoint.opt_out, endpoint.endpoint_status) == (
        "req-1",
        "NONE",
        "ACTIVE",
    )


def test_duplicate_address_leaves_one_active_endpoint() -> None:
    tx = MemoryTx()
    for endpoint_id in ("a", "b", "c"):
        update(tx, endpoint_id, Address="same")
    statuses = {e.id: e.endpoint_status for e in tx.endpoints.values()}
    assert statuses == {"a": "INACTIVE", "b": "INACTIVE", "c": "ACTIVE"}


class AddressLookups(MemoryTx):
    """Records the addresses whose ACTIVE endpoints the rules look up."""

    def __init__(self) -> None:
        super().__init__()
        self.looked_up: list[str] = []

    def active_endpoints_with_address(self, app_id: str, address: str) -> list[EndpointResponse]:
        self.looked_up.append(address)
        return super().active_endpoints_with_address(app_id, address)


def test_an_update_of_the_active_endpoint_at_its_address_looks_up_no_other() -> None:
    """G5 keeps at most one ACTIVE endpoint at an address: when it is the one updated and
    keeps the address, no other there can be ACTIVE, and none is looked up."""
    tx = AddressLookups()
    update(tx, "a", Address="same")
    update(tx, "a", Attributes={"plan": ["pro"]})
    update(tx, "a", Address="same", Metrics={"visits": 2})
    assert tx.looked_up == ["same"]
    update(tx, "a", Address="moved")
    update(tx, "a", EndpointStatus="INACTIVE")
    update(tx, "a", Attributes={"plan": ["free"]})
    assert tx.looked_up == ["same", "moved", "moved"]


def test_an_inactive_endpoint_updated_at_its_address_makes_the_active_one_there_inactive() -> None:
    tx = MemoryTx()
    update(tx, "a", Address="same")
    update(tx, "b", Address="same")
    update(tx, "a", Attributes={"plan": ["pro"]})
    statuses = {e.id: e.endpoint_status for e in tx.endpoints.values()}
    assert statuses == {"a": "ACTIVE", "b": "INACTIVE"}


def test_user_limit_counts_only_other_endpoints_of_the_user() -> None:
    tx = MemoryTx()
    for i in range(15):
        update(tx, f"e{i}", User={"UserId": "u"})
    update(tx, "e3", Attributes={"still": ["fine"]}, User={"UserId": "u"})
    with pytest.raises(BadRequest, match="count:15"):
        update(tx, "e15", User={"UserId": "u"})


def test_moving_to_another_user_leaves_the_old_users_attributes_behind() -> None:
    tx = MemoryTx()
    update(tx, "e1", User={"UserId": "u1", "UserAttributes": {"old": ["x"]}})
    update(tx, "e2", User={"UserId": "u2", "UserAttributes": {"new": ["y"]}})
    update(tx, "e1", User={"UserId": "u2"})
    members = endpoints.get_user_endpoints(tx, APP, "u2")
    assert [endpoints.user_attributes_of(e) for e in members] == [{"new": ["y"]}] * 2


def test_an_anonymous_endpoints_user_attributes_found_a_new_user() -> None:
    tx = MemoryTx()
    update(tx, "e1", User={"UserAttributes": {"lang": ["fr"]}})
    update(tx, "e1", User={"UserId": "fresh"})
    (endpoint,) = endpoints.get_user_endpoints(tx, APP, "fresh")
    assert endpoint.user is not msgspec.UNSET
    assert endpoint.user.user_attributes == {"lang": ["fr"]}


def test_delete_user_endpoints_returns_what_it_deleted() -> None:
    tx = MemoryTx()
    update(tx, "e1", User={"UserId": "u"})
    update(tx, "e2", User={"UserId": "u"})
    update(tx, "e3", User={"UserId": "v"})
    deleted = endpoints.delete_user_endpoints(tx, APP, "u")
    assert [e.id for e in deleted] == ["e1", "e2"]
    assert list(tx.endpoints) == [(APP, "e3")]
    with pytest.raises(NotFound):
        endpoints.delete_user_endpoints(tx, APP, "u")


def test_remove_attributes_matches_globs_within_one_kind() -> None:
    tx = MemoryTx()
    update(tx, "e1", Attributes={"ab": ["1"], "ac": ["1"], "b": ["1"]}, Metrics={"ab": 1})
    blacklist = endpoints.check_blacklist(["a*"], [])
    assert endpoints.remove_attributes(tx, APP, "endpoint-custom-attributes", blacklist) == [
        "ab",
        "ac",
    ]
    assert tx.attribute_names(APP, "custom") == ["b"]
    assert tx.attribute_names(APP, "metric") == ["ab"]


@pytest.mark.parametrize(
    ("patterns", "name", "matches"),
    [
        ([], "a", False),
        (["a"], "a", True),
        (["a"], "ab", False),
        (["a*", "x"], "x", True),
        (["?b"], "ab", True),
        (["[ab]c"], "bc", True),
        (["a.b"], "axb", False),
        (["*a*a*a*a*a*a*a*a*a*b"], "a" * 50, False),
        (["(", ")|.*"], "anything", False),
    ],
)
def test_defect1_a_blacklist_is_one_pattern_with_fnmatch_rules(
    patterns: list[str], name: str, matches: bool
) -> None:
    assert endpoints.check_blacklist(patterns, []).matches(name) is matches
    assert endpoints.check_blacklist(patterns, [name]).checked == {name: matches}


def test_defect1_a_blacklist_matches_only_names_new_since_it_was_checked() -> None:
    tx = MemoryTx()
    update(tx, "e1", Attributes={"a1": ["1"], "a2": ["1"], "b": ["1"]})
    checked = endpoints.check_blacklist(["a*"], ["a1", "b"])
    # Answers that differ from the pattern's show which of the two decided.
    blacklist = dataclasses.replace(checked, checked={"a1": False, "b": True})
    removed = endpoints.remove_attributes(tx, APP, "endpoint-custom-attributes", blacklist)
    assert removed == ["a2", "b"]
