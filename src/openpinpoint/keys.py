"""Access keys: who may call the server, and which applications each caller may use.

Keys live in one JSON file (default `keys.json` in the data directory) that only the
server's user may read (mode 0600). SigV4 needs the secret itself to recompute a
signature, so the file holds secrets as they are: its permissions are what protect them,
and the server refuses a file that others can read. Every change is written to a new file
that atomically replaces the old one; a running server notices the replacement (a new
inode) on its next request, so `keys create` and `keys revoke` take effect without a
restart. See docs/security.md.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import stat
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from openpinpoint.core.access import Access
from openpinpoint.store.open import data_dir

KEYS_FILE_ENV = "OPENPINPOINT_KEYS_FILE"
KEYS_FILE = "keys.json"
KEY_ID_PREFIX = "OPKI"
_KEY_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_SECRET_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
SECRET_LENGTH = 40

log = logging.getLogger("openpinpoint.keys")


class KeyFileError(Exception):
    """The keys file cannot be used (unreadable, malformed, or readable by others)."""


class AccessKey(msgspec.Struct, kw_only=True, omit_defaults=True):
    id: str
    secret: str
    name: str = ""
    admin: bool = False
    apps: list[str] | None = None
    """The application ids the key may use; None means every application."""
    session_token: str | None = None
    """When set, requests must carry it as X-Amz-Security-Token; otherwise they must not."""
    created: str = ""

    @property
    def access(self) -> Access:
        return Access(admin=self.admin, apps=None if self.apps is None else frozenset(self.apps))

    def __repr__(self) -> str:
        # A key object must never print its secret, whatever logs or tracebacks show it.
        return f"AccessKey(id={self.id!r}, name={self.name!r}, admin={self.admin})"

    __str__ = __repr__


class _KeysDocument(msgspec.Struct):
    keys: list[AccessKey] = msgspec.field(default_factory=list)
    version: int = 1


def default_keys_path() -> Path:
    """`$OPENPINPOINT_KEYS_FILE`, else `keys.json` in the data directory."""
    if explicit := os.environ.get(KEYS_FILE_ENV):
        return Path(explicit).resolve()
    return (data_dir() / KEYS_FILE).resolve()


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def new_key(
    *,
    name: str = "",
    admin: bool = False,
    apps: Sequence[str] | None = None,
    session_token: bool = False,
) -> AccessKey:
    return AccessKey(
        id=KEY_ID_PREFIX + _random(_KEY_ID_ALPHABET, 16),
        secret=_random(_SECRET_ALPHABET, SECRET_LENGTH),
        name=name,
        admin=admin,
        apps=None if apps is None else sorted(set(apps)),
        session_token=_random(_SECRET_ALPHABET, 64) if session_token else None,
        created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


class KeyFile:
    """The keys file: read and changed by the CLI, watched by the server."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._keys: dict[str, AccessKey] = {}
        self._seen: tuple[int, int, int] | None = None

    # Reading

    def load(self) -> list[AccessKey]:
        """Every key in the file; none when the file does not exist yet."""
        try:
            with open(self.path, "rb") as file:
                info = os.fstat(file.fileno())
                _check_private(self.path, info)
                data = file.read()
        except FileNotFoundError:
            return []
        except OSError as error:
            raise KeyFileError(f"cannot read keys file {self.path}: {error}") from None
        try:
            return msgspec.json.decode(data, type=_KeysDocument).keys
        except msgspec.DecodeError as error:
            raise KeyFileError(f"keys file {self.path} is not valid: {error}") from None

    def lookup(self, key_id: str) -> AccessKey | None:
        """The key with this id, reading the file again if it was replaced since last time."""
        self._refresh()
        return self._keys.get(key_id)

    def _refresh(self) -> None:
        try:
            info = os.stat(self.path)
            seen = (info.st_ino, info.st_mtime_ns, info.st_size)
        except FileNotFoundError:
            seen = (0, 0, 0)
        if seen == self._seen:
            return
        try:
            self._keys = {key.id: key for key in self.load()}
        except KeyFileError as error:
            # Keep serving with the keys last read: a broken edit must not lock everyone out.
            log.error("%s; still using the keys read before", error)
        self._seen = seen

    # Changing

    def create(self, key: AccessKey) -> AccessKey:
        with self._locked():
            keys = self.load()
            keys.append(key)
            self._save(keys)
        return key

    def revoke(self, key_id: str) -> bool:
        """Remove the key; False when there was no such key."""
        with self._locked():
            keys = self.load()
            kept = [key for key in keys if key.id != key_id]
            if len(kept) == len(keys):
                return False
            self._save(kept)
        return True

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise changes by several `openpinpoint keys` commands at once."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            lock = os.open(
                self.path.with_name(self.path.name + ".lock"), os.O_CREAT | os.O_RDWR, 0o600
            )
        except OSError as error:
            raise KeyFileError(f"cannot write keys file {self.path}: {error.strerror}") from None
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield
        finally:
            os.close(lock)

    def _save(self, keys: list[AccessKey]) -> None:
        data = msgspec.json.format(msgspec.json.encode(_KeysDocument(keys=keys)))
        temporary = self.path.with_name(f".{self.path.name}.{secrets.token_hex(8)}.tmp")
        # Created 0600 from the start, so the secrets are never readable by others, not even
        # for the moment between writing the file and changing its mode.
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(data + b"\n")
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def _check_private(path: Path, info: os.stat_result) -> None:
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(
            f"keys file {path} is readable by other users (mode "
            f"{stat.S_IMODE(info.st_mode):04o}); run: chmod 600 {path}"
        )
