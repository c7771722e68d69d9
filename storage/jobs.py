"""Jobs and the quota ledger.

Every write that the job manager makes is fenced by its lease (`lease_owner`), so a
second manager on the same file can never act on a job it does not hold. Quota moves
in the same transaction as the job row, so the two can never disagree.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from storage.db import Database
from storage.models import ACTIVE, Billing, CancelReason, Job, JobStatus, QuotaState, StoredImage

_ACTIVE_SQL = ", ".join(f"'{s.value}'" for s in sorted(ACTIVE))

# Reserve `units` in one statement: an empty result means the member is over quota.
# The first INSERT of a day does not see the WHERE, so callers check units <= limit first.
SQL_RESERVE = """
INSERT INTO quota_ledger (user_id, guild_id, day, used) VALUES (:user_id, :guild_id, :day, :units)
ON CONFLICT (user_id, guild_id, day) DO UPDATE SET used = used + :units
WHERE used + :units <= :limit
RETURNING used
"""
SQL_REFUND = (
    "UPDATE quota_ledger SET used = MAX(0, used - ?) WHERE user_id = ? AND guild_id = ? AND day = ?"
)
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
SQL_CLAIM = f"""
UPDATE jobs SET lease_owner = :owner, lease_until = :until, updated_at = :now
WHERE id IN (
    SELECT id FROM jobs
    WHERE status IN ({_ACTIVE_SQL}) AND next_poll_at <= :now
      AND (lease_until IS NULL OR lease_until < :now)
      {{exclude}}
    ORDER BY next_poll_at, id LIMIT :limit
)
RETURNING *
"""
# When the loop must look again: the next job due, or the next foreign lease to run out
# (one statement: the loop asks on every pass).
SQL_NEXT_WAKEUP = f"""
SELECT
  (SELECT MIN(next_poll_at) FROM jobs
   WHERE status IN ({_ACTIVE_SQL}) AND (lease_until IS NULL OR lease_until < :now) {{exclude}}),
  (SELECT MIN(lease_until) FROM jobs WHERE status IN ({_ACTIVE_SQL}) AND lease_until >= :now)
"""

# Columns the manager may change; guards the dynamic UPDATE below.
_MUTABLE = frozenset(
    {
        "status", "task_id", "progress", "stage", "attempts", "next_poll_at", "deadline_at",
        "error_code", "error_message", "result_path", "result_url", "result_url_expires_at",
        "result_size", "status_message_id", "delivery_mode", "delivery_started_at",
        "delivered_message_id", "submitted_at", "completed_at", "finished_at",
        "interaction_token", "interaction_expires_at", "cancel_requested_at", "callback_token",
        "sent_at", "cancel_reason", "told_at",
    }
)  # fmt: skip


def _refund_params(job: Job) -> tuple[int, int, int, str]:
    return (job.quota_units, job.user_id, job.quota_scope, job.quota_day)


def _not_in(ids: Iterable[int]) -> str:
    """An `AND id NOT IN (...)` clause; ids are ints, so inlining them is safe."""
    values = [str(int(i)) for i in ids]
    return f"AND id NOT IN ({', '.join(values)})" if values else ""


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


class LeaseLost(Exception):
    """The job is no longer ours (another worker took it, or it was cancelled)."""


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

    @property
    def quota_scope(self) -> int:
        return self.guild_id or 0


class JobStore:
    def __init__(self, db: Database, *, clock: Any = time.time) -> None:
        self.db = db
        self._clock = clock

    # -- creation and quota ----------------------------------------------------

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
            async with conn.execute(SQL_COUNT_ACTIVE, (new.user_id,)) as cur:
                row = await cur.fetchone()
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
                async with conn.execute(SQL_RESERVE, params) as cur:
                    reserved = await cur.fetchone()
                if reserved is None:
                    raise OverQuota(daily_limit, daily_limit)
            async with conn.execute(
                """
                INSERT INTO jobs (
                    user_id, guild_id, channel_id, request_json, provider, model, status,
                    next_poll_at, filesize_limit, delivery_mode, interaction_app_id,
                    interaction_token, interaction_expires_at, quota_day, quota_state,
                    created_at, updated_at, quota_units, cost_usd
                ) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
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
                ),
            ) as cur:
                job_row = await cur.fetchone()
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
        await self.db.execute(
            "UPDATE jobs SET status_message_id = COALESCE(?, status_message_id), "
            "delivery_mode = COALESCE(?, delivery_mode), "
            "next_poll_at = MIN(next_poll_at, ?), updated_at = ? WHERE id = ? AND status = ?",
            (status_message_id, delivery_mode, now, now, job_id, JobStatus.QUEUED.value),
        )

    async def _check_caps(self, conn: Any, new: NewJob, caps: SpendCaps) -> None:
        cost = new.cost_usd or 0.0
        checks = [
            ("server", caps.server, SQL_SPEND_GUILD, (new.quota_day, new.guild_id)),
            ("bot", caps.bot, SQL_SPEND_ALL, (new.quota_day,)),
        ]
        for scope, cap, sql, params in checks:
            if cap is None or (scope == "server" and new.guild_id is None):
                continue
            async with conn.execute(sql, params) as cur:
                row = await cur.fetchone()
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
            async with conn.execute(SQL_USAGE, (user_id, scope, day)) as cur:
                row = await cur.fetchone()
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
            async with conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)) as cur:
                row = await cur.fetchone()
            if row is None:
                return None
            job = Job.from_row(row)
            if job.is_active or job.quota_state is not QuotaState.COMMITTED:
                return job
            await conn.execute(SQL_REFUND, _refund_params(job))
            return await self._update(conn, job.id, None, {"quota_state": QuotaState.REFUNDED})

    # -- reads -------------------------------------------------------------------

    async def get(self, job_id: int) -> Job | None:
        row = await self.db.fetchone("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return Job.from_row(row) if row else None

    async def images(self, job_id: int) -> list[StoredImage]:
        rows = await self.db.fetchall(
            "SELECT filename, mime, data, source_url FROM job_images WHERE job_id = ? "
            "ORDER BY position",
            (job_id,),
        )
        return [
            StoredImage(r["filename"], r["mime"], bytes(r["data"]), r["source_url"]) for r in rows
        ]

    async def claim_tell(self, job_id: int) -> bool:
        """Take the duty of showing the member how an ended job ended; True for exactly one
        caller, whichever process asks first (several may have the job's end in hand: the
        one that ended it, and every process's look for ends never shown)."""
        changed = await self.db.execute(
            "UPDATE jobs SET told_at = ? WHERE id = ? AND told_at IS NULL "
            "AND finished_at IS NOT NULL",
            (self._clock(), job_id),
        )
        return changed == 1

    async def untold(self, *, ended_before: float, limit: int = 100) -> list[Job]:
        """Ended jobs whose end the member was never shown (the bot died in between)."""
        rows = await self.db.fetchall(
            "SELECT * FROM jobs WHERE told_at IS NULL AND finished_at IS NOT NULL "
            "AND finished_at < ? ORDER BY id LIMIT ?",
            (ended_before, limit),
        )
        return [Job.from_row(r) for r in rows]

    async def counts(self) -> dict[tuple[str, str], int]:
        """How many jobs there are, by (status, provider): for metrics and `veo-bot check`."""
        rows = await self.db.fetchall(
            "SELECT status, provider, COUNT(*) FROM jobs GROUP BY status, provider"
        )
        return {(str(r[0]), str(r[1])): int(r[2]) for r in rows}

    async def queued_messages(self) -> list[tuple[int, int | None]]:
        """(job id, its message id) of every queued job, in queue order."""
        rows = await self.db.fetchall(
            "SELECT id, status_message_id FROM jobs WHERE status = ? ORDER BY id",
            (JobStatus.QUEUED.value,),
        )
        return [(int(r[0]), r[1]) for r in rows]

    async def in_flight(self, provider: str) -> int:
        """Tasks sent to a vendor and not yet finished there (its concurrent-task limit)."""
        row = await self.db.fetchone(
            "SELECT COUNT(*) FROM jobs WHERE provider = ? AND status IN (?, ?)",
            (provider, JobStatus.SUBMITTING.value, JobStatus.RUNNING.value),
        )
        return int(row[0]) if row else 0

    async def poke_by_callback(self, token: str, provider: str) -> int | None:
        """A vendor said a task changed: make its job due now. Returns the job id, if any:
        only an active job of `provider` (the one the callback's path names) counts."""
        now = self._clock()
        row = await self.db.fetchone(
            f"SELECT id FROM jobs WHERE callback_token = ? AND provider = ? "
            f"AND status IN ({_ACTIVE_SQL})",
            (token, provider),
        )
        if row is None:
            return None
        await self.db.execute(
            f"UPDATE jobs SET next_poll_at = MIN(next_poll_at, ?) "
            f"WHERE id = ? AND status IN ({_ACTIVE_SQL})",
            (now, row["id"]),
        )
        return int(row["id"])

    async def publish_images(self, job_id: int, tokens: list[str], expires_at: float) -> None:
        """Give a job's images unguessable URL tokens, for vendors that fetch images."""
        async with self.db.transaction() as conn:
            for position, token in enumerate(tokens):
                await conn.execute(
                    "UPDATE job_images SET url_token = ?, url_expires_at = ? "
                    "WHERE job_id = ? AND position = ?",
                    (token, expires_at, job_id, position),
                )

    async def image_by_token(self, token: str) -> StoredImage | None:
        """A published image, unless its URL expired or its job has ended."""
        row = await self.db.fetchone(
            f"SELECT i.filename, i.mime, i.data FROM job_images i JOIN jobs j ON j.id = i.job_id "
            f"WHERE i.url_token = ? AND i.url_expires_at > ? AND j.status IN ({_ACTIVE_SQL})",
            (token, self._clock()),
        )
        return StoredImage(row["filename"], row["mime"], bytes(row["data"])) if row else None

    async def active_for_user(self, user_id: int) -> list[Job]:
        rows = await self.db.fetchall(
            f"SELECT * FROM jobs WHERE user_id = ? AND status IN ({_ACTIVE_SQL}) ORDER BY id",
            (user_id,),
        )
        return [Job.from_row(r) for r in rows]

    async def recent_for_user(self, user_id: int, *, limit: int, offset: int = 0) -> list[Job]:
        rows = await self.db.fetchall(
            "SELECT * FROM jobs WHERE user_id = ? ORDER BY id DESC LIMIT ? OFFSET ?",
            (user_id, limit, offset),
        )
        return [Job.from_row(r) for r in rows]

    async def queue_position(self, job_id: int) -> int:
        """1-based place among jobs not yet sent to a vendor (0 once it has been)."""
        row = await self.db.fetchone(
            "SELECT COUNT(*) FROM jobs WHERE status = ? AND id <= ? "
            "AND EXISTS (SELECT 1 FROM jobs j WHERE j.id = ? AND j.status = ?)",
            (JobStatus.QUEUED.value, job_id, job_id, JobStatus.QUEUED.value),
        )
        return int(row[0]) if row else 0

    async def request_cancel(
        self, job_id: int, reason: CancelReason = CancelReason.MEMBER
    ) -> Job | None:
        """Cancel a job: at once (with a refund) if nobody holds it and it was never
        submitted; otherwise flag it, and the manager settles it (no vendor has a
        cancel call, so a submitted job is followed quietly to learn if it was billed).
        A job whose video is already being posted is returned unflagged: too late."""
        now = self._clock()
        async with self.db.transaction() as conn:
            async with conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)) as cur:
                row = await cur.fetchone()
            if row is None:
                return None
            job = Job.from_row(row)
            if not job.is_active:
                return job
            unheld = job.lease_until is None or job.lease_until < now
            if job.status is JobStatus.QUEUED and unheld:
                if job.quota_state is QuotaState.RESERVED:
                    await conn.execute(SQL_REFUND, _refund_params(job))
                fields: dict[str, Any] = {
                    "billing": Billing.NOT_BILLED,
                    "cancel_reason": reason,
                    "status": JobStatus.CANCELLED,
                    "quota_state": QuotaState.REFUNDED
                    if job.quota_state is QuotaState.RESERVED
                    else job.quota_state,
                    "finished_at": now,
                    "cancel_requested_at": now,
                }
            elif job.status is JobStatus.DELIVERING and job.delivery_started_at is not None:
                return job  # already on its way: too late to stop (see begin_delivery)
            else:
                fields = {
                    "cancel_requested_at": job.cancel_requested_at or now,
                    "cancel_reason": job.cancel_reason or reason,
                    "next_poll_at": now,
                }
            return await self._update(conn, job.id, None, fields)

    async def stop_for_removed_guild(self, guild_id: int) -> list[Job]:
        """The bot was removed from a server: its jobs cannot be shown or posted anymore.

        Jobs nobody holds that were never sent end now, cancelled and refunded. The rest
        are flagged (reason `bot_removed`): the manager stops those not yet sent before
        they leave, and follows those at the vendor quietly to the end (their member is
        refunded, their spend counts). Returns the jobs as they are now."""
        now = self._clock()
        ended: list[Job] = []
        async with self.db.transaction() as conn:
            async with conn.execute(
                f"SELECT * FROM jobs WHERE guild_id = ? AND status IN ({_ACTIVE_SQL}) ORDER BY id",
                (guild_id,),
            ) as cur:
                jobs = [Job.from_row(r) for r in await cur.fetchall()]
            for job in jobs:
                unheld = job.lease_until is None or job.lease_until < now
                fields: dict[str, Any] = {
                    "cancel_requested_at": job.cancel_requested_at or now,
                    "cancel_reason": CancelReason.BOT_REMOVED,
                    "next_poll_at": now,
                }
                if job.status is JobStatus.QUEUED and unheld:
                    if job.quota_state is QuotaState.RESERVED:
                        await conn.execute(SQL_REFUND, _refund_params(job))
                        fields["quota_state"] = QuotaState.REFUNDED
                    fields.update(
                        status=JobStatus.CANCELLED,
                        billing=Billing.NOT_BILLED,
                        finished_at=now,
                        told_at=now,  # there is nowhere left to tell it
                    )
                ended.append(await self._update(conn, job.id, None, fields))
        return ended

    # -- the manager's side --------------------------------------------------------

    async def claim_due(
        self, owner: str, *, lease_seconds: float, limit: int, exclude: Iterable[int] = ()
    ) -> list[Job]:
        if limit <= 0:
            return []
        now = self._clock()
        async with self.db.transaction() as conn:
            async with conn.execute(
                SQL_CLAIM.format(exclude=_not_in(exclude)),
                {"owner": owner, "until": now + lease_seconds, "now": now, "limit": limit},
            ) as cur:
                rows = await cur.fetchall()
        return sorted((Job.from_row(r) for r in rows), key=lambda j: (j.next_poll_at, j.id))

    async def next_wakeup(self, exclude: Iterable[int] = ()) -> float | None:
        """When the next job becomes due or a foreign lease runs out; jobs the caller
        still has in hand are left out (their end wakes the caller anyway)."""
        now = self._clock()
        row = await self.db.fetchone(SQL_NEXT_WAKEUP.format(exclude=_not_in(exclude)), {"now": now})
        times = [float(t) for t in (row or ()) if t is not None]
        return min(times) if times else None

    async def renew_leases(self, owner: str, job_ids: Iterable[int], lease_seconds: float) -> None:
        ids = [int(i) for i in job_ids]
        if not ids:
            return
        now = self._clock()
        await self.db.execute(
            f"UPDATE jobs SET lease_until = ? WHERE lease_owner = ? "
            f"AND id IN ({', '.join(map(str, ids))})",
            (now + lease_seconds, owner),
        )

    async def release_all(self, owner: str) -> None:
        """Give back every job `owner` holds (a clean stop): due again at once elsewhere."""
        await self.db.execute(
            "UPDATE jobs SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?",
            (owner,),
        )

    async def update(self, job: Job, owner: str, **fields: Any) -> Job:
        """Persist a change to a job we hold; raises LeaseLost if we no longer do."""
        async with self.db.transaction() as conn:
            return await self._update(conn, job.id, owner, fields)

    async def mark_sent(self, job: Job, owner: str) -> Job:
        """Let the submit request go, unless a cancel came first: decided in the same
        transaction that reads the cancel flag, right before the request is sent. A job
        returned with `cancel_requested_at` set must not be sent; one returned with
        `sent_at` set may have reached the vendor from now on (so may be billed)."""
        return await self._unless_cancelled(job, owner, "sent_at = :now")

    async def begin_delivery(self, job: Job, owner: str) -> Job:
        """Record that posting the video begins, unless a cancel came first.

        Only the first start is kept: after a restart, the look for an earlier post starts
        there, whatever the lease length. A job returned with `cancel_requested_at` set
        must not be posted. Deciding both in one transaction means a cancel is either
        early enough to stop the post or refused as too late (`request_cancel`), never
        accepted and then ignored."""
        return await self._unless_cancelled(
            job, owner, "delivery_started_at = COALESCE(delivery_started_at, :now)"
        )

    async def _unless_cancelled(self, job: Job, owner: str, assignment: str) -> Job:
        """Apply `assignment` to a job we hold if no cancel is recorded; either way return
        the job as it is now (raises LeaseLost if we no longer hold it)."""
        params = {"now": self._clock(), "id": job.id, "owner": owner}
        async with self.db.transaction() as conn:
            async with conn.execute(
                f"UPDATE jobs SET {assignment}, updated_at = :now WHERE id = :id "
                "AND lease_owner = :owner AND cancel_requested_at IS NULL RETURNING *",
                params,
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                async with conn.execute("SELECT * FROM jobs WHERE id = ?", (job.id,)) as cur:
                    row = await cur.fetchone()
                if row is None or row["lease_owner"] != owner:
                    raise LeaseLost(f"job {job.id} is not held by {owner}")
        return Job.from_row(row)

    async def release(self, job: Job, owner: str, *, next_poll_at: float, **fields: Any) -> Job:
        """Persist and give the job back to the queue, due at `next_poll_at`."""
        fields = {**fields, "next_poll_at": next_poll_at, "lease_owner": None, "lease_until": None}
        async with self.db.transaction() as conn:
            return await self._update(conn, job.id, owner, fields)

    async def finish(
        self,
        job: Job,
        owner: str | None,
        status: JobStatus,
        *,
        refund: bool,
        billing: Billing | None = None,
        **fields: Any,
    ) -> Job:
        """Move to a terminal state, settle the quota and say what the vendor probably
        billed, in one transaction.

        refund=True gives the units back to the day they were charged; otherwise the
        charge is committed. Settling happens once, from the state in the database (not
        the caller's copy, which an admin's reset may have overtaken): a job already
        settled, or waived by a reset, keeps its state. `billing` defaults to what the
        job's record in the database says (`Job.probable_billing`).
        """
        if status not in (JobStatus.DELIVERED, JobStatus.FAILED, JobStatus.CANCELLED):
            raise ValueError(f"{status} is not terminal")
        now = self._clock()
        fields = {
            **fields,
            "status": status.value,
            "finished_at": now,
            "lease_owner": None,
            "lease_until": None,
        }
        async with self.db.transaction() as conn:
            async with conn.execute("SELECT * FROM jobs WHERE id = ?", (job.id,)) as cur:
                row = await cur.fetchone()
            current = Job.from_row(row) if row is not None else job
            if billing is None:
                billing = Billing.BILLED if "completed_at" in fields else current.probable_billing
            fields["billing"] = billing
            if current.quota_state is QuotaState.RESERVED:
                if refund:
                    await conn.execute(SQL_REFUND, _refund_params(current))
                fields["quota_state"] = QuotaState.REFUNDED if refund else QuotaState.COMMITTED
            return await self._update(conn, job.id, owner, fields)

    async def _update(
        self, conn: Any, job_id: int, owner: str | None, fields: dict[str, Any]
    ) -> Job:
        allowed = _MUTABLE | {"lease_owner", "lease_until", "quota_state", "billing"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        fields = {k: (v.value if isinstance(v, enum.Enum) else v) for k, v in fields.items()}
        fields["updated_at"] = self._clock()
        sets = ", ".join(f"{k} = :{k}" for k in fields)
        where = "id = :_id" + (" AND lease_owner = :_owner" if owner is not None else "")
        params = {**fields, "_id": job_id, "_owner": owner}
        async with conn.execute(f"UPDATE jobs SET {sets} WHERE {where} RETURNING *", params) as cur:
            row = await cur.fetchone()
        if row is None:
            raise LeaseLost(f"job {job_id} is not held by {owner}")
        return Job.from_row(row)
