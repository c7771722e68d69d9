"""The quota ledger and the day's spend: a member's units and the operator's dollars.

Quota moves in the same transaction as the job row (a reservation with the new job, a
refund with its end), so the two can never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from storage.leases import _ACTIVE_SQL, EARLIER_POLL, JobRows
from storage.models import Billing, Job, JobStatus, QuotaState, StoredImage
from storage.sql import LOCK_BOT_SPEND, LOCK_GUILD_SPEND, LOCK_MEMBER, NEW_JOB, NEWS, Conn, lock_key

# Reserve `units` in one statement: an empty result means the member is over quota.
# The first INSERT of a day does not see the WHERE, so callers check units <= limit first.
SQL_RESERVE = """
INSERT INTO quota_ledger AS q (user_id, guild_id, day, used)
VALUES (:user_id, :guild_id, :day, :units)
ON CONFLICT (user_id, guild_id, day) DO UPDATE SET used = q.used + :units
WHERE q.used + :units <= :limit
RETURNING used
"""
SQL_USAGE = "SELECT used FROM quota_ledger WHERE user_id = ? AND guild_id = ? AND day = ?"
# What the jobs of a day may cost the operator: every job but those the vendor surely did
# not bill (running jobs count as a reservation; possibly billed ones count in full).
_BILLABLE = f"billing != '{Billing.NOT_BILLED.value}'"
SQL_SPEND_GUILD = (
    f"SELECT COALESCE(SUM(cost_usd), 0) FROM jobs WHERE quota_day = ? AND guild_id = ? "
    f"AND {_BILLABLE}"
)
SQL_SPEND_ALL = f"SELECT COALESCE(SUM(cost_usd), 0) FROM jobs WHERE quota_day = ? AND {_BILLABLE}"
SQL_COUNT_ACTIVE = f"SELECT COUNT(*) FROM jobs WHERE user_id = ? AND status IN ({_ACTIVE_SQL})"


class OverQuota(Exception):
    def __init__(self, used: int, limit: int) -> None:
        super().__init__(f"over quota: {used}/{limit}")
        self.used = used
        self.limit = limit


class OverBudget(Exception):
    """Today's estimated spend would pass a cap: `scope` is "server" or "bot"."""

    def __init__(self, scope: str, spent: float, cap: float) -> None:
        super().__init__(f"over the {scope} budget: ${spent:.2f} of ${cap:.2f}")
        self.scope = scope
        self.spent = spent
        self.cap = cap


@dataclass(frozen=True, slots=True)
class SpendCaps:
    """Daily spend caps in dollars; None = no cap."""

    server: float | None = None
    bot: float | None = None


class TooManyActive(Exception):
    def __init__(self, active: int, limit: int) -> None:
        super().__init__(f"too many active jobs: {active}/{limit}")
        self.active = active
        self.limit = limit


@dataclass(frozen=True, slots=True)
class NewJob:
    user_id: int
    guild_id: int | None
    channel_id: int
    request_json: str
    provider: str
    model: str
    filesize_limit: int
    quota_day: str
    delivery_mode: str = "channel"
    interaction_app_id: int | None = None
    interaction_token: str | None = None
    interaction_expires_at: float | None = None
    quota_units: int = 1  # 0: the member is exempt, nothing is reserved
    cost_usd: float | None = None  # the model's documented price, when it has one
    parent_job_id: int | None = None  # made from this job (Retry, New take, Remix)
    parent_link: str | None = None
    spoiler: bool = False
    dm_copy: bool = False
    ping: bool = True
    locale: str | None = None  # the server's language, for the job's public posts

    @property
    def quota_scope(self) -> int:
        return self.guild_id or 0


class Ledger(JobRows):
    """Creating a job with its quota reserved, and every later move of that quota."""

    async def create(
        self,
        new: NewJob,
        images: Sequence[StoredImage] = (),
        *,
        daily_limit: int,
        max_active: int,
        hold_seconds: float = 0.0,
        caps: SpendCaps = SpendCaps(),
    ) -> Job:
        """Check the active-job cap and the spend caps, reserve the job's quota units and
        insert the job, atomically.

        `hold_seconds` keeps the job from being picked up until the caller has posted its
        public message (then `release_hold`); if the caller dies, the hold simply expires.
        """
        now = self._clock()
        async with self.db.transaction() as conn:
            await self._lock_for(conn, new, caps)
            row = await conn.fetchone(SQL_COUNT_ACTIVE, (new.user_id,))
            active = int(row[0]) if row else 0
            if active >= max_active:
                raise TooManyActive(active, max_active)
            await self._check_caps(conn, new, caps)
            if new.quota_units > 0:
                if daily_limit < new.quota_units:
                    raise OverQuota(0, daily_limit)
                params = {
                    "user_id": new.user_id,
                    "guild_id": new.quota_scope,
                    "day": new.quota_day,
                    "units": new.quota_units,
                    "limit": daily_limit,
                }
                reserved = await conn.fetchone(SQL_RESERVE, params)
                if reserved is None:
                    raise OverQuota(daily_limit, daily_limit)
            job_row = await conn.fetchone(
                """
                INSERT INTO jobs (
                    user_id, guild_id, channel_id, request_json, provider, model, status,
                    next_poll_at, filesize_limit, delivery_mode, interaction_app_id,
                    interaction_token, interaction_expires_at, quota_day, quota_state,
                    created_at, updated_at, quota_units, cost_usd, parent_job_id,
                    parent_link, spoiler, dm_copy, ping, locale
                ) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                RETURNING *
                """,
                (
                    new.user_id,
                    new.guild_id,
                    new.channel_id,
                    new.request_json,
                    new.provider,
                    new.model,
                    JobStatus.QUEUED.value,
                    now + hold_seconds,
                    new.filesize_limit,
                    new.delivery_mode,
                    new.interaction_app_id,
                    new.interaction_token,
                    new.interaction_expires_at,
                    new.quota_day,
                    QuotaState.RESERVED.value,
                    now,
                    now,
                    new.quota_units,
                    new.cost_usd,
                    new.parent_job_id,
                    new.parent_link,
                    int(new.spoiler),
                    int(new.dm_copy),
                    int(new.ping),
                    new.locale,
                ),
            )
            assert job_row is not None
            job = Job.from_row(job_row)
            await conn.executemany(
                "INSERT INTO job_images (job_id, position, filename, mime, data, source_url) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (job.id, i, im.filename, im.mime, im.data, im.source_url)
                    for i, im in enumerate(images)
                ],
            )
        return job

    async def release_hold(
        self, job_id: int, *, status_message_id: int | None, delivery_mode: str | None = None
    ) -> None:
        now = self._clock()
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE jobs SET status_message_id = COALESCE(:message, status_message_id), "
                f"delivery_mode = COALESCE(:mode, delivery_mode), next_poll_at = {EARLIER_POLL}, "
                "updated_at = :now WHERE id = :id AND status = :queued",
                {
                    "message": status_message_id,
                    "mode": delivery_mode,
                    "now": now,
                    "id": job_id,
                    "queued": JobStatus.QUEUED.value,
                },
            )
            await conn.notify(NEWS, NEW_JOB)

    @staticmethod
    async def _lock_for(conn: Conn, new: NewJob, caps: SpendCaps) -> None:
        """Make the checks below and the reservation one step against other processes:
        the member's active jobs and quota, and the spend of the server (and the bot)
        when a cap counts it. Always taken in this order, so two never wait on each other."""
        await conn.lock(lock_key(LOCK_MEMBER, new.user_id))
        if caps.server is not None and new.guild_id is not None:
            await conn.lock(lock_key(LOCK_GUILD_SPEND, new.guild_id))
        if caps.bot is not None:
            await conn.lock(lock_key(LOCK_BOT_SPEND))

    async def _check_caps(self, conn: Conn, new: NewJob, caps: SpendCaps) -> None:
        cost = new.cost_usd or 0.0
        checks = [
            ("server", caps.server, SQL_SPEND_GUILD, (new.quota_day, new.guild_id)),
            ("bot", caps.bot, SQL_SPEND_ALL, (new.quota_day,)),
        ]
        for scope, cap, sql, params in checks:
            if cap is None or (scope == "server" and new.guild_id is None):
                continue
            row = await conn.fetchone(sql, params)
            spent = float(row[0]) if row else 0.0
            if spent + cost > cap + 1e-9:
                raise OverBudget(scope, spent, cap)

    async def spend(self, day: str, guild_id: int | None = None) -> float:
        """Estimated dollars the jobs of `day` may cost (one server's, or all)."""
        if guild_id is None:
            row = await self.db.fetchone(SQL_SPEND_ALL, (day,))
        else:
            row = await self.db.fetchone(SQL_SPEND_GUILD, (day, guild_id))
        return float(row[0]) if row else 0.0

    async def usage(self, user_id: int, day: str, guild_id: int | None = None) -> int:
        """Units a member used on `day` in one server (None: in direct messages)."""
        row = await self.db.fetchone(SQL_USAGE, (user_id, guild_id or 0, day))
        return int(row[0]) if row else 0

    async def reset_usage(self, user_id: int, day: str, guild_id: int | None = None) -> int:
        """Give a member back the units used on `day` in one server; returns how many.

        Exactly what was used at the moment of the reset comes back: the jobs that held
        those units are marked waived, so when one of them later ends (a refund) or an
        admin refunds it, nothing more comes off the ledger, and the member's new
        reservations are never eaten by an old job's refund."""
        scope = guild_id or 0
        async with self.db.transaction() as conn:
            row = await conn.fetchone(SQL_USAGE + " FOR UPDATE", (user_id, scope, day))
            await conn.execute(
                "UPDATE quota_ledger SET used = 0 WHERE user_id = ? AND guild_id = ? AND day = ?",
                (user_id, scope, day),
            )
            await conn.execute(
                "UPDATE jobs SET quota_state = ?, updated_at = ? WHERE user_id = ? "
                "AND COALESCE(guild_id, 0) = ? AND quota_day = ? AND quota_state IN (?, ?)",
                (
                    QuotaState.WAIVED.value,
                    self._clock(),
                    user_id,
                    scope,
                    day,
                    QuotaState.RESERVED.value,
                    QuotaState.COMMITTED.value,
                ),
            )
        return int(row[0]) if row else 0

    async def refund(self, job_id: int) -> Job | None:
        """An admin gives back the units a finished job charged (its spend stays: the
        vendor billed it). Returns the job as it is now; a job that is still running or
        was never charged is returned unchanged."""
        async with self.db.transaction() as conn:
            row = await conn.fetchone("SELECT * FROM jobs WHERE id = ? FOR UPDATE", (job_id,))
            if row is None:
                return None
            job = Job.from_row(row)
            if job.is_active or job.quota_state is not QuotaState.COMMITTED:
                return job
            await self._give_back(conn, job)
            return await self._update(conn, job.id, None, {"quota_state": QuotaState.REFUNDED})

    # -- reads -------------------------------------------------------------------
