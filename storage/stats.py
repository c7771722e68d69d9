"""One server's job statistics over a window of UTC days, for `/veo-admin stats`.

Plain GROUP BY aggregates over `jobs`, filtered on (quota_day, guild_id) so the
`jobs_day` index does the work. Spend is the sum of `cost_usd` (the documented price
recorded when the job was made) over the jobs the vendor may have billed: not those it
surely did not (`billing = not_billed`). Of that, what was only *possibly* billed (sent,
then never resolved: a timeout, a deadline, a restart) is also shown apart. Jobs whose
model has no documented price (NULL) are counted apart rather than as $0.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from storage.db import Database
from storage.models import ACTIVE, Billing, JobStatus

DEFAULT_DAYS = 7
MAX_DAYS = 90
TOP_USERS = 5

_ACTIVE_SQL = ", ".join(f"'{s.value}'" for s in sorted(ACTIVE))
_WINDOW = "guild_id = :guild_id AND quota_day BETWEEN :since AND :until"
_BILLABLE_COST = f"CASE WHEN billing != '{Billing.NOT_BILLED.value}' THEN cost_usd ELSE 0 END"
_POSSIBLE_COST = f"CASE WHEN billing = '{Billing.POSSIBLY_BILLED.value}' THEN cost_usd ELSE 0 END"

SQL_DAYS = f"""
SELECT quota_day AS day,
       COUNT(*) AS total,
       COUNT(*) FILTER (WHERE status = '{JobStatus.DELIVERED.value}') AS delivered,
       COUNT(*) FILTER (WHERE status = '{JobStatus.FAILED.value}') AS failed,
       COUNT(*) FILTER (WHERE status = '{JobStatus.CANCELLED.value}') AS cancelled,
       COUNT(*) FILTER (WHERE status IN ({_ACTIVE_SQL})) AS active
FROM jobs WHERE {_WINDOW}
GROUP BY quota_day ORDER BY quota_day DESC
"""
SQL_FAILURES = f"""
SELECT COALESCE(NULLIF(error_code, ''), 'unknown') AS code, COUNT(*) AS n
FROM jobs WHERE {_WINDOW} AND status = '{JobStatus.FAILED.value}'
GROUP BY code ORDER BY n DESC, code
"""
SQL_SPEND = f"""
SELECT provider, model,
       COUNT(*) AS jobs,
       COALESCE(SUM({_BILLABLE_COST}), 0) AS dollars,
       COALESCE(SUM({_POSSIBLE_COST}), 0) AS possibly,
       COUNT(*) FILTER (
           WHERE cost_usd IS NULL AND billing != '{Billing.NOT_BILLED.value}'
       ) AS unpriced
FROM jobs WHERE {_WINDOW}
GROUP BY provider, model ORDER BY dollars DESC, jobs DESC, provider, model
"""
SQL_TOP_USERS = f"""
SELECT user_id, COUNT(*) AS jobs, COALESCE(SUM({_BILLABLE_COST}), 0) AS dollars
FROM jobs WHERE {_WINDOW}
GROUP BY user_id ORDER BY jobs DESC, dollars DESC, user_id LIMIT :top
"""


@dataclass(frozen=True, slots=True)
class DayCount:
    """The jobs of one UTC day by outcome; `active` are still queued or running."""

    day: str
    total: int
    delivered: int
    failed: int
    cancelled: int
    active: int


@dataclass(frozen=True, slots=True)
class ModelSpend:
    """Estimated dollars of one provider's model; `possibly_billed` is the part of them
    for jobs sent and never resolved; `unpriced_jobs` had no documented price."""

    provider: str
    model: str
    jobs: int
    dollars: float
    unpriced_jobs: int
    possibly_billed: float = 0.0


@dataclass(frozen=True, slots=True)
class ServerStats:
    """What `/veo-admin stats` shows for one server and the days first_day..last_day."""

    guild_id: int
    first_day: str
    last_day: str
    days: list[DayCount]  # only days with jobs, newest first
    failures: list[tuple[str, int]]  # (error_code or "unknown", count), most first
    spend: list[ModelSpend]  # most dollars first
    total_spend: float
    top_users: list[tuple[int, int, float]]  # (user_id, jobs, dollars), most jobs first

    @property
    def total_jobs(self) -> int:
        return sum(d.total for d in self.days)

    @property
    def possibly_billed(self) -> float:
        return sum(s.possibly_billed for s in self.spend)

    @property
    def unpriced_jobs(self) -> int:
        return sum(s.unpriced_jobs for s in self.spend)

    @property
    def is_empty(self) -> bool:
        return not self.days


def _utc_date(now: float) -> dt.date:
    # The same day as bot.messages.day_key (storage does not import the bot).
    return dt.datetime.fromtimestamp(now, dt.UTC).date()


def day_window(now: float, days: int = DEFAULT_DAYS) -> tuple[str, str]:
    """(since_day, until_day) of the last `days` UTC days, today included."""
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_DAYS}, not {days}")
    today = _utc_date(now)
    since = today - dt.timedelta(days=days - 1)
    return since.isoformat(), today.isoformat()


def _check_day(day: str) -> None:
    # quota_day is compared as text, so only the exact YYYY-MM-DD form sorts right.
    try:
        ok = dt.date.fromisoformat(day).isoformat() == day
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"not a YYYY-MM-DD day: {day!r}")


async def server_stats(
    db: Database, guild_id: int, *, since_day: str, until_day: str, top: int = TOP_USERS
) -> ServerStats:
    """Aggregate one server's jobs whose quota day is in since_day..until_day (inclusive)."""
    _check_day(since_day)
    _check_day(until_day)
    if since_day > until_day:
        raise ValueError(f"since_day {since_day} is after until_day {until_day}")
    params = {"guild_id": guild_id, "since": since_day, "until": until_day}
    day_rows = await db.fetchall(SQL_DAYS, params)
    failure_rows = await db.fetchall(SQL_FAILURES, params)
    spend_rows = await db.fetchall(SQL_SPEND, params)
    user_rows = await db.fetchall(SQL_TOP_USERS, {**params, "top": top})
    days = [
        DayCount(
            day=str(r["day"]),
            total=int(r["total"]),
            delivered=int(r["delivered"]),
            failed=int(r["failed"]),
            cancelled=int(r["cancelled"]),
            active=int(r["active"]),
        )
        for r in day_rows
    ]
    spend = [
        ModelSpend(
            provider=str(r["provider"]),
            model=str(r["model"]),
            jobs=int(r["jobs"]),
            dollars=float(r["dollars"]),
            unpriced_jobs=int(r["unpriced"]),
            possibly_billed=float(r["possibly"]),
        )
        for r in spend_rows
    ]
    return ServerStats(
        guild_id=guild_id,
        first_day=since_day,
        last_day=until_day,
        days=days,
        failures=[(str(r["code"]), int(r["n"])) for r in failure_rows],
        spend=spend,
        total_spend=sum(s.dollars for s in spend),
        top_users=[(int(r["user_id"]), int(r["jobs"]), float(r["dollars"])) for r in user_rows],
    )


class StatsStore:
    """`server_stats` for the service, which holds no database connection itself."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def server(self, guild_id: int, *, since_day: str, until_day: str) -> ServerStats:
        return await server_stats(self._db, guild_id, since_day=since_day, until_day=until_day)
