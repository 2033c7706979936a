"""Access keys (issue 4, items 2 and 3): the `keys` commands, keys scoped to applications,
admin-only application management, first run and `--auth none`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import STORES, TEST_KEY, RunningServer, new_store_url, pinpoint_client, run_cli
from openpinpoint.keys import AccessKey, KeyFile
from openpinpoint.server import ServerSettings, build_app
from rawhttp import raw_request


def create_key(keys_file: Path, *args: str) -> AccessKey:
    """`openpinpoint keys create ARGS`, read back from the profile it prints."""
    done = run_cli("keys", "create", "--keys-file", str(keys_file), *args)
    assert done.returncode == 0, done.stderr
    profile = dict(line.split(" = ", 1) for line in done.stdout.splitlines() if " = " in line)
    return AccessKey(
        id=profile["aws_access_key_id"],
        secret=profile["aws_secret_access_key"],
        session_token=profile.get("aws_session_token"),
    )


def error_code(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return str(caught.value.response["Error"]["Code"])


@pytest.fixture(scope="module", params=STORES)
def scoped_server(
    keys_file: Path, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """A server checking the keys in `keys_file`, on each store."""
    db = new_store_url(request.param, request, tmp_path_factory.mktemp("keys-store"))
    running = RunningServer(db, "--keys-file", str(keys_file))
    yield running
    running.stop()


def test_create_prints_the_secret_once_and_stores_it_privately(keys_file: Path) -> None:
    key = create_key(keys_file, "--name", "ci")
    assert key.id.startswith("OPKI")
    assert len(key.id) == 20
    assert len(key.secret) == 40
    assert os.stat(keys_file).st_mode & 0o777 == 0o600
    listing = run_cli("keys", "list", "--keys-file", str(keys_file))
    assert listing.returncode == 0
    assert key.id in listing.stdout
    assert "ci" in listing.stdout
    assert key.secret not in listing.stdout + listing.stderr


def test_admin_keys_cannot_be_limited_to_apps(keys_file: Path) -> None:
    done = run_cli("keys", "create", "--keys-file", str(keys_file), "--admin", "--apps", "a" * 32)
    assert done.returncode == 2
    assert "--admin" in done.stderr


def test_apps_must_be_application_ids(keys_file: Path) -> None:
    done = run_cli("keys", "create", "--keys-file", str(keys_file), "--apps", "../x")
    assert done.returncode == 2
    assert "32 lowercase hex" in done.stderr


def test_revoked_key_is_refused_at_once(scoped_server: RunningServer, keys_file: Path) -> None:
    key = create_key(keys_file, "--name", "short-lived")
    client = pinpoint_client(scoped_server.url, key=key)
    assert "Item" in client.get_apps()["ApplicationsResponse"]
    done = run_cli("keys", "revoke", "--keys-file", str(keys_file), key.id)
    assert done.returncode == 0, done.stderr
    with pytest.raises(ClientError) as caught:
        client.get_apps()
    error = caught.value.response["Error"]
    assert error["Code"] == "ForbiddenException"
    assert error["Message"].startswith("Unknown access key")
    again = run_cli("keys", "revoke", "--keys-file", str(keys_file), key.id)
    assert again.returncode == 1


def test_scoped_key_sees_only_its_applications(
    scoped_server: RunningServer, keys_file: Path
) -> None:
    admin = scoped_server.client()
    ids = [
        admin.create_app(CreateApplicationRequest={"Name": f"app{i}"})["ApplicationResponse"]["Id"]
        for i in range(5)
    ]
    mine, others = [ids[1], ids[3]], [ids[0], ids[2], ids[4]]
    key = create_key(keys_file, "--apps", ",".join(mine))
    client = pinpoint_client(scoped_server.url, key=key)

    listed = client.get_apps()["ApplicationsResponse"]
    assert [app["Id"] for app in listed["Item"]] == mine
    first = client.get_apps(PageSize="1")["ApplicationsResponse"]
    assert [app["Id"] for app in first["Item"]] == [mine[0]]
    second = client.get_apps(PageSize="1", Token=first["NextToken"])["ApplicationsResponse"]
    assert [app["Id"] for app in second["Item"]] == [mine[1]]
    assert "NextToken" not in second

    client.update_endpoint(ApplicationId=mine[0], EndpointId="e", EndpointRequest={"Address": "a"})
    assert client.get_endpoint(ApplicationId=mine[0], EndpointId="e")
    arn = admin.get_app(ApplicationId=others[0])["ApplicationResponse"]["Arn"]
    calls: list[tuple[Any, dict[str, Any]]] = [
        (client.get_app, {}),
        (client.get_endpoint, {"EndpointId": "e"}),
        (client.update_endpoint, {"EndpointId": "e", "EndpointRequest": {"Address": "b"}}),
        (client.delete_user_endpoints, {"UserId": "u"}),
    ]
    for app_id in [*others, "0" * 32]:
        for call, kwargs in calls:
            assert error_code(call, ApplicationId=app_id, **kwargs) == "ForbiddenException"
    assert error_code(client.list_tags_for_resource, ResourceArn=arn) == "ForbiddenException"
    assert (
        error_code(client.tag_resource, ResourceArn=arn, TagsModel={"tags": {"a": "b"}})
        == "ForbiddenException"
    )
    assert admin.list_tags_for_resource(ResourceArn=arn)["TagsModel"]["tags"] == {}
    assert error_code(admin.get_endpoint, ApplicationId=others[0], EndpointId="e") == (
        "NotFoundException"
    )


def test_only_admin_keys_create_or_delete_apps(
    scoped_server: RunningServer, keys_file: Path
) -> None:
    admin = scoped_server.client()
    app_id = admin.create_app(CreateApplicationRequest={"Name": "kept"})["ApplicationResponse"][
        "Id"
    ]
    for key in (create_key(keys_file), create_key(keys_file, "--apps", app_id)):
        client = pinpoint_client(scoped_server.url, key=key)
        assert client.get_app(ApplicationId=app_id)
        code = error_code(client.create_app, CreateApplicationRequest={"Name": "no"})
        assert code == "ForbiddenException"
        assert error_code(client.delete_app, ApplicationId=app_id) == "ForbiddenException"
    assert admin.get_app(ApplicationId=app_id)
    names = [app["Name"] for app in admin.get_apps(PageSize="1000")["ApplicationsResponse"]["Item"]]
    assert "no" not in names


def test_first_run_creates_and_prints_an_admin_key(tmp_path: Path) -> None:
    keys_file = tmp_path / "data" / "keys.json"
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    server = RunningServer(db, "--keys-file", str(keys_file))
    try:
        server.wait_for_output("aws_secret_access_key=")
        banner = "\n".join(server.output)
        stored = KeyFile(keys_file).load()
        assert len(stored) == 1
        key = stored[0]
        assert key.admin
        assert key.id in banner
        assert key.secret in banner
        assert f'aws_secret_access_key="{key.secret}"' in banner
        assert f'endpoint_url="{server.url}"' in banner
        assert key.secret not in server.log
        assert keys_file.stat().st_mode & 0o777 == 0o600
        client = pinpoint_client(server.url, key=key)
        assert client.create_app(CreateApplicationRequest={"Name": "first"})
    finally:
        server.stop()
    again = RunningServer(db, "--keys-file", str(keys_file))
    try:
        assert again.output == []
        assert len(KeyFile(keys_file).load()) == 1
    finally:
        again.stop()


def test_keys_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.json"
    KeyFile(keys_file).create(TEST_KEY)
    keys_file.chmod(0o644)
    done = run_cli(
        "serve",
        "--port",
        "0",
        "--db",
        f"sqlite:///{tmp_path / 'db'}",
        "--keys-file",
        str(keys_file),
    )
    assert done.returncode == 2
    assert "chmod 600" in done.stderr


def test_auth_none_lets_anyone_in_and_warns(empty_store_url: str) -> None:
    server = RunningServer(empty_store_url, "--auth", "none")
    try:
        assert "AUTHENTICATION IS OFF" in server.log
        unsigned = raw_request(server.url, "GET", "/v1/apps", key=None)
        assert unsigned.status == 200
    finally:
        server.stop()


def test_an_unknown_auth_setting_never_means_no_authentication(tmp_path: Path) -> None:
    refused = run_cli("serve", "--db", f"sqlite:///{tmp_path / 'db'}", "--auth", "nonee")
    assert refused.returncode == 2
    assert "invalid choice" in refused.stderr or "is not sigv4 or none" in refused.stderr
    with pytest.raises(ValueError, match="unknown auth setting 'nonee'"):
        build_app(ServerSettings(db_url=f"sqlite:///{tmp_path / 'db'}", auth="nonee"), "url")
