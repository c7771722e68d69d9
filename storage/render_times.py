"""How long renders took, per model: the samples each job's check schedule is planned from.

A sample is an interval, not a point: a render polled for is known only to have finished
between the last check that saw it running and the check that saw it done (a callback
makes it exact). The sample is written in the same transaction that moves the job on to
its download, so learning costs no write of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from storage.leases import JobRows
from storage.models import Job
from storage.sql import Conn

# Samples older than this are dropped when a newer one of the same model is written.
KEEP_SECONDS = 14 * 86400.0


@dataclass(frozen=True, slots=True)
class RenderKey:
    """What a render's time depends on: the vendor, the model, the size and the length."""

    provider: str
    model: str
    resolution: str  # "" for the model's default
    duration: int  # 0 for the model's default


@dataclass(frozen=True, slots=True)
class RenderTime:
    """Seconds from the submit: the render finished within [low, high]; `at` is when."""

    low: float
    high: float
    at: float


class RenderTimes(JobRows):
    async def complete(
        self, job: Job, owner: str, key: RenderKey, sample: RenderTime, **fields: Any
    ) -> Job:
        """Persist a change to a job we hold (its render is done) and remember how long
        the render took, in one transaction (the group commit's, shared with other jobs)."""

        async def write(conn: Conn) -> Job:
            updated = await self._update(conn, job.id, owner, fields)
            await conn.execute(
                "INSERT INTO render_times "
                "(provider, model, resolution, duration, low, high, finished_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (*_key(key), sample.low, sample.high, sample.at),
            )
            await conn.execute(
                "DELETE FROM render_times WHERE provider = ? AND model = ? AND resolution = ? "
                "AND duration = ? AND finished_at < ?",
                (*_key(key), sample.at - KEEP_SECONDS),
            )
            return updated

        return await self._write(write)

    async def render_times(self, key: RenderKey, *, limit: int) -> list[RenderTime]:
        """The model's latest `limit` samples within the kept window, oldest first."""
        since = self._clock() - KEEP_SECONDS
        rows = await self.db.fetchall(
            "SELECT low, high, finished_at FROM render_times WHERE provider = ? AND model = ? "
            "AND resolution = ? AND duration = ? AND finished_at >= ? "
            "ORDER BY finished_at DESC, id DESC LIMIT ?",
            (*_key(key), since, limit),
        )
        return [RenderTime(float(r[0]), float(r[1]), float(r[2])) for r in reversed(rows)]

    async def render_keys(self) -> list[RenderKey]:
        """Every model with a sample in the kept window (for the schedules' cache)."""
        rows = await self.db.fetchall(
            "SELECT DISTINCT provider, model, resolution, duration FROM render_times "
            "WHERE finished_at >= ?",
            (self._clock() - KEEP_SECONDS,),
        )
        return [RenderKey(r[0], r[1], r[2], int(r[3])) for r in rows]


def _key(key: RenderKey) -> tuple[str, str, str, int]:
    return (key.provider, key.model, key.resolution, key.duration)
