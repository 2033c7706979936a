"""SigV4 verification (issue 4, item 1): botocore's own signer makes valid requests, and
tampering with any signed part of them gets 403 ForbiddenException saying which check failed."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import botocore.auth
import pytest
from botocore.exceptions import ClientError

from conftest import STORES, TEST_KEY, RunningServer, new_store_url, pinpoint_client
from openpinpoint.core.errors import Forbidden
from openpinpoint.keys import AccessKey, KeyFile, new_key
from openpinpoint.wire.auth import HttpRequest
from openpinpoint.wire.sigv4 import SigV4Authenticator
from rawhttp import Prepared, RawResponse, raw_request, sign

OTHER_KEY = new_key(name="other", admin=True)
TOKEN_KEY = new_key(name="with token", admin=True, session_token=True)


@pytest.fixture(scope="module", params=STORES)
def keyed_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """A server whose keys file holds TEST_KEY, OTHER_KEY and a key with a session token,
    on each store."""
    directory = tmp_path_factory.mktemp("sigv4")
    keys = KeyFile(directory / "keys.json")
    for key in (TEST_KEY, OTHER_KEY, TOKEN_KEY):
        keys.create(key)
    db = new_store_url(request.param, request, directory)
    running = RunningServer(db, "--keys-file", str(keys.path))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def keyed_app(keyed_server: RunningServer) -> str:
    created = keyed_server.client().create_app(CreateApplicationRequest={"Name": "sigv4"})
    return str(created["ApplicationResponse"]["Id"])


def _forbidden(response: RawResponse, reason: str) -> str:
    assert response.status == 403, response.body
    assert response.header("x-amzn-ErrorType") == "ForbiddenException"
    message = response.message
    assert message.startswith(reason), message
    for key in (TEST_KEY, OTHER_KEY, TOKEN_KEY):
        assert key.secret not in message
    return message


def _endpoint_path(app_id: str, endpoint_id: str = "ep-1") -> str:
    return f"/v1/apps/{app_id}/endpoints/{endpoint_id}"


BODY = json.dumps({"Address": "a@example.com", "ChannelType": "EMAIL"}).encode()
JSON = {"Content-Type": "application/json"}


def test_boto3_signed_requests_are_let_in(keyed_server: RunningServer, keyed_app: str) -> None:
    client = keyed_server.client()
    client.update_endpoint(
        ApplicationId=keyed_app, EndpointId="ep-boto", EndpointRequest={"Address": "x"}
    )
    got = client.get_endpoint(ApplicationId=keyed_app, EndpointId="ep-boto")
    assert got["EndpointResponse"]["Address"] == "x"


def test_region_comes_from_the_signing_scope(keyed_server: RunningServer) -> None:
    client = keyed_server.client(region="eu-west-1")
    app = client.create_app(CreateApplicationRequest={"Name": "eu"})["ApplicationResponse"]
    assert app["Arn"].startswith("arn:aws:mobiletargeting:eu-west-1:")


def test_ids_that_need_encoding_verify(keyed_server: RunningServer, keyed_app: str) -> None:
    client = keyed_server.client()
    for endpoint_id in ("a b/c@d:e+f%ü", "..", "%2e%2e", "a/../b", "~tilde"):
        client.update_endpoint(
            ApplicationId=keyed_app, EndpointId=endpoint_id, EndpointRequest={"Address": "y"}
        )
    assert client.get_endpoint(ApplicationId=keyed_app, EndpointId="%2e%2e")


def test_unsigned_request_is_refused(keyed_server: RunningServer, keyed_app: str) -> None:
    response = raw_request(keyed_server.url, "GET", f"/v1/apps/{keyed_app}", key=None)
    _forbidden(response, "Missing credentials")


def test_unknown_key_is_refused(keyed_server: RunningServer, keyed_app: str) -> None:
    stranger = new_key(name="stranger")
    response = raw_request(keyed_server.url, "GET", f"/v1/apps/{keyed_app}", key=stranger)
    assert stranger.id in _forbidden(response, "Unknown access key")


def test_wrong_secret_is_a_signature_mismatch(keyed_server: RunningServer, keyed_app: str) -> None:
    wrong = AccessKey(id=TEST_KEY.id, secret="x" * 40)
    response = raw_request(keyed_server.url, "GET", f"/v1/apps/{keyed_app}", key=wrong)
    _forbidden(response, "Signature mismatch")


def _tamper_body(prepared: Prepared) -> None:
    prepared.body = prepared.body.replace(b"a@example.com", b"b@example.com")


def _tamper_header(prepared: Prepared) -> None:
    prepared.headers["Content-Type"] = "application/x-amz-json-1.1"


def _tamper_path(prepared: Prepared) -> None:
    prepared.path = prepared.path.replace("ep-1", "ep-2")


def _tamper_date(prepared: Prepared) -> None:
    signed_at = datetime.strptime(prepared.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    prepared.headers["X-Amz-Date"] = (signed_at + timedelta(seconds=1)).strftime("%Y%m%dT%H%M%SZ")


def _tamper_key(prepared: Prepared) -> None:
    prepared.headers["Authorization"] = prepared.headers["Authorization"].replace(
        TEST_KEY.id, OTHER_KEY.id
    )


@pytest.mark.parametrize(
    "tamper", [_tamper_body, _tamper_header, _tamper_path, _tamper_date, _tamper_key]
)
def test_tampered_request_is_refused_and_changes_nothing(
    keyed_server: RunningServer, keyed_app: str, tamper: Any
) -> None:
    path = _endpoint_path(keyed_app)
    response = raw_request(keyed_server.url, "PUT", path, BODY, JSON, tamper=tamper)
    _forbidden(response, "Signature mismatch")
    client = keyed_server.client()
    for endpoint_id in ("ep-1", "ep-2"):
        with pytest.raises(ClientError) as caught:
            client.get_endpoint(ApplicationId=keyed_app, EndpointId=endpoint_id)
        assert caught.value.response["Error"]["Code"] == "NotFoundException"


def test_untampered_raw_request_is_accepted(keyed_server: RunningServer, keyed_app: str) -> None:
    path = _endpoint_path(keyed_app, "ep-raw")
    assert raw_request(keyed_server.url, "PUT", path, BODY).status == 202


def test_body_hash_header_must_match_the_body(keyed_server: RunningServer, keyed_app: str) -> None:
    def unsigned_payload(prepared: Prepared) -> None:
        prepared.headers["X-Amz-Content-SHA256"] = "UNSIGNED-PAYLOAD"

    path = _endpoint_path(keyed_app, "ep-hash")
    response = raw_request(keyed_server.url, "PUT", path, BODY, tamper=unsigned_payload)
    assert "UNSIGNED-PAYLOAD" in _forbidden(response, "Signature mismatch")


def _signed_at(monkeypatch: pytest.MonkeyPatch, shift: timedelta) -> None:
    """Make botocore sign as if its clock were `shift` away from the real time."""
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: datetime.now(UTC) + shift)


@pytest.mark.parametrize(
    ("shift", "reason"),
    [(timedelta(minutes=-20), "Request expired"), (timedelta(minutes=20), "Request not yet")],
)
def test_clock_skew_beyond_fifteen_minutes_is_refused(
    keyed_server: RunningServer,
    keyed_app: str,
    monkeypatch: pytest.MonkeyPatch,
    shift: timedelta,
    reason: str,
) -> None:
    _signed_at(monkeypatch, shift)
    response = raw_request(keyed_server.url, "GET", f"/v1/apps/{keyed_app}")
    _forbidden(response, reason)


@pytest.mark.parametrize("minutes", [-14, 14])
def test_clock_skew_within_fifteen_minutes_is_accepted(
    keyed_server: RunningServer, keyed_app: str, monkeypatch: pytest.MonkeyPatch, minutes: int
) -> None:
    _signed_at(monkeypatch, timedelta(minutes=minutes))
    client = pinpoint_client(keyed_server.url)
    assert client.get_app(ApplicationId=keyed_app)["ApplicationResponse"]["Id"] == keyed_app


def _fetch(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, {**json.loads(error.read()), "type": error.headers["x-amzn-ErrorType"]}


def test_presigned_url_is_let_in(keyed_server: RunningServer, keyed_app: str) -> None:
    url = keyed_server.client().generate_presigned_url(
        "get_app", Params={"ApplicationId": keyed_app}, ExpiresIn=60
    )
    assert "X-Amz-Signature=" in url
    status, body = _fetch(url)
    assert (status, body["Id"]) == (200, keyed_app)


def test_presigned_url_expires(
    keyed_server: RunningServer, keyed_app: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _signed_at(monkeypatch, timedelta(seconds=-120))
    url = keyed_server.client().generate_presigned_url(
        "get_app", Params={"ApplicationId": keyed_app}, ExpiresIn=60
    )
    status, body = _fetch(url)
    assert (status, body["type"]) == (403, "ForbiddenException")
    assert body["Message"].startswith("Request expired")


def test_tampered_presigned_url_is_refused(keyed_server: RunningServer, keyed_app: str) -> None:
    url = keyed_server.client().generate_presigned_url(
        "get_apps", Params={"PageSize": "5"}, ExpiresIn=60
    )
    status, body = _fetch(url.replace("page-size=5", "page-size=6"))
    assert status == 403
    assert body["Message"].startswith("Signature mismatch")


def test_raw_presigned_delete(keyed_server: RunningServer, keyed_app: str) -> None:
    path = _endpoint_path(keyed_app, "ep-1-delete")
    assert raw_request(keyed_server.url, "PUT", path, BODY).status == 202
    tampered = raw_request(
        keyed_server.url, "DELETE", path, presign_expires=60, tamper=_tamper_path
    )
    _forbidden(tampered, "Signature mismatch")
    response = raw_request(keyed_server.url, "DELETE", path, presign_expires=60)
    assert response.status == 202
    assert response.json()["Id"] == "ep-1-delete"


def test_security_token_is_refused_unless_configured(
    keyed_server: RunningServer, keyed_app: str
) -> None:
    with_token = AccessKey(id=TEST_KEY.id, secret=TEST_KEY.secret, session_token="t" * 20)
    with pytest.raises(ClientError) as caught:
        pinpoint_client(keyed_server.url, key=with_token).get_app(ApplicationId=keyed_app)
    error = caught.value.response["Error"]
    assert error["Code"] == "ForbiddenException"
    assert "X-Amz-Security-Token" in error["Message"]


def test_key_with_a_session_token_needs_it(keyed_server: RunningServer, keyed_app: str) -> None:
    assert pinpoint_client(keyed_server.url, key=TOKEN_KEY).get_app(ApplicationId=keyed_app)
    without = AccessKey(id=TOKEN_KEY.id, secret=TOKEN_KEY.secret)
    response = raw_request(keyed_server.url, "GET", f"/v1/apps/{keyed_app}", key=without)
    _forbidden(response, "Missing credentials")
    wrong = AccessKey(id=TOKEN_KEY.id, secret=TOKEN_KEY.secret, session_token="x" * 64)
    response = raw_request(keyed_server.url, "GET", f"/v1/apps/{keyed_app}", key=wrong)
    _forbidden(response, "Invalid session token")


def test_server_log_never_holds_a_secret(keyed_server: RunningServer) -> None:
    for key in (TEST_KEY, OTHER_KEY, TOKEN_KEY):
        assert key.secret not in keyed_server.log
        assert key.session_token is None or key.session_token not in keyed_server.log


# The verifier on its own, with a fixed clock: the exact boundaries.


class _Keys:
    def lookup(self, key_id: str) -> AccessKey | None:
        return TEST_KEY if key_id == TEST_KEY.id else None


def _http_request(prepared: Prepared) -> HttpRequest:
    path, _, query = prepared.path.partition("?")
    return HttpRequest(
        method=prepared.method,
        raw_path=path.encode(),
        query_string=query.encode(),
        headers=[(k.lower().encode(), v.encode()) for k, v in prepared.headers.items()],
        body=prepared.body,
    )


@pytest.mark.parametrize(("offset", "accepted"), [(900, True), (901, False), (-900, True)])
def test_skew_boundary_is_fifteen_minutes(offset: int, accepted: bool) -> None:
    prepared = sign("http://h", TEST_KEY, Prepared("GET", "/v1/apps", {}, b""))
    signed_at = datetime.strptime(prepared.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    now = signed_at.replace(tzinfo=UTC).timestamp() + offset
    verifier = SigV4Authenticator(_Keys(), clock=lambda: now)
    if accepted:
        assert verifier.authenticate(_http_request(prepared)).access_key_id == TEST_KEY.id
    else:
        with pytest.raises(Forbidden, match=r"^Request expired"):
            verifier.authenticate(_http_request(prepared))


def test_keys_file_is_private(tmp_path: Path) -> None:
    keys = KeyFile(tmp_path / "keys.json")
    keys.create(new_key())
    assert (keys.path.stat().st_mode & 0o777) == 0o600


def _replace_in_authorization(old: str, new: str) -> Any:
    def tamper(prepared: Prepared) -> None:
        prepared.headers["Authorization"] = prepared.headers["Authorization"].replace(old, new)

    return tamper


def _set_header(name: str, value: str) -> Any:
    def tamper(prepared: Prepared) -> None:
        prepared.headers[name] = value

    return tamper


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (_replace_in_authorization("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1"), "Malformed signature"),
        (_replace_in_authorization("/mobiletargeting/", "/s3/"), "Malformed signature"),
        (_replace_in_authorization("/aws4_request", "/aws5_request"), "Malformed signature"),
        (_replace_in_authorization("SignedHeaders=host;", "SignedHeaders="), "Malformed"),
        (_replace_in_authorization(", Signature=", ", Sig="), "Malformed signature"),
        (_set_header("X-Amz-Date", "20261399T256161Z"), "Malformed signature"),
        (_set_header("X-Amz-Date", "yesterday"), "Malformed signature"),
    ],
)
def test_malformed_signatures_say_so(tamper: Any, reason: str) -> None:
    prepared = sign("http://h", TEST_KEY, Prepared("GET", "/v1/apps", {}, b""))
    tamper(prepared)
    with pytest.raises(Forbidden) as caught:
        SigV4Authenticator(_Keys()).authenticate(_http_request(prepared))
    assert caught.value.message.startswith(reason), caught.value.message
    assert TEST_KEY.secret not in caught.value.message


def test_header_and_presigned_forms_together_are_refused() -> None:
    prepared = sign("http://h", TEST_KEY, Prepared("GET", "/v1/apps", {}, b""), presign_expires=60)
    prepared.headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=x"
    with pytest.raises(Forbidden, match="both"):
        SigV4Authenticator(_Keys()).authenticate(_http_request(prepared))
