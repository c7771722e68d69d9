"""How hard and how often the job core tries again (each job's check plan is `schedule`'s).

Every limit a step obeys lives here, so the whole retry policy reads in one screen.
"""

from __future__ import annotations

import random

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
