"""C2: GCM and APNs channel credentials are checked at update, each malformed case refused
with a message that names the member."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from openpinpoint.core.errors import BadRequest
from openpinpoint.core.push_credentials import (
    LEGACY_FCM_MESSAGE,
    gcm_uses_service_json,
    validate_apns_channel,
    validate_gcm_channel,
)
from pushfakes import Pki, key_pem, pki

__all__ = ["pki"]  # fixture

RSA_KEY = key_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
P256_KEY = key_pem(ec.generate_private_key(ec.SECP256R1()))


def service_json(**changes: Any) -> str:
    account = {
        "type": "service_account",
        "project_id": "demo",
        "private_key_id": "k1",
        "private_key": RSA_KEY,
        "client_email": "push@demo.iam.gserviceaccount.com",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    account.update(changes)
    return json.dumps({k: v for k, v in account.items() if v is not None})


def test_c2_gcm_service_json_is_accepted() -> None:
    validate_gcm_channel({"ServiceJson": service_json()})
    validate_gcm_channel({"ServiceJson": service_json(), "DefaultAuthenticationMethod": "TOKEN"})


@pytest.mark.parametrize("field", ["project_id", "client_email", "private_key", "token_uri"])
def test_c2_gcm_service_json_missing_field_is_named(field: str) -> None:
    with pytest.raises(BadRequest, match=f"ServiceJson is missing {field}"):
        validate_gcm_channel({"ServiceJson": service_json(**{field: None})})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{not json", "ServiceJson is not valid JSON"),
        ("[1]", "ServiceJson must be a JSON object"),
        (service_json(private_key="-----BEGIN PRIVATE KEY-----\nxx\n"), "not a PEM private key"),
        (service_json(private_key=P256_KEY), "must be an RSA key"),
        (service_json(token_uri="oauth2.googleapis.com/token"), "token_uri must be an https URL"),
    ],
)
def test_c2_gcm_malformed_service_json(value: str, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        validate_gcm_channel({"ServiceJson": value})


def test_c2_gcm_token_method_needs_service_json() -> None:
    with pytest.raises(BadRequest, match="ServiceJson is required"):
        validate_gcm_channel({"DefaultAuthenticationMethod": "TOKEN", "ApiKey": "AIza"})


def test_c2_gcm_without_any_credential_is_refused() -> None:
    with pytest.raises(BadRequest, match="ServiceJson"):
        validate_gcm_channel({"Enabled": True})


def test_c2_gcm_unknown_method_is_refused() -> None:
    with pytest.raises(BadRequest, match="DefaultAuthenticationMethod"):
        validate_gcm_channel(
            {"DefaultAuthenticationMethod": "OAUTH", "ServiceJson": service_json()}
        )


def test_c2_gcm_legacy_api_key_only_is_stored_but_does_not_use_fcm_v1() -> None:
    channel = {"ApiKey": "AIzaSyLegacy"}
    validate_gcm_channel(channel)
    assert not gcm_uses_service_json(channel)
    assert "ServiceJson" in LEGACY_FCM_MESSAGE


def token_channel(**changes: Any) -> dict[str, Any]:
    channel = {
        "TokenKey": P256_KEY,
        "TokenKeyId": "ABC123DEFG",
        "TeamId": "TEAM123456",
        "BundleId": "com.example.app",
        "DefaultAuthenticationMethod": "TOKEN",
    }
    channel.update(changes)
    return {k: v for k, v in channel.items() if v is not None}


def test_c2_apns_token_channel_is_accepted() -> None:
    validate_apns_channel(token_channel())
    validate_apns_channel(token_channel(DefaultAuthenticationMethod=None))


@pytest.mark.parametrize("member", ["TokenKey", "TokenKeyId", "TeamId", "BundleId"])
def test_c2_apns_token_missing_member_is_named(member: str) -> None:
    with pytest.raises(BadRequest, match=f"{member} is required"):
        validate_apns_channel(token_channel(**{member: None}))


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("not a key", "TokenKey is not a PEM private key"),
        (RSA_KEY, "TokenKey must be an EC P-256 key"),
        (key_pem(ec.generate_private_key(ec.SECP384R1())), "TokenKey must be an EC P-256 key"),
    ],
)
def test_c2_apns_token_key_must_be_p256_pem(key: str, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        validate_apns_channel(token_channel(TokenKey=key))


def test_c2_apns_certificate_channel_is_accepted(pki: Pki) -> None:
    certificate, private_key = pki.apns_certificate("com.example.app")
    validate_apns_channel({"Certificate": certificate, "PrivateKey": private_key})


@pytest.mark.parametrize("member", ["Certificate", "PrivateKey"])
def test_c2_apns_certificate_missing_member_is_named(pki: Pki, member: str) -> None:
    certificate, private_key = pki.apns_certificate("com.example.app")
    channel = {
        "DefaultAuthenticationMethod": "CERTIFICATE",
        "Certificate": certificate,
        "PrivateKey": private_key,
    }
    del channel[member]
    with pytest.raises(BadRequest, match=f"{member} is required"):
        validate_apns_channel(channel)


def test_c2_apns_certificate_and_key_must_match(pki: Pki) -> None:
    certificate, _ = pki.apns_certificate("com.example.app")
    with pytest.raises(BadRequest, match="PrivateKey does not match Certificate"):
        validate_apns_channel({"Certificate": certificate, "PrivateKey": RSA_KEY})


@pytest.mark.parametrize(
    ("member", "message"),
    [
        ("Certificate", "Certificate is not a PEM certificate"),
        ("PrivateKey", "PrivateKey is not an unencrypted PEM private key"),
    ],
)
def test_c2_apns_certificate_members_must_be_pem(pki: Pki, member: str, message: str) -> None:
    certificate, private_key = pki.apns_certificate("com.example.app")
    channel = {"Certificate": certificate, "PrivateKey": private_key, member: "garbage"}
    with pytest.raises(BadRequest, match=message):
        validate_apns_channel(channel)


def test_c2_apns_without_credentials_is_refused() -> None:
    with pytest.raises(BadRequest, match="Certificate is required"):
        validate_apns_channel({"BundleId": "com.example.app"})


def test_c2_apns_unknown_method_is_refused() -> None:
    with pytest.raises(BadRequest, match="DefaultAuthenticationMethod"):
        validate_apns_channel(token_channel(DefaultAuthenticationMethod="KEY"))
