"""Local fakes of FCM and APNs that speak the real protocols (HTTP/2 over TLS) and check
what the real services check: the RS256 assertion of the OAuth2 JWT bearer grant, the bearer
token on `messages:send`, FCM's message rules; the ES256 provider token or the client
certificate, `apns-topic`, `apns-push-type`, `apns-priority`, `apns-expiration` and the body.
Each can be told to answer a device token with any error class, or never (a stall).

Keys and certificates are throwaway ones made here with `cryptography`."""

from __future__ import annotations

import asyncio
import datetime
import itertools
import json
import re
import secrets
import ssl
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from h2fake import H2Server, Request, Response

PEM = serialization.Encoding.PEM
PKCS8 = serialization.PrivateFormat.PKCS8
NO_PASSWORD = serialization.NoEncryption()


_ID_PREFIX = uuid.uuid4().int & ~0xFFFFFFFF
_id_numbers = itertools.count()


def _unique_id() -> uuid.UUID:
    """Unique ids as the services give them, without a system call for randomness each:
    uuid4() was the fakes' largest single cost in the push benchmark."""
    return uuid.UUID(int=_ID_PREFIX | next(_id_numbers))


class Clock:
    """Time shared by a back end and a fake, which tests move forward instead of waiting."""

    def __init__(self) -> None:
        self.now = datetime.datetime.now(datetime.UTC).timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RealClock(Clock):
    def __call__(self) -> float:
        return time.time()


class Discard(list[Any]):
    """A record that keeps nothing."""

    def append(self, item: Any) -> None:
        pass


def key_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(PEM, PKCS8, NO_PASSWORD).decode()


def _certificate(
    subject: x509.Name,
    public_key: Any,
    issuer: x509.Name,
    signer: Any,
    *,
    ca: bool = False,
    san: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(signer, hashes.SHA256())


@dataclass
class Pki:
    """A CA that signs the fakes' server certificates and the APNs client certificates."""

    directory: Path
    ca_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )

    def __post_init__(self) -> None:
        self.ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Push fakes CA")])
        self.ca = _certificate(
            self.ca_name, self.ca_key.public_key(), self.ca_name, self.ca_key, ca=True
        )
        self.ca_file = self.directory / "push-ca.pem"
        self.ca_file.write_bytes(self.ca.public_bytes(PEM))

    def server_context(self) -> ssl.SSLContext:
        """TLS for a fake on localhost; asks for a client certificate and verifies one if
        given (APNs certificate auth), but does not require it (token auth)."""
        key = ec.generate_private_key(ec.SECP256R1())
        san: list[x509.GeneralName] = [x509.DNSName("localhost")]
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
        cert = _certificate(name, key.public_key(), self.ca_name, self.ca_key, san=san)
        path = self.directory / f"server-{secrets.token_hex(4)}.pem"
        path.write_text(key_pem(key) + cert.public_bytes(PEM).decode())
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(path)
        context.load_verify_locations(cafile=self.ca_file)
        context.verify_mode = ssl.CERT_OPTIONAL
        return context

    def apns_certificate(self, bundle_id: str) -> tuple[str, str]:
        """An APNs-style client certificate (UID = bundle id) and its key, as PEM."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.USER_ID, bundle_id),
                x509.NameAttribute(NameOID.COMMON_NAME, f"Apple Push Services: {bundle_id}"),
            ]
        )
        cert = _certificate(name, key.public_key(), self.ca_name, self.ca_key)
        return cert.public_bytes(PEM).decode(), key_pem(key)


def _json_response(status: int, document: Any, **headers: str) -> Response:
    return Response(
        status, json.dumps(document).encode(), {"content-type": "application/json", **headers}
    )


async def _stall() -> Response:
    """Never answers: the stream stays open until the client gives up or the fake stops."""
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


FCM_ERRORS: dict[str, tuple[int, str, str, dict[str, Any] | None]] = {
    # name: (HTTP status, google.rpc status, message, FcmError/BadRequest detail)
    "UNREGISTERED": (404, "NOT_FOUND", "Requested entity was not found.", None),
    "INVALID_TOKEN": (
        400,
        "INVALID_ARGUMENT",
        "The registration token is not a valid FCM registration token",
        {
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [
                {"field": "message.token", "description": "Invalid registration token"}
            ],
        },
    ),
    "INVALID_ARGUMENT": (400, "INVALID_ARGUMENT", "Request contains an invalid argument.", None),
    "QUOTA_EXCEEDED": (429, "RESOURCE_EXHAUSTED", "Quota exceeded for this device.", None),
    "UNAVAILABLE": (503, "UNAVAILABLE", "The service is currently unavailable.", None),
}


def fcm_error(name: str) -> Response:
    status, rpc_status, message, detail = FCM_ERRORS[name]
    error_code = "INVALID_ARGUMENT" if name == "INVALID_TOKEN" else name
    details: list[dict[str, Any]] = [
        {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": error_code}
    ]
    if detail is not None:
        details.append(detail)
    return _json_response(
        status,
        {"error": {"code": status, "message": message, "status": rpc_status, "details": details}},
    )


class FcmFake:
    """FCM HTTP v1 plus Google's OAuth2 token endpoint, on one HTTPS server."""

    def __init__(self, pki: Pki, clock: Clock, project_id: str = "demo-project") -> None:
        self.clock = clock
        self.project_id = project_id
        self.accounts: dict[str, rsa.RSAPublicKey] = {}
        self.access_tokens: dict[str, float] = {}
        self.token_requests = 0
        self.errors: dict[str, str] = {}
        """Device token -> FCM_ERRORS name, or "STALL"."""
        self.messages: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self.server = H2Server(self._handle, pki.server_context()).start()

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def token_uri(self) -> str:
        return f"{self.server.url}/token"

    def service_json(self, email: str = "push@demo-project.iam.gserviceaccount.com") -> str:
        """A new service account the fake trusts, as the JSON key file Google issues."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.accounts[email] = key.public_key()
        return json.dumps(
            {
                "type": "service_account",
                "project_id": self.project_id,
                "private_key_id": secrets.token_hex(20),
                "private_key": key_pem(key),
                "client_email": email,
                "client_id": "1234567890",
                "token_uri": self.token_uri,
            }
        )

    def revoke_access_tokens(self) -> None:
        self.access_tokens.clear()

    def stop(self) -> None:
        self.server.stop()

    async def _handle(self, request: Request) -> Response:
        if request.method == "POST" and request.path == "/token":
            return self._token(request)
        match = re.fullmatch(r"/v1/projects/([^/]+)/messages:send", request.path)
        if request.method == "POST" and match:
            return await self._send(request, match.group(1))
        return _json_response(404, {"error": {"code": 404, "status": "NOT_FOUND"}})

    def _token(self, request: Request) -> Response:
        self.token_requests += 1
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}

        def refuse(description: str) -> Response:
            return _json_response(400, {"error": "invalid_grant", "error_description": description})

        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return _json_response(400, {"error": "unsupported_grant_type"})
        assertion = form.get("assertion", "")
        try:
            issuer = str(jwt.decode(assertion, options={"verify_signature": False}).get("iss"))
            claims = jwt.decode(
                assertion,
                self.accounts[issuer],
                algorithms=["RS256"],
                audience=self.token_uri,
                # Checked below against the shared clock instead.
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
        except (jwt.InvalidTokenError, KeyError) as error:
            return refuse(f"Invalid JWT Signature: {error}")
        if "https://www.googleapis.com/auth/firebase.messaging" not in claims.get("scope", ""):
            return refuse("scope does not include firebase.messaging")
        if not claims["iat"] <= self.clock() + 60 < claims["exp"] + 60:
            return refuse(
                "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe"
            )
        if claims["exp"] - claims["iat"] > 3600:
            return refuse("Invalid JWT: lifetime longer than an hour")
        token = f"ya29.{secrets.token_urlsafe(24)}"
        self.access_tokens[token] = self.clock() + 3600
        return _json_response(
            200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}
        )

    async def _send(self, request: Request, project_id: str) -> Response:
        bearer = request.headers.get("authorization", "")
        expiry = self.access_tokens.get(bearer.removeprefix("Bearer "))
        if not bearer.startswith("Bearer ") or expiry is None or expiry <= self.clock():
            return _json_response(
                401,
                {
                    "error": {
                        "code": 401,
                        "message": "Request had invalid authentication credentials.",
                        "status": "UNAUTHENTICATED",
                    }
                },
            )
        if project_id != self.project_id:
            return fcm_error("INVALID_ARGUMENT")
        try:
            message = json.loads(request.body)["message"]
        except (ValueError, KeyError, TypeError):
            return fcm_error("INVALID_ARGUMENT")
        problem = _fcm_message_problem(message)
        if problem is not None:
            return _json_response(
                400, {"error": {"code": 400, "message": problem, "status": "INVALID_ARGUMENT"}}
            )
        error = self.errors.get(message["token"])
        if error == "STALL":
            return await _stall()
        if error is not None:
            return fcm_error(error)
        self.messages.append(message)
        return _json_response(
            200, {"name": f"projects/{project_id}/messages/0:{next(self._ids)}%{_unique_id().hex}"}
        )


def _fcm_message_problem(message: Any) -> str | None:
    """FCM's own checks on a v1 message that the payload builder must satisfy."""
    if not isinstance(message, dict) or not isinstance(message.get("token"), str):
        return "message.token is required"
    data = message.get("data", {})
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        return "Invalid value at 'message.data': values must be strings"
    android = message.get("android", {})
    if "ttl" in android and not re.fullmatch(r"\d+(\.\d{1,9})?s", str(android["ttl"])):
        return "Invalid value at 'message.android.ttl' (Duration)"
    if android.get("priority", "NORMAL") not in ("NORMAL", "HIGH"):
        return "Invalid value at 'message.android.priority'"
    return None


APNS_ERRORS: dict[str, int] = {
    "BadDeviceToken": 400,
    "Unregistered": 410,
    "TooManyRequests": 429,
    "InternalServerError": 500,
    "ServiceUnavailable": 503,
}
PUSH_TYPES = frozenset({"alert", "background", "voip", "complication", "fileprovider", "mdm"})


@dataclass
class ApnsRequest:
    token: str
    headers: dict[str, str]
    body: dict[str, Any]
    connection: int
    certificate_auth: bool


class ApnsFake:
    """APNs' provider API: `POST /3/device/{token}` over HTTP/2 and TLS."""

    def __init__(self, pki: Pki, clock: Clock) -> None:
        self.clock = clock
        self.pki = pki
        self.token_keys: dict[str, tuple[str, ec.EllipticCurvePublicKey]] = {}
        self.topics: set[str] = set()
        self.errors: dict[str, str] = {}
        """Device token -> APNS_ERRORS reason, or "STALL"."""
        self.refuse_provider_tokens: list[str] = []
        """Reasons (ExpiredProviderToken, InvalidProviderToken) for the next token-auth
        requests, one each, whatever their token."""
        self.provider_tokens: list[str] = []
        """Every provider token that passed, in order."""
        self.received: list[ApnsRequest] = []
        self._verified: dict[str, dict[str, Any]] = {}
        self.server = H2Server(self._handle, pki.server_context()).start()

    @property
    def url(self) -> str:
        return self.server.url

    def token_channel(self, bundle_id: str = "com.example.app") -> dict[str, str]:
        """A new .p8 signing key the fake trusts, as an APNs TOKEN channel's members."""
        key = ec.generate_private_key(ec.SECP256R1())
        key_id = secrets.token_hex(5).upper()
        team_id = secrets.token_hex(5).upper()
        self.token_keys[key_id] = (team_id, key.public_key())
        self.topics.update({bundle_id, f"{bundle_id}.voip"})
        return {
            "DefaultAuthenticationMethod": "TOKEN",
            "TokenKey": key_pem(key),
            "TokenKeyId": key_id,
            "TeamId": team_id,
            "BundleId": bundle_id,
        }

    def certificate_channel(self, bundle_id: str = "com.example.app") -> dict[str, str]:
        certificate, private_key = self.pki.apns_certificate(bundle_id)
        return {
            "DefaultAuthenticationMethod": "CERTIFICATE",
            "Certificate": certificate,
            "PrivateKey": private_key,
        }

    def stop(self) -> None:
        self.server.stop()

    def forget_keys(self) -> None:
        """As if the keys were revoked in the developer account."""
        self.token_keys.clear()
        self._verified.clear()

    async def _handle(self, request: Request) -> Response:
        match = re.fullmatch(r"/3/device/([^/]+)", request.path)
        if request.method != "POST" or not match:
            return _reason(405 if match else 404, "MethodNotAllowed" if match else "BadPath")
        token = match.group(1)
        headers = request.headers
        topic = headers.get("apns-topic")
        certificate_uid = _certificate_uid(request.peer_certificate)
        if certificate_uid is not None:
            allowed = {certificate_uid, f"{certificate_uid}.voip"}
            if topic is not None and topic not in allowed:
                return _reason(400, "TopicDisallowed")
            topic = topic or certificate_uid
        else:
            refusal = self._provider_token_problem(headers.get("authorization"))
            if refusal is not None:
                return _reason(403, refusal)
            if topic is None:
                return _reason(400, "MissingTopic")
            if topic not in self.topics:
                return _reason(400, "TopicDisallowed")
        push_type = headers.get("apns-push-type", "alert")
        if push_type not in PUSH_TYPES or (push_type == "voip") != topic.endswith(".voip"):
            return _reason(400, "InvalidPushType")
        priority = headers.get("apns-priority", "10")
        if priority not in ("5", "10") or (push_type == "background" and priority != "5"):
            return _reason(400, "BadPriority")
        if not re.fullmatch(r"\d+", headers.get("apns-expiration", "0")):
            return _reason(400, "BadExpirationDate")
        if len(headers.get("apns-collapse-id", "").encode()) > 64:
            return _reason(400, "BadCollapseId")
        if len(request.body) > (5120 if push_type == "voip" else 4096):
            return _reason(413, "PayloadTooLarge")
        try:
            body = json.loads(request.body)
        except ValueError:
            return _reason(400, "PayloadEmpty" if not request.body else "BadPayload")
        if not isinstance(body, dict) or not isinstance(body.get("aps"), dict):
            return _reason(400, "PayloadEmpty")
        error = self.errors.get(token)
        if error == "STALL":
            return await _stall()
        if error is not None:
            return _reason(APNS_ERRORS[error], error)
        self.received.append(
            ApnsRequest(token, dict(headers), body, request.connection, certificate_uid is not None)
        )
        return Response(200, headers={"apns-id": str(_unique_id()).upper()})

    def _provider_token_problem(self, authorization: str | None) -> str | None:
        if not authorization or not authorization.startswith("bearer "):
            return "MissingProviderToken"
        token = authorization.removeprefix("bearer ")
        if self.refuse_provider_tokens:
            return self.refuse_provider_tokens.pop(0)
        claims = self._verified.get(token)
        if claims is None:
            try:
                header = jwt.get_unverified_header(token)
                team_id, public_key = self.token_keys[header["kid"]]
                claims = jwt.decode(
                    token,
                    public_key,
                    algorithms=["ES256"],
                    options={"verify_iat": False, "require": ["iss", "iat"]},
                )
            except (jwt.InvalidTokenError, KeyError):
                return "InvalidProviderToken"
            if claims["iss"] != team_id:
                return "InvalidProviderToken"
            # Like APNs, a token verified once is not verified again on every push.
            self._verified[token] = claims
        if self.clock() - claims["iat"] > 3600:
            return "ExpiredProviderToken"
        self.provider_tokens.append(token)
        return None


def _reason(status: int, reason: str) -> Response:
    return _json_response(status, {"reason": reason}, **{"apns-id": str(_unique_id()).upper()})


def _certificate_uid(certificate: dict[str, Any] | None) -> str | None:
    if not certificate:
        return None
    for rdn in certificate.get("subject", ()):
        for name, value in rdn:
            if name == "userId":
                return str(value)
    return None


# Fixtures shared by the push tests (imported by name into each test module).


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(Path(tmp_path_factory.mktemp("pki")))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fcm(pki: Pki, clock: Clock) -> Iterator[FcmFake]:
    fake = FcmFake(pki, clock)
    yield fake
    fake.stop()


@pytest.fixture
def apns(pki: Pki, clock: Clock) -> Iterator[ApnsFake]:
    fake = ApnsFake(pki, clock)
    yield fake
    fake.stop()


def main() -> None:
    """`python tests/pushfakes.py DIR`: both fakes in this process (for the benchmark, so
    that they do not share the measured server's interpreter), described in DIR/fakes.json,
    until stdin closes. They record nothing, so that a long run does not grow."""
    directory = Path(sys.argv[1])
    pki = Pki(directory)
    fcm, apns = FcmFake(pki, RealClock()), ApnsFake(pki, RealClock())
    fcm.messages = Discard()
    apns.received = Discard()
    apns.provider_tokens = Discard()
    description = {
        "ca_file": str(pki.ca_file),
        "fcm_url": fcm.url,
        "apns_url": apns.url,
        "service_json": fcm.service_json(),
        "apns_token_channel": apns.token_channel(),
        "apns_certificate_channel": apns.certificate_channel(),
    }
    (directory / "fakes.json").write_text(json.dumps(description))
    print("ready", flush=True)
    sys.stdin.read()
    fcm.stop()
    apns.stop()


if __name__ == "__main__":
    main()
