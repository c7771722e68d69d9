"""Which vendors seem down right now (a circuit breaker shared by the manager and the
commands).

The manager reports every call's outcome; a streak of retryable failures marks the vendor
unhealthy, so new requests are refused (or sent to a fallback vendor) instead of joining a
queue that cannot move. After a cool-down new jobs may try again; any answer from the
vendor, including the polls of jobs already there, ends the outage at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _State:
    failures: int = 0
    last_failure_at: float = 0.0


class VendorHealth:
    def __init__(
        self, *, streak: int, cooldown: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.streak = streak
        self.cooldown = cooldown
        self._clock = clock
        self._states: dict[str, _State] = {}

    def failed(self, provider: str) -> int:
        """Count a retryable failure; returns the streak so far."""
        state = self._states.setdefault(provider, _State())
        state.failures += 1
        state.last_failure_at = self._clock()
        return state.failures

    def ok(self, provider: str) -> int:
        """The vendor answered: the streak ends. Returns how long it was."""
        state = self._states.pop(provider, None)
        return state.failures if state else 0

    def failures(self, provider: str) -> int:
        state = self._states.get(provider)
        return state.failures if state else 0

    def is_healthy(self, provider: str) -> bool:
        state = self._states.get(provider)
        if state is None or state.failures < self.streak:
            return True
        return self._clock() - state.last_failure_at >= self.cooldown

    def retry_in(self, provider: str) -> float:
        """Seconds until an unhealthy vendor is tried again (0 when healthy)."""
        state = self._states.get(provider)
        if state is None or self.is_healthy(provider):
            return 0.0
        return max(0.0, state.last_failure_at + self.cooldown - self._clock())
