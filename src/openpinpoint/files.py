"""Where import and export files live: `s3://bucket/key` in an S3-compatible object store, or
`file:///path` on this machine.

S3 URLs resolve against one configured object store (endpoint URL plus the standard AWS
credential chain), so MinIO, Ceph, Garage and AWS S3 all work. Local paths given through the
API are confined to a configured directory, so that API callers cannot read or write
anywhere else on the server's machine.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import SplitResult, unquote, urlsplit

S3_ENDPOINT_ENV = "OPENPINPOINT_S3_ENDPOINT_URL"
LOCAL_FILES_ENV = "OPENPINPOINT_LOCAL_FILES"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class FileError(Exception):
    """A URL that is malformed, not allowed, or names nothing readable or writable."""


@dataclass(frozen=True)
class FileSettings:
    s3_endpoint_url: str | None = None
    """The S3-compatible store's URL (e.g. http://127.0.0.1:9000 for MinIO); None = AWS S3."""
    local_root: Path | None = None
    """The directory `file://` URLs must stay inside; None when `local_anywhere` is False
    means `file://` URLs are refused."""
    local_anywhere: bool = False
    """Allow any local path: the CLI runs as its user, with that user's rights."""


def _split(url: str) -> SplitResult:
    """The URL's parts, refusing what could make a URL name something else than it seems.

    A `?` or `#` ends the path: `file:///DIR/x?` + `/JOB/part` would still name `DIR/x`, so
    pieces written "under" such a prefix would overwrite it. Control characters (a NUL
    above all) cannot be in a file name, and have no business in an object key.
    """
    if "?" in url or "#" in url:
        raise FileError(f"{url!r} must not contain '?' or '#'")
    if _CONTROL.search(url) or _CONTROL.search(unquote(url)):
        raise FileError(f"{url!r} must not contain control characters")
    try:
        return urlsplit(url)
    except ValueError as error:
        raise FileError(f"{url!r} is not a valid URL: {error}") from None


def _s3_parts(url: str) -> tuple[str, str]:
    parts = _split(url)
    if not parts.netloc:
        raise FileError(f"{url!r} is not an S3 URL of the form s3://bucket/key")
    key = parts.path.lstrip("/")
    # Some S3-compatible stores (and HTTP libraries) resolve dot segments: a key with them
    # might name an object outside the prefix it seems to be under.
    if {".", ".."} & set(key.split("/")):
        raise FileError(f"{url!r}: an S3 key must not contain '.' or '..' segments")
    return parts.netloc, key


class Files:
    """Lists, reads and writes objects named by `s3://` and `file://` URLs (blocking calls:
    run them in a worker thread from async code)."""

    def __init__(self, settings: FileSettings) -> None:
        self.settings = settings
        self._s3_client: Any = None
        self._lock = threading.Lock()

    def check(self, url: str) -> None:
        """Raise FileError unless `url` is a URL this server may use."""
        if url.startswith("s3://"):
            _s3_parts(url)
        elif url.startswith("file://"):
            self._local_path(url)
        else:
            raise FileError(
                f"{url!r} is neither an s3://bucket/key URL nor a file:///absolute/path URL"
            )

    def list(self, url: str) -> list[str]:
        """The URL itself when it names one object, else every object under it (sub-folders
        included), sorted."""
        if url.startswith("file://"):
            path = self._local_path(url)
            if path.is_file():
                return [url]
            if not path.is_dir():
                raise FileError(f"{url!r}: no such file or directory")
            return sorted(p.as_uri() for p in path.rglob("*") if p.is_file())
        bucket, key = _s3_parts(url)
        folder = key if not key or key.endswith("/") else key + "/"
        found: list[str] = []
        try:
            pages = self._s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key)
            for page in pages:
                for item in page.get("Contents", []):
                    name = item["Key"]
                    if name == key:
                        return [url]
                    if name.startswith(folder) and not name.endswith("/"):
                        found.append(f"s3://{bucket}/{name}")
        except Exception as error:
            raise FileError(f"cannot list {url!r}: {_s3_error(error)}") from error
        return sorted(found)

    def open(self, url: str) -> BinaryIO:
        if url.startswith("file://"):
            try:
                return self._local_path(url).open("rb")
            except OSError as error:
                raise FileError(f"cannot read {url!r}: {error.strerror}") from error
        bucket, key = _s3_parts(url)
        try:
            body: BinaryIO = self._s3().get_object(Bucket=bucket, Key=key)["Body"]
        except Exception as error:
            raise FileError(f"cannot read {url!r}: {_s3_error(error)}") from error
        return body

    def write(self, url: str, data: bytes) -> None:
        if url.startswith("file://"):
            path = self._local_path(url)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                partial = path.with_name(path.name + ".partial")
                partial.write_bytes(data)
                os.replace(partial, path)
            except OSError as error:
                raise FileError(f"cannot write {url!r}: {error.strerror}") from error
            return
        bucket, key = _s3_parts(url)
        try:
            self._s3().put_object(Bucket=bucket, Key=key, Body=data)
        except Exception as error:
            raise FileError(f"cannot write {url!r}: {_s3_error(error)}") from error

    def local_folder(self, url: str) -> str | None:
        """For a `file://` URL inside the local files directory, the name of the folder of
        that directory it is in (None for the directory itself, or other URLs)."""
        root = self.settings.local_root
        if not url.startswith("file://") or root is None:
            return None
        inside = _resolve(url, self._local_path(url)).relative_to(_resolve(url, root))
        return inside.parts[0] if inside.parts else None

    def _local_path(self, url: str) -> Path:
        parts = _split(url)
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise FileError(f"{url!r} is not a local URL of the form file:///absolute/path")
        path = Path(os.path.normpath(unquote(parts.path)))
        if self.settings.local_anywhere:
            return path
        root = self.settings.local_root
        if root is None:
            raise FileError(
                f"{url!r}: file:// URLs are switched off on this server; start it with "
                f"--local-files DIR (${LOCAL_FILES_ENV}) to allow paths inside DIR"
            )
        root = _resolve(url, root)
        if not _resolve(url, path).is_relative_to(root):
            raise FileError(f"{url!r} is outside the local files directory {root.as_uri()}")
        return path

    def _s3(self) -> Any:
        with self._lock:
            if self._s3_client is None:
                import boto3  # noqa: PLC0415  # only S3 users pay boto3's import time
                from botocore.config import Config  # noqa: PLC0415

                session = boto3.session.Session()
                self._s3_client = session.client(
                    "s3",
                    endpoint_url=self.settings.s3_endpoint_url,
                    region_name=session.region_name or "us-east-1",
                    config=Config(
                        s3={"addressing_style": "path"} if self.settings.s3_endpoint_url else {}
                    ),
                )
            return self._s3_client


def _resolve(url: str, path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError) as error:  # a symlink loop, say
        raise FileError(f"{url!r}: cannot resolve {str(path)!r}: {error}") from None


def _s3_error(error: Exception) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, dict) and "Error" in response:
        details = response["Error"]
        return f"{details.get('Code', 'error')}: {details.get('Message', '')}".rstrip(": ")
    return str(error)
