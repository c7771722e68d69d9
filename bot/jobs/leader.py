"""Which process runs the duties that must run once however many processes there are.

Showing waiting jobs their place, telling members of ends nobody told, the retention
sweep, the database-wide metrics and syncing slash commands would each be done N times
by N processes (N edits of each message, N sweeps). On PostgreSQL one process holds an
advisory lock and leads; the others ask again every `every` seconds, so when the leader
dies (its connection, and with it the lock, goes) another takes over within that time.
On SQLite every process leads: those duties are safe to repeat there (each end is told
once by `claim_tell`; a sweep marks what it purged), which is why several processes on
one SQLite file remain a small setup.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

LEADER_CHECK = 5.0  # seconds between a follower's tries (and the leader's own check)


class Leader:
    def __init__(
        self,
        try_lead: Callable[[], Awaitable[bool]],
        resign: Callable[[], Awaitable[None]],
        *,
        every: float = LEADER_CHECK,
    ) -> None:
        self._try_lead = try_lead
        self._resign = resign
        self.every = every
        self.leading = False
        self._task: asyncio.Task[None] | None = None
        self._became: list[Callable[[], None]] = []

    def on_lead(self, callback: Callable[[], None]) -> None:
        """Call `callback` each time this process becomes the leader."""
        self._became.append(callback)

    async def start(self) -> None:
        await self.check()
        self._task = asyncio.create_task(self._run(), name="veo-leader")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        # A process that stops working jobs (shutting down, or kept for commands only)
        # hands the duties on at once rather than when its connection closes.
        if self.leading:
            await self._resign()
        self.leading = False

    async def check(self) -> bool:
        try:
            now = await self._try_lead()
        except Exception:
            log.exception("could not ask the database who leads")
            now = False
        if now != self.leading:
            log.info("this process %s the shared duties", "now runs" if now else "no longer runs")
            self.leading = now
            if now:
                for callback in self._became:
                    callback()
        return now

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            await self.check()
