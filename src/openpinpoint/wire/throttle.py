"""Per-access-key request throttling: one token bucket per key."""

from __future__ import annotations

import time
from collections.abc import Callable

from openpinpoint.core.errors import TooManyRequests


class Throttle:
    """Each key may make `burst` requests at once and `rate` per second after that."""

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a throttle needs a rate above 0 and a burst of at least 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        """key -> (tokens left, when they were counted)"""

    def take(self, key: str) -> None:
        """Spend one of the key's tokens, or raise `TooManyRequests` saying when to retry."""
        now = self._clock()
        tokens, counted = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - counted) * self.rate)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            wait = (1 - tokens) / self.rate
            raise TooManyRequests(
                f"Rate exceeded: access key {key} may make {self.rate:g} requests per second "
                f"(bursts of {self.burst:g}); retry in {wait:.2f} seconds",
                retry_after=wait,
            )
        self._buckets[key] = (tokens - 1, now)
