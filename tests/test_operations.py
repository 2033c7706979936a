"""Every operation over real boto3: its modeled success status and its bare payload shape."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from conftest import RunningServer
from openpinpoint.core.values import cohort_id
from rawhttp import raw_request

DATE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


def status(response: dict[str, Any]) -> int:
    return int(response["ResponseMetadata"]["HTTPStatusCode"])


def test_create_get_and_delete_app(client: Any) -> None:
    created = client.create_app(CreateApplicationRequest={"Name": "shop", "tags": {"env": "dev"}})
    assert status(created) == 201
    app = created["ApplicationResponse"]
    assert set(app) == {"Arn", "Id", "Name", "tags", "CreationDate"}
    assert (app["Name"], app["tags"]) == ("shop", {"env": "dev"})

    fetched = client.get_app(ApplicationId=app["Id"])
    assert status(fetched) == 200
    assert fetched["ApplicationResponse"] == app

    deleted = client.delete_app(ApplicationId=app["Id"])
    assert status(deleted) == 200
    assert deleted["ApplicationResponse"] == app


def test_get_apps_returns_items_without_token_on_the_last_page(client: Any, app_id: str) -> None:
    response = client.get_apps(PageSize="1000")
    assert status(response) == 200
    page = response["ApplicationsResponse"]
    assert app_id in {app["Id"] for app in page["Item"]}
    assert "NextToken" not in page


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def test_update_endpoint_is_accepted_with_a_message_body(client: Any, app_id: str) -> None:
    before = _now()
    response = client.update_endpoint(
        ApplicationId=app_id,
        EndpointId="ep1",
        EndpointRequest={
            "Address": "+12065550100",
            "ChannelType": "SMS",
            "Attributes": {"Interests": ["Science", "Music"]},
            "Metrics": {"score": 4, "ratio": 0.5},
            "User": {"UserId": "user-1", "UserAttributes": {"Tier": ["gold"]}},
            "Location": {"Latitude": 47.6, "Longitude": -122.3, "Country": "US"},
            "Demographic": {"Timezone": "America/Los_Angeles"},
            "OptOut": "NONE",
            "EffectiveDate": "2024-05-01T00:00:00Z",
            "EndpointStatus": "ACTIVE",
            "RequestId": "my-req",
        },
    )
    after = _now()
    assert status(response) == 202
    assert response["MessageBody"]["Message"] == "Accepted"

    endpoint = client.get_endpoint(ApplicationId=app_id, EndpointId="ep1")["EndpointResponse"]
    # G4: the creation date is the server's clock at the request, the cohort the endpoint id's.
    assert DATE.fullmatch(endpoint["CreationDate"])
    assert before <= endpoint["CreationDate"] <= after
    assert endpoint == {
        "Address": "+12065550100",
        "ApplicationId": app_id,
        "Attributes": {"Interests": ["Science", "Music"]},
        "ChannelType": "SMS",
        "CohortId": cohort_id(app_id, "ep1"),
        "CreationDate": endpoint["CreationDate"],  # checked above
        "Demographic": {"Timezone": "America/Los_Angeles"},
        "EffectiveDate": "2024-05-01T00:00:00.000Z",
        "EndpointStatus": "ACTIVE",
        "Id": "ep1",
        "Location": {"Latitude": 47.6, "Longitude": -122.3, "Country": "US"},
        "Metrics": {"score": 4.0, "ratio": 0.5},
        "OptOut": "NONE",
        "RequestId": "my-req",
        "User": {"UserId": "user-1", "UserAttributes": {"Tier": ["gold"]}},
    }


def test_update_endpoints_batch_is_accepted(client: Any, app_id: str) -> None:
    response = client.update_endpoints_batch(
        ApplicationId=app_id,
        EndpointBatchRequest={
            "Item": [
                {"Id": "ep1", "Address": "a@example.com", "ChannelType": "EMAIL"},
                {"Id": "ep2", "Address": "+12065550101", "ChannelType": "SMS"},
            ]
        },
    )
    assert status(response) == 202
    assert response["MessageBody"]["Message"] == "Accepted"
    got = client.get_endpoint(ApplicationId=app_id, EndpointId="ep2")
    assert status(got) == 200
    assert got["EndpointResponse"]["Address"] == "+12065550101"


def test_delete_endpoint_returns_the_deleted_endpoint(client: Any, app_id: str) -> None:
    client.update_endpoint(
        ApplicationId=app_id, EndpointId="ep1", EndpointRequest={"ChannelType": "EMAIL"}
    )
    before = client.get_endpoint(ApplicationId=app_id, EndpointId="ep1")["EndpointResponse"]
    response = client.delete_endpoint(ApplicationId=app_id, EndpointId="ep1")
    assert status(response) == 202
    assert response["EndpointResponse"] == before


def test_get_user_endpoints_lists_the_users_endpoints(client: Any, app_id: str) -> None:
    for endpoint_id in ("phone", "email"):
        client.update_endpoint(
            ApplicationId=app_id, EndpointId=endpoint_id, EndpointRequest={"User": {"UserId": "u"}}
        )
    client.update_endpoint(
        ApplicationId=app_id, EndpointId="stranger", EndpointRequest={"User": {"UserId": "v"}}
    )
    response = client.get_user_endpoints(ApplicationId=app_id, UserId="u")
    assert status(response) == 200
    assert sorted(e["Id"] for e in response["EndpointsResponse"]["Item"]) == ["email", "phone"]


def test_delete_user_endpoints_deletes_and_returns_exactly_the_users_endpoints(
    client: Any, app_id: str
) -> None:
    for i in range(3):
        client.update_endpoint(
            ApplicationId=app_id,
            EndpointId=f"mine-{i}",
            EndpointRequest={"ChannelType": "EMAIL", "User": {"UserId": "leaver"}},
        )
    client.update_endpoint(
        ApplicationId=app_id, EndpointId="theirs", EndpointRequest={"User": {"UserId": "stayer"}}
    )
    before = client.get_user_endpoints(ApplicationId=app_id, UserId="leaver")["EndpointsResponse"]

    response = client.delete_user_endpoints(ApplicationId=app_id, UserId="leaver")

    assert status(response) == 202
    assert response["EndpointsResponse"] == before
    for i in range(3):
        with pytest.raises(client.exceptions.NotFoundException):
            client.get_endpoint(ApplicationId=app_id, EndpointId=f"mine-{i}")
    assert client.get_endpoint(ApplicationId=app_id, EndpointId="theirs")["EndpointResponse"]


def test_remove_attributes_forgets_matching_names(client: Any, app_id: str) -> None:
    client.update_endpoint(
        ApplicationId=app_id,
        EndpointId="e1",
        EndpointRequest={"Attributes": {"color": ["red"], "colour": ["blue"], "size": ["M"]}},
    )
    response = client.remove_attributes(
        ApplicationId=app_id,
        AttributeType="endpoint-custom-attributes",
        UpdateAttributesRequest={"Blacklist": ["colo*"]},
    )
    assert status(response) == 200
    assert response["AttributesResource"] == {
        "ApplicationId": app_id,
        "AttributeType": "endpoint-custom-attributes",
        "Attributes": ["color", "colour"],
    }
    endpoint = client.get_endpoint(ApplicationId=app_id, EndpointId="e1")["EndpointResponse"]
    assert endpoint["Attributes"] == {"color": ["red"], "colour": ["blue"], "size": ["M"]}


def test_remove_attributes_frees_quota(client: Any, app_id: str) -> None:
    client.update_endpoint(
        ApplicationId=app_id,
        EndpointId="e1",
        EndpointRequest={"Metrics": {f"m{i}": 1 for i in range(250)}},
    )
    with pytest.raises(client.exceptions.BadRequestException):
        client.update_endpoint(
            ApplicationId=app_id, EndpointId="e2", EndpointRequest={"Attributes": {"a": ["1"]}}
        )
    client.remove_attributes(
        ApplicationId=app_id,
        AttributeType="endpoint-metric-attributes",
        UpdateAttributesRequest={"Blacklist": ["m1"]},
    )
    client.update_endpoint(
        ApplicationId=app_id, EndpointId="e2", EndpointRequest={"Attributes": {"a": ["1"]}}
    )


def test_remove_attributes_rejects_an_unknown_attribute_type(client: Any, app_id: str) -> None:
    with pytest.raises(client.exceptions.BadRequestException) as excinfo:
        client.remove_attributes(
            ApplicationId=app_id,
            AttributeType="endpoint-secret-attributes",
            UpdateAttributesRequest={"Blacklist": ["a"]},
        )
    assert "endpoint-custom-attributes" in excinfo.value.response["Message"]


def test_tag_untag_and_list_tags(client: Any) -> None:
    app = client.create_app(CreateApplicationRequest={"Name": "tagged", "tags": {"a": "1"}})[
        "ApplicationResponse"
    ]
    tagged = client.tag_resource(ResourceArn=app["Arn"], TagsModel={"tags": {"b": "2", "c": "3"}})
    assert status(tagged) == 204
    listed = client.list_tags_for_resource(ResourceArn=app["Arn"])
    assert status(listed) == 200
    assert listed["TagsModel"] == {"tags": {"a": "1", "b": "2", "c": "3"}}
    untagged = client.untag_resource(ResourceArn=app["Arn"], TagKeys=["a", "c"])
    assert status(untagged) == 204
    assert client.list_tags_for_resource(ResourceArn=app["Arn"])["TagsModel"] == {
        "tags": {"b": "2"}
    }
    assert client.get_app(ApplicationId=app["Id"])["ApplicationResponse"]["tags"] == {"b": "2"}


def test_tag_limits(client: Any, app_id: str) -> None:
    arn = client.get_app(ApplicationId=app_id)["ApplicationResponse"]["Arn"]
    with pytest.raises(client.exceptions.BadRequestException) as excinfo:
        client.tag_resource(ResourceArn=arn, TagsModel={"tags": {"k" * 129: "v"}})
    assert "length <= 128" in excinfo.value.response["Message"]
    client.tag_resource(ResourceArn=arn, TagsModel={"tags": {f"k{i}": "v" for i in range(40)}})
    with pytest.raises(client.exceptions.BadRequestException) as excinfo:
        client.tag_resource(ResourceArn=arn, TagsModel={"tags": {f"x{i}": "v" for i in range(11)}})
    assert "50 tags" in excinfo.value.response["Message"]


def test_tags_on_a_malformed_or_unknown_arn(client: Any) -> None:
    with pytest.raises(client.exceptions.BadRequestException):
        client.list_tags_for_resource(ResourceArn="arn:aws:s3:::bucket")
    with pytest.raises(client.exceptions.NotFoundException):
        client.list_tags_for_resource(
            ResourceArn="arn:aws:mobiletargeting:us-east-1:000000000000:apps/" + "f" * 32
        )


def test_untag_without_keys_is_a_bad_request(server: RunningServer, app_id: str) -> None:
    arn = f"arn%3Aaws%3Amobiletargeting%3Aus-east-1%3A000000000000%3Aapps%2F{app_id}"
    response = raw_request(server.url, "DELETE", f"/v1/tags/{arn}")
    assert (response.status, response.header("x-amzn-ErrorType")) == (400, "BadRequestException")
