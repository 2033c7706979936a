"""Where import and export files live: `s3://bucket/key` in an S3-compatible object store, or
`file:///path` on this machine.

S3 URLs resolve against one configured object store (endpoint URL plus the standard AWS
credential chain), so MinIO, Ceph, Garage and AWS S3 all work. Local paths given through the
API are confined to a configured directory, so that API callers cannot read or write
anywhere else on the server's machine.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote, urlsplit

S3_ENDPOINT_ENV = "OPENPINPOINT_S3_ENDPOINT_URL"
LOCAL_FILES_ENV = "OPENPINPOINT_LOCAL_FILES"


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


def _s3_parts(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    if not parts.netloc or parts.query or parts.fragment:
        raise FileError(f"{url!r} is not an S3 URL of the form s3://bucket/key")
    return parts.netloc, parts.path.lstrip("/")


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

    def _local_path(self, url: str) -> Path:
        parts = urlsplit(url)
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
        root = root.resolve()
        if not path.resolve().is_relative_to(root):
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


def _s3_error(error: Exception) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, dict) and "Error" in response:
        details = response["Error"]
        return f"{details.get('Code', 'error')}: {details.get('Message', '')}".rstrip(": ")
    return str(error)
