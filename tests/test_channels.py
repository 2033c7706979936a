"""Channels over real boto3 (engagement.md section 2, decisions C1–C4)."""

from __future__ import annotations

import gzip
import json
import subprocess
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from conftest import TEST_KEY, RunningServer, run_cli, sqlite_url
from openpinpoint.keys import AccessKey, KeyFile
from pushfakes import key_pem
from sendtools import EMAIL_CHANNEL

MODEL = botocore.session.get_session().get_service_model("pinpoint")
SERVICE_ACCOUNT = json.dumps(
    {
        "type": "service_account",
        "project_id": "demo-project",
        "client_email": "push@demo-project.iam.gserviceaccount.com",
        "private_key": key_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        "token_uri": "https://oauth2.googleapis.com/token",
    }
)
APNS_TOKEN = {
    "DefaultAuthenticationMethod": "TOKEN",
    "TokenKey": key_pem(ec.generate_private_key(ec.SECP256R1())),
    "TokenKeyId": "ABC123DEFG",
    "TeamId": "TEAM123456",
    "BundleId": "com.example.app",
}

# (operation suffix, request member, response member, request, secret members)
CHANNELS: list[tuple[str, str, dict[str, Any], tuple[str, ...]]] = [
    ("email", "EmailChannel", EMAIL_CHANNEL, ()),
    ("sms", "SMSChannel", {"SenderId": "Acme", "ShortCode": "12345"}, ()),
    ("gcm", "GCMChannel", {"ServiceJson": SERVICE_ACCOUNT}, ("ServiceJson",)),
    ("apns", "APNSChannel", APNS_TOKEN, ("TokenKey",)),
    ("apns_sandbox", "APNSSandboxChannel", APNS_TOKEN, ("TokenKey",)),
    ("apns_voip", "APNSVoipChannel", APNS_TOKEN, ("TokenKey",)),
    ("apns_voip_sandbox", "APNSVoipSandboxChannel", APNS_TOKEN, ("TokenKey",)),
    ("adm", "ADMChannel", {"ClientId": "id", "ClientSecret": "adm-secret"}, ("ClientSecret",)),
    ("baidu", "BaiduChannel", {"ApiKey": "baidu-key", "SecretKey": "baidu-sec"}, ("ApiKey",)),
    ("voice", "VoiceChannel", {"Enabled": True}, ()),
]


def _call(client: Any, verb: str, suffix: str, app_id: str, **kwargs: Any) -> Any:
    return getattr(client, f"{verb}_{suffix}_channel")(ApplicationId=app_id, **kwargs)


@pytest.mark.parametrize("channel", CHANNELS, ids=[c[0] for c in CHANNELS])
def test_c1_every_channel_is_stored_and_returned(
    client: Any, app_id: str, channel: tuple[str, str, dict[str, Any], tuple[str, ...]]
) -> None:
    suffix, shape, request_, secrets = channel
    with pytest.raises(client.exceptions.NotFoundException):
        _call(client, "get", suffix, app_id)
    created = _call(client, "update", suffix, app_id, **{f"{shape}Request": request_})
    got = _call(client, "get", suffix, app_id)[f"{shape}Response"]
    assert created[f"{shape}Response"] == got
    platform = suffix.upper()
    assert got["Platform"] == platform
    assert (got["Id"], got["Version"], got["IsArchived"], got["Enabled"]) == (
        suffix,
        1,
        False,
        True,
    )
    assert got["ApplicationId"] == app_id
    assert got["LastModifiedBy"] == TEST_KEY.id
    assert got["CreationDate"] == got["LastModifiedDate"]
    for name, value in request_.items():
        if name in secrets or name in ("ApiKey", "SecretKey", "ClientSecret"):
            assert name not in got
        elif name in MODEL.shape_for(f"{shape}Response").members:
            assert got[name] == value
    assert got["HasCredential"] is bool(secrets)
    assert platform in client.get_channels(ApplicationId=app_id)["ChannelsResponse"]["Channels"]
    deleted = _call(client, "delete", suffix, app_id)[f"{shape}Response"]
    assert deleted == got
    with pytest.raises(client.exceptions.NotFoundException):
        _call(client, "get", suffix, app_id)


def test_c1_update_keeps_members_not_sent_and_counts_versions(client: Any, app_id: str) -> None:
    client.update_sms_channel(
        ApplicationId=app_id, SMSChannelRequest={"SenderId": "Acme", "ShortCode": "12345"}
    )
    second = client.update_sms_channel(ApplicationId=app_id, SMSChannelRequest={"Enabled": False})[
        "SMSChannelResponse"
    ]
    assert (second["SenderId"], second["ShortCode"], second["Enabled"]) == ("Acme", "12345", False)
    assert second["Version"] == 2
    assert second["LastModifiedDate"] >= second["CreationDate"]


def test_c1_get_channels_lists_configured_channels_by_platform(client: Any, app_id: str) -> None:
    assert client.get_channels(ApplicationId=app_id)["ChannelsResponse"]["Channels"] == {}
    client.update_email_channel(ApplicationId=app_id, EmailChannelRequest=EMAIL_CHANNEL)
    client.update_sms_channel(ApplicationId=app_id, SMSChannelRequest={})
    channels = client.get_channels(ApplicationId=app_id)["ChannelsResponse"]["Channels"]
    assert set(channels) == {"EMAIL", "SMS"}
    assert channels["EMAIL"]["Id"] == "email"
    assert "FromAddress" not in channels["EMAIL"]


def test_c1_channels_of_an_unknown_app_are_not_found(client: Any) -> None:
    with pytest.raises(client.exceptions.NotFoundException):
        client.get_channels(ApplicationId="0" * 32)


@pytest.mark.parametrize(
    ("request_", "named"),
    [
        ({"FromAddress": "not an address", "Identity": "x"}, "FromAddress"),
        ({"FromAddress": "a@example.com", "Identity": " "}, "Identity"),
    ],
)
def test_c2_email_channel_validation_names_the_field(
    client: Any, app_id: str, request_: dict[str, str], named: str
) -> None:
    with pytest.raises(client.exceptions.BadRequestException, match=named):
        client.update_email_channel(ApplicationId=app_id, EmailChannelRequest=request_)
    with pytest.raises(client.exceptions.NotFoundException):
        client.get_email_channel(ApplicationId=app_id)


@pytest.mark.parametrize("missing", ["project_id", "client_email", "private_key", "token_uri"])
def test_c2_gcm_service_json_needs_a_service_account(
    client: Any, app_id: str, missing: str
) -> None:
    account = json.loads(SERVICE_ACCOUNT)
    del account[missing]
    with pytest.raises(client.exceptions.BadRequestException, match=missing):
        client.update_gcm_channel(
            ApplicationId=app_id,
            GCMChannelRequest={
                "ServiceJson": json.dumps(account),
                "DefaultAuthenticationMethod": "TOKEN",
            },
        )


def test_c2_gcm_token_without_service_json_is_refused(client: Any, app_id: str) -> None:
    with pytest.raises(client.exceptions.BadRequestException, match="ServiceJson"):
        client.update_gcm_channel(
            ApplicationId=app_id, GCMChannelRequest={"DefaultAuthenticationMethod": "TOKEN"}
        )


def test_c2_validation_applies_to_the_merged_channel(client: Any, app_id: str) -> None:
    client.update_gcm_channel(
        ApplicationId=app_id, GCMChannelRequest={"ServiceJson": SERVICE_ACCOUNT}
    )
    updated = client.update_gcm_channel(
        ApplicationId=app_id,
        GCMChannelRequest={"Enabled": False, "DefaultAuthenticationMethod": "TOKEN"},
    )["GCMChannelResponse"]
    assert (updated["Enabled"], updated["HasFcmServiceCredentials"]) == (False, True)


def test_c2_gcm_legacy_api_key_is_stored(client: Any, app_id: str) -> None:
    stored = client.update_gcm_channel(
        ApplicationId=app_id, GCMChannelRequest={"ApiKey": "legacy"}
    )["GCMChannelResponse"]
    assert (stored["HasCredential"], stored["HasFcmServiceCredentials"]) == (True, False)
    assert "Credential" not in stored


@pytest.mark.parametrize("missing", ["TokenKey", "TokenKeyId", "TeamId", "BundleId"])
def test_c2_apns_token_authentication_needs_its_members(
    client: Any, app_id: str, missing: str
) -> None:
    request_ = {k: v for k, v in APNS_TOKEN.items() if k != missing}
    with pytest.raises(client.exceptions.BadRequestException, match=missing):
        client.update_apns_channel(ApplicationId=app_id, APNSChannelRequest=request_)


def test_c2_apns_certificate_needs_certificate_and_key(client: Any, app_id: str) -> None:
    with pytest.raises(client.exceptions.BadRequestException, match="PrivateKey"):
        client.update_apns_sandbox_channel(
            ApplicationId=app_id,
            APNSSandboxChannelRequest={
                "DefaultAuthenticationMethod": "CERTIFICATE",
                "Certificate": "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----",
            },
        )


def test_c4_app_scoped_keys_manage_only_their_apps_channels(tmp_path: Path, store_url: str) -> None:
    keys = KeyFile(tmp_path / "keys.json")
    keys.create(TEST_KEY)
    admin_server = RunningServer(store_url, "--keys-file", str(keys.path))
    try:
        admin = admin_server.client()
        mine, theirs = (
            admin.create_app(CreateApplicationRequest={"Name": n})["ApplicationResponse"]["Id"]
            for n in ("mine", "theirs")
        )
        scoped_key = keys.create(
            AccessKey(id="AKIDSCOPED", secret="scoped", name="scoped", apps=[mine])
        )
        scoped = admin_server.client(key=scoped_key)
        stored = scoped.update_email_channel(ApplicationId=mine, EmailChannelRequest=EMAIL_CHANNEL)
        assert stored["EmailChannelResponse"]["LastModifiedBy"] == "AKIDSCOPED"
        calls: list[tuple[str, dict[str, Any]]] = [
            ("update_email_channel", {"EmailChannelRequest": EMAIL_CHANNEL}),
            ("get_channels", {}),
            ("delete_sms_channel", {}),
        ]
        for name, arguments in calls:
            with pytest.raises(ClientError) as refused:
                getattr(scoped, name)(ApplicationId=theirs, **arguments)
            assert refused.value.response["Error"]["Code"] == "ForbiddenException"
    finally:
        admin_server.stop()


PLANTED = "PLANTED-SECRET-5f3a9c"


def test_c3_secrets_never_leave_the_server(tmp_path: Path) -> None:
    """A planted secret is in no response, no log line, no export and not in the database
    file (sealed at rest)."""
    database = tmp_path / "secrets.db"
    server = RunningServer(
        sqlite_url(database),
        "--outbox",
        str(tmp_path / "outbox"),
        "--log-level",
        "debug",
        "--access-log",
        env={"OPENPINPOINT_DATA": str(tmp_path / "data")},
    )
    try:
        client = server.client()
        app_id = client.create_app(CreateApplicationRequest={"Name": "s"})["ApplicationResponse"][
            "Id"
        ]
        # C2 takes only real keys, so the planted secret rides in a member it does not
        # check; the whole ServiceJson is sealed alike.
        account = json.loads(SERVICE_ACCOUNT)
        account["private_key_id"] = PLANTED
        answers = [
            client.update_gcm_channel(
                ApplicationId=app_id, GCMChannelRequest={"ServiceJson": json.dumps(account)}
            ),
            client.update_apns_channel(ApplicationId=app_id, APNSChannelRequest=APNS_TOKEN),
            client.update_baidu_channel(
                ApplicationId=app_id, BaiduChannelRequest={"ApiKey": PLANTED, "SecretKey": PLANTED}
            ),
            client.get_gcm_channel(ApplicationId=app_id),
            client.get_apns_channel(ApplicationId=app_id),
            client.get_channels(ApplicationId=app_id),
        ]
        assert (tmp_path / "data" / "secret.key").stat().st_mode & 0o777 == 0o600
    finally:
        server.stop()
    token_key = APNS_TOKEN["TokenKey"].splitlines()[1]  # a line of the key's base64 body
    for planted in (PLANTED, token_key):
        assert planted not in json.dumps(answers, default=str)
        assert planted not in server.log
        for path in tmp_path.glob("secrets.db*"):
            assert planted.encode() not in path.read_bytes(), path
    dump = subprocess.run(
        ["sqlite3", str(database), ".dump"], capture_output=True, check=False, text=True
    )
    assert PLANTED not in dump.stdout
    exported = run_cli(
        "export", "--db", sqlite_url(database), "--app", app_id, "--out", str(tmp_path / "x")
    )
    assert exported.returncode == 0, exported.stderr
    for piece in (tmp_path / "x").rglob("*.gz"):
        assert PLANTED.encode() not in gzip.decompress(piece.read_bytes())
