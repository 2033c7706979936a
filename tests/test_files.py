"""Unit tests of `files.Files`: which URLs it accepts, and which folder of the local files
directory a URL is in (issue 9, defects 2-4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from openpinpoint.files import FileError, Files, FileSettings


@pytest.fixture
def files(tmp_path: Path) -> Files:
    (tmp_path / "files").mkdir()
    return Files(FileSettings(local_root=tmp_path / "files"))


@pytest.mark.parametrize(
    "url",
    [
        "s3://bucket/key",
        "s3://bucket/folder/",
        "s3://bucket",
        "file://{root}",
        "file://{root}/a/b.csv",
        "file://{root}/a/../b",
        "file://{root}/a%20b",
    ],
)
def test_urls_that_name_what_they_seem_are_accepted(files: Files, url: str) -> None:
    files.check(url.format(root=files.settings.local_root))


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("s3://bucket/key?", "'?' or '#'"),
        ("s3://bucket/key#frag", "'?' or '#'"),
        ("s3://[x/y", "not a valid URL"),
        ("s3://bucket/a/../b", "'.' or '..' segments"),
        ("s3://bucket/./b", "'.' or '..' segments"),
        ("s3://bucket/a\x00", "control characters"),
        ("s3:///key", "s3://bucket/key"),
        ("file://[x/y", "not a valid URL"),
        ("file://{root}/staged.csv?", "'?' or '#'"),
        ("file://{root}#", "'?' or '#'"),
        ("file://{root}/a%00", "control characters"),
        ("file://{root}/a%0D", "control characters"),
        ("file://{root}/..", "outside"),
        ("file://{root}/a/%2e%2e/%2e%2e", "outside"),
        ("file://host/{root}", "file:///absolute/path"),
        ("http://example.com/x", "neither"),
    ],
)
def test_urls_that_could_name_something_else_are_refused(
    files: Files, url: str, reason: str
) -> None:
    with pytest.raises(FileError) as caught:
        files.check(url.format(root=files.settings.local_root))
    assert reason in str(caught.value)


def test_a_symlink_out_of_the_directory_is_outside(files: Files, tmp_path: Path) -> None:
    root = files.settings.local_root
    assert root is not None
    (root / "out").symlink_to(tmp_path)
    with pytest.raises(FileError, match="outside"):
        files.check(f"file://{root}/out/x")


@pytest.mark.parametrize(
    ("tail", "folder"),
    [("", None), ("/", None), ("/app1", "app1"), ("/app1/x/y.csv", "app1"), ("/a/../app2", "app2")],
)
def test_local_folder_is_the_first_folder_inside_the_directory(
    files: Files, tail: str, folder: str | None
) -> None:
    assert files.local_folder(f"file://{files.settings.local_root}{tail}") == folder
    assert files.local_folder("s3://bucket/app1/x") is None
