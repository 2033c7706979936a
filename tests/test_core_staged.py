"""Unit tests of many updates staged in one transaction (core/staged.py): the same rules give
the same endpoints as one update after the other, in a fixed number of reads."""

from __future__ import annotations

import copy
from collections.abc import Collection
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memory_tx import MemoryTx
from openpinpoint.core import endpoints
from openpinpoint.core.errors import BadRequest
from openpinpoint.core.shapes import EndpointRequest, EndpointResponse, EndpointUser
from openpinpoint.core.staged import StagedEndpoints

APP = "a" * 32
STAMP = endpoints.Stamp(request_id="req-1", now="2026-01-01T00:00:00.000Z")


class CountingTx(MemoryTx):
    """Counts the reads that a database would answer with a statement each."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def related_endpoints(
        self,
        app_id: str,
        keys: Collection[str],
        users: Collection[str] = (),
        addresses: Collection[str] = (),
    ) -> list[EndpointResponse]:
        self.reads += 1
        return super().related_endpoints(app_id, keys, users, addresses)

    def get_endpoint(self, app_id: str, key: str) -> EndpointResponse | None:
        self.reads += 1
        return super().get_endpoint(app_id, key)

    def user_endpoints(self, app_id: str, user_id: str) -> list[EndpointResponse]:
        self.reads += 1
        return super().user_endpoints(app_id, user_id)

    def active_endpoints_with_address(self, app_id: str, address: str) -> list[EndpointResponse]:
        self.reads += 1
        return super().active_endpoints_with_address(app_id, address)


def request(**members: Any) -> EndpointRequest:
    return msgspec.json.decode(msgspec.json.encode(members), type=EndpointRequest)


def one_by_one(tx: MemoryTx, updates: list[tuple[str, EndpointRequest]]) -> list[str | None]:
    """The reference: each update alone, a refused one leaving the store as it was."""
    refusals: list[str | None] = []
    for endpoint_id, body in updates:
        before = (copy.deepcopy(tx.endpoints), set(tx.names))
        try:
            endpoints.update_endpoint(tx, APP, endpoint_id, body, STAMP)
            refusals.append(None)
        except BadRequest as error:
            tx.endpoints, tx.names = before
            refusals.append(error.message)
    return refusals


def staged(tx: MemoryTx, updates: list[tuple[str, EndpointRequest]]) -> list[str | None]:
    run = StagedEndpoints(tx, APP)
    run.read_ahead(updates)
    refusals: list[str | None] = []
    for endpoint_id, body in updates:
        try:
            with run.atomic():
                endpoints.update_endpoint(run, APP, endpoint_id, body, STAMP)
            refusals.append(None)
        except BadRequest as error:
            refusals.append(error.message)
    run.write()
    return refusals


def seeded() -> CountingTx:
    """A store that already holds endpoints for the updates to meet: a user near the
    limit, shared addresses, registered names."""
    tx = CountingTx()
    seed = [
        (f"old{n}", request(ChannelType="GCM", Address=f"tok{n % 3}", User={"UserId": "u0"}))
        for n in range(15)
    ]
    seed.append(("solo", request(ChannelType="SMS", Address="+1", Attributes={"a0": ["x"]})))
    one_by_one(tx, seed)
    return tx


ids = st.sampled_from(["e1", "E1", "e2", "e3", "old1", "Old2", "solo", "e4"])
users = st.sampled_from(["u0", "u1", "u2", ""])
addresses = st.sampled_from(["tok0", "tok1", "+1", "+2", "mail@x"])
names = st.lists(st.sampled_from([f"a{n}" for n in range(6)]), max_size=3)
bodies = st.fixed_dictionaries(
    {},
    optional={
        "ChannelType": st.sampled_from(["GCM", "APNS", "SMS", "EMAIL"]),
        "Address": addresses,
        "EndpointStatus": st.sampled_from(["ACTIVE", "INACTIVE"]),
        "Attributes": st.dictionaries(
            st.sampled_from([f"a{n}" for n in range(6)]),
            st.lists(st.sampled_from(["x", "y"]), max_size=1),
            max_size=3,
        ),
        "User": st.fixed_dictionaries(
            {},
            optional={
                "UserId": users,
                "UserAttributes": st.dictionaries(
                    st.sampled_from(["t", "v"]), st.just(["gold"]), max_size=1
                ),
            },
        ),
        "EffectiveDate": st.sampled_from(["2026-01-02T00:00:00.000Z", "2025-05-05T00:00:00Z"]),
    },
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(ids, bodies), min_size=1, max_size=25), st.integers(0, 6))
def test_staged_updates_leave_what_one_update_after_another_leaves(
    sent: list[tuple[str, dict[str, Any]]], room_for_names: int
) -> None:
    updates = [(endpoint_id, request(**body)) for endpoint_id, body in sent]
    reference, under_test = seeded(), seeded()
    # Fill the app's 250 names but `room_for_names`, so some updates meet the limit (G9).
    filler = {f"f{n}" for n in range(endpoints.MAX_ATTRIBUTE_NAMES_PER_APP - 1 - room_for_names)}
    for tx in (reference, under_test):
        tx.add_attribute_names(APP, "metric", filler)
    expected = one_by_one(reference, updates)
    assert staged(under_test, updates) == expected
    assert under_test.endpoints == reference.endpoints
    assert under_test.names == reference.names


def test_a_run_of_updates_reads_the_store_twice_however_long_it_is() -> None:
    tx = seeded()
    tx.reads = 0
    updates = [
        (f"n{n}", request(ChannelType="SMS", Address=f"+9{n}", User={"UserId": f"v{n % 20}"}))
        for n in range(200)
    ] + [("old3", request(User={"UserId": "u9", "UserAttributes": {"t": ["gold"]}}))]
    assert staged(tx, updates) == [None] * len(updates)
    assert tx.reads == 2
    assert len(endpoints.get_user_endpoints(tx, APP, "u9")) == 1


def test_an_undone_update_leaves_no_trace_for_the_next() -> None:
    tx = seeded()
    run = StagedEndpoints(tx, APP)
    before = run.user_endpoints(APP, "u0")
    # A 16th endpoint for u0 displaces its oldest push endpoint; then the size check
    # refuses it, and the displaced endpoint must be back as it was.
    too_big = request(
        ChannelType="GCM",
        User={"UserId": "u0"},
        Attributes={f"big{n}": ["x" * 100] * 40 for n in range(4)},
    )
    with pytest.raises(BadRequest, match="15 KB"), run.atomic():
        endpoints.update_endpoint(run, APP, "new", too_big, STAMP)
    assert run.user_endpoints(APP, "u0") == before
    assert run.get_endpoint(APP, "new") is None
    stored = copy.deepcopy(tx.endpoints)
    run.write()
    assert (tx.endpoints, tx.names) == (stored, seeded().names)


def test_the_rules_put_changed_copies_and_leave_what_a_read_returned_as_it_was() -> None:
    # StagedEndpoints answers reads with the endpoints it holds, not copies: a rule that
    # changed one in place would change the staged state behind the undo's back.
    tx = seeded()
    run = StagedEndpoints(tx, APP)
    of_u0 = run.user_endpoints(APP, "u0")
    with_plus1 = run.active_endpoints_with_address(APP, "+1")
    held = of_u0 + with_plus1
    as_read = copy.deepcopy(held)
    # Joining the full user u0 with user attributes displaces u0's oldest push endpoint
    # (G6) and gives the attributes to u0's other endpoints (G3); taking the address +1
    # deactivates the endpoint that had it (G5).
    joining = request(ChannelType="GCM", User={"UserId": "u0", "UserAttributes": {"t": ["gold"]}})
    endpoints.update_endpoint(run, APP, "new", joining, STAMP)
    endpoints.update_endpoint(run, APP, "taker", request(ChannelType="SMS", Address="+1"), STAMP)
    assert held == as_read
    assert [e.id for e in with_plus1] == ["solo"]
    solo = run.get_endpoint(APP, "solo")
    assert solo is not None
    assert solo.endpoint_status == "INACTIVE"
    now_of_u0 = run.user_endpoints(APP, "u0")
    assert {e.id for e in now_of_u0} == {e.id for e in of_u0} - {"old0"} | {"new"}
    assert {str(e.user) for e in now_of_u0} == {
        str(EndpointUser(user_id="u0", user_attributes={"t": ["gold"]}))
    }


def test_a_name_an_undone_update_registered_is_registered_by_the_next_that_sends_it() -> None:
    tx = seeded()
    run = StagedEndpoints(tx, APP)
    big = {"fresh": ["x"]} | {f"big{n}": ["x" * 100] * 40 for n in range(4)}
    too_big = request(ChannelType="SMS", Address="+5", Attributes=big)
    with pytest.raises(BadRequest, match="15 KB"), run.atomic():
        endpoints.update_endpoint(run, APP, "big", too_big, STAMP)
    small = request(ChannelType="SMS", Address="+6", Attributes={"fresh": ["x"]})
    endpoints.update_endpoint(run, APP, "small", small, STAMP)
    run.write()
    assert tx.known_attribute_names(APP, "custom", ["fresh"]) == {"fresh"}


def test_a_registered_name_the_run_did_not_read_ahead_does_not_count_again() -> None:
    tx = seeded()
    filler = {f"f{n}" for n in range(endpoints.MAX_ATTRIBUTE_NAMES_PER_APP - 1)}
    tx.add_attribute_names(APP, "custom", filler)  # with the seed's a0: the app is full
    run = StagedEndpoints(tx, APP)
    # The run knows one custom name; the next update sends that one and another, both
    # registered already, which must be found registered rather than counted as new.
    endpoints.update_endpoint(run, APP, "e1", request(Attributes={"a0": ["y"]}), STAMP)
    both = request(ChannelType="SMS", Address="+7", Attributes={"a0": ["x"], "f1": ["x"]})
    endpoints.update_endpoint(run, APP, "e2", both, STAMP)
