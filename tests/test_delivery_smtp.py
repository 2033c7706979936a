"""Email over SMTP against a real SMTP server (aiosmtpd, in-process) with STARTTLS and
AUTH on a throwaway certificate; one that refuses and one that never answers (M5, M6)."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import RunningServer, sqlite_url
from openpinpoint.delivery.smtp import SmtpSettings, SmtpUrlError
from sendtools import SIMPLE_EMAIL, endpoint, new_app, send, sending_server
from smtptools import PASSWORD, USER, SilentServer, SmtpSink, throwaway_certificate


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return throwaway_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def sink(certificate: tuple[Path, Path]) -> Iterator[SmtpSink]:
    running = SmtpSink(*certificate)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def mailer(
    tmp_path_factory: pytest.TempPathFactory, certificate: tuple[Path, Path], sink: SmtpSink
) -> Iterator[RunningServer]:
    directory = tmp_path_factory.mktemp("smtp-server")
    url = f"smtp://{USER}:{PASSWORD}@127.0.0.1:{sink.port}?starttls=required"
    with sending_server(
        sqlite_url(directory / "db.sqlite"),
        directory / "outbox",
        "--email-backend",
        url,
        env={"SSL_CERT_FILE": str(certificate[0])},
    ) as server:
        yield server


def _send_to(client: Any, app: str, *addresses: str) -> dict[str, Any]:
    return dict(
        send(
            client,
            app,
            MessageConfiguration=SIMPLE_EMAIL,
            Addresses={a: {"ChannelType": "EMAIL"} for a in addresses},
        )["Result"]
    )


def test_m6_smtp_delivers_over_starttls_with_auth(mailer: RunningServer, sink: SmtpSink) -> None:
    client = mailer.client()
    app = new_app(client)
    endpoint(client, app, "e", Address="reader@example.net", ChannelType="EMAIL")
    result = client.send_messages(
        ApplicationId=app,
        MessageRequest={"MessageConfiguration": SIMPLE_EMAIL, "Endpoints": {"e": {}}},
    )["MessageResponse"]["EndpointResult"]["e"]
    assert (result["DeliveryStatus"], result["StatusCode"]) == ("SUCCESSFUL", 200)
    received = next(
        m for m in sink.recorder.messages if f"<{result['MessageId']}>".encode() in m.content
    )
    assert received.mail_from == "sender@example.com"
    assert received.rcpt_tos == ["reader@example.net"]
    assert (received.tls, received.login) == (True, USER)
    mail = email.message_from_bytes(received.content, policy=email.policy.default)
    assert mail["Message-ID"] == f"<{result['MessageId']}>"
    assert (mail["From"], mail["To"], mail["Subject"]) == (
        "sender@example.com",
        "reader@example.net",
        "Hello",
    )
    assert mail.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in mail.iter_parts()] == ["text/plain", "text/html"]


def test_m5_smtp_permanent_refusal_is_permanent_failure(mailer: RunningServer) -> None:
    client = mailer.client()
    result = _send_to(client, new_app(client), "refuse-550@example.net")["refuse-550@example.net"]
    assert (result["DeliveryStatus"], result["StatusCode"]) == ("PERMANENT_FAILURE", 400)
    assert "550" in result["StatusMessage"]


def test_m5_smtp_temporary_refusal_is_temporary_failure(mailer: RunningServer) -> None:
    client = mailer.client()
    result = _send_to(client, new_app(client), "refuse-451@example.net")["refuse-451@example.net"]
    assert (result["DeliveryStatus"], result["StatusCode"]) == ("TEMPORARY_FAILURE", 503)
    assert "451" in result["StatusMessage"]


def test_m6_smtp_connections_are_fewer_than_recipients(
    mailer: RunningServer, sink: SmtpSink
) -> None:
    client = mailer.client()
    app = new_app(client)
    before = (sink.recorder.connections, len(sink.recorder.messages))
    results = _send_to(client, app, *(f"many{i}@example.net" for i in range(60)))
    assert {r["DeliveryStatus"] for r in results.values()} == {"SUCCESSFUL"}
    assert len(sink.recorder.messages) - before[1] == 60
    assert sink.recorder.connections - before[0] < 60


def test_m6_smtp_server_that_never_answers_is_temporary_failure(tmp_path: Path) -> None:
    silent = SilentServer()
    try:
        with sending_server(
            sqlite_url(tmp_path / "db.sqlite"),
            tmp_path / "outbox",
            "--email-backend",
            f"smtp://127.0.0.1:{silent.port}",
            "--delivery-timeout",
            "1",
        ) as server:
            client = server.client()
            result = _send_to(client, new_app(client), "hang@example.net")["hang@example.net"]
    finally:
        silent.stop()
    assert (result["DeliveryStatus"], result["StatusCode"]) == ("TEMPORARY_FAILURE", 503)


def test_m6_smtp_unreachable_server_is_temporary_failure(tmp_path: Path) -> None:
    with sending_server(
        sqlite_url(tmp_path / "db.sqlite"),
        tmp_path / "outbox",
        "--email-backend",
        "smtp://127.0.0.1:1",
    ) as server:
        client = server.client()
        result = _send_to(client, new_app(client), "nobody@example.net")["nobody@example.net"]
    assert (result["DeliveryStatus"], result["StatusCode"]) == ("TEMPORARY_FAILURE", 503)


def test_m9_smtps_delivers_over_implicit_tls(
    tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    sink = SmtpSink(*certificate, implicit_tls=True)
    try:
        with sending_server(
            sqlite_url(tmp_path / "db.sqlite"),
            tmp_path / "outbox",
            "--email-backend",
            f"smtps://{USER}:{PASSWORD}@127.0.0.1:{sink.port}",
            env={"SSL_CERT_FILE": str(certificate[0])},
        ) as server:
            client = server.client()
            result = _send_to(client, new_app(client), "tls@example.net")["tls@example.net"]
            assert "mail-password" not in server.log
    finally:
        sink.stop()
    assert result["DeliveryStatus"] == "SUCCESSFUL", result
    assert sink.recorder.messages[0].tls


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mx.example.com", ("mx.example.com", 25, False, None, None)),
        ("smtp://u:p%40ss@mx:2525?starttls=off", ("mx", 2525, False, False, "p@ss")),
        ("smtp://mx?starttls=required", ("mx", 25, False, True, None)),
        ("smtps://mx", ("mx", 465, True, False, None)),
    ],
)
def test_m9_smtp_urls(url: str, expected: tuple[Any, ...]) -> None:
    s = SmtpSettings.from_url(url)
    assert (s.host, s.port, s.use_tls, s.start_tls, s.password) == expected


@pytest.mark.parametrize("url", ["smtp://", "smtp://mx?starttls=maybe", "smtp://mx?x=1"])
def test_m9_bad_smtp_urls_are_refused(url: str) -> None:
    with pytest.raises(SmtpUrlError):
        SmtpSettings.from_url(url)
