"""Decisions G1-G12 of the spec, each proven over HTTP with real boto3."""

from __future__ import annotations

import re
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import RunningServer, pinpoint_client
from rawhttp import raw_request

DATE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
UNKNOWN_APP = "0" * 32


def put(client: Any, app_id: str, endpoint_id: str, **request: Any) -> dict[str, Any]:
    response: dict[str, Any] = client.update_endpoint(
        ApplicationId=app_id, EndpointId=endpoint_id, EndpointRequest=request
    )
    return response


def get(client: Any, app_id: str, endpoint_id: str) -> dict[str, Any]:
    endpoint: dict[str, Any] = client.get_endpoint(ApplicationId=app_id, EndpointId=endpoint_id)[
        "EndpointResponse"
    ]
    return endpoint


def user_endpoints(client: Any, app_id: str, user_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.get_user_endpoints(ApplicationId=app_id, UserId=user_id)[
        "EndpointsResponse"
    ]["Item"]
    return items


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["Error"]["Message"]


# G1 Not found


@pytest.mark.parametrize(
    ("operation", "arguments"),
    [
        ("get_app", {}),
        ("delete_app", {}),
        ("update_endpoint", {"EndpointId": "e", "EndpointRequest": {}}),
        ("update_endpoints_batch", {"EndpointBatchRequest": {"Item": [{"Id": "e"}]}}),
        ("get_endpoint", {"EndpointId": "e"}),
        ("delete_endpoint", {"EndpointId": "e"}),
        ("get_user_endpoints", {"UserId": "u"}),
        ("delete_user_endpoints", {"UserId": "u"}),
        (
            "remove_attributes",
            {
                "AttributeType": "endpoint-custom-attributes",
                "UpdateAttributesRequest": {"Blacklist": ["a"]},
            },
        ),
    ],
)
def test_g1_unknown_application_is_not_found(
    client: Any, operation: str, arguments: dict[str, Any]
) -> None:
    with pytest.raises(client.exceptions.NotFoundException) as excinfo:
        getattr(client, operation)(ApplicationId=UNKNOWN_APP, **arguments)
    assert UNKNOWN_APP in excinfo.value.response["Message"]


def test_g1_unknown_endpoint_is_not_found(client: Any, app_id: str) -> None:
    for operation in (client.get_endpoint, client.delete_endpoint):
        with pytest.raises(client.exceptions.NotFoundException) as excinfo:
            operation(ApplicationId=app_id, EndpointId="missing")
        assert "'missing'" in excinfo.value.response["Message"]


def test_g1_user_without_endpoints_is_not_found(client: Any, app_id: str) -> None:
    for operation in (client.get_user_endpoints, client.delete_user_endpoints):
        with pytest.raises(client.exceptions.NotFoundException) as excinfo:
            operation(ApplicationId=app_id, UserId="nobody")
        assert "'nobody'" in excinfo.value.response["Message"]


# G2 Partial update


def test_g2_omitted_members_keep_their_values(client: Any, app_id: str) -> None:
    put(
        client,
        app_id,
        "e1",
        Address="a@example.com",
        ChannelType="EMAIL",
        OptOut="ALL",
        Demographic={"Platform": "ios", "Timezone": "Europe/Paris"},
        Location={"City": "Paris", "Country": "FR"},
    )
    put(client, app_id, "e1", Attributes={"color": ["red"]})
    endpoint = get(client, app_id, "e1")
    assert endpoint["Address"] == "a@example.com"
    assert endpoint["ChannelType"] == "EMAIL"
    assert endpoint["OptOut"] == "ALL"
    assert endpoint["Demographic"] == {"Platform": "ios", "Timezone": "Europe/Paris"}
    assert endpoint["Location"] == {"City": "Paris", "Country": "FR"}
    assert endpoint["Attributes"] == {"color": ["red"]}


def test_g2_attribute_maps_merge_per_key_and_empty_list_removes(client: Any, app_id: str) -> None:
    put(
        client,
        app_id,
        "e1",
        Attributes={"a": ["1"], "b": ["2"], "c": ["3"]},
        Metrics={"m1": 1.0, "m2": 2.0},
        User={"UserId": "u1", "UserAttributes": {"x": ["1"], "y": ["2"]}},
    )
    put(
        client,
        app_id,
        "e1",
        Attributes={"a": ["10", "11"], "b": []},
        Metrics={"m2": 20.5},
        User={"UserAttributes": {"y": []}},
    )
    endpoint = get(client, app_id, "e1")
    assert endpoint["Attributes"] == {"a": ["10", "11"], "c": ["3"]}
    assert endpoint["Metrics"] == {"m1": 1.0, "m2": 20.5}
    assert endpoint["User"] == {"UserId": "u1", "UserAttributes": {"x": ["1"]}}


def test_g2_demographic_and_location_merge_field_by_field(client: Any, app_id: str) -> None:
    put(
        client,
        app_id,
        "e1",
        Demographic={"Make": "Apple", "Model": "iPhone"},
        Location={"City": "Seattle", "Latitude": 47.6},
    )
    put(
        client,
        app_id,
        "e1",
        Demographic={"Model": "iPad", "Locale": "en_US"},
        Location={"Longitude": -122.3},
    )
    endpoint = get(client, app_id, "e1")
    assert endpoint["Demographic"] == {"Make": "Apple", "Model": "iPad", "Locale": "en_US"}
    assert endpoint["Location"] == {"City": "Seattle", "Latitude": 47.6, "Longitude": -122.3}


def test_g2_empty_user_id_unlinks_the_endpoint(client: Any, app_id: str) -> None:
    put(client, app_id, "e1", User={"UserId": "u1", "UserAttributes": {"plan": ["pro"]}})
    put(client, app_id, "e1", User={"UserId": ""})
    assert get(client, app_id, "e1")["User"] == {}
    with pytest.raises(client.exceptions.NotFoundException):
        client.get_user_endpoints(ApplicationId=app_id, UserId="u1")


# G3 User attributes belong to the user


def test_g3_user_attributes_change_for_every_endpoint_of_the_user(client: Any, app_id: str) -> None:
    put(client, app_id, "phone", User={"UserId": "u1"})
    put(client, app_id, "email", User={"UserId": "u1"})
    put(client, app_id, "other", User={"UserId": "u2"})
    put(client, app_id, "phone", User={"UserAttributes": {"plan": ["gold"]}})
    for endpoint in user_endpoints(client, app_id, "u1"):
        assert endpoint["User"]["UserAttributes"] == {"plan": ["gold"]}
    assert "UserAttributes" not in get(client, app_id, "other")["User"]


def test_g3_an_endpoint_that_joins_a_user_shows_the_users_attributes(
    client: Any, app_id: str
) -> None:
    put(client, app_id, "first", User={"UserId": "u1", "UserAttributes": {"plan": ["gold"]}})
    put(client, app_id, "second", ChannelType="SMS", Address="+15550100")
    put(client, app_id, "second", User={"UserId": "u1"})
    assert get(client, app_id, "second")["User"] == {
        "UserId": "u1",
        "UserAttributes": {"plan": ["gold"]},
    }


# G4 Dates and ids


def test_g4_dates_are_utc_with_milliseconds_and_creation_date_is_fixed(
    client: Any, app_id: str
) -> None:
    put(client, app_id, "e1", ChannelType="EMAIL")
    first = get(client, app_id, "e1")
    assert DATE.fullmatch(first["CreationDate"])
    assert DATE.fullmatch(first["EffectiveDate"])
    put(client, app_id, "e1", OptOut="ALL")
    second = get(client, app_id, "e1")
    assert second["CreationDate"] == first["CreationDate"]
    assert second["EffectiveDate"] >= first["EffectiveDate"]


def test_g4_client_effective_date_is_kept_normalised_to_utc(client: Any, app_id: str) -> None:
    put(client, app_id, "e1", EffectiveDate="2024-05-01T02:30:00+02:00")
    assert get(client, app_id, "e1")["EffectiveDate"] == "2024-05-01T00:30:00.000Z"
    put(client, app_id, "e1", EffectiveDate="not a date")
    assert get(client, app_id, "e1")["EffectiveDate"] > "2025"


def test_g4_request_id_is_the_clients_else_the_api_request_id(client: Any, app_id: str) -> None:
    put(client, app_id, "e1", RequestId="client-request-1")
    assert get(client, app_id, "e1")["RequestId"] == "client-request-1"
    response = put(client, app_id, "e1", OptOut="NONE")
    api_request_id = response["ResponseMetadata"]["RequestId"]
    assert response["MessageBody"] == {"Message": "Accepted", "RequestID": api_request_id}
    assert get(client, app_id, "e1")["RequestId"] == api_request_id


def test_g4_cohort_id_is_a_stable_string_from_0_to_99(client: Any, app_id: str) -> None:
    put(client, app_id, "e1", ChannelType="EMAIL")
    cohort = get(client, app_id, "e1")["CohortId"]
    assert isinstance(cohort, str)
    assert 0 <= int(cohort) <= 99
    put(client, app_id, "E1", ChannelType="SMS")
    assert get(client, app_id, "e1")["CohortId"] == cohort


# G5 Endpoint status


def test_g5_duplicate_address_goes_inactive(client: Any, app_id: str) -> None:
    put(client, app_id, "old", ChannelType="EMAIL", Address="same@example.com")
    put(client, app_id, "new", ChannelType="CUSTOM", Address="same@example.com")
    assert get(client, app_id, "old")["EndpointStatus"] == "INACTIVE"
    assert get(client, app_id, "new")["EndpointStatus"] == "ACTIVE"
    put(client, app_id, "old", OptOut="NONE")
    assert get(client, app_id, "old")["EndpointStatus"] == "ACTIVE"
    assert get(client, app_id, "new")["EndpointStatus"] == "INACTIVE"


def test_g5_a_request_that_says_inactive_is_honoured(client: Any, app_id: str) -> None:
    put(client, app_id, "e1", ChannelType="EMAIL", EndpointStatus="INACTIVE")
    assert get(client, app_id, "e1")["EndpointStatus"] == "INACTIVE"
    put(client, app_id, "e1", OptOut="NONE")
    assert get(client, app_id, "e1")["EndpointStatus"] == "ACTIVE"


def test_g5_the_rule_is_per_application(client: Any, app_id: str) -> None:
    other_app = client.create_app(CreateApplicationRequest={"Name": "other"})[
        "ApplicationResponse"
    ]["Id"]
    put(client, app_id, "e1", Address="x@example.com")
    put(client, other_app, "e1", Address="x@example.com")
    assert get(client, app_id, "e1")["EndpointStatus"] == "ACTIVE"


# G6 Fifteen endpoints per user


OLDEST = "e07"
"""The endpoint `_fill_user` dates earliest: neither the lowest id nor the first written, so
that picking by id or by insertion order gets G6's eviction wrong."""


def _fill_user(client: Any, app_id: str, channel: str = "EMAIL") -> None:
    items = [
        {
            "Id": f"e{i:02d}",
            "ChannelType": channel,
            "Address": f"{channel}-{i}",
            # e07 gets January 1st, e08 the 2nd, ... e00 the 9th, ... e06 the 15th.
            "EffectiveDate": f"2024-01-{(i + 8) % 15 + 1:02d}T00:00:00Z",
            "User": {"UserId": "u1"},
        }
        for i in range(15)
    ]
    client.update_endpoints_batch(ApplicationId=app_id, EndpointBatchRequest={"Item": items})


def test_g6_sixteenth_non_push_endpoint_is_refused(client: Any, app_id: str) -> None:
    _fill_user(client, app_id, "APNS")
    with pytest.raises(client.exceptions.BadRequestException) as excinfo:
        put(client, app_id, "extra", ChannelType="SMS", User={"UserId": "u1"})
    assert "15" in excinfo.value.response["Message"]
    assert len(user_endpoints(client, app_id, "u1")) == 15
    with pytest.raises(client.exceptions.NotFoundException):
        get(client, app_id, "extra")


def test_g6_sixteenth_push_endpoint_without_push_member_is_refused(
    client: Any, app_id: str
) -> None:
    _fill_user(client, app_id, "EMAIL")
    with pytest.raises(client.exceptions.BadRequestException):
        put(client, app_id, "extra", ChannelType="GCM", User={"UserId": "u1"})
    assert len(user_endpoints(client, app_id, "u1")) == 15


def test_g6_sixteenth_push_endpoint_displaces_the_oldest_push_endpoint(
    client: Any, app_id: str
) -> None:
    _fill_user(client, app_id, "GCM")
    put(client, app_id, "extra", ChannelType="APNS", User={"UserId": "u1"})
    members = {e["Id"] for e in user_endpoints(client, app_id, "u1")}
    assert len(members) == 15
    assert "extra" in members
    assert members == {f"e{i:02d}" for i in range(15)} - {OLDEST} | {"extra"}
    displaced = get(client, app_id, OLDEST)
    assert displaced["EndpointStatus"] == "INACTIVE"
    assert "UserId" not in displaced["User"]


# G7 Batches are all-or-nothing


def test_g7_a_bad_item_rejects_the_whole_batch(client: Any, app_id: str) -> None:
    items = [{"Id": "good-1"}, {"Id": "good-2"}, {"Id": "bad", "ChannelType": "FAX"}]
    with pytest.raises(client.exceptions.BadRequestException) as excinfo:
        client.update_endpoints_batch(ApplicationId=app_id, EndpointBatchRequest={"Item": items})
    assert "Item[2]" in excinfo.value.response["Message"]
    for endpoint_id in ("good-1", "good-2"):
        with pytest.raises(client.exceptions.NotFoundException):
            get(client, app_id, endpoint_id)


def test_g7_a_rule_broken_mid_batch_rejects_the_whole_batch(client: Any, app_id: str) -> None:
    items = [{"Id": f"e{i}", "User": {"UserId": "u1"}} for i in range(16)]
    with pytest.raises(client.exceptions.BadRequestException) as excinfo:
        client.update_endpoints_batch(ApplicationId=app_id, EndpointBatchRequest={"Item": items})
    assert "Item[15]" in excinfo.value.response["Message"]
    with pytest.raises(client.exceptions.NotFoundException):
        get(client, app_id, "e0")


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([], "length >= 1"),
        ([{"Id": f"e{i}"} for i in range(101)], "length <= 100"),
        ([{"Id": "ok"}, {"Address": "x"}], "Item[1]: Id is required"),
        ([{"Id": ""}], "Item[0]: Id is required"),
    ],
)
def test_g7_batch_needs_1_to_100_items_each_with_an_id(
    client: Any, app_id: str, items: list[dict[str, Any]], expected: str
) -> None:
    with pytest.raises(client.exceptions.BadRequestException) as excinfo:
        client.update_endpoints_batch(ApplicationId=app_id, EndpointBatchRequest={"Item": items})
    assert expected in excinfo.value.response["Message"]


def test_g7_items_with_the_same_id_apply_in_order(client: Any, app_id: str) -> None:
    items = [
        {"Id": "e1", "Address": "first", "Attributes": {"a": ["1"]}},
        {"Id": "e1", "Address": "second"},
    ]
    client.update_endpoints_batch(ApplicationId=app_id, EndpointBatchRequest={"Item": items})
    endpoint = get(client, app_id, "e1")
    assert endpoint["Address"] == "second"
    assert endpoint["Attributes"] == {"a": ["1"]}


# G8 Identifiers


@pytest.mark.parametrize("bad_id", ["a$b", "a{b", "a}b", "tab\there", "x" * 257])
def test_g8_invalid_endpoint_and_user_ids_are_rejected(
    client: Any, app_id: str, bad_id: str
) -> None:
    with pytest.raises(client.exceptions.BadRequestException) as excinfo:
        put(client, app_id, bad_id, ChannelType="EMAIL")
    assert "1-256 characters" in excinfo.value.response["Message"]
    with pytest.raises(client.exceptions.BadRequestException):
        put(client, app_id, "fine", User={"UserId": bad_id})
    with pytest.raises(client.exceptions.BadRequestException):
        client.get_user_endpoints(ApplicationId=app_id, UserId=bad_id)


def test_g8_endpoint_ids_match_case_insensitively_keeping_the_first_spelling(
    client: Any, app_id: str
) -> None:
    put(client, app_id, "Device-ABC", ChannelType="GCM")
    put(client, app_id, "device-abc", OptOut="ALL")
    endpoint = get(client, app_id, "DEVICE-abc")
    assert endpoint["Id"] == "Device-ABC"
    assert endpoint["OptOut"] == "ALL"
    client.delete_endpoint(ApplicationId=app_id, EndpointId="DEVICE-ABC")
    with pytest.raises(client.exceptions.NotFoundException):
        get(client, app_id, "Device-ABC")


def test_g8_ids_of_256_characters_are_accepted(client: Any, app_id: str) -> None:
    long_id = "é" * 256
    put(client, app_id, long_id, User={"UserId": long_id})
    assert user_endpoints(client, app_id, long_id)[0]["Id"] == long_id


def test_g8_application_ids_are_32_lowercase_hex(client: Any, app_id: str) -> None:
    assert re.fullmatch(r"[0-9a-f]{32}", app_id)


# G9 Limits


@pytest.mark.parametrize(
    ("request_body", "names"),
    [
        ({"Attributes": {"n" * 51: ["v"]}}, "length <= 50"),
        ({"Attributes": {"n": ["v" * 101]}}, "length <= 100"),
        ({"Attributes": {"n": ["v"] * 51}}, "length <= 50"),
        ({"User": {"UserAttributes": {"n" * 51: ["v"]}}}, "$.User.UserAttributes"),
        ({"Metrics": {"n" * 51: 1}}, "$.Metrics"),
        ({"Location": {"Latitude": 90.5}}, "$.Location.Latitude"),
        ({"Location": {"Longitude": -180.5}}, "$.Location.Longitude"),
        ({"ChannelType": "FAX"}, "$.ChannelType"),
        ({"OptOut": "SOME"}, "$.OptOut"),
        ({"EndpointStatus": "DELETED"}, "$.EndpointStatus"),
    ],
)
def test_g9_field_limits_are_enforced_and_named(
    client: Any, app_id: str, request_body: dict[str, Any], names: str
) -> None:
    with pytest.raises(client.exceptions.BadRequestException) as excinfo:
        put(client, app_id, "e1", **request_body)
    assert names in excinfo.value.response["Message"]
    with pytest.raises(client.exceptions.NotFoundException):
        get(client, app_id, "e1")


def test_g9_two_hundred_fifty_attribute_names_per_app(client: Any, app_id: str) -> None:
    put(client, app_id, "e1", Attributes={f"a{i}": ["v"] for i in range(100)})
    put(client, app_id, "e2", Metrics={f"m{i}": i for i in range(100)})
    put(
        client,
        app_id,
        "e3",
        User={"UserId": "u", "UserAttributes": {f"u{i}": ["v"] for i in range(50)}},
    )
    put(client, app_id, "e4", Attributes={"a0": ["again"]})  # a known name costs nothing
    with pytest.raises(client.exceptions.BadRequestException) as excinfo:
        put(client, app_id, "e5", Attributes={"one-too-many": ["v"]})
    assert "250" in excinfo.value.response["Message"]
    with pytest.raises(client.exceptions.NotFoundException):
        get(client, app_id, "e5")


def test_g9_endpoint_size_is_limited_to_15_kb(client: Any, app_id: str) -> None:
    big = {f"attr{i}": ["x" * 100] * 10 for i in range(15)}
    with pytest.raises(client.exceptions.BadRequestException) as excinfo:
        put(client, app_id, "e1", Attributes=big)
    assert "15 KB" in excinfo.value.response["Message"]


def test_g9_integers_are_accepted_for_doubles_and_coordinates_are_rounded(
    client: Any, app_id: str
) -> None:
    put(
        client, app_id, "e1", Metrics={"visits": 3}, Location={"Latitude": 47.61, "Longitude": -122}
    )
    endpoint = get(client, app_id, "e1")
    assert endpoint["Metrics"] == {"visits": 3.0}
    assert endpoint["Location"] == {"Latitude": 47.6, "Longitude": -122.0}


def test_g9_opt_out_defaults_to_none(client: Any, app_id: str) -> None:
    put(client, app_id, "e1", ChannelType="EMAIL")
    assert get(client, app_id, "e1")["OptOut"] == "NONE"


def test_g9_unknown_members_are_rejected(server: RunningServer, app_id: str) -> None:
    response = raw_request(
        server.url, "PUT", f"/v1/apps/{app_id}/endpoints/e1", b'{"Address":"a","Colour":"red"}'
    )
    assert response.status == 400
    assert response.header("x-amzn-ErrorType") == "BadRequestException"
    assert "Colour" in response.json()["Message"]


# G10 Applications


def test_g10_arn_uses_the_signing_region_and_the_account_id(server: RunningServer) -> None:
    client = pinpoint_client(server.url, region="eu-west-1")
    app = client.create_app(CreateApplicationRequest={"Name": "eu"})["ApplicationResponse"]
    assert app["Arn"] == f"arn:aws:mobiletargeting:eu-west-1:000000000000:apps/{app['Id']}"
    assert app["tags"] == {}
    assert DATE.fullmatch(app["CreationDate"])


def test_g10_get_apps_pages_in_creation_order(client: Any) -> None:
    created = [
        client.create_app(CreateApplicationRequest={"Name": f"page-{i}"})["ApplicationResponse"][
            "Id"
        ]
        for i in range(5)
    ]
    seen: list[str] = []
    token: str | None = None
    while True:
        arguments = {"PageSize": "2"} | ({"Token": token} if token else {})
        page = client.get_apps(**arguments)["ApplicationsResponse"]
        assert len(page["Item"]) <= 2
        seen += [app["Id"] for app in page["Item"]]
        token = page.get("NextToken")
        if token is None:
            break
    assert [app_id for app_id in seen if app_id in created] == created
    assert len(seen) == len(set(seen))


@pytest.mark.parametrize(
    ("page_size", "token"), [("0", None), ("1001", None), ("x", None), (None, "bogus!")]
)
def test_g10_bad_page_size_or_token_is_rejected(
    client: Any, page_size: str | None, token: str | None
) -> None:
    arguments = {"PageSize": page_size} if page_size else {}
    if token:
        arguments["Token"] = token
    with pytest.raises(client.exceptions.BadRequestException):
        client.get_apps(**arguments)


def test_g10_deleting_an_app_deletes_everything_in_it(client: Any, app_id: str) -> None:
    arn = client.get_app(ApplicationId=app_id)["ApplicationResponse"]["Arn"]
    client.tag_resource(ResourceArn=arn, TagsModel={"tags": {"team": "growth"}})
    put(client, app_id, "e1", User={"UserId": "u1"})
    deleted = client.delete_app(ApplicationId=app_id)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert deleted["ApplicationResponse"]["Id"] == app_id
    for call in (
        lambda: client.get_app(ApplicationId=app_id),
        lambda: get(client, app_id, "e1"),
        lambda: client.get_user_endpoints(ApplicationId=app_id, UserId="u1"),
        lambda: client.list_tags_for_resource(ResourceArn=arn),
    ):
        with pytest.raises(client.exceptions.NotFoundException):
            call()


# G11 Errors on the wire


def test_g11_every_response_carries_a_request_id(server: RunningServer, app_id: str) -> None:
    ok = raw_request(server.url, "GET", f"/v1/apps/{app_id}")
    assert ok.status == 200
    assert re.fullmatch(r"[0-9a-f-]{36}", ok.header("x-amzn-RequestId") or "")
    missing = raw_request(server.url, "GET", f"/v1/apps/{app_id}/endpoints/none")
    assert missing.status == 404
    assert missing.header("x-amzn-ErrorType") == "NotFoundException"
    assert missing.header("Content-Type") == "application/json"
    assert missing.json()["RequestID"] == missing.header("x-amzn-RequestId")
    assert set(missing.json()) == {"Message", "RequestID"}


def test_g11_unknown_path_is_not_found_and_wrong_method_not_allowed(
    server: RunningServer, app_id: str
) -> None:
    unknown = raw_request(server.url, "GET", "/v2/whatever")
    assert (unknown.status, unknown.header("x-amzn-ErrorType")) == (404, "NotFoundException")
    wrong = raw_request(server.url, "POST", f"/v1/apps/{app_id}/users/u1", b"{}")
    assert (wrong.status, wrong.header("x-amzn-ErrorType")) == (405, "MethodNotAllowedException")


@pytest.mark.parametrize(
    "body",
    [b"{", b'{"Address": 5}', b"[]", b"", b'{"Attributes": {"a": "not-a-list"}}'],
)
def test_g11_malformed_or_wrongly_typed_json_is_a_bad_request(
    server: RunningServer, app_id: str, body: bytes
) -> None:
    response = raw_request(server.url, "PUT", f"/v1/apps/{app_id}/endpoints/e1", body)
    assert (response.status, response.header("x-amzn-ErrorType")) == (400, "BadRequestException")
    assert "Traceback" not in response.text


# G12 Consistency and durability (the kill -9 half is in test_durability.py)


def test_g12_every_acknowledged_write_is_visible_to_the_next_read(client: Any, app_id: str) -> None:
    for i in range(50):
        put(client, app_id, "e1", Attributes={"n": [str(i)]}, User={"UserId": f"user-{i % 3}"})
        assert get(client, app_id, "e1")["Attributes"] == {"n": [str(i)]}
        assert [e["Id"] for e in user_endpoints(client, app_id, f"user-{i % 3}")] == ["e1"]
