"""Fuzzing (issue 4, item 6): random EndpointRequest bodies and ids, through boto3 and as raw
signed requests. Never a 500; every 4xx is a modeled error; a rejected request changes
nothing."""

from __future__ import annotations

import base64
import json
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args
from urllib.parse import quote, urlencode

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import RunningServer, sqlite_url
from jobtools import wait_for_job
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


# Issue 9, defect 3: query strings, job ids and job URLs, each from hostile text as well.

numbers = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.text(alphabet="0123456789", min_size=1, max_size=6),
    st.integers(min_value=1, max_value=6000).map(lambda n: "9" * n),
    texts,
)
page_tokens = st.one_of(
    st.tuples(
        st.sampled_from(["apps", "export-jobs", "import-jobs", "other"]),
        st.one_of(st.integers(min_value=0, max_value=2**70).map(str), numbers),
    ).map(lambda kind_position: _token(*kind_position)),
    texts,
)


def _token(kind: str, position: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{position}".encode()).decode().rstrip("=")


@FUZZ
@given(
    listing=st.sampled_from(
        ["/v1/apps", "/v1/apps/{app}/jobs/export", "/v1/apps/{app}/jobs/import"]
    ),
    query=st.dictionaries(
        st.one_of(st.sampled_from(["page-size", "token"]), texts),
        st.one_of(numbers, page_tokens),
        max_size=3,
    ),
)
def test_raw_signed_listing_queries(
    server: RunningServer, state: State, listing: str, query: dict[str, str]
) -> None:
    path = listing.format(app=state.app_id)
    if query:
        path += "?" + urlencode(query, quote_via=quote)
    response = raw_request(server.url, "GET", path)
    _check_status(response.status, response.header("x-amzn-ErrorType"))


@FUZZ
@given(job_id=ids, kind=st.sampled_from(["export", "import"]))
def test_raw_signed_job_ids(server: RunningServer, state: State, job_id: str, kind: str) -> None:
    path = f"/v1/apps/{state.app_id}/jobs/{kind}/{quote(job_id, safe='')}"
    response = raw_request(server.url, "GET", path)
    assert _check_status(response.status, response.header("x-amzn-ErrorType"))


@pytest.fixture(scope="module")
def files_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-files")


@pytest.fixture(scope="module")
def jobs_server(
    tmp_path_factory: pytest.TempPathFactory, files_root: Path
) -> Iterator[RunningServer]:
    """Local files allowed under `files_root`; S3 at a closed port, so that accepted s3://
    jobs fail at once instead of reaching out to AWS."""
    db = tmp_path_factory.mktemp("fuzz-db") / "db.sqlite"
    running = RunningServer(
        sqlite_url(db),
        "--local-files",
        str(files_root),
        env={
            "OPENPINPOINT_S3_ENDPOINT_URL": "http://127.0.0.1:9",
            "AWS_ACCESS_KEY_ID": "x",
            "AWS_SECRET_ACCESS_KEY": "x",
        },
    )
    yield running
    running.stop()


url_tails = st.one_of(
    st.text(alphabet="ab/.%?#[]:@\x00 0", max_size=12),
    texts,
)


@FUZZ
@given(
    scheme=st.sampled_from(["s3://", "s3://bucket/", "file://", "file:///", "{root}/", ""]),
    tail=url_tails,
    export=st.booleans(),
)
def test_raw_signed_job_urls(
    jobs_server: RunningServer, files_root: Path, scheme: str, tail: str, export: bool
) -> None:
    """Every URL is refused with a modeled 400, or accepted and confined: whatever jobs
    run, nothing appears outside the local files directory."""
    client = jobs_server.client(retries={"total_max_attempts": 1})
    app_id = client.create_app(CreateApplicationRequest={"Name": "fuzz"})["ApplicationResponse"][
        "Id"
    ]
    client.update_endpoint(ApplicationId=app_id, EndpointId="e", EndpointRequest={"Address": "a"})
    url = scheme.replace("{root}", f"file://{files_root}") + tail
    before = set(files_root.parent.iterdir())
    if export:
        body = {"RoleArn": "r", "S3UrlPrefix": url}
        path = f"/v1/apps/{app_id}/jobs/export"
    else:
        body = {"RoleArn": "r", "S3Url": url, "Format": "JSON"}
        path = f"/v1/apps/{app_id}/jobs/import"
    response = raw_request(jobs_server.url, "POST", path, json.dumps(body).encode())
    if not _check_status(response.status, response.header("x-amzn-ErrorType")):
        job_id = response.json()["Id"]
        wait_for_job(client, "export" if export else "import", app_id, job_id)
        if export and url.startswith("file://"):
            assert list(files_root.rglob(f"{job_id}/part-*.json.gz")), url
    assert set(files_root.parent.iterdir()) == before
