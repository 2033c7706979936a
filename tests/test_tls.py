"""HTTPS with --tls-cert/--tls-key (issue 4, item 7): boto3 verifies the server's certificate."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from conftest import TEST_KEY, RunningServer


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_tls_serves_https_that_boto3_verifies(
    tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    server = RunningServer(
        f"sqlite:///{tmp_path / 'db.sqlite'}", "--tls-cert", str(cert), "--tls-key", str(key)
    )
    try:
        assert server.url.startswith("https://127.0.0.1:")
        client = boto3.client(
            "pinpoint",
            endpoint_url=server.url,
            region_name="us-east-1",
            aws_access_key_id=TEST_KEY.id,
            aws_secret_access_key=TEST_KEY.secret,
            verify=str(cert),
        )
        created = client.create_app(CreateApplicationRequest={"Name": "tls"})
        assert created["ApplicationResponse"]["Name"] == "tls"
        # An idle TLS connection left open would hold up the server's graceful shutdown.
        client.close()
    finally:
        server.stop()


def test_tls_cert_needs_its_key(tmp_path: Path, certificate: tuple[Path, Path]) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "openpinpoint",
            "serve",
            "--db",
            f"sqlite:///{tmp_path / 'db'}",
            "--tls-cert",
            str(certificate[0]),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "--tls-key" in done.stderr
