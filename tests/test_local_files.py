"""`--local-files DIR` through the API (issue 9, defects 2-4): export pieces land under
`prefix/JOB_ID/` inside DIR, hostile URLs are refused, and a key scoped to some applications
uses only their subtrees of DIR."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import RunningServer, pinpoint_client, sqlite_url
from jobtools import ROLE, export, import_
from rawhttp import raw_request
from test_keys import create_key


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("outer") / "files"


@pytest.fixture(scope="module")
def files_server(
    tmp_path_factory: pytest.TempPathFactory, root: Path, keys_file: Path
) -> Iterator[RunningServer]:
    root.mkdir()
    db = tmp_path_factory.mktemp("db") / "db.sqlite"
    running = RunningServer(
        sqlite_url(db), "--local-files", str(root), "--keys-file", str(keys_file)
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def admin(files_server: RunningServer) -> Any:
    return files_server.client()


def new_app(admin: Any, name: str = "app") -> str:
    return str(
        admin.create_app(CreateApplicationRequest={"Name": name})["ApplicationResponse"]["Id"]
    )


def refusal(call: Any, **kwargs: Any) -> dict[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    error: dict[str, str] = caught.value.response["Error"]
    return error


HOSTILE_PREFIXES = [
    "file://{root}/staged.csv?",
    "file://{root}/staged.csv?x=1",
    "file://{root}#",
    "file://{root}/a#b",
    "file://{root}/..",
    "file://{root}/sub/../..",
    "file://{root}/../files-sibling",
    "file://{root}/a%00",
    "file://{root}/a%0a",
    "s3://bucket/key?",
    "s3://bucket/key#",
    "s3://bucket/a/../b",
    "s3://bucket/./b",
]


@pytest.mark.parametrize("template", HOSTILE_PREFIXES)
def test_defect2_an_export_prefix_that_could_escape_is_refused(
    admin: Any, root: Path, template: str
) -> None:
    staged = root / "staged.csv"
    staged.write_text("keep me")
    app_id = new_app(admin)
    admin.update_endpoint(ApplicationId=app_id, EndpointId="e", EndpointRequest={"Address": "a"})
    prefix = template.format(root=root)
    error = refusal(
        admin.create_export_job,
        ApplicationId=app_id,
        ExportJobRequest={"RoleArn": ROLE, "S3UrlPrefix": prefix},
    )
    assert error["Code"] == "BadRequestException"
    assert "S3UrlPrefix" in error["Message"]
    error = refusal(
        admin.create_import_job,
        ApplicationId=app_id,
        ImportJobRequest={"RoleArn": ROLE, "S3Url": prefix, "Format": "JSON"},
    )
    assert error["Code"] == "BadRequestException"
    assert "S3Url" in error["Message"]
    assert staged.read_text() == "keep me"
    assert not list(root.parent.glob("*.partial"))
    assert admin.get_export_jobs(ApplicationId=app_id)["ExportJobsResponse"]["Item"] == []


def test_defect2_export_pieces_land_under_prefix_and_job_id(admin: Any, root: Path) -> None:
    app_id = new_app(admin)
    admin.update_endpoint(ApplicationId=app_id, EndpointId="e", EndpointRequest={"Address": "a"})
    for prefix in (f"file://{root}", f"file://{root}/out/", f"file://{root}/out/./deeper"):
        job = export(admin, app_id, prefix)
        assert job["JobStatus"] == "COMPLETED", job
        written = sorted(root.rglob(f"{job['Id']}/*"))
        folder = Path(prefix.removeprefix("file://")).resolve() / job["Id"]
        assert written == [folder / "part-00000.json.gz"]


def test_defect3_a_nul_byte_in_a_local_path_is_a_400(
    files_server: RunningServer, admin: Any, root: Path
) -> None:
    app_id = new_app(admin)
    for url in (f"file://{root}/a%00", f"file://{root}/a%00/b"):
        body = {"RoleArn": ROLE, "S3Url": url, "Format": "JSON"}
        path = f"/v1/apps/{app_id}/jobs/import"
        response = raw_request(files_server.url, "POST", path, json.dumps(body).encode())
        assert response.status == 400, response.body
        assert response.header("x-amzn-ErrorType") == "BadRequestException"


def test_defect4_a_scoped_key_cannot_import_another_apps_export(
    files_server: RunningServer, admin: Any, root: Path, keys_file: Path
) -> None:
    mine, theirs = new_app(admin, "mine"), new_app(admin, "theirs")
    admin.update_endpoint(
        ApplicationId=theirs, EndpointId="secret", EndpointRequest={"Address": "b@example.com"}
    )
    assert export(admin, theirs, f"file://{root}/")["JobStatus"] == "COMPLETED"
    assert export(admin, theirs, f"file://{root}/{theirs}/")["JobStatus"] == "COMPLETED"
    scoped = pinpoint_client(files_server.url, key=create_key(keys_file, "--apps", mine))

    for url in (f"file://{root}/", f"file://{root}/{theirs}/", f"file://{root}/{theirs}"):
        error = refusal(
            scoped.create_import_job,
            ApplicationId=mine,
            ImportJobRequest={"RoleArn": ROLE, "S3Url": url, "Format": "JSON"},
        )
        assert error["Code"] == "ForbiddenException", error
        assert f"file://{root}/{mine}/" in error["Message"]
        error = refusal(
            scoped.create_export_job,
            ApplicationId=mine,
            ExportJobRequest={"RoleArn": ROLE, "S3UrlPrefix": url},
        )
        assert error["Code"] == "ForbiddenException", error
    assert scoped.get_import_jobs(ApplicationId=mine)["ImportJobsResponse"]["Item"] == []
    error = refusal(scoped.get_endpoint, ApplicationId=mine, EndpointId="secret")
    assert error["Code"] == "NotFoundException"


def test_defect4_a_scoped_key_round_trips_through_its_own_subtree(
    files_server: RunningServer, admin: Any, root: Path, keys_file: Path
) -> None:
    mine = new_app(admin, "mine")
    scoped = pinpoint_client(files_server.url, key=create_key(keys_file, "--apps", mine))
    scoped.update_endpoint(
        ApplicationId=mine,
        EndpointId="e1",
        EndpointRequest={"Address": "a@example.com", "ChannelType": "EMAIL"},
    )
    done = export(scoped, mine, f"file://{root}/{mine}/backup")
    assert done["JobStatus"] == "COMPLETED", done
    assert list((root / mine / "backup" / done["Id"]).glob("*.gz"))
    scoped.delete_endpoint(ApplicationId=mine, EndpointId="e1")
    imported = import_(scoped, mine, f"file://{root}/{mine}/backup/{done['Id']}/")
    assert imported["JobStatus"] == "COMPLETED", imported
    assert imported["TotalProcessed"] == 1, imported
    assert imported.get("TotalFailures", 0) == 0, imported
    found = scoped.get_endpoint(ApplicationId=mine, EndpointId="e1")["EndpointResponse"]
    assert found["Address"] == "a@example.com"
