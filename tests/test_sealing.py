"""Channel secrets at rest (C3): sealed under the server key, bound to their place."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from openpinpoint.core.sealing import KEY_FILE, SECRET_KEY_ENV, Sealer, SealingError, server_sealer


def test_c3_a_sealed_secret_opens_only_where_it_was_sealed() -> None:
    sealer = Sealer(b"key")
    sealed = sealer.seal("api-key-123", "app/GCM/ApiKey")
    assert "api-key-123" not in sealed
    assert sealer.open(sealed, "app/GCM/ApiKey") == "api-key-123"
    with pytest.raises(SealingError):
        sealer.open(sealed, "other-app/GCM/ApiKey")
    with pytest.raises(SealingError):
        Sealer(b"another key").open(sealed, "app/GCM/ApiKey")
    assert sealer.seal("same", "x") != sealer.seal("same", "x")


def test_c3_the_key_file_is_created_once_readable_by_the_server_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SECRET_KEY_ENV, raising=False)
    with ThreadPoolExecutor(8) as pool:
        sealers = list(pool.map(lambda _: server_sealer(tmp_path / "data"), range(8)))
    sealed = sealers[0].seal("secret", "where")
    assert all(s.open(sealed, "where") == "secret" for s in sealers)
    key_file = tmp_path / "data" / KEY_FILE
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert os.listdir(tmp_path / "data") == [KEY_FILE]


def test_c3_the_environment_key_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_KEY_ENV, "from the environment")
    sealed = server_sealer(tmp_path).seal("secret", "where")
    assert Sealer(b"from the environment").open(sealed, "where") == "secret"
    assert not (tmp_path / KEY_FILE).exists()
