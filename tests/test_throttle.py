"""Throttling (issue 4, item 4): a token bucket per access key, 429 with Retry-After, and
botocore's standard retry succeeding once the bucket refills."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import TEST_KEY, RunningServer, pinpoint_client
from openpinpoint.core.errors import TooManyRequests
from openpinpoint.keys import KeyFile, new_key
from openpinpoint.wire.throttle import Throttle
from rawhttp import raw_request

SECOND_KEY = new_key(name="second", admin=True)


@pytest.fixture(scope="module")
def throttled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """Two requests per second per key, one at a time."""
    directory = tmp_path_factory.mktemp("throttle")
    keys = KeyFile(directory / "keys.json")
    keys.create(TEST_KEY)
    keys.create(SECOND_KEY)
    running = RunningServer(
        f"sqlite:///{directory / 'db.sqlite'}",
        "--keys-file",
        str(keys.path),
        "--throttle-rate",
        "2",
        "--throttle-burst",
        "1",
    )
    yield running
    running.stop()


def _statuses(client: Any) -> list[int]:
    """Record the HTTP status of every attempt the client makes."""
    seen: list[int] = []
    client.meta.events.register(
        "needs-retry.pinpoint",
        lambda response, **_: seen.append(response[0].status_code) if response else None,
    )
    return seen


def test_over_the_rate_gets_429_with_retry_after(throttled: RunningServer) -> None:
    first = raw_request(throttled.url, "GET", "/v1/apps")
    second = raw_request(throttled.url, "GET", "/v1/apps")
    assert first.status == 200
    assert second.status == 429
    assert second.header("x-amzn-ErrorType") == "TooManyRequestsException"
    assert second.header("Retry-After") == "1"
    assert "2 requests per second" in second.message
    other_key = raw_request(throttled.url, "GET", "/v1/apps", key=SECOND_KEY)
    assert other_key.status == 200


def test_botocore_standard_retry_then_succeeds(throttled: RunningServer) -> None:
    client = pinpoint_client(throttled.url, retries={"mode": "standard", "total_max_attempts": 10})
    statuses = _statuses(client)
    client.get_apps()
    statuses.clear()
    response = client.get_apps()
    assert statuses[0] == 429
    assert statuses[-1] == 200
    assert response["ResponseMetadata"]["RetryAttempts"] == len(statuses) - 1 >= 1


def test_without_retries_the_client_sees_the_modeled_error(throttled: RunningServer) -> None:
    client = pinpoint_client(throttled.url, retries={"total_max_attempts": 1})

    def twice() -> None:
        client.get_apps()
        client.get_apps()

    with pytest.raises(ClientError) as caught:
        twice()
    assert caught.value.response["Error"]["Code"] == "TooManyRequestsException"


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
