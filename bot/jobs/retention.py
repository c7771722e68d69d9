"""The periodic retention sweep: purge old finished jobs and delete their video files,
forget the settings of servers the bot left longer ago than the retention period, and
the admin log's entries older than it.

Kept free of Discord so the composition root can start and stop it like any task.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Iterable

from storage.retention import RetentionStore

log = logging.getLogger(__name__)

DAY_SECONDS = 86400.0


class RetentionSweeper:
    def __init__(
        self,
        store: RetentionStore,
        *,
        retention_days: float,
        clock: Callable[[], float] = time.time,
        interval: float = 3600.0,
        leading: Callable[[], bool] = lambda: True,
    ) -> None:
        if retention_days <= 0 or interval <= 0:
            raise ValueError("retention_days and interval must be positive")
        self.store = store
        self.retention_days = retention_days
        self.interval = interval
        self._clock = clock
        # Only the process that leads sweeps (several processes: one sweep, not N).
        self._leading = leading
        self._task: asyncio.Task[None] | None = None

    async def sweep_once(self) -> int:
        """Purge jobs finished more than `retention_days` ago; returns how many."""
        now = self._clock()
        older_than = now - self.retention_days * DAY_SECONDS
        report = await self.store.purge_finished(older_than=older_than, now=now)
        remove_files(report.result_paths)
        if report.purged:
            log.info(
                "retention: purged %d finished job(s) older than %g days",
                report.purged,
                self.retention_days,
            )
        servers = await self.store.forget_departed_guilds(left_before=older_than)
        if servers:
            log.info("retention: forgot the settings of %d server(s) the bot left", servers)
        await self.store.forget_audit(created_before=older_than)
        return report.purged

    def start(self) -> None:
        """Sweep now, then every `interval` seconds, until stop()."""
        if self._task is not None and not self._task.done():
            return
        self._task = asyncio.create_task(self._run(), name="veo-retention-sweep")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        # wait() neither raises the task's CancelledError nor swallows our own.
        await asyncio.wait({task})

    async def _run(self) -> None:
        while True:
            if not self._leading():
                # Look again now and then: when the leader dies, the process that takes
                # over sweeps within a minute, not an interval later.
                await asyncio.sleep(min(self.interval, 60.0))
                continue
            try:
                await self.sweep_once()
            except Exception:
                # A locked or unwritable database must not end the sweeps for good.
                log.exception("retention sweep failed; retrying in %g s", self.interval)
            await asyncio.sleep(self.interval)


def remove_files(paths: Iterable[str]) -> None:
    """Delete the video files of purged jobs (the store never touches the disk)."""
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass  # already removed after delivery, or by hand
        except OSError as exc:
            # The row no longer names the file, so say which one is left behind.
            log.warning("could not delete %s: %s", path, exc)
