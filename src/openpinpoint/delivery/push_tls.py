"""TLS for the push services: the system's trust store plus `--push-ca-file`, for FCM, its
token URL and APNs alike (tests and private gateways bring their own CA)."""

from __future__ import annotations

import ssl
import tempfile
from collections.abc import Callable
from pathlib import Path

Clock = Callable[[], float]
"""Seconds since the epoch; tests pass their own to age tokens without waiting."""


def tls_context(ca_file: str | None, *, http2_only: bool = False) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca_file is not None:
        context.load_verify_locations(cafile=ca_file)
    context.set_alpn_protocols(["h2"] if http2_only else ["h2", "http/1.1"])
    return context


def with_client_certificate(context: ssl.SSLContext, certificate: str, key: str) -> None:
    """Loads a client certificate and key given as PEM text: the ssl module reads them
    only from a file, so they pass through one that only this user can read and that is
    gone when this returns."""
    with tempfile.TemporaryDirectory(prefix="openpinpoint-") as directory:
        path = Path(directory) / "client.pem"
        path.touch(mode=0o600)
        path.write_text(f"{key.strip()}\n{certificate.strip()}\n")
        context.load_cert_chain(certfile=str(path))
