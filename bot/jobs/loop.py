"""The job manager: takes due jobs from the database and hands each to its state's step.

Memory holds only a wake-up event and the jobs in hand; the rows are the truth. Jobs
are taken with a lease (renewed while in hand) so two managers on one file never work the
same job; a job whose holder died is taken over when its lease runs out. The steps
themselves are in `steps` and `delivery`, the ends in `endings`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from bot.jobs.crew import Crew, PublicAddress
from bot.jobs.delivery import Delivery
from bot.jobs.endings import Endings
from bot.jobs.health import VendorAlerts, VendorHealth
from bot.jobs.leader import Leader
from bot.jobs.pacing import Pacer
from bot.jobs.positions import Progress
from bot.jobs.publishing import Publisher
from bot.jobs.retry import MAX_UNEXPECTED_ERRORS, UNTOLD_GRACE, backoff
from bot.jobs.schedule import Schedules
from bot.jobs.steps import Steps
from bot.metrics import Metrics
from bot.providers.codes import ErrorCode, Failure
from bot.providers.registry import ProviderRegistry
from storage import Job, JobStatus, JobStore
from storage.jobs import LeaseLost
from storage.leases import GiveBackWatch
from storage.sql import POKED

log = logging.getLogger(__name__)


class JobManager:
    def __init__(
        self,
        store: JobStore,
        providers: ProviderRegistry,
        publisher: Publisher,
        *,
        work_dir: Path,
        max_download_bytes: int,
        max_concurrency: int = 8,
        lease_seconds: float = 120.0,
        idle_wait: float = 30.0,
        timing_overrides: dict[str, dict[str, float]] | None = None,
        learn_schedules: bool = True,
        public: PublicAddress | None = None,
        alert_failure_streak: int = 5,
        health: VendorHealth | None = None,
        pacer: Pacer | None = None,
        metrics: Metrics | None = None,
        batch_window: float = 0.01,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.work_dir = work_dir
        self.max_concurrency = max_concurrency
        self.lease_seconds = lease_seconds
        self.idle_wait = idle_wait
        # Kept by reference in the schedules: a change applies to the next poll.
        self.timing_overrides: dict[str, dict[str, float]] = timing_overrides or {}
        self.clock = clock
        self.owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.alert_failure_streak = alert_failure_streak
        self.health = health or VendorHealth(streak=alert_failure_streak, cooldown=120.0)
        self.metrics = metrics or Metrics()
        # The loop sleeps at least this long between passes (unless woken), so jobs due
        # close together are claimed in one transaction instead of one pass each.
        self.batch_window = batch_window
        self.last_tick = 0.0  # when the job loop last went round (for /healthz)
        self._wake = asyncio.Event()
        self._in_hand: dict[int, asyncio.Task[None]] = {}
        # Jobs in hand being given back (released or ended): queued, and already run in
        # the transaction a claim queued after them shares. Their places count as free
        # for that claim, so a slot is refilled in the very commit that frees it.
        self._giving_back: set[int] = set()
        self._given_back: set[int] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._tell_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._queue_dirty = True  # the first pass shows every waiting job its place
        self.crew = Crew(
            store=store,
            providers=providers,
            publisher=publisher,
            owner=self.owner,
            clock=clock,
            pacer=pacer or Pacer({}),
            metrics=self.metrics,
            schedules=Schedules(
                providers, self.timing_overrides, store=store, learning=learn_schedules, clock=clock
            ),
            work_dir=work_dir,
            max_download_bytes=max_download_bytes,
            public=public,
        )
        self.leader = Leader(store.try_lead, store.resign)
        self.leader.on_lead(self.queue_changed)  # a new leader shows the queue at once
        self.progress = Progress(
            store,
            publisher,
            in_hand=lambda: self._in_hand,
            stopping=lambda: self._stopping,
            leading=lambda: self.leader.leading,
        )
        alerts = VendorAlerts(self.health, publisher, self.metrics, streak=alert_failure_streak)
        self.endings = Endings(self.crew, self.progress)
        self.steps = Steps(
            self.crew,
            health=self.health,
            alerts=alerts,
            endings=self.endings,
            progress=self.progress,
            delivery=Delivery(self.crew, alerts, self.endings),
        )

    @property
    def task_id_write_retries(self) -> tuple[float, ...]:
        """Waits between tries to store a task id the database refused (tests shorten it)."""
        return self.crew.task_id_write_retries

    @task_id_write_retries.setter
    def task_id_write_retries(self, delays: tuple[float, ...]) -> None:
        self.crew.task_id_write_retries = delays

    # -- lifecycle -------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    def queue_changed(self) -> None:
        """A job joined or left the queue from outside (a new job, a cancel): the waiting
        jobs' messages may need their new place. Only then is the queue read again."""
        self._queue_dirty = True
        self._wake.set()

    def _news(self, what: str) -> None:
        """Another process changed the queue: a callback only makes a job due; anything
        else (a new job, a cancel, news perhaps missed) may move the waiting jobs' places."""
        if what == POKED:
            self.wake()
        else:
            self.queue_changed()

    def alive(self, *, max_silence: float) -> bool:
        """The loop runs and went round recently (it wakes at least every idle_wait)."""
        task = self._loop_task
        return (
            task is not None
            and not task.done()
            and self.clock() - self.last_tick <= max(max_silence, 2 * self.idle_wait)
        )

    async def start(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._stopping = False
        await self.crew.schedules.load()
        self.store.watch_give_backs(
            self.owner, GiveBackWatch(queued=self._give_back_queued, done=self._give_back_done)
        )
        # Other processes' new jobs, cancels and callbacks (PostgreSQL; SQLite polls).
        await self.store.listen(self._news)
        await self.leader.start()
        self._loop_task = asyncio.create_task(self._run(), name="veo-job-loop")
        self._tell_task = asyncio.create_task(self._tell_untold(), name="veo-tell-untold")

    async def _tell_untold(self) -> None:
        """Show members the end of jobs whose end was never shown (the bot died between
        ending a job and saying so). Only jobs that ended a few seconds ago or more:
        whoever ended a job tells its member at once."""
        while not self._stopping:
            try:
                # Only the leader looks (each end is told once anyway: `claim_tell`).
                leading = self.leader.leading
                ended_before = self.clock() - UNTOLD_GRACE
                for job in await self.store.untold(ended_before=ended_before) if leading else []:
                    log.info("job %d: telling the member how it ended (missed before)", job.id)
                    await self.progress.notify(job)
            except Exception:
                log.exception("could not tell members about jobs that ended unseen")
            await asyncio.sleep(UNTOLD_GRACE)

    async def stop(self, grace: float = 10.0) -> None:
        """Stop taking work, give jobs in hand `grace` seconds, then cancel them.

        A cancelled job keeps its persisted state; its lease is released so the next
        start picks it up at once (a job cut off mid-submit is sent again only if it
        provably never left; otherwise it is resolved as interrupted).
        """
        self._stopping = True
        self.wake()
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        tasks = list(self._in_hand.values())
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        self._in_hand.clear()
        self._giving_back.clear()
        self._given_back.clear()
        if self._tell_task is not None:
            self._tell_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._tell_task
            self._tell_task = None
        await self.leader.stop()
        await self.progress.close()
        await self.publisher.close()
        await self.store.release_all(self.owner)
        self.store.watch_give_backs(self.owner, None)

    async def _run(self) -> None:
        last_renew = 0.0
        while not self._stopping:
            # Clear before reading the database: a wake-up that arrives while we read
            # must survive into the wait below, or a freed job could sleep a whole idle_wait.
            self._wake.clear()
            self.last_tick = self.clock()
            try:
                # A place is free now, or will be once a queued give-back runs (the claim
                # runs after it in the same batch, and counts the places then).
                if self._room() > 0 or self._giving_back - self._given_back:
                    jobs = await self.store.claim_due(
                        self.owner,
                        lease_seconds=self.lease_seconds,
                        limit=self._room,
                        exclude=self._in_hand,
                    )
                    for job in jobs:
                        self._spawn(job)
                # Jobs joined or left the queue from outside (a new job, a cancel): show
                # the ones still waiting their place. (A submit refreshes by itself.)
                if self._queue_dirty:
                    self._queue_dirty = False
                    self.progress.refresh_queue()
                now = self.clock()
                if self._in_hand and now - last_renew > self.lease_seconds / 4:
                    await self.store.renew_leases(self.owner, self._in_hand, self.lease_seconds)
                    last_renew = now
                next_at = await self.store.next_wakeup(exclude=self._in_hand)
            except Exception:
                log.exception("job loop: database error; retrying shortly")
                next_at = self.clock() + 2.0
            timeout = self.idle_wait if next_at is None else next_at - self.clock()
            if self._in_hand:
                timeout = min(timeout, self.lease_seconds / 4)
            timeout = max(self.batch_window, min(timeout, self.idle_wait))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    def _room(self) -> int:
        """Jobs the loop may take on now: a job whose give-back has run is no longer
        worked on, though its task may not have ended yet."""
        return self.max_concurrency - len(self._in_hand) + len(self._given_back)

    def _give_back_queued(self, job_id: int) -> None:
        if job_id in self._in_hand:
            self._giving_back.add(job_id)
            self._wake.set()  # so a claim joins the give-back's batch

    def _give_back_done(self, job_id: int) -> None:
        if job_id in self._in_hand:
            self._given_back.add(job_id)

    def _spawn(self, job: Job) -> None:
        task = asyncio.create_task(self._work(job), name=f"veo-job-{job.id}")
        self._in_hand[job.id] = task

        def done(_: asyncio.Task[None], job_id: int = job.id) -> None:
            self._in_hand.pop(job_id, None)
            self._giving_back.discard(job_id)
            self._given_back.discard(job_id)
            self.wake()

        task.add_done_callback(done)

    async def _work(self, job: Job) -> None:
        try:
            await self.steps.step(job)
        except LeaseLost:
            log.info("job %d: lease lost; another worker has it", job.id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("job %d: unexpected error in state %s", job.id, job.status)
            await self._unexpected(job)

    async def _unexpected(self, job: Job) -> None:
        with contextlib.suppress(LeaseLost):
            current = await self.store.get(job.id)
            if current is None or not current.is_active or current.lease_owner != self.owner:
                return
            attempts = current.attempts + 1
            if attempts >= MAX_UNEXPECTED_ERRORS or current.status is JobStatus.SUBMITTING:
                await self.endings.fail(current, Failure(ErrorCode.INTERNAL_ERROR))
            else:
                await self.store.release(
                    current,
                    self.owner,
                    next_poll_at=self.clock() + backoff(attempts, 2.0),
                    attempts=attempts,
                )
