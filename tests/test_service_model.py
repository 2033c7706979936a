"""The operation table and the shapes against botocore's `pinpoint` service model."""

from __future__ import annotations

import json
from typing import Any

import botocore.session
import msgspec
import pytest
from botocore.model import OperationModel, Shape, StructureShape

from conftest import RunningServer
from openpinpoint.core import messaging_shapes, segment_shapes, shapes, template_shapes
from openpinpoint.wire.operations import OPERATIONS, Operation
from rawhttp import raw_request

MODEL = botocore.session.get_session().get_service_model("pinpoint")


def _op(operation: Operation) -> OperationModel:
    return MODEL.operation_model(operation.name)


def _wire_fields(struct: type[msgspec.Struct]) -> dict[str, Any]:
    info = msgspec.inspect.type_info(struct)
    assert isinstance(info, msgspec.inspect.StructType)
    return {field.encode_name: field.type for field in info.fields}


def _struct_in(kind: Any) -> type[msgspec.Struct] | None:
    """The Struct class a field type holds (through unions, lists and dicts), if any."""
    if isinstance(kind, msgspec.inspect.StructType):
        return kind.cls
    if isinstance(kind, msgspec.inspect.UnionType):
        found = [s for t in kind.types if (s := _struct_in(t)) is not None]
        return found[0] if found else None
    if isinstance(kind, msgspec.inspect.ListType):
        return _struct_in(kind.item_type)
    if isinstance(kind, msgspec.inspect.DictType):
        return _struct_in(kind.value_type)
    return None


def _assert_members_exist(struct: type[msgspec.Struct], shape: Shape, path: str) -> None:
    assert isinstance(shape, StructureShape), path
    for name, kind in _wire_fields(struct).items():
        assert name in shape.members, f"{path}.{name} is not in model shape {shape.name}"
        nested = _struct_in(kind)
        if nested is not None:
            member = shape.members[name]
            while member.type_name in ("list", "map"):
                member = member.member if member.type_name == "list" else member.value
            _assert_members_exist(nested, member, f"{path}.{name}")


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.name)
def test_method_uri_and_success_code_match_the_model(operation: Operation) -> None:
    http = _op(operation).http
    assert (operation.method, operation.uri) == (http["method"], http["requestUri"])
    assert operation.status == http.get("responseCode", 200)


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.name)
def test_inputs_come_from_where_the_model_puts_them(operation: Operation) -> None:
    model_input = _op(operation).input_shape
    assert model_input is not None
    locations: dict[str, set[str]] = {"uri": set(), "querystring": set()}
    payload = model_input.serialization.get("payload")
    for member in model_input.members.values():
        location = member.serialization.get("location")
        if location in locations:
            locations[location].add(member.serialization["name"])
    uri_labels = {part[1:-1] for part in operation.uri.split("/") if part.startswith("{")}
    assert uri_labels == locations["uri"]
    assert set(operation.query) | set(operation.list_query) == locations["querystring"]
    if operation.body is None:
        assert payload is None
    else:
        body_shape = model_input.members[payload]
        assert operation.body.__name__ == body_shape.name
        assert set(_wire_fields(operation.body)) == set(body_shape.members)


def test_batch_items_have_the_model_members() -> None:
    item = MODEL.shape_for("EndpointBatchItem")
    assert set(_wire_fields(shapes.EndpointBatchItem)) == set(item.members)


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.name)
def test_every_emitted_member_exists_in_the_output_shape(operation: Operation) -> None:
    output = _op(operation).output_shape
    if operation.output is None:
        assert output is None or not output.members
        return
    assert output is not None
    assert output.serialization.get("payload") == operation.output
    payload_shape = output.members[operation.output]
    # Each feature keeps its shapes in a module of its own.
    struct = next(
        found
        for module in (shapes, messaging_shapes, template_shapes, segment_shapes)
        if (found := getattr(module, payload_shape.name, None)) is not None
    )
    _assert_members_exist(struct, payload_shape, operation.output)


def _assert_json_fits(value: Any, shape: Shape, path: str) -> None:
    if shape.type_name == "structure":
        assert isinstance(value, dict), path
        for name, item in value.items():
            assert name in shape.members, f"{path}.{name} is not in {shape.name}"
            _assert_json_fits(item, shape.members[name], f"{path}.{name}")
    elif shape.type_name == "list":
        assert isinstance(value, list), path
        for item in value:
            _assert_json_fits(item, shape.member, path + "[]")
    elif shape.type_name == "map":
        assert isinstance(value, dict), path
        for item in value.values():
            _assert_json_fits(item, shape.value, path + "{}")
    elif shape.type_name == "string":
        assert isinstance(value, str), f"{path} must be a string (e.g. CohortId)"
    elif shape.type_name == "double":
        assert isinstance(value, int | float), path


def test_a_full_endpoint_on_the_wire_fits_the_model(server: RunningServer, app_id: str) -> None:
    client = server.client()
    client.update_endpoint(
        ApplicationId=app_id,
        EndpointId="full",
        EndpointRequest={
            "Address": "+12065550100",
            "ChannelType": "SMS",
            "Attributes": {"a": ["1"]},
            "Metrics": {"m": 1},
            "Demographic": {f: "x" for f in MODEL.shape_for("EndpointDemographic").members},
            "Location": {
                "City": "x",
                "Country": "x",
                "Latitude": 1,
                "Longitude": 2,
                "PostalCode": "x",
                "Region": "x",
            },
            "User": {"UserId": "u", "UserAttributes": {"k": ["v"]}},
        },
    )
    endpoint = raw_request(server.url, "GET", f"/v1/apps/{app_id}/endpoints/full").json()
    shape = MODEL.shape_for("EndpointResponse")
    assert set(endpoint) == set(shape.members)
    _assert_json_fits(endpoint, shape, "EndpointResponse")
    users = raw_request(server.url, "DELETE", f"/v1/apps/{app_id}/users/u").json()
    _assert_json_fits(users, MODEL.shape_for("EndpointsResponse"), "EndpointsResponse")
    apps = raw_request(server.url, "GET", "/v1/apps?page-size=3").json()
    _assert_json_fits(apps, MODEL.shape_for("ApplicationsResponse"), "ApplicationsResponse")


def test_channels_and_send_results_on_the_wire_fit_the_model(
    server: RunningServer, app_id: str
) -> None:
    client = server.client()
    client.update_email_channel(
        ApplicationId=app_id,
        EmailChannelRequest={"FromAddress": "a@example.com", "Identity": "example.com"},
    )
    client.update_endpoint(
        ApplicationId=app_id,
        EndpointId="m",
        EndpointRequest={
            "Address": "b@example.com",
            "ChannelType": "EMAIL",
            "User": {"UserId": "u"},
        },
    )
    message = {"SimpleEmail": {"Subject": {"Data": "s"}, "TextPart": {"Data": "t"}}}
    body = {
        "MessageConfiguration": {"EmailMessage": message},
        "Addresses": {"c@example.com": {"ChannelType": "EMAIL"}},
        "Endpoints": {"m": {}, "missing": {}},
    }
    sent = raw_request(
        server.url, "POST", f"/v1/apps/{app_id}/messages", json.dumps(body).encode()
    ).json()
    assert set(sent) == {"ApplicationId", "EndpointResult", "RequestId", "Result"}
    _assert_json_fits(sent, MODEL.shape_for("MessageResponse"), "MessageResponse")
    users = {"MessageConfiguration": {"EmailMessage": message}, "Users": {"u": {}}}
    sent = raw_request(
        server.url, "POST", f"/v1/apps/{app_id}/users-messages", json.dumps(users).encode()
    ).json()
    _assert_json_fits(sent, MODEL.shape_for("SendUsersMessageResponse"), "SendUsersMessageResponse")
    channels = raw_request(server.url, "GET", f"/v1/apps/{app_id}/channels").json()
    _assert_json_fits(channels, MODEL.shape_for("ChannelsResponse"), "ChannelsResponse")
    channel = raw_request(server.url, "GET", f"/v1/apps/{app_id}/channels/email").json()
    _assert_json_fits(channel, MODEL.shape_for("EmailChannelResponse"), "EmailChannelResponse")
