"""The job manager's side of the jobs table: claims, leases and transitions.

Every write the job manager makes is fenced by its lease (`lease_owner`), so a second
manager on the same database can never act on a job it does not hold. The writes go
through the group commit (`Database.batched`): those of many jobs share one transaction,
and each caller returns only after the COMMIT that holds its own. `JobRows` is what the
three sides of `JobStore` share: the database, the clock and the one guarded UPDATE.
"""

from __future__ import annotations

import enum
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from storage.db import Database
from storage.group_commit import Work
from storage.models import ACTIVE, Billing, Job, JobStatus, QuotaState
from storage.sql import LEFT_QUEUE, LOCK_VENDOR, NEWS, Conn, lock_key

T = TypeVar("T")

_ACTIVE_SQL = ", ".join(f"'{s.value}'" for s in sorted(ACTIVE))

# Due jobs are taken round the servers: of the most overdue (FAIR_SPAN times as many as
# there is room for), each server's first job, then each one's second, and so on (members
# in direct messages count as servers of their own), so a server with a hundred jobs due
# cannot keep another's one job waiting behind them. The window grows with the room, not
# with the backlog: a bot that falls behind must not read more on every claim (ranking
# every due job, in SQL or here, cost ten to a hundred times the plain oldest-first read).
FAIR_SPAN = 4
FAIR_MIN = 16
_DUE = f"""status IN ({_ACTIVE_SQL}) AND next_poll_at <= :now
      AND (lease_until IS NULL OR lease_until < :now)"""
SQL_DUE = f"""
SELECT id, COALESCE(guild_id, -user_id) FROM jobs WHERE {_DUE} {{exclude}}
ORDER BY next_poll_at, id LIMIT :window
"""
# The picked rows are locked, skipping any another process is taking at that moment (on
# PostgreSQL; SQLite has one writer), and checked again as they are now.
SQL_TAKE = f"""
UPDATE jobs SET lease_owner = :owner, lease_until = :until, updated_at = :now
WHERE id IN (SELECT id FROM jobs WHERE id IN ({{ids}}) AND {_DUE} FOR UPDATE SKIP LOCKED)
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

SQL_IN_FLIGHT = (
    f"SELECT COUNT(*) FROM jobs WHERE provider = ? "
    f"AND status IN ('{JobStatus.SUBMITTING.value}', '{JobStatus.RUNNING.value}')"
)
SQL_REFUND = (
    "UPDATE quota_ledger SET used = CASE WHEN used > :units THEN used - :units ELSE 0 END "
    "WHERE user_id = :user_id AND guild_id = :guild_id AND day = :day"
)
# `next_poll_at`, brought forward to :now if that is sooner (both engines' words).
EARLIER_POLL = "CASE WHEN next_poll_at < :now THEN next_poll_at ELSE :now END"

# Columns the manager may change; guards the dynamic UPDATE below.
_MUTABLE = frozenset(
    {
        "status", "task_id", "progress", "stage", "attempts", "next_poll_at", "deadline_at",
        "error_code", "error_params", "result_path", "result_url", "result_url_expires_at",
        "result_size", "status_message_id", "delivery_mode", "delivery_started_at",
        "delivered_message_id", "submitted_at", "completed_at", "finished_at",
        "interaction_token", "interaction_expires_at", "cancel_requested_at", "callback_token",
        "sent_at", "cancel_reason", "told_at", "checked_at", "frame_at",
    }
)  # fmt: skip


def _not_in(ids: Iterable[int]) -> str:
    """An `AND id NOT IN (...)` clause; ids are ints, so inlining them is safe."""
    values = [str(int(i)) for i in ids]
    return f"AND id NOT IN ({', '.join(values)})" if values else ""


def round_robin(due: list[tuple[int, int]], limit: int) -> list[int]:
    """Up to `limit` of the (job id, server) pairs, given most overdue first: every
    server's first, then every server's second, and so on, each round oldest first."""
    turns: dict[int, int] = {}
    ranked: list[tuple[int, int, int]] = []
    for place, (job_id, server) in enumerate(due):
        turn = turns.get(server, 0)
        turns[server] = turn + 1
        ranked.append((turn, place, job_id))
    ranked.sort()
    return [job_id for _, _, job_id in ranked[:limit]]


class LeaseLost(Exception):
    """The job is no longer ours (another worker took it, or it was cancelled)."""


@dataclass(frozen=True, slots=True)
class GiveBackWatch:
    """How a job manager follows the jobs it gives back (released or ended), so that its
    next claim, in the same transaction, can fill their places at once."""

    queued: Callable[[int], None]  # a give-back was queued: a claim queued now shares its batch
    done: Callable[[int], None]  # it ran, in the transaction that a claim after it shares


class JobRows:
    """The database, the clock, and the one guarded UPDATE every side of JobStore uses."""

    def __init__(self, db: Database, *, clock: Any = time.time) -> None:
        self.db = db
        self._clock = clock
        self._watches: dict[str, GiveBackWatch] = {}

    async def _write(
        self,
        work: Work[T],
        *,
        giving_back: tuple[str | None, int] | None = None,
        locks: tuple[int, ...] = (),
    ) -> T:
        """One of the job manager's writes, in the next group commit (`Database.batched`,
        which takes `locks` for it). `giving_back` (owner, job id) says the write ends the
        owner's hold on the job."""
        owner, job_id = giving_back or (None, 0)
        watch = self._watches.get(owner) if owner is not None else None
        if watch is not None:
            watch.queued(job_id)

        async def run(conn: Conn) -> T:
            result = await work(conn)
            if watch is not None:
                watch.done(job_id)
            return result

        return await self.db.batched(run, locks=locks)

    async def _give_back(self, conn: Conn, job: Job) -> None:
        """Return a job's reserved units to the day they were charged to."""
        params = {
            "units": job.quota_units,
            "user_id": job.user_id,
            "guild_id": job.quota_scope,
            "day": job.quota_day,
        }
        await conn.execute(SQL_REFUND, params)

    async def _update(
        self, conn: Conn, job_id: int, owner: str | None, fields: dict[str, Any]
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
        row = await conn.fetchone(f"UPDATE jobs SET {sets} WHERE {where} RETURNING *", params)
        if row is None:
            raise LeaseLost(f"job {job_id} is not held by {owner}")
        return Job.from_row(row)


class Leases(JobRows):
    """Claims, leases and state transitions: what the job manager writes."""

    def watch_give_backs(self, owner: str, watch: GiveBackWatch | None) -> None:
        """Tell `watch` of every job `owner` gives back (`release`, `finish`); None stops."""
        if watch is None:
            self._watches.pop(owner, None)
        else:
            self._watches[owner] = watch

    async def claim_due(
        self,
        owner: str,
        *,
        lease_seconds: float,
        limit: int | Callable[[], int],
        exclude: Iterable[int] = (),
    ) -> list[Job]:
        """Lease up to `limit` due jobs to `owner`, soonest due first, leaving out `exclude`.

        The claim runs last in its batch of writes, so it sees the leases they gave back;
        `limit` (a number, or a function asked then) and `exclude` (read then: a live
        collection may be passed) are taken as they are when it runs, as is the clock."""
        if isinstance(limit, int) and limit <= 0:
            return []

        async def claim(conn: Conn) -> list[Job]:
            room = limit() if callable(limit) else limit
            if room <= 0:
                return []
            now = self._clock()
            due = await conn.fetchall(
                SQL_DUE.format(exclude=_not_in(exclude)),
                {"now": now, "window": max(FAIR_MIN, FAIR_SPAN * room)},
            )
            ids = round_robin([(int(r[0]), int(r[1])) for r in due], room)
            if not ids:
                return []
            params = {"owner": owner, "until": now + lease_seconds, "now": now}
            rows = await conn.fetchall(SQL_TAKE.format(ids=", ".join(map(str, ids))), params)
            return [Job.from_row(r) for r in rows]

        jobs = await self.db.batched(claim, last=True)
        return sorted(jobs, key=lambda j: (j.next_poll_at, j.id))

    async def next_wakeup(self, exclude: Iterable[int] = ()) -> float | None:
        """When the next job becomes due or a foreign lease runs out; jobs the caller
        still has in hand are left out (their end wakes the caller anyway)."""
        now = self._clock()
        row = await self.db.fetchone(SQL_NEXT_WAKEUP.format(exclude=_not_in(exclude)), {"now": now})
        times = [float(row[i]) for i in (0, 1) if row is not None and row[i] is not None]
        return min(times) if times else None

    async def start_submit(self, job: Job, owner: str, *, cap: int, **fields: Any) -> Job | None:
        """Move a job we hold to `submitting`, if its vendor has fewer than `cap` tasks in
        flight (sent and not finished there); None when it is full.

        Counted and decided in one transaction, so jobs asking together never both take
        the last place: on SQLite the one writer (and a group commit runs its writes one
        after another, each seeing those before it), on PostgreSQL the vendor's advisory
        lock, held until the commit, so every process together keeps to the cap."""
        vendor_key = lock_key(LOCK_VENDOR, zlib.crc32(job.provider.encode()))

        async def take(conn: Conn) -> Job | None:
            row = await conn.fetchone(SQL_IN_FLIGHT, (job.provider,))
            if row is not None and int(row[0]) >= cap:
                return None
            started = await self._update(
                conn, job.id, owner, {**fields, "status": JobStatus.SUBMITTING}
            )
            await conn.notify(NEWS, LEFT_QUEUE)  # the jobs behind it move up
            return started

        return await self._write(take, locks=(vendor_key,))

    async def renew_leases(self, owner: str, job_ids: Iterable[int], lease_seconds: float) -> None:
        ids = [int(i) for i in job_ids]
        if not ids:
            return
        sql = (
            f"UPDATE jobs SET lease_until = ? WHERE lease_owner = ? "
            f"AND id IN ({', '.join(map(str, ids))})"
        )
        await self.db.batched(
            lambda conn: conn.execute(sql, (self._clock() + lease_seconds, owner))
        )

    async def release_all(self, owner: str) -> None:
        """Give back every job `owner` holds (a clean stop): due again at once elsewhere.
        Queued behind the writes of `owner`'s jobs still waiting for their commit."""
        await self.db.batched(
            lambda conn: conn.execute(
                "UPDATE jobs SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?",
                (owner,),
            )
        )

    async def update(self, job: Job, owner: str, **fields: Any) -> Job:
        """Persist a change to a job we hold; raises LeaseLost if we no longer do."""
        return await self._write(lambda conn: self._update(conn, job.id, owner, fields))

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
        sql = (
            f"UPDATE jobs SET {assignment}, updated_at = :now WHERE id = :id "
            "AND lease_owner = :owner AND cancel_requested_at IS NULL RETURNING *"
        )

        async def decide(conn: Conn) -> Job:
            params = {"now": self._clock(), "id": job.id, "owner": owner}
            row = await conn.fetchone(sql, params)
            if row is None:
                row = await conn.fetchone("SELECT * FROM jobs WHERE id = ?", (job.id,))
                if row is None or row["lease_owner"] != owner:
                    raise LeaseLost(f"job {job.id} is not held by {owner}")
            return Job.from_row(row)

        return await self._write(decide)

    async def release(self, job: Job, owner: str, *, next_poll_at: float, **fields: Any) -> Job:
        """Persist and give the job back to the queue, due at `next_poll_at`."""
        fields = {**fields, "next_poll_at": next_poll_at, "lease_owner": None, "lease_until": None}
        return await self._write(
            lambda conn: self._update(conn, job.id, owner, fields), giving_back=(owner, job.id)
        )

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
        given = {
            **fields,
            "status": status.value,
            "finished_at": now,
            "lease_owner": None,
            "lease_until": None,
        }

        async def settle(conn: Conn) -> Job:
            # Decided from the row as it is when this runs (a batch may run it again).
            fields = dict(given)
            row = await conn.fetchone("SELECT * FROM jobs WHERE id = ? FOR UPDATE", (job.id,))
            current = Job.from_row(row) if row is not None else job
            if billing is None:
                fields["billing"] = (
                    Billing.BILLED if "completed_at" in fields else current.probable_billing
                )
            else:
                fields["billing"] = billing
            if current.quota_state is QuotaState.RESERVED:
                if refund:
                    await self._give_back(conn, current)
                fields["quota_state"] = QuotaState.REFUNDED if refund else QuotaState.COMMITTED
            return await self._update(conn, job.id, owner, fields)

        return await self._write(settle, giving_back=(owner, job.id))
