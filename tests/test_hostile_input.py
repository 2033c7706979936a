"""Hostile input (issue 4, item 5): each gets a modeled 4xx and changes nothing."""

from __future__ import annotations

import base64
import http.client
import json
import socket
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from botocore.exceptions import ClientError

from conftest import RunningServer
from openpinpoint.core.shapes import (
    MAX_BLACKLIST_PATTERNS,
    MAX_NAME_LENGTH,
    MAX_PATTERN_LENGTH,
    MAX_TAGS,
    MAX_TEXT_LENGTH,
    MAX_URL_LENGTH,
)
from openpinpoint.wire.app import MAX_BODY_BYTES
from openpinpoint.wire.http import MAX_URL_BYTES
from rawhttp import RawResponse, raw_request


def modeled(response: RawResponse, status: int, code: str) -> str:
    """Assert a modeled Pinpoint error; its message."""
    assert response.status == status, response.body
    assert response.header("x-amzn-ErrorType") == code
    body = response.json()
    assert body["RequestID"] == response.header("x-amzn-RequestId")
    return str(body["Message"])


def put_endpoint(server: RunningServer, app_id: str, endpoint_id: str, body: bytes) -> RawResponse:
    path = f"/v1/apps/{app_id}/endpoints/{quote(endpoint_id, safe='')}"
    return raw_request(server.url, "PUT", path, body)


def assert_no_endpoint(client: Any, app_id: str, endpoint_id: str = "ep") -> None:
    with pytest.raises(ClientError) as caught:
        client.get_endpoint(ApplicationId=app_id, EndpointId=endpoint_id)
    assert caught.value.response["Error"]["Code"] == "NotFoundException"


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_also_slow_headers_of_a_later_request_on_a_kept_alive_connection_are_cut_off(
    impatient_server: RunningServer,
) -> None:
    with _connect(impatient_server.url) as sock:
        sock.sendall(b"GET /v1/apps HTTP/1.1\r\nHost: x\r\n\r\n")
        first = http.client.HTTPResponse(sock)
        first.begin()
        first.read()
        assert not first.will_close
        # The server's check for this connection falls due 1 s after it opened; the second
        # request starting half-way there must still get its own full second.
        time.sleep(0.5)
        sock.sendall(b"GET /v1/apps HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        head, body = _read_response(sock)
    assert head.startswith(b"HTTP/1.1 400")
    assert "headers were not received within 1 seconds" in json.loads(body)["Message"]


@pytest.mark.parametrize(
    ("body", "names"),
    [
        pytest.param(b'{"Address": ', "JSON", id="malformed"),
        pytest.param(b'{"Address": "a"', "JSON", id="truncated"),
        pytest.param(b'{"Address": 5}', "Address", id="number-for-string"),
        pytest.param(b'{"Metrics": {"m": "high"}}', "Metrics", id="string-for-number"),
        pytest.param(b'{"Attributes": {"a": "x"}}', "Attributes", id="string-for-list"),
        pytest.param(b'{"ChannelType": "PIGEON"}', "ChannelType", id="bad-enum"),
        pytest.param(b"[]", "object", id="array-body"),
        pytest.param(b'{"Attributes": {"a": ' + nested(10_000) + b"}}", "Attributes", id="deep"),
        pytest.param(nested(10_000), "object", id="deep-top-level"),
        pytest.param(
            b'{"Demographic": ' * 10_000 + b"{}" + b"}" * 10_000, "Demographic", id="deep-objects"
        ),
        pytest.param(b'{"Metrics": {"m": NaN}}', "JSON", id="nan"),
        pytest.param(b'{"Metrics": {"m": Infinity}}', "JSON", id="infinity"),
        pytest.param(b'{"Metrics": {"m": -Infinity}}', "JSON", id="minus-infinity"),
        pytest.param(b'{"Metrics": {"m": 1e999}}', "Metrics", id="overflow"),
        pytest.param(b'{"Location": {"Latitude": 1e999}}', "Latitude", id="overflow-latitude"),
        pytest.param(b'{"Address": "\xff\xfe"}', "UTF-8", id="invalid-utf8"),
        pytest.param(b'{"Address": "a", "Address": "b"}', "'Address' twice", id="duplicate"),
        pytest.param(
            b'{"User": {"UserId": "u", "UserId": "v"}}', "'UserId' twice", id="duplicate-nested"
        ),
        pytest.param(b'{"Address": "a", "Admin": true}', "Admin", id="unknown-member"),
    ],
)
def test_bad_body_is_refused(
    server: RunningServer, client: Any, app_id: str, body: bytes, names: str
) -> None:
    message = modeled(put_endpoint(server, app_id, "ep", body), 400, "BadRequestException")
    assert names in message
    assert_no_endpoint(client, app_id)


def test_duplicate_ids_in_a_batch_item_are_refused(
    server: RunningServer, client: Any, app_id: str
) -> None:
    body = b'{"Item": [{"Id": "ep", "Address": "a"}, {"Id": "x", "Id": "ep2"}]}'
    response = raw_request(server.url, "PUT", f"/v1/apps/{app_id}/endpoints", body)
    assert "'Id' twice" in modeled(response, 400, "BadRequestException")
    assert_no_endpoint(client, app_id)


@pytest.mark.parametrize(
    "endpoint_id",
    ["\x00", "a\x00b", "a\x01b", "tab\there", "\x7f", "new\nline", "x" * 10_000, "x" * 257],
)
def test_bad_ids_are_refused(
    server: RunningServer, client: Any, app_id: str, endpoint_id: str
) -> None:
    response = put_endpoint(server, app_id, endpoint_id, b'{"Address": "a"}')
    message = modeled(response, 400, "BadRequestException")
    assert "EndpointId" in message
    assert len(message) < 500
    user = json.dumps({"Address": "a", "User": {"UserId": endpoint_id}}).encode()
    message = modeled(put_endpoint(server, app_id, "ep", user), 400, "BadRequestException")
    assert "UserId" in message
    assert_no_endpoint(client, app_id)


def test_invalid_utf8_in_the_path_is_refused(server: RunningServer, app_id: str) -> None:
    response = raw_request(server.url, "GET", f"/v1/apps/{app_id}/users/%FF%FE")
    assert "UTF-8" in modeled(response, 400, "BadRequestException")


SQL_LIKE = [
    "x'; DROP TABLE endpoints; --",
    "' OR '1'='1",
    'a"; DELETE FROM apps WHERE "1"="1',
    "%' UNION SELECT * FROM sqlite_master --",
]


def test_sql_looking_strings_are_stored_verbatim(client: Any, app_id: str) -> None:
    for index, text in enumerate(SQL_LIKE):
        client.update_endpoint(
            ApplicationId=app_id,
            EndpointId=text,
            EndpointRequest={
                "Address": text,
                "Attributes": {f"a{index}": [text]},
                "User": {"UserId": text},
            },
        )
    for text in SQL_LIKE:
        endpoint = client.get_endpoint(ApplicationId=app_id, EndpointId=text)["EndpointResponse"]
        assert endpoint["Id"] == text
        assert endpoint["Address"] == text
        assert list(endpoint["Attributes"].values()) == [[text]]
        users = client.get_user_endpoints(ApplicationId=app_id, UserId=text)
        assert [e["Id"] for e in users["EndpointsResponse"]["Item"]] == [text]
    assert client.get_app(ApplicationId=app_id)


@pytest.mark.parametrize(
    "suffix",
    [
        "/..",
        "/../..",
        "/endpoints/../../x",
        "/endpoints/..%2F..%2F{other}",
        "/endpoints/%2e%2e%2f%2e%2e%2f{other}",
        "/users/%2e%2e",
        "/users/..%2F..%2Fapps%2F{other}",
        "/%2e%2e/{other}",
        "%2F..%2F{other}",
    ],
)
def test_path_traversal_reaches_nothing_else(
    server: RunningServer, client: Any, app_id: str, suffix: str
) -> None:
    other = client.create_app(CreateApplicationRequest={"Name": "other"})["ApplicationResponse"][
        "Id"
    ]
    client.update_endpoint(ApplicationId=other, EndpointId="keep", EndpointRequest={"Address": "k"})
    path = f"/v1/apps/{app_id}" + suffix.format(other=other)
    for method in ("GET", "DELETE"):
        response = raw_request(server.url, method, path)
        assert 400 <= response.status < 500, (method, path, response.body)
        assert response.header("x-amzn-ErrorType")
    kept = client.get_endpoint(ApplicationId=other, EndpointId="keep")["EndpointResponse"]
    assert kept["Address"] == "k"
    assert client.get_app(ApplicationId=app_id)


def test_100000_attributes_are_refused_cheaply(
    server: RunningServer, client: Any, app_id: str
) -> None:
    body = json.dumps({"Attributes": {f"attr{i}": ["v"] for i in range(100_000)}}).encode()
    assert len(body) < MAX_BODY_BYTES
    message = modeled(put_endpoint(server, app_id, "ep", body), 400, "BadRequestException")
    assert "Attributes" in message
    assert "250" in message
    assert_no_endpoint(client, app_id)


def test_250_names_over_three_maps_are_refused_before_lookup(
    server: RunningServer, client: Any, app_id: str
) -> None:
    body = json.dumps(
        {
            "Attributes": {f"a{i}": ["v"] for i in range(100)},
            "Metrics": {f"m{i}": 1 for i in range(100)},
            "User": {"UserAttributes": {f"u{i}": ["v"] for i in range(100)}},
        }
    ).encode()
    message = modeled(put_endpoint(server, app_id, "ep", body), 400, "BadRequestException")
    assert "alone names 300" in message
    assert_no_endpoint(client, app_id)


def _connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    return socket.create_connection((parts.hostname, parts.port), timeout=30)


def _read_response(sock: socket.socket, data: bytes = b"") -> tuple[bytes, bytes]:
    """Status line + headers, and the body, reading (after `data`) until the server closes."""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head, body


def test_body_over_7mb_is_refused_without_reading_it(server: RunningServer, app_id: str) -> None:
    with _connect(server.url) as sock:
        sock.sendall(
            f"PUT /v1/apps/{app_id}/endpoints/ep HTTP/1.1\r\nHost: x\r\n"
            f"Content-Type: application/json\r\nContent-Length: {MAX_BODY_BYTES + 1}\r\n\r\n"
            '{"Address": "'.encode()
        )
        head, body = _read_response(sock)
    assert head.startswith(b"HTTP/1.1 413")
    assert b"x-amzn-errortype: payloadtoolargeexception" in head.lower()
    assert "7 MB" in json.loads(body)["Message"]


@pytest.fixture(scope="module")
def impatient_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    path = tmp_path_factory.mktemp("slow") / "db.sqlite"
    running = RunningServer(f"sqlite:///{path}", "--body-timeout", "1", "--header-timeout", "1")
    yield running
    running.stop()


def test_slow_loris_body_is_cut_off_while_others_are_served(
    impatient_server: RunningServer,
) -> None:
    client = impatient_server.client()
    with _connect(impatient_server.url) as sock:
        sock.sendall(
            b"PUT /v1/apps/0123456789abcdef0123456789abcdef/endpoints/ep HTTP/1.1\r\n"
            b"Host: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
            b'{"Addr'
        )
        app = client.create_app(CreateApplicationRequest={"Name": "served"})
        head, body = _read_response(sock)
    assert app["ApplicationResponse"]["Name"] == "served"
    assert head.startswith(b"HTTP/1.1 400")
    assert b"x-amzn-errortype: badrequestexception" in head.lower()
    assert "not received within 1 seconds" in json.loads(body)["Message"]


# Issue 9, defect 1: work that grows with an input bounded only by the 7 MB body is capped.


def test_defect1_a_huge_blacklist_is_refused_with_its_limit(
    server: RunningServer, app_id: str
) -> None:
    body = json.dumps({"Blacklist": [f"*a{i}*b*c*" for i in range(33_000)]}).encode()
    path = f"/v1/apps/{app_id}/attributes/endpoint-custom-attributes"
    message = modeled(raw_request(server.url, "PUT", path, body), 400, "BadRequestException")
    assert "Blacklist" in message
    assert str(MAX_BLACKLIST_PATTERNS) in message


def test_defect1_a_long_blacklist_pattern_is_refused_with_its_limit(
    server: RunningServer, app_id: str
) -> None:
    body = json.dumps({"Blacklist": ["*" * (MAX_PATTERN_LENGTH + 1)]}).encode()
    path = f"/v1/apps/{app_id}/attributes/endpoint-custom-attributes"
    message = modeled(raw_request(server.url, "PUT", path, body), 400, "BadRequestException")
    assert "Blacklist" in message
    assert str(MAX_PATTERN_LENGTH) in message


def test_defect1_a_blacklist_at_the_limit_removes_what_it_matches(client: Any, app_id: str) -> None:
    client.update_endpoint(
        ApplicationId=app_id,
        EndpointId="ep",
        EndpointRequest={"Attributes": {"keep": ["v"], "drop_me": ["v"], "x7": ["v"]}},
    )
    patterns = ["drop*", "x?", *(f"*q{i}*r*s*t*" for i in range(MAX_BLACKLIST_PATTERNS - 2))]
    removed = client.remove_attributes(
        ApplicationId=app_id,
        AttributeType="endpoint-custom-attributes",
        UpdateAttributesRequest={"Blacklist": patterns},
    )["AttributesResource"]["Attributes"]
    assert removed == ["drop_me", "x7"]


def test_defect1_untag_with_too_many_keys_is_refused(client: Any, app_id: str) -> None:
    arn = client.get_app(ApplicationId=app_id)["ApplicationResponse"]["Arn"]
    with pytest.raises(ClientError) as caught:
        client.untag_resource(ResourceArn=arn, TagKeys=[f"k{i}" for i in range(MAX_TAGS + 1)])
    error = caught.value.response["Error"]
    assert error["Code"] == "BadRequestException"
    assert "tagKeys" in error["Message"]
    assert str(MAX_TAGS) in error["Message"]


@pytest.mark.parametrize(
    ("path", "body", "member", "limit"),
    [
        ("/v1/apps", {"Name": "n" * (MAX_NAME_LENGTH + 1)}, "Name", MAX_NAME_LENGTH),
        (
            "/v1/apps/{app}/jobs/import",
            {"Format": "CSV", "RoleArn": "r", "S3Url": "s3://b/" + "k" * MAX_URL_LENGTH},
            "S3Url",
            MAX_URL_LENGTH,
        ),
        (
            "/v1/apps/{app}/jobs/export",
            {"RoleArn": "r" * (MAX_TEXT_LENGTH + 1), "S3UrlPrefix": "s3://b/k/"},
            "RoleArn",
            MAX_TEXT_LENGTH,
        ),
    ],
    ids=["app-name", "import-url", "role-arn"],
)
def test_defect1_stored_strings_are_capped(
    server: RunningServer,
    app_id: str,
    *,
    path: str,
    body: dict[str, str],
    member: str,
    limit: int,
) -> None:
    raw = json.dumps(body).encode()
    response = raw_request(server.url, "POST", path.format(app=app_id), raw)
    message = modeled(response, 400, "BadRequestException")
    assert member in message
    assert str(limit) in message


# Issue 9, defect 3: hostile query strings and URLs give 4xx, never 500.


def _offset_token(kind: str, position: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{position}".encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/v1/apps?page-size=" + "9" * 5000, None, 400),
        ("GET", "/v1/apps/{app}/jobs/export?page-size=" + "9" * 5000, None, 400),
        ("GET", "/v1/apps/{app}/jobs/import?page-size=" + "1" * 5000, None, 400),
        ("GET", "/v1/apps?token=" + _offset_token("apps", str(2**63)), None, 400),
        ("GET", "/v1/apps?token=" + _offset_token("apps", "1" * 5000), None, 400),
        (
            "GET",
            "/v1/apps/{app}/jobs/export?token=" + _offset_token("export-jobs", str(2**64)),
            None,
            400,
        ),
        ("GET", "/v1/apps/{app}/jobs/export/a%00b", None, 404),
        ("GET", "/v1/apps/{app}/jobs/import/%00", None, 404),
        ("POST", "/v1/apps/{app}/jobs/export", {"RoleArn": "r", "S3UrlPrefix": "s3://[x/y"}, 400),
        ("POST", "/v1/apps/{app}/jobs/export", {"RoleArn": "r", "S3UrlPrefix": "file://[x/y"}, 400),
        (
            "POST",
            "/v1/apps/{app}/jobs/import",
            {"Format": "JSON", "RoleArn": "r", "S3Url": "s3://[x/y"},
            400,
        ),
        (
            "POST",
            "/v1/apps/{app}/jobs/import",
            {"Format": "JSON", "RoleArn": "r", "S3Url": "file://[x/y"},
            400,
        ),
    ],
    ids=[
        "apps-page-size-5000-digits",
        "export-jobs-page-size-5000-digits",
        "import-jobs-page-size-5000-digits",
        "token-offset-2^63",
        "token-offset-5000-digits",
        "export-jobs-token-offset-2^64",
        "export-job-id-nul",
        "import-job-id-nul",
        "export-s3-invalid-ipv6",
        "export-file-invalid-ipv6",
        "import-s3-invalid-ipv6",
        "import-file-invalid-ipv6",
    ],
)
def test_defect3_hostile_query_or_url_gives_4xx(
    server: RunningServer,
    app_id: str,
    *,
    method: str,
    path: str,
    body: dict[str, str] | None,
    status: int,
) -> None:
    raw = json.dumps(body).encode() if body is not None else None
    response = raw_request(server.url, method, path.format(app=app_id), raw)
    modeled(response, status, "BadRequestException" if status == 400 else "NotFoundException")


# Issue 9, "Also": what the HTTP parser refuses, and slow headers.


def test_also_a_url_over_64kb_gets_a_modeled_400(server: RunningServer) -> None:
    with _connect(server.url) as sock:
        sock.sendall(f"GET /v1/apps?x={'a' * 70_000} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        head, body = _read_response(sock)
    assert head.startswith(b"HTTP/1.1 400")
    assert b"x-amzn-errortype: badrequestexception" in head.lower()
    assert b"x-amzn-requestid: " in head.lower()
    assert f"{MAX_URL_BYTES}" in json.loads(body)["Message"]


def test_also_a_refused_request_still_being_sent_gets_its_400_and_a_clean_close(
    server: RunningServer,
) -> None:
    """The client is still sending when the answer comes (the rest of a long URL, a body):
    the server reads and drops the rest and closes only after the client, so the client
    sees the answer and an orderly end, never a reset (which a close with unread bytes
    sends, and which may destroy the answer before the client reads it)."""
    with _connect(server.url) as sock:
        sock.sendall(f"GET /v1/apps?x={'a' * (MAX_URL_BYTES + 1000)}".encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(65536)
        sock.sendall(b"a" * 200_000)  # more of the URL, after the answer
        sock.shutdown(socket.SHUT_WR)
        head, body = _read_response(sock, answer)
    assert head.startswith(b"HTTP/1.1 400")
    assert f"{MAX_URL_BYTES}" in json.loads(body)["Message"]


def test_also_a_garbled_request_line_gets_a_modeled_400(server: RunningServer) -> None:
    with _connect(server.url) as sock:
        sock.sendall(b"GET /v1/apps HTTP/9\x00\r\n\r\n")
        head, body = _read_response(sock)
    assert head.startswith(b"HTTP/1.1 400")
    assert b"x-amzn-errortype: badrequestexception" in head.lower()
    assert json.loads(body)["Message"]


def test_also_slow_headers_are_cut_off_while_others_are_served(
    impatient_server: RunningServer,
) -> None:
    client = impatient_server.client()
    with _connect(impatient_server.url) as sock:
        sock.sendall(b"GET /v1/apps HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        app = client.create_app(CreateApplicationRequest={"Name": "served"})
        sock.sendall(b"still")
        head, body = _read_response(sock)
    assert app["ApplicationResponse"]["Name"] == "served"
    assert head.startswith(b"HTTP/1.1 400")
    assert b"x-amzn-errortype: badrequestexception" in head.lower()
    assert "headers were not received within 1 seconds" in json.loads(body)["Message"]


@pytest.mark.parametrize(
    ("body", "names"),
    [
        pytest.param(b'{"Dimensions": ', "JSON", id="malformed"),
        pytest.param(b'{"Dimensions": {"Attributes": {"a": "x"}}}', "Attributes", id="wrong-type"),
        pytest.param(b'{"Dimensions": {"Behavior": {"Recency": {}}}}', "Recency", id="missing"),
        pytest.param(b'{"Dimensions": {"Weather": {}}}', "Weather", id="unknown-member"),
        pytest.param(
            b'{"Dimensions": {"Attributes": {"a": {"Values": ["x\\u0000"]}}}}', "NUL", id="nul"
        ),
        pytest.param(
            b'{"SegmentGroups": {"Groups": [{"SourceSegments": [{"Id": "\'; DROP TABLE x"}]}]}}',
            "does not exist",
            id="sql-looking-source",
        ),
        pytest.param(
            b'{"Dimensions": {"Attributes": ' + nested(10_000) + b"}}", "Attributes", id="deep"
        ),
    ],
)
def test_bad_segment_bodies_are_refused(
    server: RunningServer, client: Any, app_id: str, body: bytes, names: str
) -> None:
    response = raw_request(server.url, "POST", f"/v1/apps/{app_id}/segments", body)
    assert names in modeled(response, 400, "BadRequestException")
    assert client.get_segments(ApplicationId=app_id)["SegmentsResponse"]["Item"] == []
