"""Channel secrets at rest (C3): sealed with AES-256-GCM under a server key, so that a copy
of the database alone does not reveal API keys, private keys or service accounts.

The key comes from `OPENPINPOINT_SECRET_KEY` (any string; servers that share a store must
share it), or else from `secret.key` in the data directory, created 0600 at first start.
Each sealed value is bound to where it is stored (its associated data), so a value copied
into another channel or application does not open.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SECRET_KEY_ENV = "OPENPINPOINT_SECRET_KEY"
KEY_FILE = "secret.key"
_PREFIX = "sealed:v1:"
_NONCE_BYTES = 12


class SealingError(Exception):
    """A sealed value does not open with this server's key (another key, or tampered)."""


class Sealer:
    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(hashlib.sha256(b"openpinpoint channel secrets\0" + key).digest())

    def seal(self, plain: str, where: str) -> str:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plain.encode(), where.encode())
        return _PREFIX + base64.b64encode(nonce + sealed).decode()

    def open(self, sealed: str, where: str) -> str:
        if not sealed.startswith(_PREFIX):
            raise SealingError("not a sealed value")
        try:
            raw = base64.b64decode(sealed[len(_PREFIX) :], validate=True)
            plain = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], where.encode())
        except (binascii.Error, InvalidTag, ValueError):
            raise SealingError(
                f"a stored secret does not open with this server's key (is {SECRET_KEY_ENV} "
                "the one it was stored with?)"
            ) from None
        return plain.decode()


def server_sealer(data_dir: Path) -> Sealer:
    """The sealer of `OPENPINPOINT_SECRET_KEY`, else of the data directory's key file
    (created on first use; several processes starting at once agree on one key)."""
    configured = os.environ.get(SECRET_KEY_ENV)
    if configured:
        return Sealer(configured.encode())
    path = data_dir / KEY_FILE
    if not path.exists():
        _create_key_file(path)
    return Sealer(path.read_text().strip().encode())


def _create_key_file(path: Path) -> None:
    """Write a new key under a name of its own, then link it into place: the link fails if
    another process got there first, so concurrent first starts end up with one key and
    no process ever reads a half-written one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
    finally:
        draft.unlink()
