"""The wire layer: raw-path routing, body limits, modeled errors, request ids, sockets."""

from __future__ import annotations

import logging
import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import RunningServer, pinpoint_client
from inprocess import serve_in_thread
from openpinpoint.core.errors import Forbidden, TooManyRequests, UnsupportedOperation
from openpinpoint.core.provider import PinpointProvider, RequestContext
from openpinpoint.core.shapes import ApplicationResponse
from openpinpoint.store.open import open_store
from openpinpoint.wire.app import MAX_BODY_BYTES, PinpointApp
from openpinpoint.wire.auth import Caller, HttpRequest
from openpinpoint.wire.model import model_operations
from openpinpoint.wire.operations import OPERATIONS, Operation
from openpinpoint.wire.router import Router
from rawhttp import connect, raw_request

ODD_IDS = [
    "a b/c@d:e+f%ü",
    "slash/in/id",
    "100%",
    "emoji-😀",
    "query?and#hash",
    "semi;colon&amp=eq",
    "..",
    "日本語のユーザー",
]


@pytest.mark.parametrize("odd_id", ODD_IDS)
def test_ids_with_reserved_and_non_ascii_characters_round_trip(
    client: Any, app_id: str, odd_id: str
) -> None:
    client.update_endpoint(
        ApplicationId=app_id, EndpointId=odd_id, EndpointRequest={"User": {"UserId": odd_id}}
    )
    assert (
        client.get_endpoint(ApplicationId=app_id, EndpointId=odd_id)["EndpointResponse"]["Id"]
        == odd_id
    )
    items = client.delete_user_endpoints(ApplicationId=app_id, UserId=odd_id)["EndpointsResponse"][
        "Item"
    ]
    assert [(e["Id"], e["User"]["UserId"]) for e in items] == [(odd_id, odd_id)]


def test_an_encoded_slash_does_not_split_a_segment(server: RunningServer, app_id: str) -> None:
    client = server.client()
    client.update_endpoint(ApplicationId=app_id, EndpointId="a/b", EndpointRequest={})
    encoded = raw_request(server.url, "GET", f"/v1/apps/{app_id}/endpoints/a%2Fb")
    assert encoded.status == 200
    assert encoded.json()["Id"] == "a/b"
    literal = raw_request(server.url, "GET", f"/v1/apps/{app_id}/endpoints/a/b")
    assert (literal.status, literal.header("x-amzn-ErrorType")) == (404, "NotFoundException")


def test_invalid_percent_encoding_is_a_bad_request(server: RunningServer, app_id: str) -> None:
    response = raw_request(server.url, "GET", f"/v1/apps/{app_id}/endpoints/%ff%fe")
    assert (response.status, response.header("x-amzn-ErrorType")) == (400, "BadRequestException")


def test_empty_endpoint_id_is_a_bad_request(client: Any, app_id: str) -> None:
    with pytest.raises(client.exceptions.BadRequestException):
        client.get_endpoint(ApplicationId=app_id, EndpointId="")


def test_body_over_7_mb_is_refused_before_it_is_read(server: RunningServer, app_id: str) -> None:
    conn = connect(server.url)
    conn.putrequest("PUT", f"/v1/apps/{app_id}/endpoints/e1")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(MAX_BODY_BYTES + 1))
    conn.endheaders()
    conn.send(b'{"Address": "')  # the rest never comes: only an early answer can arrive
    response = conn.getresponse()
    assert response.status == 413
    assert response.getheader("x-amzn-ErrorType") == "PayloadTooLargeException"
    assert "7 MB" in response.read().decode()
    conn.close()


def test_chunked_body_over_7_mb_is_refused(server: RunningServer, app_id: str) -> None:
    chunk = b"x" * (1024 * 1024)

    def chunks() -> Iterator[bytes]:
        for _ in range(8):
            yield chunk

    conn = connect(server.url)
    try:
        conn.request("PUT", f"/v1/apps/{app_id}/endpoints/e1", body=chunks(), encode_chunked=True)
        response = conn.getresponse()
        assert response.status == 413
    except (BrokenPipeError, ConnectionResetError):
        pytest.fail("the server closed the connection without answering 413")
    finally:
        conn.close()


def test_body_of_exactly_7_mb_is_read_and_judged_on_its_content(
    server: RunningServer, app_id: str
) -> None:
    body = b'{"Address": "' + b"x" * (MAX_BODY_BYTES - 15) + b'"}'
    assert len(body) == MAX_BODY_BYTES
    response = raw_request(server.url, "PUT", f"/v1/apps/{app_id}/endpoints/e1", body)
    assert response.status == 400
    assert "15 KB" in response.json()["Message"]


def _server_side_socket(client_sock: socket.socket) -> socket.socket:
    """The accepted socket, found among this process's descriptors by its peer address."""
    wanted = client_sock.getsockname()
    for fd in map(int, os.listdir("/proc/self/fd")):
        try:
            candidate = socket.socket(fileno=os.dup(fd))
        except OSError:
            continue
        try:
            if candidate.type == socket.SOCK_STREAM and candidate.getpeername() == wanted:
                return candidate
        except OSError:
            pass
        candidate.close()
    raise AssertionError("server-side socket not found")


@pytest.fixture
def sqlite_provider(tmp_path: Path) -> Any:
    def make(cls: type[PinpointProvider] = PinpointProvider) -> Any:
        async def start() -> PinpointProvider:
            return cls(open_store(f"sqlite:///{tmp_path / 'db.sqlite'}"))

        return start

    return make


def test_responses_are_never_held_back_by_nagle(sqlite_provider: Any) -> None:
    """Headers and body go out as separate writes; without TCP_NODELAY a keep-alive client
    waits for a delayed ACK (~40 ms) on every request."""
    with serve_in_thread(PinpointApp(sqlite_provider())) as url:
        conn = connect(url)
        conn.request("GET", "/v1/apps")
        assert conn.getresponse().read()
        assert conn.sock is not None
        accepted = _server_side_socket(conn.sock)
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        accepted.close()
        conn.close()


class _Failing(PinpointProvider):
    async def get_app(self, ctx: RequestContext, application_id: str) -> ApplicationResponse:
        if application_id == "throttled":
            raise TooManyRequests("Slow down: the rate limit is 1 request per second", 2)
        raise RuntimeError("secret internal detail")


def test_unexpected_errors_are_a_generic_500_logged_under_the_request_id(
    sqlite_provider: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with serve_in_thread(PinpointApp(sqlite_provider(_Failing))) as url:
        client = pinpoint_client(url, retries={"total_max_attempts": 1})
        with (
            caplog.at_level(logging.ERROR, logger="openpinpoint.wire"),
            pytest.raises(client.exceptions.InternalServerErrorException) as excinfo,
        ):
            client.get_app(ApplicationId="boom")
    response = excinfo.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert "secret internal detail" not in response["Message"]
    assert response["RequestID"] == response["ResponseMetadata"]["RequestId"]
    assert response["RequestID"] in caplog.text
    assert "secret internal detail" in caplog.text


def test_throttling_is_a_429_with_retry_after_that_boto3_retries(sqlite_provider: Any) -> None:
    with serve_in_thread(PinpointApp(sqlite_provider(_Failing))) as url:
        raw = raw_request(url, "GET", "/v1/apps/throttled")
        assert raw.status == 429
        assert raw.header("x-amzn-ErrorType") == "TooManyRequestsException"
        assert raw.header("Retry-After") == "2"
        client = pinpoint_client(url, retries={"total_max_attempts": 2, "mode": "standard"})
        with pytest.raises(client.exceptions.TooManyRequestsException) as excinfo:
            client.get_app(ApplicationId="throttled")
    assert excinfo.value.response["ResponseMetadata"]["RetryAttempts"] == 1


class _Refusing:
    def authenticate(self, request: HttpRequest) -> Caller:
        raise Forbidden("Missing credentials: the request is not signed")


def test_an_authenticator_refusal_is_a_forbidden_exception(sqlite_provider: Any) -> None:
    app = PinpointApp(sqlite_provider(), authenticator=_Refusing())
    with serve_in_thread(app) as url:
        client = pinpoint_client(url)
        with pytest.raises(client.exceptions.ForbiddenException) as excinfo:
            client.get_apps()
        unknown = raw_request(url, "GET", "/not/a/pinpoint/path")
    assert "not signed" in excinfo.value.response["Message"]
    assert unknown.status == 403  # refused before routing: paths are not revealed


def _path(uri: str) -> bytes:
    return re.sub(r"\{[^}]+\}", "x", uri).encode()


@pytest.mark.parametrize("operation", model_operations(), ids=lambda op: op.name)
def test_every_model_operation_is_served_or_named_as_unsupported(operation: Operation) -> None:
    """The table decides: an operation in OPERATIONS is routed to its handler, any other
    operation of the model gets 501 naming it, so a new table entry is served at once."""
    router = Router(OPERATIONS)
    if operation.name in {op.name for op in OPERATIONS}:
        assert router.match(operation.method, _path(operation.uri))[0].name == operation.name
    else:
        with pytest.raises(UnsupportedOperation, match=f"^{operation.name} "):
            router.match(operation.method, _path(operation.uri))


def test_an_operation_leaving_the_table_becomes_unsupported() -> None:
    router = Router(op for op in OPERATIONS if op.name != "GetApp")
    with pytest.raises(UnsupportedOperation, match="GetApp"):
        router.match("GET", b"/v1/apps/x")


def test_an_unsupported_operation_is_a_501_that_no_not_found_handler_catches(
    client: Any, app_id: str
) -> None:
    with pytest.raises(ClientError) as excinfo:
        client.create_campaign(
            ApplicationId=app_id, WriteCampaignRequest={"Name": "c", "SegmentId": "s"}
        )
    assert not isinstance(excinfo.value, client.exceptions.NotFoundException)
    response = excinfo.value.response
    assert (response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]) == (
        501,
        "NotImplementedException",
    )
    assert response["Error"]["Message"].startswith(
        "CreateCampaign (POST /v1/apps/{application-id}/campaigns) is an Amazon Pinpoint "
        "operation that this OpenPinpoint server does not support"
    )
    assert response["ResponseMetadata"]["RetryAttempts"] == 0
