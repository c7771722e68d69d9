"""Group commit: the writes of many jobs committed together, in one transaction.

At a thousand jobs in flight the job manager writes hundreds of times a second, nearly all
of it one guarded UPDATE per job ("still running, check again at T"). In a transaction
each, every one pays a BEGIN IMMEDIATE and a COMMIT (two trips to aiosqlite's thread and a
WAL append). Queued here, they share one transaction, and each caller still awaits its own
outcome, handed over only after the COMMIT that holds its write: a step is persisted before
it is acted on, exactly as with a transaction of its own.

A write that fails fails its caller only. There are no savepoints (two more trips per
write, for a case that almost never happens): a write that raised having changed nothing
is simply left out; one that raised after changing rows (or that took the transaction down
with it) has no way to be undone alone, so the whole transaction is rolled back, that write
gets its error, and the others run again in the next batch. When the transaction itself
fails (BEGIN finds the database locked past the busy timeout, COMMIT fails), nothing of
the batch is kept and every caller in it gets that error; unless it failed for its
timing alone (on PostgreSQL, two processes' batches can lock the same two rows in
opposite orders, and one is chosen as the deadlock's victim): then it is run again.

Lingering: a batch is committed at once when writes come one or two at a time (a lone
caller gains nothing by waiting); when they come together (the last batch had company), the next
one waits until `linger` seconds after the last began, so under load the writes share
transactions at a bounded rate instead of each taking its own; but no longer than it takes
`full` writes to gather. A batch of `full` writes has saved all but 1/`full` of their
transactions, so waiting for more saves little, and holds up every writer (the job
manager's jobs wait on their writes: when they all have one queued, nobody is left to add
to the batch).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from storage.sql import Conn

log = logging.getLogger(__name__)

T = TypeVar("T")
Work = Callable[[Conn], Awaitable[T]]
OpenTransaction = Callable[[], AbstractAsyncContextManager[Conn]]

MAX_BATCH = 256  # bounds how long one transaction holds the database's lock
FULL = 8  # writes that make a batch worth committing without lingering further
COMPANY = 3  # writes in a batch that make the next one wait for more
TRIES = 3  # times a write is run when its batches fail only for their timing (deadlocks)


class DatabaseClosed(RuntimeError):
    """A write was queued after the database began closing."""


@dataclass(slots=True)
class _Write(Generic[T]):
    work: Work[T]
    future: asyncio.Future[T]
    last: bool = False
    tries: int = 0
    locks: tuple[int, ...] = ()


class _Undo(Exception):
    """A write failed after changing rows: the batch's transaction must be rolled back."""


class GroupCommit:
    """The queue of writes and the one task that commits them, batch after batch."""

    def __init__(
        self,
        open_transaction: OpenTransaction,
        *,
        linger: float,
        full: int = FULL,
        retryable: Callable[[BaseException], bool] = lambda exc: False,
    ) -> None:
        # Called anew for every batch (not bound once), so whatever wraps the database's
        # `transaction` (the benchmark counts the calls) sees each one.
        self._open = open_transaction
        self.linger = linger
        self.full = full
        self._retryable = retryable
        self._queue: list[_Write[Any]] = []
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._last_start = 0.0
        self._had_company = False
        self._lingering: asyncio.Future[None] | None = None  # resolved to stop lingering

    def submit(
        self, work: Work[T], *, last: bool = False, locks: tuple[int, ...] = ()
    ) -> asyncio.Future[T]:
        """Queue `work`; the future settles once the transaction that ran it has ended.
        A `last` write runs after the others of its batch (a claim, to see what they freed)."""
        if self._closed:
            raise DatabaseClosed("the database is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.append(_Write(work, future, last, locks=locks))
        if self._lingering is not None and len(self._queue) >= self.full:
            _resolve(self._lingering)
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run(), name="veo-group-commit")
        return future

    async def drain(self) -> None:
        """Refuse new writes and wait until every queued one is committed (or failed)."""
        self._closed = True
        while self._task is not None and not self._task.done():
            # asyncio.wait, not await: a cancelled drain must not cancel the commits.
            await asyncio.wait({self._task})

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._queue:
                await self._linger(loop)
                taken = [w for w in self._queue[:MAX_BATCH] if not w.future.done()]
                del self._queue[:MAX_BATCH]
                batch = [w for w in taken if not w.last] + [w for w in taken if w.last]
                if not batch:
                    continue
                self._last_start = loop.time()
                await self._commit(batch)
                # Company: a crowd. Not a pair, nor a write queued while this one
                # committed: a job's release and the claim that refills its place come so
                # even with one job in hand, and waiting would hold it up at every step.
                self._had_company = len(batch) >= COMPANY
        except BaseException as exc:
            # Only a cancelled loop (shutdown) gets here: nothing still queued will run.
            for write in self._queue:
                _settle(write, error=exc)
            self._queue.clear()
            raise

    async def _linger(self, loop: asyncio.AbstractEventLoop) -> None:
        await asyncio.sleep(0)  # writers made ready in the same turn of the loop join in
        wait = self._last_start + self.linger - loop.time()
        if not self._had_company or wait <= 0 or len(self._queue) >= self.full:
            return
        self._lingering = loop.create_future()
        timer = loop.call_later(wait, _resolve, self._lingering)
        try:
            await self._lingering
        finally:
            timer.cancel()
            self._lingering = None

    async def _commit(self, batch: list[_Write[Any]]) -> None:
        done: list[tuple[_Write[Any], Any]] = []
        failed: list[tuple[_Write[Any], Exception]] = []
        again: list[_Write[Any]] = []
        try:
            async with self._open() as conn:
                # The advisory locks the writes need, all taken first and in one order:
                # taken as each write came, two processes' batches could each hold one
                # the other waits for.
                for key in sorted({k for w in batch for k in w.locks}):
                    await conn.lock(key)
                for i, write in enumerate(batch):
                    if write.future.done():  # its caller gave up before it ran
                        continue
                    write.tries += 1
                    before = conn.changes
                    try:
                        value = await write.work(conn)
                    except Exception as exc:
                        if self._retryable(exc):
                            raise  # the whole transaction is the deadlock's victim
                        failed.append((write, exc))
                        if conn.changes != before or not conn.usable:
                            again = [w for w, _ in done] + batch[i + 1 :]
                            done = []
                            raise _Undo from exc
                    else:
                        done.append((write, value))
        except _Undo:
            log.info("a batched write failed after changing rows; %d run again", len(again))
            self._queue[:0] = again
        except BaseException as exc:
            # BEGIN or COMMIT failed, or the commit task was cancelled: nothing was kept.
            # A write that failed on its own keeps its own error; the rest get this one,
            # unless the transaction failed for its timing alone (PostgreSQL broke a
            # deadlock with it): then they are run again, a few times at most.
            for write, error in failed:
                _settle(write, error=error)
            if isinstance(exc, Exception) and self._retryable(exc):
                own = {id(w) for w, _ in failed}
                again = [w for w in batch if id(w) not in own and w.tries < TRIES]
                log.info("a batch's transaction failed (%s); %d run again", exc, len(again))
                self._queue[:0] = again
                kept = {id(w) for w in again}
                batch = [w for w in batch if id(w) not in kept]
            for write in batch:
                _settle(write, error=exc)
            if not isinstance(exc, Exception):
                raise
            return
        for write, error in failed:
            _settle(write, error=error)
        for write, value in done:
            _settle(write, value=value)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _settle(write: _Write[Any], *, value: Any = None, error: BaseException | None = None) -> None:
    future = write.future
    if future.done():
        return
    if isinstance(error, asyncio.CancelledError):
        future.cancel()
    elif error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)
