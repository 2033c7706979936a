"""Throttling (issue 4, item 4): a token bucket per access key, 429 with Retry-After, and
botocore's standard retry succeeding once the bucket refills."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import STORES, TEST_KEY, RunningServer, new_store_url, pinpoint_client
from inprocess import serve_in_thread
from openpinpoint.core.errors import TooManyRequests
from openpinpoint.core.provider import PinpointProvider
from openpinpoint.keys import KeyFile, new_key
from openpinpoint.store.base import Store
from openpinpoint.store.open import open_store
from openpinpoint.wire.app import PinpointApp
from openpinpoint.wire.sigv4 import SigV4Authenticator
from openpinpoint.wire.throttle import Throttle
from rawhttp import raw_request

SECOND_KEY = new_key(name="second", admin=True)


class Clock:
    """The throttle's clock: it moves only when a test moves it, so no request is ever
    late or early, however loaded the machine."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Throttled:
    def __init__(self, url: str, clock: Clock) -> None:
        self.url = url
        self.clock = clock


@pytest.fixture(scope="module", params=STORES)
def throttled(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Throttled]:
    """Two requests per second per key, one at a time, on each store; served from this
    process so that the test holds the throttle's clock."""
    directory = tmp_path_factory.mktemp("throttle")
    keys = KeyFile(directory / "keys.json")
    keys.create(TEST_KEY)
    keys.create(SECOND_KEY)
    url = new_store_url(request.param, request, directory)
    clock = Clock()
    opened: list[Store] = []

    async def start() -> PinpointProvider:
        opened.append(open_store(url))
        return PinpointProvider(opened[0])

    async def stop() -> None:
        await opened[0].close()

    app = PinpointApp(
        start,
        authenticator=SigV4Authenticator(keys),
        throttle=Throttle(rate=2, burst=1, clock=clock),
        on_shutdown=stop,
    )
    with serve_in_thread(app) as served:
        yield Throttled(served, clock)


@pytest.fixture
def full(throttled: Throttled) -> Throttled:
    """Each test starts a second after the last one: every key's bucket is full (one)."""
    throttled.clock.now += 1.0
    return throttled


def _statuses(client: Any) -> list[int]:
    """Record the HTTP status of every attempt the client makes."""
    seen: list[int] = []
    client.meta.events.register(
        "needs-retry.pinpoint",
        lambda response, **_: seen.append(response[0].status_code) if response else None,
    )
    return seen


def test_over_the_rate_gets_429_with_retry_after(full: Throttled) -> None:
    first = raw_request(full.url, "GET", "/v1/apps")
    second = raw_request(full.url, "GET", "/v1/apps")
    assert first.status == 200
    assert second.status == 429
    assert second.header("x-amzn-ErrorType") == "TooManyRequestsException"
    assert second.header("Retry-After") == "1"
    assert "2 requests per second" in second.message
    other_key = raw_request(full.url, "GET", "/v1/apps", key=SECOND_KEY)
    assert other_key.status == 200
    full.clock.now += 0.5
    assert raw_request(full.url, "GET", "/v1/apps").status == 200


def test_botocore_standard_retry_then_succeeds(full: Throttled) -> None:
    """Each retry comes 0.3 s later by the throttle's clock: at 0.3 s the key has 0.6 of a
    token (429 again), at 0.6 s 1.2 tokens (200)."""
    client = pinpoint_client(full.url, retries={"mode": "standard", "total_max_attempts": 10})
    statuses = _statuses(client)

    def later(**_: Any) -> None:
        full.clock.now += 0.3

    client.get_apps()
    statuses.clear()
    client.meta.events.register("needs-retry.pinpoint", later)
    response = client.get_apps()
    assert statuses == [429, 429, 200]
    assert response["ResponseMetadata"]["RetryAttempts"] == 2


def test_without_retries_the_client_sees_the_modeled_error(full: Throttled) -> None:
    client = pinpoint_client(full.url, retries={"total_max_attempts": 1})
    client.get_apps()
    with pytest.raises(ClientError) as caught:
        client.get_apps()
    assert caught.value.response["Error"]["Code"] == "TooManyRequestsException"


@pytest.mark.parametrize("kind", STORES)
def test_serve_throttle_flags_throttle_each_key(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The flags reach the server: at one request per 1000 seconds a key's second request is
    refused, however slow the machine."""
    server = RunningServer(
        new_store_url(kind, request, tmp_path), "--throttle-rate", "0.001", "--throttle-burst", "1"
    )
    try:
        assert raw_request(server.url, "GET", "/v1/apps").status == 200
        assert raw_request(server.url, "GET", "/v1/apps").status == 429
    finally:
        server.stop()
    assert "throttling each access key to 0.001 requests/s, bursts of 1" in server.log


def test_bucket_refills_at_the_rate() -> None:
    now = [0.0]
    throttle = Throttle(rate=2, burst=3, clock=lambda: now[0])
    for _ in range(3):
        throttle.take("k")
    with pytest.raises(TooManyRequests) as caught:
        throttle.take("k")
    assert caught.value.retry_after == pytest.approx(0.5)
    now[0] = 0.5
    throttle.take("k")
    with pytest.raises(TooManyRequests):
        throttle.take("k")
    throttle.take("other")
    now[0] = 100.0
    for _ in range(3):
        throttle.take("k")
    with pytest.raises(TooManyRequests):
        throttle.take("k")


def test_throttling_is_off_by_default(server: RunningServer) -> None:
    assert "throttling" not in server.log
    statuses = [raw_request(server.url, "GET", "/v1/apps").status for _ in range(20)]
    assert statuses == [200] * 20
