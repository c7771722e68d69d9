"""What a member is shown of a job while the core works on it: its state, and while it
waits, its place in the queue.

Edits go through the `Publisher` port and never hold up the loop or a submit: queue
places are refreshed in the background, and only when the queue changed. An ended job's
end is shown by exactly one process (the first to claim it), so a failure is never
pinged twice when several processes share the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection

from bot.jobs.publishing import Publisher
from storage import CancelReason, Job, JobStatus, JobStore

log = logging.getLogger(__name__)


class Progress:
    def __init__(
        self,
        store: JobStore,
        publisher: Publisher,
        *,
        in_hand: Callable[[], Collection[int]],
        stopping: Callable[[], bool],
        leading: Callable[[], bool] = lambda: True,
    ) -> None:
        self.store = store
        # Only the leading process shows waiting jobs their place (one edit, not N).
        self._leading = leading
        self.publisher = publisher
        # Jobs this process is working on: their own task shows what becomes of them.
        self._in_hand = in_hand
        self._stopping = stopping
        # The queue position each waiting job's message shows (job id → position).
        self._shown_position: dict[int, int] = {}
        self._refresh_task: asyncio.Task[None] | None = None
        self._refresh_again = False

    async def notify(self, job: Job, position: int | None = None) -> None:
        """Show the job's state. An ended job's end is shown by one process only (the
        first to claim it), once, even if Discord then refuses it: a failure ping must
        not reach the member twice."""
        try:
            if not job.is_active and not await self.store.claim_tell(job.id):
                return
            if job.cancel_reason is CancelReason.BOT_REMOVED:
                return  # the bot left the job's server: there is nowhere to show it
            if job.status is JobStatus.QUEUED and position is None:
                position = await self.store.queue_position(job.id)
                self._shown_position[job.id] = position
            await self.publisher.job_updated(job, position=position)
        except Exception:
            log.exception("job %d: could not show its new state", job.id)

    def refresh_queue(self) -> None:
        """Show waiting jobs their place, in the background (edits must never hold up the
        loop or a submit); requests made while one runs are folded into one more pass."""
        if self._stopping() or not self._leading():
            return
        if self._refresh_task is not None and not self._refresh_task.done():
            self._refresh_again = True
            return
        self._refresh_task = asyncio.create_task(self._refresh_positions(), name="veo-queue")

    async def close(self) -> None:
        if self._refresh_task is not None:
            self._refresh_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresh_task
            self._refresh_task = None

    async def _refresh_positions(self) -> None:
        while True:
            self._refresh_again = False
            try:
                await self._show_positions()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("could not show the queue's positions")
            if not self._refresh_again or self._stopping():
                return

    async def _show_positions(self) -> None:
        """Edit the message of each waiting job whose place changed (and only those), and
        end the message of one that left the queue without us (cancelled while waiting)."""
        rows = await self.store.queued_messages()
        positions = {job_id: n for n, (job_id, _) in enumerate(rows, 1)}
        left = [i for i in self._shown_position if i not in positions]
        for job_id in left:
            del self._shown_position[job_id]
            if job_id in self._in_hand():
                continue  # its own task shows what became of it
            job = await self.store.get(job_id)
            if job is not None and not job.is_active:
                await self.notify(job)
        for job_id, message_id in rows:
            position = positions[job_id]
            if message_id is None or job_id in self._in_hand():
                continue  # no message yet, or being worked on: its task will show it
            if self._shown_position.get(job_id) == position:
                continue
            job = await self.store.get(job_id)  # a fresh row: the message shows it all
            if job is None or job.status is not JobStatus.QUEUED or job_id in self._in_hand():
                continue
            self._shown_position[job_id] = position
            await self.notify(job, position)
