"""Per-vendor request pacing, so a burst of members never becomes a 429 storm.

A token bucket per vendor spaces the calls the job manager makes (submit, status,
download) to the vendor's documented rate; callers wait their turn instead of being
refused. How many tasks may be at a vendor at once is the other half of its limits and
is checked by the manager against the database (`JobStore.in_flight`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from bot.settings import VendorLimits, limits_for


class TokenBucket:
    """`rate` calls per second on average, bursts of up to `burst`; FIFO waiting."""

    def __init__(
        self,
        rate: float,
        burst: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rate = rate
        self._sleep = sleep
        self.burst = max(1.0, burst)
        self._tokens = self.burst
        self._clock = clock
        self._updated = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    async def acquire(self) -> None:
        async with self._lock:  # one waiter at a time: first come, first served
            self._refill()
            if self._tokens < 1.0:
                await self._sleep((1.0 - self._tokens) / self.rate)
                self._refill()
                # We slept exactly as long as the missing token takes; rounding must not
                # turn that into a second (possibly endless, sub-nanosecond) wait.
                self._tokens = max(self._tokens, 1.0)
            self._tokens -= 1.0


class Pacer:
    """One bucket per vendor, created on first use."""

    def __init__(self, limits: dict[str, VendorLimits]) -> None:
        self.limits = limits
        self._buckets: dict[str, TokenBucket] = {}

    def max_tasks(self, provider: str) -> int:
        return self.limits.get(provider, limits_for(provider)).max_tasks

    async def wait(self, provider: str) -> None:
        bucket = self._buckets.get(provider)
        if bucket is None:
            per_second = self.limits.get(provider, limits_for(provider)).rate_per_minute / 60
            # A second's worth of calls may go at once; beyond that they are spaced.
            bucket = self._buckets[provider] = TokenBucket(per_second, burst=per_second)
        await bucket.acquire()
