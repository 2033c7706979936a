"""Import and export jobs over HTTP with boto3: the job operations, local files, formats,
bad rows, Amazon Pinpoint export files, the round trip, restarts and several servers."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import STORES, RunningServer, new_store_url, start_servers
from jobtools import (
    ROLE,
    export,
    import_,
    put_endpoints,
    read_pieces,
    varied_endpoints,
    wait_for_job,
    without_app_id,
)
from openpinpoint.core import jobs
from openpinpoint.core.shapes import ImportJobResource, ImportJobResponse
from openpinpoint.core.values import new_resource_id
from openpinpoint.store.base import JobRecord, WriteTx
from openpinpoint.store.open import open_store

DATA = Path(__file__).parent / "data"
AMAZON_EXPORT = DATA / "amazon-pinpoint-export.ndjson"


@pytest.fixture(scope="module")
def files_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("files")


@pytest.fixture(scope="module", params=STORES)
def jobs_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, files_root: Path
) -> Iterator[RunningServer]:
    """A server that may use file:// URLs inside `files_root`, on a store of its own, on
    each backend."""
    url = new_store_url(request.param, request, tmp_path_factory.mktemp("jobs-store"))
    running = RunningServer(url, "--local-files", str(files_root))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def jc(jobs_server: RunningServer) -> Any:
    return jobs_server.client()


@pytest.fixture
def app(jc: Any) -> str:
    return str(
        jc.create_app(CreateApplicationRequest={"Name": "jobs"})["ApplicationResponse"]["Id"]
    )


@pytest.fixture
def folder(files_root: Path, request: pytest.FixtureRequest) -> Path:
    path = files_root / str(request.node.name)
    path.mkdir()
    return path


def _error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = excinfo.value.response["Error"]
    return error["Code"], error["Message"]


def test_export_job_goes_from_created_to_completed_with_counters(
    jc: Any, app: str, folder: Path
) -> None:
    put_endpoints(jc, app, varied_endpoints(30))
    created = jc.create_export_job(
        ApplicationId=app,
        ExportJobRequest={"RoleArn": ROLE, "S3UrlPrefix": folder.as_uri()},
    )
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 202
    job = created["ExportJobResponse"]
    assert job["JobStatus"] == "CREATED"
    assert job["Type"] == "EXPORT"
    assert job["Definition"] == {"RoleArn": ROLE, "S3UrlPrefix": folder.as_uri()}
    assert len(job["Id"]) == 32

    done = wait_for_job(jc, "export", app, job["Id"])
    assert done["JobStatus"] == "COMPLETED"
    assert (done["TotalPieces"], done["CompletedPieces"], done["FailedPieces"]) == (1, 1, 0)
    assert (done["TotalProcessed"], done["TotalFailures"]) == (30, 0)
    assert done["CompletionDate"] >= done["CreationDate"]


def test_export_writes_one_endpoint_response_per_gzip_ndjson_line(
    jc: Any, app: str, folder: Path
) -> None:
    put_endpoints(jc, app, varied_endpoints(12))
    job = export(jc, app, folder.as_uri())
    pieces = list(folder.rglob("*.gz"))
    assert [p.relative_to(folder).as_posix() for p in pieces] == [f"{job['Id']}/part-00000.json.gz"]
    lines = read_pieces(pieces)
    assert len(lines) == 12
    stored = jc.get_endpoint(ApplicationId=app, EndpointId="endpoint-00005")["EndpointResponse"]
    assert next(line for line in lines if line["Id"] == "endpoint-00005") == stored
    assert all(line["ApplicationId"] == app for line in lines)


def test_export_of_an_empty_app_completes_with_no_pieces(jc: Any, app: str, folder: Path) -> None:
    job = export(jc, app, folder.as_uri())
    assert (job["JobStatus"], job["TotalPieces"], job["TotalProcessed"]) == ("COMPLETED", 0, 0)
    assert list(folder.rglob("*")) == []


def test_round_trip_of_1000_endpoints_changes_only_the_application_id(
    jc: Any, app: str, folder: Path
) -> None:
    put_endpoints(jc, app, varied_endpoints(1000))
    first = export(jc, app, (folder / "from").as_uri())
    assert first["TotalProcessed"] == 1000

    copy = jc.create_app(CreateApplicationRequest={"Name": "copy"})["ApplicationResponse"]["Id"]
    imported = import_(jc, copy, (folder / "from").as_uri())
    assert imported["JobStatus"] == "COMPLETED"
    assert (imported["TotalProcessed"], imported["TotalFailures"]) == (1000, 0)

    second = export(jc, copy, (folder / "to").as_uri())
    assert second["TotalProcessed"] == 1000
    before = read_pieces(list((folder / "from").rglob("*.gz")))
    after = read_pieces(list((folder / "to").rglob("*.gz")))
    assert {e["ApplicationId"] for e in after} == {copy}
    assert without_app_id(after) == without_app_id(before)


def test_import_reads_csv_with_dot_paths_and_repeated_columns(
    jc: Any, app: str, folder: Path
) -> None:
    (folder / "people.csv").write_text(
        "Id,ChannelType,Address,Attributes.Interests,Attributes.Interests,Metrics.score,"
        "User.UserId,User.UserAttributes.Name,Demographic.Platform,Location.City,"
        "Location.Latitude,OptOut\n"
        'c1,EMAIL,zoe@example.com,jazz,"books, old",4.5,u1,Zoë,ios,Zürich,47.37,NONE\n'
        "c2,SMS,+15555550100,hiking,,2,u1,,,,,ALL\n",
        encoding="utf-8",
    )
    job = import_(jc, app, (folder / "people.csv").as_uri(), "CSV")
    assert (job["JobStatus"], job["TotalProcessed"], job["TotalFailures"]) == ("COMPLETED", 2, 0)
    c1 = jc.get_endpoint(ApplicationId=app, EndpointId="c1")["EndpointResponse"]
    assert c1["Attributes"] == {"Interests": ["jazz", "books, old"]}
    assert c1["Metrics"] == {"score": 4.5}
    assert c1["User"] == {"UserId": "u1", "UserAttributes": {"Name": ["Zoë"]}}
    assert c1["Demographic"] == {"Platform": "ios"}
    assert c1["Location"] == {"City": "Zürich", "Latitude": 47.4}
    c2 = jc.get_endpoint(ApplicationId=app, EndpointId="c2")["EndpointResponse"]
    assert (c2["OptOut"], c2["Metrics"], c2["Attributes"]) == (
        "ALL",
        {"score": 2.0},
        {"Interests": ["hiking"]},
    )
    assert c2["User"]["UserAttributes"] == {"Name": ["Zoë"]}, "G3: the user's attributes"


def test_import_reads_gzip_files_and_skips_files_of_the_other_format(
    jc: Any, app: str, folder: Path
) -> None:
    (folder / "a.json.gz").write_bytes(
        gzip.compress(b'{"Id":"g1","ChannelType":"SMS","Address":"+15555550101"}\n')
    )
    (folder / "b.csv").write_text("Id,ChannelType,Address\nskipped,SMS,+15555550102\n")
    job = import_(jc, app, folder.as_uri(), "JSON")
    assert (job["TotalPieces"], job["CompletedPieces"], job["TotalProcessed"]) == (1, 1, 1)
    assert jc.get_endpoint(ApplicationId=app, EndpointId="g1")["EndpointResponse"]["Address"]
    with pytest.raises(jc.exceptions.NotFoundException):
        jc.get_endpoint(ApplicationId=app, EndpointId="skipped")


def test_bad_rows_fail_alone_with_their_line_numbers(jc: Any, app: str, folder: Path) -> None:
    user_full = [
        {
            "Id": f"full-{n}",
            "ChannelType": "EMAIL",
            "Address": f"f{n}@x.com",
            "User": {"UserId": "busy"},
        }
        for n in range(15)
    ]
    rows: list[str] = [json.dumps(item) for item in user_full]  # lines 1-15
    rows += [
        '{"Id":"ok-1","ChannelType":"SMS","Address":"+15555550103"}',  # 16
        "this is not json",  # 17
        '{"Id":"bad-field","ChannelType":"SMS","Address":"+1","Colour":"red"}',  # 18
        json.dumps(
            {"Id": "long", "ChannelType": "SMS", "Address": "+2", "Attributes": {"a": ["v" * 101]}}
        ),  # 19
        '{"Id":"no-address","ChannelType":"SMS"}',  # 20
        json.dumps(
            {
                "Id": "sixteenth",
                "ChannelType": "EMAIL",
                "Address": "s@x.com",
                "User": {"UserId": "busy"},
            }
        ),  # 21
        '{"Id":"ok-2","ChannelType":"VOICE","Address":"+15555550104"}',  # 22
    ]
    (folder / "rows.ndjson").write_text("\n".join(rows) + "\n")
    job = import_(jc, app, (folder / "rows.ndjson").as_uri())
    assert job["JobStatus"] == "COMPLETED"
    assert (job["TotalProcessed"], job["TotalFailures"]) == (22, 5)
    failures = job["Failures"]
    assert [f.split(":")[0] for f in failures] == [
        "line 17",
        "line 18",
        "line 19",
        "line 20",
        "line 21",
    ]
    assert "Colour" in failures[1]
    assert "100" in failures[2]
    assert "Address and ChannelType" in failures[3]
    assert "15" in failures[4]
    for endpoint_id in ("full-14", "ok-1", "ok-2"):
        jc.get_endpoint(ApplicationId=app, EndpointId=endpoint_id)
    for endpoint_id in ("bad-field", "long", "no-address", "sixteenth"):
        with pytest.raises(jc.exceptions.NotFoundException):
            jc.get_endpoint(ApplicationId=app, EndpointId=endpoint_id)


def test_a_csv_header_with_an_unknown_column_fails_that_file(
    jc: Any, app: str, folder: Path
) -> None:
    (folder / "x.csv").write_text("Id,EndpointStatus\nz1,ACTIVE\n")
    job = import_(jc, app, (folder / "x.csv").as_uri(), "CSV")
    assert (job["JobStatus"], job["FailedPieces"], job["CompletedPieces"]) == ("FAILED", 1, 0)
    assert "'EndpointStatus'" in job["Failures"][0]


def test_register_endpoints_false_checks_rows_but_writes_nothing(
    jc: Any, app: str, folder: Path
) -> None:
    (folder / "r.json").write_text('{"Id":"r1","ChannelType":"SMS","Address":"+1"}\nnope\n')
    job = import_(jc, app, (folder / "r.json").as_uri(), RegisterEndpoints=False)
    assert (job["TotalProcessed"], job["TotalFailures"]) == (2, 1)
    assert job["Definition"]["RegisterEndpoints"] is False
    with pytest.raises(jc.exceptions.NotFoundException):
        jc.get_endpoint(ApplicationId=app, EndpointId="r1")


def test_an_amazon_pinpoint_export_file_imports_cleanly(jc: Any, app: str, folder: Path) -> None:
    source = [json.loads(line) for line in AMAZON_EXPORT.read_text().splitlines()]
    (folder / "amazon.gz").write_bytes(gzip.compress(AMAZON_EXPORT.read_bytes()))
    job = import_(jc, app, (folder / "amazon.gz").as_uri())
    assert (job["JobStatus"], job["TotalFailures"]) == ("COMPLETED", 0), job.get("Failures")
    assert job["TotalProcessed"] == len(source)
    channels = set()
    for line in source:
        stored = jc.get_endpoint(ApplicationId=app, EndpointId=line["Id"])["EndpointResponse"]
        channels.add(stored["ChannelType"])
        expected = {k: v for k, v in line.items() if k not in ("ApplicationId", "CohortId")}
        assert {k: stored[k] for k in expected} == expected
        assert stored["ApplicationId"] == app
        if "CohortId" in line:
            assert stored["CohortId"] == line["CohortId"]
    assert len(channels) == 13, "the fixture covers every channel type"


def test_job_operations_answer_unknown_apps_jobs_and_bad_input(
    jc: Any, app: str, folder: Path
) -> None:
    missing = "0" * 32
    with pytest.raises(ClientError) as excinfo:
        jc.get_export_jobs(ApplicationId=missing)
    assert _error(excinfo)[0] == "NotFoundException"
    with pytest.raises(ClientError) as excinfo:
        jc.get_import_job(ApplicationId=app, JobId=missing)
    assert _error(excinfo)[0] == "NotFoundException"
    with pytest.raises(ClientError) as excinfo:
        jc.create_import_job(
            ApplicationId=missing,
            ImportJobRequest={"RoleArn": ROLE, "S3Url": folder.as_uri(), "Format": "CSV"},
        )
    assert _error(excinfo)[0] == "NotFoundException"
    cases: list[tuple[dict[str, Any], str]] = [
        ({"S3UrlPrefix": "https://example.com/x"}, "S3UrlPrefix"),
        ({"S3UrlPrefix": "file:///etc"}, "outside the local files directory"),
        ({"S3UrlPrefix": folder.as_uri(), "SegmentVersion": 1}, "SegmentId"),
    ]
    for request, message in cases:
        with pytest.raises(ClientError) as excinfo:
            jc.create_export_job(ApplicationId=app, ExportJobRequest={"RoleArn": ROLE, **request})
        code, text = _error(excinfo)
        assert (code, message in text) == ("BadRequestException", True), text
    with pytest.raises(ClientError) as excinfo:
        jc.create_import_job(
            ApplicationId=app,
            ImportJobRequest={"RoleArn": ROLE, "S3Url": folder.as_uri(), "Format": "XML"},
        )
    code, text = _error(excinfo)
    assert (code, "Format" in text) == ("BadRequestException", True), text
    assert jc.get_export_jobs(ApplicationId=app)["ExportJobsResponse"]["Item"] == []
    assert jc.get_import_jobs(ApplicationId=app)["ImportJobsResponse"]["Item"] == []


def test_job_lists_page_as_g10_says(jc: Any, app: str, folder: Path) -> None:
    (folder / "one.json").write_text("")
    ids = [import_(jc, app, (folder / "one.json").as_uri())["Id"] for _ in range(3)]
    first = jc.get_import_jobs(ApplicationId=app, PageSize="2")["ImportJobsResponse"]
    second = jc.get_import_jobs(ApplicationId=app, PageSize="2", Token=first["NextToken"])[
        "ImportJobsResponse"
    ]
    assert [job["Id"] for job in first["Item"] + second["Item"]] == ids
    assert "NextToken" not in second
    assert jc.get_export_jobs(ApplicationId=app)["ExportJobsResponse"]["Item"] == []
    for query in ({"PageSize": "0"}, {"PageSize": "1001"}, {"Token": "bogus"}):
        with pytest.raises(ClientError) as excinfo:
            jc.get_import_jobs(ApplicationId=app, **query)
        assert _error(excinfo)[0] == "BadRequestException"
    with pytest.raises(ClientError) as excinfo:
        jc.get_export_jobs(ApplicationId=app, Token=first["NextToken"])
    assert _error(excinfo)[0] == "BadRequestException", "an import token is no export token"


def test_a_missing_source_fails_the_job_with_a_reason(jc: Any, app: str, folder: Path) -> None:
    job = import_(jc, app, (folder / "nothing-here").as_uri())
    assert job["JobStatus"] == "FAILED"
    assert "no such file or directory" in job["Failures"][0]


def test_jobs_are_visible_from_every_server_sharing_the_store(
    jobs_server: RunningServer, jc: Any, app: str, files_root: Path, folder: Path
) -> None:
    other = RunningServer(jobs_server.db_url, "--local-files", str(files_root))
    try:
        job = export(other.client(), app, folder.as_uri())
        assert jc.get_export_job(ApplicationId=app, JobId=job["Id"])["ExportJobResponse"] == job
        listed = jc.get_export_jobs(ApplicationId=app)["ExportJobsResponse"]["Item"]
        assert [j["Id"] for j in listed] == [job["Id"]]
    finally:
        other.stop()


def test_deleting_an_app_deletes_its_jobs(jc: Any, app: str, folder: Path) -> None:
    job = export(jc, app, folder.as_uri())
    jc.delete_app(ApplicationId=app)
    again = jc.create_app(CreateApplicationRequest={"Name": "after"})["ApplicationResponse"]["Id"]
    with pytest.raises(ClientError) as excinfo:
        jc.get_export_job(ApplicationId=again, JobId=job["Id"])
    assert _error(excinfo)[0] == "NotFoundException"


# Restarts: unfinished jobs are resumed where they stopped, or failed with a reason


def _stranded_import(
    app_id: str, url: str, *, line: int, attempts: int
) -> tuple[ImportJobResponse, JobRecord]:
    """An import job as a server that died mid-job leaves it: PROCESSING, lease run out."""
    job = ImportJobResponse(
        application_id=app_id,
        creation_date="2026-01-01T00:00:00.000Z",
        id=new_resource_id(),
        job_status="PROCESSING",
        type="IMPORT",
        definition=ImportJobResource(format="JSON", role_arn=ROLE, s3_url=url),
        total_pieces=1,
        completed_pieces=0,
        failed_pieces=0,
        total_processed=line,
        total_failures=0,
    )
    state = jobs.ImportState(job=job, sources=[url], line=line, attempts=attempts)
    return job, jobs.job_record(app_id, state, "a-server-that-died", 0.0)


async def _put_jobs(url: str, records: list[JobRecord]) -> None:
    store = open_store(url)

    def put(tx: WriteTx) -> None:
        for record in records:
            tx.put_job(record)

    await store.write(put)
    await store.close()


async def _stored_import_job(url: str, app_id: str, job_id: str) -> ImportJobResponse:
    store = open_store(url)
    try:
        return await store.read(lambda tx: jobs.import_job(tx, app_id, job_id))
    finally:
        await store.close()


def test_unfinished_jobs_resume_once_after_a_restart_or_fail_with_a_reason(
    empty_store_url: str, files_root: Path, folder: Path
) -> None:
    db = empty_store_url
    first = RunningServer(db, "--local-files", str(files_root))
    client = first.client()
    app_id = client.create_app(CreateApplicationRequest={"Name": "r"})["ApplicationResponse"]["Id"]
    first.stop()

    rows = [
        json.dumps({"Id": f"row-{n}", "ChannelType": "SMS", "Address": f"+1555000{n:04d}"})
        for n in range(1, 301)
    ]
    (folder / "rows.ndjson").write_text("\n".join(rows) + "\n")
    url = (folder / "rows.ndjson").as_uri()
    resumed, resumed_record = _stranded_import(app_id, url, line=100, attempts=1)
    given_up, given_up_record = _stranded_import(app_id, url, line=0, attempts=jobs.MAX_ATTEMPTS)
    asyncio.run(_put_jobs(db, [resumed_record, given_up_record]))

    # Two servers start on the store at once: one of them takes each job, and runs it once.
    second, third = start_servers(db, 2, "--local-files", str(files_root))
    try:
        client = second.client()
        done = wait_for_job(third.client(), "import", app_id, resumed.id)
        assert (done["JobStatus"], done["TotalProcessed"], done["CompletedPieces"]) == (
            "COMPLETED",
            300,
            1,
        )
        client.get_endpoint(ApplicationId=app_id, EndpointId="row-101")
        client.get_endpoint(ApplicationId=app_id, EndpointId="row-300")
        with pytest.raises(client.exceptions.NotFoundException):
            client.get_endpoint(ApplicationId=app_id, EndpointId="row-100")

        failed = wait_for_job(client, "import", app_id, given_up.id)
        assert failed["JobStatus"] == "FAILED"
        assert "interrupted" in failed["Failures"][-1]
    finally:
        second.stop()
        third.stop()
    resumptions = [line for line in second.lines + third.lines if "resuming IMPORT job" in line]
    assert len(resumptions) == 1, resumptions


def test_a_job_whose_server_was_killed_finishes_on_the_next_server(
    empty_store_url: str, files_root: Path, folder: Path
) -> None:
    """The first server is killed while the job is under way (rows written, not all), as
    read back from the store itself; the next server takes the job over once its lease has
    run out, says so, and finishes it."""
    total = 10_000
    rows = [
        json.dumps({"Id": f"k-{n}", "ChannelType": "EMAIL", "Address": f"k{n}@example.com"})
        for n in range(total)
    ]
    (folder / "many.ndjson").write_text("\n".join(rows) + "\n")
    db = empty_store_url
    args = ("--local-files", str(files_root), "--job-lease-seconds", "1")
    first = RunningServer(db, *args)
    client = first.client()
    app_id = client.create_app(CreateApplicationRequest={"Name": "k"})["ApplicationResponse"]["Id"]
    job = client.create_import_job(
        ApplicationId=app_id,
        ImportJobRequest={
            "RoleArn": ROLE,
            "S3Url": (folder / "many.ndjson").as_uri(),
            "Format": "JSON",
        },
    )["ImportJobResponse"]
    while not client.get_import_job(ApplicationId=app_id, JobId=job["Id"])["ImportJobResponse"].get(
        "TotalProcessed"
    ):
        pass
    first.kill()
    at_kill = asyncio.run(_stored_import_job(db, app_id, job["Id"]))
    assert at_kill.job_status == "PROCESSING"
    assert 0 < _processed(at_kill) < total

    second = RunningServer(db, *args)
    try:
        second.wait_for_log(f"resuming IMPORT job {job['Id']}")
        done = wait_for_job(second.client(), "import", app_id, job["Id"])
        assert (done["JobStatus"], done["TotalProcessed"], done["TotalFailures"]) == (
            "COMPLETED",
            total,
            0,
        )
        second.client().get_endpoint(ApplicationId=app_id, EndpointId=f"k-{total - 1}")
    finally:
        second.stop()


def _processed(job: ImportJobResponse) -> int:
    return job.total_processed if isinstance(job.total_processed, int) else 0
