"""How hard and how often the job core tries again, and each job's poll schedule.

Every limit a step obeys lives here, so the whole retry policy reads in one screen.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping

from bot.jobs.requests import stored_request
from bot.providers.base import Timing
from bot.providers.registry import ProviderRegistry
from storage import Job

MAX_SUBMIT_ATTEMPTS = 5
MAX_FETCH_ATTEMPTS = 8
MAX_DELIVERY_ATTEMPTS = 6
MAX_UNEXPECTED_ERRORS = 5
FETCH_RETRY_DELAY = 4.0  # apiyi: "/content returns 400 right after completed; retry after 4 s"
BACKOFF_CAP = 60.0
RETRY_AFTER_CAP = 3600.0  # a vendor asking for longer is waited out an hour at a time
# Waits before each new try to store a vendor's task id, when the database refuses the
# write (locked, full): about half a minute in all, then the job ends "uncertain".
TASK_ID_WRITE_RETRIES = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0)
OUTAGE_QUEUE_LIMIT = 1800.0  # a queued job waits this long for a vendor that is down
FULL_VENDOR_RECHECK = 1.0  # and re-checks a vendor at its task limit this often
UNTOLD_GRACE = 5.0  # a job that ended this long ago and was never shown is shown now
# For a model no longer offered (its vendor was disabled since the job was made).
FALLBACK_TIMING = Timing(initial_wait=30, poll_interval=5, deadline=1800)


def backoff(attempt: int, base: float, *, retry_after: float | None = None) -> float:
    """Capped exponential backoff with jitter; the server's Retry-After wins when longer."""
    delay = min(BACKOFF_CAP, base * (2 ** max(0, attempt - 1)) * random.uniform(0.75, 1.25))
    if retry_after is not None:
        delay = max(delay, min(retry_after, RETRY_AFTER_CAP))
    return float(delay)


def next_poll_delay(interval: float, eta: float | None) -> float:
    """Poll at the schedule's interval, but skip polls that a vendor's own estimate of the
    time left says are pointless: wake one interval before the estimate, and at most
    twelve intervals ahead (a minute at the default 5 s), since estimates can be wrong."""
    if eta is None or eta <= 2 * interval:
        return interval
    return min(eta - interval, 12 * interval)


class Schedules:
    """Each job's schedule: its model's documented one, with the operator's (or a test's)
    overrides per vendor. `overrides` is kept by reference: changing it changes the
    schedules of jobs from then on."""

    def __init__(
        self, providers: ProviderRegistry, overrides: Mapping[str, Mapping[str, float]]
    ) -> None:
        self.providers = providers
        self.overrides = overrides

    def timing(self, job: Job) -> Timing:
        spec = self.providers.model(job.provider, job.model)
        timing = (
            FALLBACK_TIMING if spec is None else spec.timing_for(stored_request(job).resolution)
        )
        override = self.overrides.get(job.provider)
        return dataclasses.replace(timing, **override) if override else timing
