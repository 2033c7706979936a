"""Fuzzing (issue 4, item 6): random EndpointRequest bodies and ids, through boto3 and as raw
signed requests. Never a 500; every 4xx is a modeled error; a rejected request changes
nothing."""

from __future__ import annotations

import json
import string
from typing import Any, get_args
from urllib.parse import quote

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import RunningServer
from openpinpoint.core.shapes import ChannelType
from rawhttp import raw_request

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Mostly short names from a small alphabet, so that examples hit the same endpoints and users.
ids = st.one_of(
    st.text(alphabet="abAB-_./%$ \x00\n", max_size=4),
    st.text(max_size=300),
)
texts = st.text(max_size=120)
names = st.one_of(st.text(alphabet="abc", min_size=1, max_size=3), st.text(max_size=60))
attribute_maps = st.dictionaries(names, st.lists(texts, max_size=3), max_size=4)

endpoint_requests = st.fixed_dictionaries(
    {},
    optional={
        "Address": st.one_of(st.sampled_from(["a@example.com", "+12065550100"]), texts),
        "ChannelType": st.one_of(st.sampled_from(get_args(ChannelType)), texts),
        "Attributes": attribute_maps,
        "Metrics": st.dictionaries(names, st.floats(), max_size=4),
        "User": st.fixed_dictionaries(
            {}, optional={"UserId": st.one_of(ids, st.just("")), "UserAttributes": attribute_maps}
        ),
        "Location": st.fixed_dictionaries(
            {}, optional={"Latitude": st.floats(), "Longitude": st.floats(), "City": texts}
        ),
        "Demographic": st.fixed_dictionaries({}, optional={"Platform": texts}),
        "EffectiveDate": st.one_of(st.just("2024-05-01T00:00:00Z"), texts),
        "EndpointStatus": st.one_of(st.sampled_from(["ACTIVE", "INACTIVE"]), texts),
        "OptOut": st.one_of(st.sampled_from(["ALL", "NONE"]), texts),
        "RequestId": texts,
    },
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3),
    max_leaves=12,
)
raw_bodies = st.one_of(
    endpoint_requests.map(lambda body: json.dumps(body).encode()),
    st.dictionaries(
        st.sampled_from(["Address", "Attributes", "Metrics", "User", "Location", "Bogus"]),
        json_values,
    ).map(lambda body: json.dumps(body).encode()),
    st.binary(max_size=64),
    st.text(alphabet=string.printable, max_size=64).map(str.encode),
)


class State:
    """The endpoints a fuzz run may have touched, to show a rejection changed none of them."""

    def __init__(self, client: Any, app_id: str) -> None:
        self.client = client
        self.app_id = app_id
        self.written: set[str] = set()

    def snapshot(self, endpoint_id: str) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for each in {*self.written, endpoint_id}:
            try:
                found = self.client.get_endpoint(ApplicationId=self.app_id, EndpointId=each)
                seen[each] = found["EndpointResponse"]
            except ClientError as error:
                seen[each] = error.response["Error"]["Code"]
        return seen


def _check_status(status: int, error_type: str | None) -> bool:
    """True when the request was rejected (a modeled 4xx); fails on anything else."""
    assert status < 500, status
    if status >= 400:
        assert error_type, f"{status} without x-amzn-ErrorType"
        return True
    return False


@pytest.fixture
def state(server: RunningServer, app_id: str) -> State:
    return State(server.client(retries={"total_max_attempts": 1}), app_id)


@FUZZ
@given(endpoint_id=ids, body=endpoint_requests)
def test_boto3_update_endpoint(state: State, endpoint_id: str, body: dict[str, Any]) -> None:
    before = state.snapshot(endpoint_id)
    try:
        state.client.update_endpoint(
            ApplicationId=state.app_id, EndpointId=endpoint_id, EndpointRequest=body
        )
    except ClientError as error:
        metadata = error.response["ResponseMetadata"]
        assert _check_status(
            metadata["HTTPStatusCode"], metadata["HTTPHeaders"].get("x-amzn-errortype")
        )
        assert state.snapshot(endpoint_id) == before
    else:
        state.written.add(endpoint_id)


@FUZZ
@given(endpoint_id=ids, body=raw_bodies)
def test_raw_signed_update_endpoint(
    server: RunningServer, state: State, endpoint_id: str, body: bytes
) -> None:
    before = state.snapshot(endpoint_id)
    path = f"/v1/apps/{state.app_id}/endpoints/{quote(endpoint_id, safe='')}"
    response = raw_request(server.url, "PUT", path, body)
    if _check_status(response.status, response.header("x-amzn-ErrorType")):
        assert state.snapshot(endpoint_id) == before
    else:
        assert response.status == 202
        state.written.add(endpoint_id)


@FUZZ
@given(user_id=ids, method=st.sampled_from(["GET", "DELETE"]))
def test_raw_signed_user_operations(
    server: RunningServer, state: State, user_id: str, method: str
) -> None:
    path = f"/v1/apps/{state.app_id}/users/{quote(user_id, safe='')}"
    response = raw_request(server.url, method, path)
    _check_status(response.status, response.header("x-amzn-ErrorType"))
