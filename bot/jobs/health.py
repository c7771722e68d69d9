"""Which vendors seem down right now (a circuit breaker shared by the job manager and
the commands), and what the admins are told about it.

The manager reports every call's outcome; a streak of retryable failures marks the vendor
unhealthy, so new requests are refused (or sent to a fallback vendor) instead of joining a
queue that cannot move. After a cool-down new jobs may try again; any answer from the
vendor, including the polls of jobs already there, ends the outage at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.jobs.publishing import Publisher
from bot.metrics import Metrics
from bot.providers.base import ProviderAuthError, ProviderError
from bot.providers.codes import ErrorCode
from storage import Job

log = logging.getLogger(__name__)


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


# Retryable errors that neither count towards nor end an outage: a 429 means we asked too
# often, and apiyi's early 400 on /content is its documented normal.
NOT_AN_OUTAGE = frozenset({ErrorCode.RATE_LIMITED, ErrorCode.NOT_READY})


class VendorAlerts:
    """Every vendor call's outcome, counted into `VendorHealth`, and the admins told
    (through the publisher port, at most hourly per server) when a vendor seems down,
    when it is back, and when it refuses the bot's account: as a kind of trouble and its
    figures, which the chat side words (`bot.chat.failures`)."""

    def __init__(
        self, health: VendorHealth, publisher: Publisher, metrics: Metrics, *, streak: int
    ) -> None:
        self.health = health
        self.publisher = publisher
        self.metrics = metrics
        self.streak = streak
        # While a vendor is down: one job per server whose admins were told, to tell them
        # when it is back.
        self._told_down: dict[str, dict[int, Job]] = {}

    async def failed(self, job: Job, exc: ProviderError) -> None:
        """Count a call that failed in a way that may mean the vendor is down; from the
        streak on, tell the job's server (the publisher allows one alert an hour)."""
        self.metrics.vendor_errors.labels(job.provider, exc.code).inc()
        if exc.code in NOT_AN_OUTAGE:
            return  # neither proof that it is down nor that it works
        if not exc.retryable:
            # It answered: a refusal or a bad request says the vendor is up.
            await self.ok(job)
            return
        count = self.health.failed(job.provider)
        if count < self.streak:
            return
        if count == self.streak:
            log.warning(
                "%s seems to be down: %d requests in a row failed (last: %s)",
                job.provider,
                count,
                exc.detail or exc.code,
            )
        # The last failure as what the member was told, never its detail (a detail may
        # quote a URL or the vendor's body).
        params = {**exc.say.failure(exc.code).params, "provider": job.provider, "count": count}
        try:
            posted = await self.publisher.operator_alert(job, params, kind="down")
        except Exception:
            log.exception("job %d: could not alert the admins", job.id)
            return
        if posted and job.guild_id is not None:
            self._told_down.setdefault(job.provider, {})[job.guild_id] = job

    async def ok(self, job: Job) -> None:
        """A call answered: the streak ends, and servers told of an outage hear it is over."""
        count = self.health.ok(job.provider)
        told = self._told_down.pop(job.provider, {})
        if count >= self.streak:
            log.warning("%s is back after %d failed requests in a row", job.provider, count)
        for other in told.values():
            try:
                await self.publisher.operator_alert(
                    other, {"provider": job.provider, "count": count}, kind="recovered"
                )
            except Exception:
                log.exception("job %d: could not tell the admins %s is back", job.id, job.provider)

    async def account(self, job: Job, exc: ProviderAuthError) -> None:
        """The vendor refused the bot's key or account: only the operator can fix that."""
        params = {**exc.say.failure(exc.code).params, "provider": job.provider, "job": job.id}
        try:
            await self.publisher.operator_alert(job, params | {"code": exc.code}, kind="account")
        except Exception:
            log.exception("job %d: could not alert the admins", job.id)
