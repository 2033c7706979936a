"""C2: the credentials a GCM or APNs channel needs, checked when the channel is updated (on
the channel as it will be: stored members merged with the request), so that a send never
finds out that a key cannot be read. Each check names the member that is wrong."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_private_key,
)

from openpinpoint.core.errors import BadRequest

LEGACY_FCM_MESSAGE = "legacy FCM server keys no longer work; set ServiceJson"
SERVICE_ACCOUNT_FIELDS = ("project_id", "client_email", "private_key", "token_uri")


def _method(channel: Mapping[str, Any]) -> str | None:
    method = channel.get("DefaultAuthenticationMethod")
    return method.upper() if isinstance(method, str) and method else None


def _text(channel: Mapping[str, Any], member: str) -> str | None:
    value = channel.get(member)
    return value if isinstance(value, str) and value.strip() else None


def gcm_uses_service_json(channel: Mapping[str, Any]) -> bool:
    """Whether the channel sends with FCM HTTP v1 (ServiceJson) rather than a legacy key."""
    method = _method(channel)
    return method == "TOKEN" or (method is None and _text(channel, "ServiceJson") is not None)


def validate_gcm_channel(channel: Mapping[str, Any]) -> None:
    """C2 for GCM. A channel with only `ApiKey` is kept (wire compatibility) although its
    sends fail with LEGACY_FCM_MESSAGE."""
    method = _method(channel)
    if method not in (None, "TOKEN", "KEY"):
        raise BadRequest("DefaultAuthenticationMethod must be TOKEN or KEY")
    if gcm_uses_service_json(channel):
        service_json = _text(channel, "ServiceJson")
        if service_json is None:
            raise BadRequest("ServiceJson is required when DefaultAuthenticationMethod is TOKEN")
        service_account(service_json)
    elif _text(channel, "ApiKey") is None:
        raise BadRequest("ServiceJson (or a legacy ApiKey) is required for the GCM channel")


def service_account(service_json: str) -> dict[str, str]:
    """The Google service account in `ServiceJson`, with the members FCM needs checked."""
    try:
        account = json.loads(service_json)
    except ValueError:
        raise BadRequest("ServiceJson is not valid JSON") from None
    if not isinstance(account, dict):
        raise BadRequest("ServiceJson must be a JSON object (a Google service account key)")
    for field in SERVICE_ACCOUNT_FIELDS:
        value = account.get(field)
        if not isinstance(value, str) or not value.strip():
            raise BadRequest(f"ServiceJson is missing {field}")
    try:
        key = load_pem_private_key(account["private_key"].encode(), password=None)
    except (ValueError, TypeError):
        raise BadRequest("ServiceJson's private_key is not a PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise BadRequest("ServiceJson's private_key must be an RSA key")
    token_uri = urlsplit(account["token_uri"])
    if token_uri.scheme not in ("https", "http") or not token_uri.netloc:
        raise BadRequest("ServiceJson's token_uri must be an https URL")
    return {
        field: account[field]
        for field in (*SERVICE_ACCOUNT_FIELDS, "private_key_id")
        if isinstance(account.get(field), str)
    }


def apns_uses_token(channel: Mapping[str, Any]) -> bool:
    """Token auth when the method says so, or when no method is set and a TokenKey is."""
    method = _method(channel)
    return method == "TOKEN" or (method is None and _text(channel, "TokenKey") is not None)


def validate_apns_channel(channel: Mapping[str, Any]) -> None:
    """C2 for APNS, APNS_SANDBOX, APNS_VOIP and APNS_VOIP_SANDBOX."""
    method = _method(channel)
    if method not in (None, "TOKEN", "CERTIFICATE"):
        raise BadRequest("DefaultAuthenticationMethod must be TOKEN or CERTIFICATE")
    if apns_uses_token(channel):
        for member in ("TokenKey", "TokenKeyId", "TeamId", "BundleId"):
            if _text(channel, member) is None:
                raise BadRequest(f"{member} is required for APNs token authentication")
        apns_token_key(channel["TokenKey"])
    else:
        for member in ("Certificate", "PrivateKey"):
            if _text(channel, member) is None:
                raise BadRequest(f"{member} is required for APNs certificate authentication")
        apns_certificate_topic(channel["Certificate"], channel["PrivateKey"])


def apns_token_key(token_key: str) -> ec.EllipticCurvePrivateKey:
    """The .p8 signing key: a PEM EC private key on P-256, as Apple issues them."""
    try:
        key = load_pem_private_key(token_key.encode(), password=None)
    except (ValueError, TypeError):
        raise BadRequest("TokenKey is not a PEM private key (the .p8 file)") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise BadRequest("TokenKey must be an EC P-256 key (the .p8 file from Apple)")
    return key


def apns_certificate_topic(certificate: str, private_key: str) -> str | None:
    """Checks that the certificate and key are PEM and belong together; returns the
    certificate's UID (the app's bundle id in Apple's push certificates), if any."""
    try:
        cert = x509.load_pem_x509_certificate(certificate.encode())
    except ValueError:
        raise BadRequest("Certificate is not a PEM certificate") from None
    try:
        key = load_pem_private_key(private_key.encode(), password=None)
    except (ValueError, TypeError):
        raise BadRequest("PrivateKey is not an unencrypted PEM private key") from None
    spki = (Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    if key.public_key().public_bytes(*spki) != cert.public_key().public_bytes(*spki):
        raise BadRequest("PrivateKey does not match Certificate")
    uids = cert.subject.get_attributes_for_oid(x509.NameOID.USER_ID)
    return str(uids[0].value) if uids else None
