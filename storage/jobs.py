"""The jobs table as the rest of the bot sees it: one `JobStore`, in three sides.

`Ledger` (storage/ledger.py) creates jobs and moves their quota; `Leases`
(storage/leases.py) is the job manager's claims and transitions; this module is the
lookups, the member's cancel and a server's departure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from storage.leases import _ACTIVE_SQL, EARLIER_POLL, LeaseLost, Leases
from storage.ledger import (
    Ledger,
    NewJob,
    OverBudget,
    OverQuota,
    SpendCaps,
    TooManyActive,
)
from storage.models import Billing, CancelReason, Job, JobStatus, QuotaState, StoredImage
from storage.render_times import RenderTimes
from storage.sql import CANCELLED, NEWS, POKED, Conn

__all__ = [
    "JobStore",
    "LeaseLost",
    "NewJob",
    "OverBudget",
    "OverQuota",
    "SpendCaps",
    "TooManyActive",
]


class JobStore(Ledger, Leases, RenderTimes):
    """Every read and write of jobs, their images and the quota ledger."""

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

    async def keep_frame(self, job_id: int, mime: str, data: bytes) -> None:
        """Keep a delivered video's last frame (for Continue); a second one replaces it."""
        await self.db.execute(
            "INSERT INTO job_frames (job_id, mime, data) VALUES (?, ?, ?) "
            "ON CONFLICT (job_id) DO UPDATE SET mime = excluded.mime, data = excluded.data",
            (job_id, mime, data),
        )

    async def frame(self, job_id: int) -> StoredImage | None:
        """The kept last frame of a job's video, if any (gone once the job is purged)."""
        row = await self.db.fetchone(
            "SELECT mime, data FROM job_frames WHERE job_id = ?", (job_id,)
        )
        if row is None:
            return None
        extension = "png" if row["mime"] == "image/png" else "jpg"
        return StoredImage(f"job-{job_id}-last-frame.{extension}", row["mime"], bytes(row["data"]))

    async def claim_tell(self, job_id: int) -> bool:
        """Take the duty of showing the member how an ended job ended; True for exactly one
        caller, whichever process asks first (several may have the job's end in hand: the
        one that ended it, and every process's look for ends never shown)."""

        async def claim(conn: Conn) -> int:
            return await conn.execute(
                "UPDATE jobs SET told_at = ? WHERE id = ? AND told_at IS NULL "
                "AND finished_at IS NOT NULL",
                (self._clock(), job_id),
            )

        return await self.db.batched(claim) == 1

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

    async def unfinished(self) -> int:
        """How many jobs have not ended (the benchmark waits for none)."""
        row = await self.db.fetchone(f"SELECT COUNT(*) FROM jobs WHERE status IN ({_ACTIVE_SQL})")
        return int(row[0]) if row is not None else 0

    async def every_job(self, *, user_id_from: int = 0) -> list[Job]:
        """Every job of the members from `user_id_from` up, oldest first (the benchmark's
        report; the bot itself never reads the whole table)."""
        rows = await self.db.fetchall(
            "SELECT * FROM jobs WHERE user_id >= ? ORDER BY id", (user_id_from,)
        )
        return [Job.from_row(r) for r in rows]

    async def queued_messages(self) -> list[tuple[int, int | None]]:
        """(job id, its message id) of every queued job, in queue order."""
        rows = await self.db.fetchall(
            "SELECT id, status_message_id FROM jobs WHERE status = ? ORDER BY id",
            (JobStatus.QUEUED.value,),
        )
        return [(int(r[0]), r[1]) for r in rows]

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
        sql = (
            f"UPDATE jobs SET next_poll_at = {EARLIER_POLL}, poked_at = :now "
            f"WHERE id = :id AND status IN ({_ACTIVE_SQL})"
        )

        async def poke(conn: Conn) -> None:
            await conn.execute(sql, {"now": now, "id": row["id"]})
            await conn.notify(NEWS, POKED)

        await self.db.batched(poke)
        return int(row["id"])

    async def try_lead(self) -> bool:
        """See `Database.try_lead`: whether this process runs the once-only duties."""
        return await self.db.try_lead()

    async def resign(self) -> None:
        """Stop leading (see `Database.resign`)."""
        await self.db.resign()

    async def listen(self, callback: Callable[[str], None]) -> None:
        """Hear what other processes did to the queue (`storage.sql` NEW_JOB, CANCELLED,
        POKED; "" when some news may have been missed)."""
        await self.db.listen(NEWS, callback)

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
            row = await conn.fetchone("SELECT * FROM jobs WHERE id = ? FOR UPDATE", (job_id,))
            if row is None:
                return None
            job = Job.from_row(row)
            if not job.is_active:
                return job
            unheld = job.lease_until is None or job.lease_until < now
            if job.status is JobStatus.QUEUED and unheld:
                if job.quota_state is QuotaState.RESERVED:
                    await self._give_back(conn, job)
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
            await conn.notify(NEWS, CANCELLED)
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
            rows = await conn.fetchall(
                f"SELECT * FROM jobs WHERE guild_id = ? AND status IN ({_ACTIVE_SQL}) "
                "ORDER BY id FOR UPDATE",
                (guild_id,),
            )
            jobs = [Job.from_row(r) for r in rows]
            for job in jobs:
                unheld = job.lease_until is None or job.lease_until < now
                fields: dict[str, Any] = {
                    "cancel_requested_at": job.cancel_requested_at or now,
                    "cancel_reason": CancelReason.BOT_REMOVED,
                    "next_poll_at": now,
                }
                if job.status is JobStatus.QUEUED and unheld:
                    if job.quota_state is QuotaState.RESERVED:
                        await self._give_back(conn, job)
                        fields["quota_state"] = QuotaState.REFUNDED
                    fields.update(
                        status=JobStatus.CANCELLED,
                        billing=Billing.NOT_BILLED,
                        finished_at=now,
                        told_at=now,  # there is nowhere left to tell it
                    )
                ended.append(await self._update(conn, job.id, None, fields))
            if jobs:
                await conn.notify(NEWS, CANCELLED)
        return ended

    # -- the manager's side --------------------------------------------------------
