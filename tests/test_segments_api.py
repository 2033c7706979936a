"""The segment operations over HTTP with real boto3, on both stores (S1, S7, S9, S10)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import STORES, RunningServer, new_store_url, run_cli, sqlite_url
from jobtools import ROLE, put_endpoints, read_pieces, wait_for_job
from segtools import Segments

DIMENSIONS: dict[str, Any] = {
    "Attributes": {"team": {"AttributeType": "INCLUSIVE", "Values": ["red"]}},
    "Demographic": {"Platform": {"DimensionType": "INCLUSIVE", "Values": ["ios"]}},
}


def _create(client: Any, app_id: str, **body: Any) -> dict[str, Any]:
    response = client.create_segment(ApplicationId=app_id, WriteSegmentRequest=body)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 201
    segment: dict[str, Any] = response["SegmentResponse"]
    return segment


def _refused(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as excinfo:
        call(**kwargs)
    error = excinfo.value.response["Error"]
    assert error["Code"] == "BadRequestException", error
    return str(error["Message"])


def test_s1_create_answers_version_1_with_id_arn_and_the_definition_as_sent(
    client: Any, app_id: str
) -> None:
    segment = _create(client, app_id, Name="reds", Dimensions=DIMENSIONS, tags={"k": "v"})
    assert re.fullmatch(r"[0-9a-f]{32}", segment["Id"])
    assert segment["Arn"].endswith(f":apps/{app_id}/segments/{segment['Id']}")
    assert segment["Arn"].startswith("arn:aws:mobiletargeting:us-east-1:")
    assert (segment["Version"], segment["SegmentType"], segment["Name"]) == (
        1,
        "DIMENSIONAL",
        "reds",
    )
    assert segment["Dimensions"] == DIMENSIONS
    assert segment["ApplicationId"] == app_id
    assert segment["LastModifiedDate"] == segment["CreationDate"]
    assert segment["tags"] == {"k": "v"}
    got = client.get_segment(ApplicationId=app_id, SegmentId=segment["Id"])["SegmentResponse"]
    assert got == segment


def test_s1_updates_add_versions_and_old_versions_stay_readable(client: Any, app_id: str) -> None:
    first = _create(client, app_id, Name="v", Dimensions=DIMENSIONS)
    sid = first["Id"]
    second = client.update_segment(
        ApplicationId=app_id, SegmentId=sid, WriteSegmentRequest={"Dimensions": {}}
    )["SegmentResponse"]
    assert (second["Version"], second["Name"], second["Dimensions"]) == (2, "v", {})
    assert second["CreationDate"] == first["CreationDate"]
    assert second["LastModifiedDate"] > first["LastModifiedDate"]
    third = client.update_segment(
        ApplicationId=app_id, SegmentId=sid, WriteSegmentRequest={"Name": "w"}
    )["SegmentResponse"]
    assert third["Version"] == 3
    assert "Dimensions" not in third
    old = client.get_segment_version(ApplicationId=app_id, SegmentId=sid, Version="1")
    assert old["SegmentResponse"] == first
    versions = client.get_segment_versions(ApplicationId=app_id, SegmentId=sid, PageSize="2")
    assert [v["Version"] for v in versions["SegmentsResponse"]["Item"]] == [3, 2]
    rest = client.get_segment_versions(
        ApplicationId=app_id, SegmentId=sid, Token=versions["SegmentsResponse"]["NextToken"]
    )["SegmentsResponse"]
    assert [v["Version"] for v in rest["Item"]] == [1]
    assert "NextToken" not in rest
    assert client.get_segment(ApplicationId=app_id, SegmentId=sid)["SegmentResponse"] == third


def test_s1_get_segments_pages_and_is_empty_without_segments(client: Any, app_id: str) -> None:
    assert client.get_segments(ApplicationId=app_id)["SegmentsResponse"]["Item"] == []
    made = sorted(_create(client, app_id, Name=f"s{i}")["Id"] for i in range(3))
    first = client.get_segments(ApplicationId=app_id, PageSize="2")["SegmentsResponse"]
    second = client.get_segments(ApplicationId=app_id, PageSize="2", Token=first["NextToken"])[
        "SegmentsResponse"
    ]
    assert [s["Id"] for s in first["Item"] + second["Item"]] == made
    assert "NextToken" not in second


def test_s1_delete_returns_the_segment_and_refuses_a_source_in_use(
    client: Any, app_id: str
) -> None:
    source = _create(client, app_id, Name="source", Dimensions=DIMENSIONS)
    user = _create(
        client,
        app_id,
        Name="user",
        SegmentGroups={"Groups": [{"SourceSegments": [{"Id": source["Id"]}]}], "Include": "ALL"},
    )
    message = _refused(client.delete_segment, ApplicationId=app_id, SegmentId=source["Id"])
    assert user["Id"] in message
    assert "user" in message
    deleted = client.delete_segment(ApplicationId=app_id, SegmentId=user["Id"])
    assert deleted["SegmentResponse"]["Id"] == user["Id"]
    client.delete_segment(ApplicationId=app_id, SegmentId=source["Id"])
    with pytest.raises(ClientError) as excinfo:
        client.get_segment(ApplicationId=app_id, SegmentId=source["Id"])
    assert excinfo.value.response["Error"]["Code"] == "NotFoundException"


def test_s1_deleting_the_app_deletes_its_segments(client: Any) -> None:
    app_id = client.create_app(CreateApplicationRequest={"Name": "gone"})["ApplicationResponse"][
        "Id"
    ]
    sid = _create(client, app_id, Name="x")["Id"]
    client.delete_app(ApplicationId=app_id)
    with pytest.raises(ClientError) as excinfo:
        client.get_segment(ApplicationId=app_id, SegmentId=sid)
    assert excinfo.value.response["Error"]["Code"] == "NotFoundException"


def test_s10_import_segments_cannot_be_updated_and_unknown_ones_are_404(
    client: Any, app_id: str
) -> None:
    with pytest.raises(ClientError) as excinfo:
        client.update_segment(ApplicationId=app_id, SegmentId="f" * 32, WriteSegmentRequest={})
    assert excinfo.value.response["Error"]["Code"] == "NotFoundException"


BAD_DEFINITIONS = [
    pytest.param({"Name": "x" * 65}, "Name", id="name-too-long"),
    pytest.param(
        {"Dimensions": {"Attributes": {"a": {"AttributeType": "inclusive", "Values": ["x"]}}}},
        "AttributeType",
        id="enum-case",
    ),
    pytest.param(
        {
            "Dimensions": {
                "Attributes": {"a": {"AttributeType": "BETWEEN", "Values": ["2024-01-01"]}}
            }
        },
        "exactly 2",
        id="between-arity",
    ),
    pytest.param(
        {
            "Dimensions": {
                "Attributes": {
                    "a": {"AttributeType": "BETWEEN", "Values": ["2024-02-01", "2024-01-01"]}
                }
            }
        },
        "first",
        id="between-order",
    ),
    pytest.param(
        {"Dimensions": {"Attributes": {"a": {"AttributeType": "ON", "Values": ["yesterday"]}}}},
        "'yesterday'",
        id="unparsable-date",
    ),
    pytest.param(
        {"Dimensions": {"Attributes": {"a": {"Values": ["x" * 101]}}}},
        "100",
        id="value-too-long",
    ),
    pytest.param(
        {"Dimensions": {"Attributes": {"a": {"Values": ["x"] * 101}}}}, "100", id="too-many-values"
    ),
    pytest.param(
        {"Dimensions": {"Attributes": {f"a{i}": {"Values": ["x"]} for i in range(101)}}},
        "at most 100 dimensions",
        id="too-many-dimensions",
    ),
    pytest.param(
        {"SegmentGroups": {"Groups": [{}] * 6}}, "SegmentGroups.Groups", id="too-many-groups"
    ),
    pytest.param(
        {"SegmentGroups": {"Groups": [{"SourceSegments": [{"Id": "a"}] * 11}]}},
        "SourceSegments",
        id="too-many-sources",
    ),
    pytest.param(
        {"SegmentGroups": {"Groups": [{"SourceSegments": [{"Id": "0" * 32}]}]}},
        "SourceSegments[0]",
        id="missing-source",
    ),
    pytest.param(
        {
            "Dimensions": {
                "Location": {"GPSPoint": {"Coordinates": {"Latitude": 1, "Longitude": 2}}}
            }
        },
        "RangeInKilometers",
        id="gps-range-missing",
    ),
    pytest.param(
        {
            "Dimensions": {
                "Location": {
                    "GPSPoint": {
                        "Coordinates": {"Latitude": 1, "Longitude": 2},
                        "RangeInKilometers": 20001,
                    }
                }
            }
        },
        "RangeInKilometers",
        id="gps-range-too-far",
    ),
    pytest.param(
        {
            "Dimensions": {
                "Location": {
                    "GPSPoint": {
                        "Coordinates": {"Latitude": 91, "Longitude": 2},
                        "RangeInKilometers": 1,
                    }
                }
            }
        },
        "Latitude",
        id="latitude-out-of-range",
    ),
    pytest.param(
        {"Dimensions": {"Metrics": {"m": {"ComparisonOperator": "ABOVE", "Value": 1}}}},
        "ComparisonOperator",
        id="unknown-operator",
    ),
    pytest.param(
        {"Dimensions": {"Attributes": {"a": {"Values": ["x\x00y"]}}}}, "NUL", id="nul-criterion"
    ),
]


@pytest.mark.parametrize(("body", "named"), BAD_DEFINITIONS)
def test_s9_bad_definitions_are_400_naming_the_member_and_nothing_is_stored(
    client: Any, app_id: str, body: dict[str, Any], named: str
) -> None:
    message = _refused(client.create_segment, ApplicationId=app_id, WriteSegmentRequest=body)
    assert named in message
    assert client.get_segments(ApplicationId=app_id)["SegmentsResponse"]["Item"] == []


def test_s10_a_segment_cannot_become_its_own_source(client: Any, app_id: str) -> None:
    a = _create(client, app_id, Name="a")
    b = _create(
        client, app_id, Name="b", SegmentGroups={"Groups": [{"SourceSegments": [{"Id": a["Id"]}]}]}
    )
    loop = {"SegmentGroups": {"Groups": [{"SourceSegments": [{"Id": b["Id"]}]}]}}
    message = _refused(
        client.update_segment, ApplicationId=app_id, SegmentId=a["Id"], WriteSegmentRequest=loop
    )
    assert "own source" in message
    assert (
        client.get_segment(ApplicationId=app_id, SegmentId=a["Id"])["SegmentResponse"]["Version"]
        == 1
    )


# Export by segment (S7), on a server that may write local files


@pytest.fixture(scope="module", params=STORES)
def files_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningServer, Path]]:
    root = tmp_path_factory.mktemp("segment-files")
    url = new_store_url(request.param, request, tmp_path_factory.mktemp("segment-store"))
    running = RunningServer(url, "--local-files", str(root))
    yield running, root
    running.stop()


def test_s7_export_by_segment_writes_exactly_the_members_of_that_version(
    files_server: tuple[RunningServer, Path],
) -> None:
    server, root = files_server
    client = server.client()
    app_id = client.create_app(CreateApplicationRequest={"Name": "e"})["ApplicationResponse"]["Id"]
    put_endpoints(
        client,
        app_id,
        [
            {
                "Id": f"e{i}",
                "Address": f"a{i}@x.org",
                "ChannelType": "EMAIL",
                "Attributes": {"team": ["red" if i % 3 == 0 else "blue"]},
            }
            for i in range(30)
        ],
    )
    sid = _create(
        client, app_id, Name="reds", Dimensions={"Attributes": {"team": {"Values": ["red"]}}}
    )["Id"]
    client.update_segment(
        ApplicationId=app_id,
        SegmentId=sid,
        WriteSegmentRequest={"Dimensions": {"Attributes": {"team": {"Values": ["blue"]}}}},
    )
    folder = root / "by-segment"
    job = client.create_export_job(
        ApplicationId=app_id,
        ExportJobRequest={
            "RoleArn": ROLE,
            "S3UrlPrefix": folder.as_uri(),
            "SegmentId": sid,
            "SegmentVersion": 1,
        },
    )["ExportJobResponse"]
    done = wait_for_job(client, "export", app_id, job["Id"])
    assert (done["JobStatus"], done["TotalProcessed"]) == ("COMPLETED", 10)
    exported = {line["Id"] for line in read_pieces(list(folder.rglob("*.gz")))}
    assert exported == {f"e{i}" for i in range(0, 30, 3)}
    listed = client.get_segment_export_jobs(ApplicationId=app_id, SegmentId=sid)
    assert [j["Id"] for j in listed["ExportJobsResponse"]["Item"]] == [job["Id"]]
    for bad in ({"SegmentId": "0" * 32}, {"SegmentId": sid, "SegmentVersion": 9}):
        with pytest.raises(ClientError) as excinfo:
            client.create_export_job(
                ApplicationId=app_id,
                ExportJobRequest={"RoleArn": ROLE, "S3UrlPrefix": folder.as_uri(), **bad},
            )
        assert excinfo.value.response["Error"]["Code"] == "NotFoundException"


# Imported segments (S6)


def _import(client: Any, app_id: str, url: str, fmt: str, **more: Any) -> dict[str, Any]:
    job = client.create_import_job(
        ApplicationId=app_id,
        ImportJobRequest={"RoleArn": ROLE, "S3Url": url, "Format": fmt, **more},
    )["ImportJobResponse"]
    return wait_for_job(client, "import", app_id, job["Id"])


def _exported(
    client: Any, app_id: str, folder: Path, sid: str, version: int | None = None
) -> set[str]:
    request: dict[str, Any] = {"RoleArn": ROLE, "S3UrlPrefix": folder.as_uri(), "SegmentId": sid}
    if version is not None:
        request["SegmentVersion"] = version
    job = client.create_export_job(ApplicationId=app_id, ExportJobRequest=request)[
        "ExportJobResponse"
    ]
    done = wait_for_job(client, "export", app_id, job["Id"])
    return (
        {line["Id"] for line in read_pieces(list((folder / job["Id"]).rglob("*.gz")))}
        if done["TotalProcessed"]
        else set()
    )


def test_s6_import_with_define_segment_makes_an_import_segment_of_its_rows_and_users(
    files_server: tuple[RunningServer, Path],
) -> None:
    server, root = files_server
    client = server.client()
    app_id = client.create_app(CreateApplicationRequest={"Name": "i"})["ApplicationResponse"]["Id"]
    put_endpoints(
        client,
        app_id,
        [
            {"Id": "u1-a", "Address": "a@x.org", "ChannelType": "EMAIL", "User": {"UserId": "u1"}},
            {"Id": "u1-b", "Address": "+15550001", "ChannelType": "SMS", "User": {"UserId": "u1"}},
            {"Id": "other", "Address": "o@x.org", "ChannelType": "EMAIL"},
        ],
    )
    folder = root / f"import-{app_id}"
    folder.mkdir()
    (folder / "rows.json").write_text(
        '{"Id": "new-1", "Address": "n@x.org", "ChannelType": "EMAIL"}\n'
        '{"Address": "n2@x.org", "ChannelType": "SMS"}\n'
        '{"User": {"UserId": "u1"}}\n'
    )
    job = _import(
        client,
        app_id,
        (folder / "rows.json").as_uri(),
        "JSON",
        DefineSegment=True,
        SegmentName="imported",
    )
    assert job["JobStatus"] == "COMPLETED", job
    sid = job["Definition"]["SegmentId"]
    segment = client.get_segment(ApplicationId=app_id, SegmentId=sid)["SegmentResponse"]
    assert (segment["SegmentType"], segment["Name"], segment["Version"]) == (
        "IMPORT",
        "imported",
        1,
    )
    definition = segment["ImportDefinition"]
    assert (definition["Format"], definition["Size"], definition["ExternalId"]) == ("JSON", 4, "")
    assert definition["ChannelCounts"] == {"EMAIL": 2, "SMS": 2}
    members = _exported(client, app_id, root / f"out-{app_id}", sid)
    assert {"new-1", "u1-a", "u1-b"} <= members
    assert len(members) == 4
    assert "other" not in members
    listed = client.get_segment_import_jobs(ApplicationId=app_id, SegmentId=sid)[
        "ImportJobsResponse"
    ]["Item"]
    assert [j["Id"] for j in listed] == [job["Id"]]
    message = _refused(
        client.update_segment, ApplicationId=app_id, SegmentId=sid, WriteSegmentRequest={}
    )
    assert "IMPORT" in message

    # Re-import with SegmentId alone: a new version with the new members; CSV, user-id only.
    (folder / "users.csv").write_text("User.UserId\nu1\n")
    again = _import(
        client,
        app_id,
        (folder / "users.csv").as_uri(),
        "CSV",
        SegmentId=sid,
        RegisterEndpoints=False,
    )
    assert again["JobStatus"] == "COMPLETED", again
    replaced = client.get_segment(ApplicationId=app_id, SegmentId=sid)["SegmentResponse"]
    assert (replaced["Version"], replaced["ImportDefinition"]["Size"], replaced["Name"]) == (
        2,
        2,
        "imported",
    )
    assert replaced["CreationDate"] == segment["CreationDate"]
    assert _exported(client, app_id, root / f"out2-{app_id}", sid) == {"u1-a", "u1-b"}
    assert _exported(client, app_id, root / f"out3-{app_id}", sid, 1) == members

    # S2 applies: an endpoint made INACTIVE leaves the segment.
    put_endpoints(client, app_id, [{"Id": "u1-a", "EndpointStatus": "INACTIVE"}])
    assert _exported(client, app_id, root / f"out4-{app_id}", sid) == {"u1-b"}


def test_s6_import_into_an_unknown_or_dimensional_segment_is_refused(
    files_server: tuple[RunningServer, Path],
) -> None:
    server, root = files_server
    client = server.client()
    app_id = client.create_app(CreateApplicationRequest={"Name": "i"})["ApplicationResponse"]["Id"]
    url = (root / "nothing.json").as_uri()
    request = {"RoleArn": ROLE, "S3Url": url, "Format": "JSON"}
    with pytest.raises(ClientError) as excinfo:
        client.create_import_job(
            ApplicationId=app_id, ImportJobRequest={**request, "SegmentId": "0" * 32}
        )
    assert excinfo.value.response["Error"]["Code"] == "NotFoundException"
    dimensional = _create(client, app_id, Name="d")["Id"]
    message = _refused(
        client.create_import_job,
        ApplicationId=app_id,
        ImportJobRequest={**request, "SegmentId": dimensional},
    )
    assert "DIMENSIONAL" in message
    message = _refused(
        client.create_import_job,
        ApplicationId=app_id,
        ImportJobRequest={**request, "DefineSegment": True},
    )
    assert "SegmentName" in message


@pytest.mark.parametrize("target_kind", STORES)
def test_s1_migrate_store_copies_every_segment_version_and_they_still_evaluate(
    target_kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    source = sqlite_url(tmp_path / "source.db")
    segs = Segments(source)
    try:
        endpoints = [
            {
                "Id": f"e{i}",
                "ChannelType": "EMAIL",
                "Address": f"{i}@x.org",
                "EndpointStatus": "ACTIVE",
                "Attributes": {"team": ["red" if i % 2 else "blue"]},
            }
            for i in range(6)
        ]
        app_id = segs.new_app(endpoints)
        sid = segs.create(app_id, {"Dimensions": {"Attributes": {"team": {"Values": ["red"]}}}})
        segs.update(app_id, sid, {"Dimensions": {"Attributes": {"team": {"Values": ["blue"]}}}})
    finally:
        segs.close()
    target = new_store_url(target_kind, request, tmp_path)
    done = run_cli("migrate-store", "--from", source, "--to", target)
    assert done.returncode == 0, done.stderr
    copied = Segments(target)
    try:
        assert copied.members(app_id, sid, version=1) == {"e1", "e3", "e5"}
        assert copied.members(app_id, sid) == {"e0", "e2", "e4"}
    finally:
        copied.close()


def test_s10_tags_work_on_segment_arns_and_updates_ignore_tags(client: Any, app_id: str) -> None:
    segment = _create(client, app_id, Name="t", tags={"a": "1"})
    arn = segment["Arn"]
    client.tag_resource(ResourceArn=arn, TagsModel={"tags": {"b": "2"}})
    assert client.list_tags_for_resource(ResourceArn=arn)["TagsModel"]["tags"] == {
        "a": "1",
        "b": "2",
    }
    client.update_segment(
        ApplicationId=app_id, SegmentId=segment["Id"], WriteSegmentRequest={"tags": {"c": "3"}}
    )
    client.untag_resource(ResourceArn=arn, TagKeys=["a"])
    assert client.list_tags_for_resource(ResourceArn=arn)["TagsModel"]["tags"] == {"b": "2"}
    got = client.get_segment(ApplicationId=app_id, SegmentId=segment["Id"])["SegmentResponse"]
    assert (got["tags"], got["Version"]) == ({"b": "2"}, 2)
    app_arn = client.get_app(ApplicationId=app_id)["ApplicationResponse"]["Arn"]
    assert client.list_tags_for_resource(ResourceArn=app_arn)["TagsModel"]["tags"] == {}
    with pytest.raises(ClientError) as excinfo:
        client.list_tags_for_resource(ResourceArn=f"{app_arn}/segments/{'0' * 32}")
    assert excinfo.value.response["Error"]["Code"] == "NotFoundException"
