"""The job manager: drives every job from queued to delivered, from the database.

Memory holds only a wake-up event and the set of jobs in hand; the rows are the
truth. Each transition is persisted before it is acted on, so a restart resumes
every active job (STYLE 3, 5). Jobs are taken with a lease so two managers on one
file never work the same job.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import random
import secrets
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, assert_never

from bot.jobs.health import VendorHealth
from bot.jobs.pacing import Pacer
from bot.jobs.publishing import DeliveryFailed, Publisher
from bot.jobs.requests import GenerationRequest
from bot.logs import set_job_context
from bot.metrics import Metrics
from bot.providers import Provider, ProviderRegistry
from bot.providers.base import (
    InputImage,
    ProviderAuthError,
    ProviderError,
    ProviderTimeout,
    ResultNotDownloaded,
    ResultNotReady,
    ResultTooLarge,
    TaskState,
    TaskStatus,
    Timing,
)
from storage import Billing, CancelReason, Job, JobStatus, JobStore
from storage.jobs import LeaseLost

log = logging.getLogger(__name__)

MAX_SUBMIT_ATTEMPTS = 5
MAX_FETCH_ATTEMPTS = 8
MAX_DELIVERY_ATTEMPTS = 6
MAX_UNEXPECTED_ERRORS = 5
FETCH_RETRY_DELAY = 4.0  # apiyi: "/content returns 400 right after completed; retry after 4 s"
BACKOFF_CAP = 60.0
RETRY_AFTER_CAP = 3600.0  # a vendor asking for longer is waited out an hour at a time

MSG_UNCERTAIN = (
    "The video service did not confirm that it accepted the job, so I stopped it rather "
    "than risk making (and charging) it twice. Your quota was refunded; please try again."
)
MSG_INTERRUPTED = (
    "The bot restarted while sending this job, and cannot tell whether the video service "
    "received it. It was stopped and your quota was refunded; please try again."
)
MSG_DEADLINE = (
    "The video service did not finish in time, so I stopped waiting. "
    "Your quota was refunded; please try again later."
)
MSG_INTERNAL = "Something went wrong inside the bot. Your quota was refunded; please try again."
MSG_FAILED = "The video service could not make this video. Your quota was refunded."
MSG_TASK_LOST = (
    "The video service accepted this job, but the bot could not record it, so it cannot "
    "follow it to the end. Your quota was refunded; please try again."
)
MSG_VENDOR_GONE = (
    "The video service has not been answering for a while, so this job was stopped before "
    "it was sent. Your quota was refunded; please try again later."
)
# Waits before each new try to store a vendor's task id, when the database refuses the
# write (locked, full): about half a minute in all, then the job ends "uncertain".
TASK_ID_WRITE_RETRIES = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0)
OUTAGE_QUEUE_LIMIT = 1800.0  # a queued job waits this long for a vendor that is down
UNTOLD_GRACE = 5.0  # a job that ended this long ago and was never shown is shown now
FULL_VENDOR_RECHECK = 1.0  # and re-checks a vendor at its task limit this often
MSG_VENDOR_DOWN = (
    "⚠️ **{provider}** seems to be down: {count} requests in a row failed (last: {last}). "
    "Jobs are waiting and will continue when it recovers; nothing is charged for jobs that fail."
)
MSG_VENDOR_BACK = (
    "✅ **{provider}** is back: a request succeeded after {count} failed in a row. "
    "Waiting jobs continue."
)
# Retryable errors that neither count towards nor end an outage: a 429 means we asked too
# often, and apiyi's early 400 on /content is its documented normal.
NOT_AN_OUTAGE = frozenset({"rate_limited", "not_ready"})


class PublicAddress(Protocol):
    """The bot's web server as vendors see it: image URLs and callback addresses."""

    ttl: float

    def url_for(self, token: str, filename: str) -> str: ...

    def callback_url(self, provider: str, token: str) -> str: ...


def backoff(attempt: int, base: float, *, retry_after: float | None = None) -> float:
    """Capped exponential backoff with jitter; the server's Retry-After wins when longer."""
    delay = min(BACKOFF_CAP, base * (2 ** max(0, attempt - 1)) * random.uniform(0.75, 1.25))
    if retry_after is not None:
        delay = max(delay, min(retry_after, RETRY_AFTER_CAP))
    return float(delay)


def next_poll_delay(interval: float, eta: float | None) -> float:
    """Poll at the schedule's interval, but skip polls that a vendor's own estimate of the
    time left says are pointless: wake one interval before the estimate, and at most
    twelve intervals ahead (a minute at the default 5 s), since estimates can be wrong."""
    if eta is None or eta <= 2 * interval:
        return interval
    return min(eta - interval, 12 * interval)


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
        public: PublicAddress | None = None,
        alert_failure_streak: int = 5,
        health: VendorHealth | None = None,
        pacer: Pacer | None = None,
        metrics: Metrics | None = None,
        batch_window: float = 0.01,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.providers = providers
        self.publisher = publisher
        self.work_dir = work_dir
        self.max_download_bytes = max_download_bytes
        self.max_concurrency = max_concurrency
        self.lease_seconds = lease_seconds
        self.idle_wait = idle_wait
        self.timing_overrides = timing_overrides or {}
        self.public = public
        self.clock = clock
        self.owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._wake = asyncio.Event()
        self._in_hand: dict[int, asyncio.Task[None]] = {}
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False
        # Vendor health: consecutive retryable failures per provider (any success resets),
        # and, while one is down, a job per server whose admins were told, to tell them
        # when it is back.
        self.alert_failure_streak = alert_failure_streak
        self.health = health or VendorHealth(streak=alert_failure_streak, cooldown=120.0)
        self.pacer = pacer or Pacer({})
        self.metrics = metrics or Metrics()
        # The loop sleeps at least this long between passes (unless woken), so jobs due
        # close together are claimed in one transaction instead of one pass each.
        self.batch_window = batch_window
        self.last_tick = 0.0  # when the job loop last went round (for /healthz)
        self.task_id_write_retries = TASK_ID_WRITE_RETRIES
        self._told_down: dict[str, dict[int, Job]] = {}
        # The queue position each waiting job's message shows (job id → position).
        self._shown_position: dict[int, int] = {}
        self._refresh_task: asyncio.Task[None] | None = None
        self._queue_dirty = True  # the first pass shows every waiting job its place
        self._tell_task: asyncio.Task[None] | None = None
        self._refresh_again = False

    # -- lifecycle -------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    def queue_changed(self) -> None:
        """A job joined or left the queue from outside (a new job, a cancel): the waiting
        jobs' messages may need their new place. Only then is the queue read again."""
        self._queue_dirty = True
        self._wake.set()

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
        self._loop_task = asyncio.create_task(self._run(), name="veo-job-loop")
        self._tell_task = asyncio.create_task(self._tell_untold(), name="veo-tell-untold")

    async def _tell_untold(self) -> None:
        """Show members the end of jobs whose end was never shown (the bot died between
        ending a job and saying so). Only jobs that ended a few seconds ago or more:
        whoever ended a job tells its member at once."""
        while not self._stopping:
            try:
                for job in await self.store.untold(ended_before=self.clock() - UNTOLD_GRACE):
                    log.info("job %d: telling the member how it ended (missed before)", job.id)
                    await self._notify(job)
            except Exception:
                log.exception("could not tell members about jobs that ended unseen")
            await asyncio.sleep(UNTOLD_GRACE)

    async def stop(self, grace: float = 10.0) -> None:
        """Stop taking work, give jobs in hand `grace` seconds, then cancel them.

        A cancelled job keeps its persisted state; its lease is released so the next
        start picks it up at once (a job cut off mid-submit stays `submitting` and is
        resolved as interrupted, never resubmitted).
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
        for job_id in list(self._in_hand):
            self._in_hand.pop(job_id, None)
        if self._tell_task is not None:
            self._tell_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._tell_task
            self._tell_task = None
        if self._refresh_task is not None:
            self._refresh_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresh_task
            self._refresh_task = None
        await self.publisher.close()
        await self.store.release_all(self.owner)

    async def _run(self) -> None:
        last_renew = 0.0
        while not self._stopping:
            # Clear before reading the database: a wake-up that arrives while we read
            # must survive into the wait below, or a freed job could sleep a whole idle_wait.
            self._wake.clear()
            self.last_tick = self.clock()
            try:
                free = self.max_concurrency - len(self._in_hand)
                if free > 0:
                    jobs = await self.store.claim_due(
                        self.owner,
                        lease_seconds=self.lease_seconds,
                        limit=free,
                        exclude=self._in_hand,
                    )
                    for job in jobs:
                        self._spawn(job)
                # Jobs joined or left the queue from outside (a new job, a cancel): show
                # the ones still waiting their place. (A submit refreshes by itself.)
                if self._queue_dirty:
                    self._queue_dirty = False
                    self._refresh_queue()
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

    def _spawn(self, job: Job) -> None:
        task = asyncio.create_task(self._work(job), name=f"veo-job-{job.id}")
        self._in_hand[job.id] = task

        def done(_: asyncio.Task[None], job_id: int = job.id) -> None:
            self._in_hand.pop(job_id, None)
            self.wake()

        task.add_done_callback(done)

    async def _work(self, job: Job) -> None:
        try:
            await self._step(job)
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
                await self._fail(current, "internal_error", MSG_INTERNAL)
            else:
                await self.store.release(
                    current,
                    self.owner,
                    next_poll_at=self.clock() + backoff(attempts, 2.0),
                    attempts=attempts,
                )

    # -- one step of a job ---------------------------------------------------------

    async def _step(self, job: Job) -> None:
        set_job_context(job.id, job.provider, job.status.value)  # for every line logged here
        status = job.status
        # A cancelled job that the vendor may be rendering (submitting, running) goes on
        # quietly until we know whether it was billed; the rest end here.
        settle_now = (JobStatus.QUEUED, JobStatus.DOWNLOADING, JobStatus.DELIVERING)
        if job.cancel_requested_at is not None and status in settle_now:
            await self._settle_cancel(job)
        elif status is JobStatus.QUEUED:
            await self._submit(job)
        elif status is JobStatus.SUBMITTING:
            await self._resume_submitting(job)
        elif status is JobStatus.RUNNING:
            await self._poll(job)
        elif status is JobStatus.DOWNLOADING:
            await self._download(job)
        elif status is JobStatus.DELIVERING:
            await self._deliver(job)
        elif status in (JobStatus.DELIVERED, JobStatus.FAILED, JobStatus.CANCELLED):
            return
        else:
            assert_never(status)

    async def _settle_cancel(self, job: Job, *, billing: Billing | None = None) -> None:
        """End a cancelled job. The member is refunded unless the vendor finished the
        render (then it billed, and the charge stays); a job stopped because the bot left
        its server is always refunded, since nobody can receive it. `billing` is what the
        vendor said; without news it follows from the job's record."""
        if billing is None:
            billing = job.probable_billing
        refund = billing is not Billing.BILLED or job.cancel_reason is CancelReason.BOT_REMOVED
        job = await self.store.finish(
            job, self.owner, JobStatus.CANCELLED, refund=refund, billing=billing
        )
        self.metrics.jobs_finished.labels(job.provider, job.status.value).inc()
        self._remove_file(job)
        log.info(
            "job %d: cancelled (%s; vendor: %s)",
            job.id,
            "refunded" if refund else "charged: the vendor billed",
            billing.value,
        )
        await self._notify(job)

    def _timing(self, job: Job) -> Timing:
        """The model's documented schedule, with any operator (or test) overrides."""
        spec = self.providers.model(job.provider, job.model)
        timing = (
            Timing(initial_wait=30, poll_interval=5, deadline=1800)
            if spec is None
            else spec.timing_for(job.request.get("resolution"))
        )
        override = self.timing_overrides.get(job.provider)
        return dataclasses.replace(timing, **override) if override else timing

    async def _submit(self, job: Job) -> None:
        if job.provider not in self.providers:
            await self._fail(
                job,
                "provider_disabled",
                "This job's video service is no longer enabled here. Your quota was refunded.",
            )
            return
        provider = self.providers.get(job.provider)
        if await self._hold_back(job):
            return
        request = GenerationRequest.model_validate_json(job.request_json)
        images = await self._images_for(job, provider)
        submit = request.to_submit(images)
        spec = provider.models.get(job.model)
        token = None
        if self.public is not None and spec is not None and spec.callbacks:
            token = secrets.token_urlsafe(24)
            submit = dataclasses.replace(
                submit, callback_url=self.public.callback_url(job.provider, token)
            )
        # Persist the intent first: a crash from here on must never lead to a second submit.
        job = await self.store.update(
            job, self.owner, status=JobStatus.SUBMITTING, callback_token=token, sent_at=None
        )
        self._refresh_queue()  # the jobs behind this one move up
        await self.pacer.wait(job.provider)
        # Send or not is decided with the cancel flag in one transaction, right before the
        # request: a cancel that arrived while the job waited its turn stops it here.
        job = await self.store.mark_sent(job, self.owner)
        if job.cancel_requested_at is not None:
            log.info("job %d: cancelled before it was sent", job.id)
            await self._settle_cancel(job)
            return
        try:
            with self.metrics.timed(job.provider, "submit"):
                task_id = await provider.submit(submit)
        except ProviderTimeout as exc:
            await self._vendor_failed(job, exc)
            log.warning(
                "job %d: submit to %s uncertain (%s); failing and refunding. If the vendor did "
                "accept it, it may bill a video nobody receives.",
                job.id,
                job.provider,
                exc.detail or exc,
            )
            await self._fail(job, "uncertain", MSG_UNCERTAIN)
            return
        except ProviderError as exc:
            await self._vendor_failed(job, exc)
            await self._submit_error(job, exc)
            return
        except Exception:
            log.exception("job %d: submit raised unexpectedly; treating as uncertain", job.id)
            await self._fail(job, "uncertain", MSG_UNCERTAIN)
            return
        # The task id is stored before anything slow (an alert, an edit) may run: the
        # vendor bills the task whatever happens to this process next.
        now = self.clock()
        timing = self._timing(job)
        stored = await self._store_task_id(job, task_id, now, timing.deadline)
        if stored is None:
            return
        job = stored
        log.info("job %d: submitted to %s as %s", job.id, job.provider, task_id)
        await self._vendor_ok(job)
        await self._notify(job)
        await self.store.release(job, self.owner, next_poll_at=now + timing.initial_wait)

    async def _store_task_id(
        self, job: Job, task_id: str, now: float, deadline: float
    ) -> Job | None:
        """Store the vendor's task id, trying again while the database refuses the write;
        if it never takes it, end the job "uncertain": the member is refunded, the spend
        counts (the vendor may render and bill), and the log keeps the task id."""
        delays = self.task_id_write_retries
        for attempt in range(len(delays) + 1):
            try:
                return await self.store.update(
                    job,
                    self.owner,
                    status=JobStatus.RUNNING,
                    task_id=task_id,
                    submitted_at=now,
                    deadline_at=now + deadline,
                    attempts=0,
                    stage="submitted",
                )
            except LeaseLost:
                raise
            except Exception as exc:
                if attempt == len(delays):
                    log.error(
                        "job %d: %s accepted it as task %s, but the database refused to store "
                        "that (%s); ending it as uncertain. The vendor may bill a video nobody "
                        "receives.",
                        job.id,
                        job.provider,
                        task_id,
                        exc,
                    )
                    break
                log.warning(
                    "job %d: could not store task id %s (%s); trying again in %.2fs",
                    job.id,
                    task_id,
                    exc,
                    delays[attempt],
                )
                await asyncio.sleep(delays[attempt])
        await self._fail(job, "uncertain", MSG_TASK_LOST)
        return None

    async def _hold_back(self, job: Job) -> bool:
        """Keep a queued job waiting while its vendor is down or at its task limit, rather
        than spend submit attempts on it; a job that waits too long for a dead vendor is
        failed and refunded instead of hanging."""
        now = self.clock()
        if not self.health.is_healthy(job.provider):
            if now - job.created_at > OUTAGE_QUEUE_LIMIT:
                await self._fail(job, "vendor_down", MSG_VENDOR_GONE)
                return True
            delay = max(1.0, self.health.retry_in(job.provider))
            stage = "waiting for the video service to recover"
        elif await self.store.in_flight(job.provider) >= self.pacer.max_tasks(job.provider):
            delay = FULL_VENDOR_RECHECK
            stage = "waiting for a free slot at the video service"
        else:
            return False
        if job.stage != stage:
            log.info("job %d: held back (%s)", job.id, stage)
        job = await self.store.release(job, self.owner, next_poll_at=now + delay, stage=stage)
        return True

    async def _images_for(self, job: Job, provider: Provider) -> list[InputImage]:
        """The job's images as the vendor needs them: vendors that fetch URLs get the
        bot's own expiring URLs when it has a public address, else the signed Discord
        URLs captured with the command (valid about a day; the job is submitted at once)."""
        stored = await self.store.images(job.id)
        spec = provider.models.get(job.model)
        if not stored or spec is None or spec.image_transport != "url":
            return [InputImage(i.data, i.mime, i.filename) for i in stored]
        urls = [i.source_url for i in stored]
        if self.public is not None:
            tokens = [secrets.token_urlsafe(24) for _ in stored]
            await self.store.publish_images(job.id, tokens, self.clock() + self.public.ttl)
            urls = [self.public.url_for(t, i.filename) for t, i in zip(tokens, stored, strict=True)]
        return [
            InputImage(i.data, i.mime, i.filename, url) for i, url in zip(stored, urls, strict=True)
        ]

    async def _submit_error(self, job: Job, exc: ProviderError) -> None:
        if isinstance(exc, ProviderAuthError):
            log.error(
                "job %d: %s refused the API key or account: %s",
                job.id,
                job.provider,
                exc.detail or exc,
            )
            await self._alert(job, exc)
        if exc.retryable and job.attempts + 1 < MAX_SUBMIT_ATTEMPTS:
            attempts = job.attempts + 1
            delay = backoff(attempts, 2.0, retry_after=exc.retry_after)
            log.info("job %d: submit refused for now (%s); retry in %.1fs", job.id, exc.code, delay)
            # The vendor answered "not now": nothing of this attempt is at the vendor.
            await self.store.release(
                job,
                self.owner,
                next_poll_at=self.clock() + delay,
                status=JobStatus.QUEUED,
                attempts=attempts,
                stage="waiting for the video service",
                sent_at=None,
            )
            return
        log.info("job %d: submit rejected: %s (%s)", job.id, exc.code, exc.detail or exc)
        await self._fail(job, exc.code, exc.member_message, billing=Billing.NOT_BILLED)

    async def _resume_submitting(self, job: Job) -> None:
        if job.task_id:
            now = self.clock()
            job = await self.store.update(
                job, self.owner, status=JobStatus.RUNNING, stage="submitted"
            )
            await self.store.release(job, self.owner, next_poll_at=now)
            return
        if job.sent_at is None:
            # Stopped before the request was let go: the vendor cannot have it. Queue it
            # again, to be sent as if nothing had happened.
            log.info("job %d: found mid-submit, never sent; queueing it again", job.id)
            await self.store.release(
                job, self.owner, next_poll_at=self.clock(), status=JobStatus.QUEUED
            )
            return
        log.warning(
            "job %d: found mid-submit after a restart; the vendor may or may not have it. "
            "Failing and refunding rather than submitting twice.",
            job.id,
        )
        await self._fail(job, "interrupted", MSG_INTERRUPTED)

    async def _poll(self, job: Job) -> None:
        set_job_context(job.id, job.provider, job.status.value)
        provider = self.providers.get(job.provider) if job.provider in self.providers else None
        now = self.clock()
        if provider is None or job.task_id is None:
            await self._fail(job, "provider_disabled", MSG_INTERNAL)
            return
        cancelled = job.cancel_requested_at is not None
        if job.deadline_at is not None and now > job.deadline_at:
            log.warning("job %d: %s task %s passed its deadline", job.id, job.provider, job.task_id)
            if cancelled:
                await self._settle_cancel(job)  # sent, never finished: possibly billed
            else:
                await self._fail(job, "deadline", MSG_DEADLINE)
            return
        timing = self._timing(job)
        try:
            await self.pacer.wait(job.provider)
            with self.metrics.timed(job.provider, "status"):
                status = await provider.status(job.task_id, job.model)
        except ProviderError as exc:
            await self._vendor_failed(job, exc)
            if not exc.retryable:
                log.warning("job %d: status check failed for good: %s", job.id, exc.detail or exc)
                if isinstance(exc, ProviderAuthError):
                    await self._alert(job, exc)
                await self._fail(job, exc.code, exc.member_message)
                return
            attempts = job.attempts + 1
            delay = backoff(attempts, timing.poll_interval, retry_after=exc.retry_after)
            log.info("job %d: status check failed (%s); retry in %.1fs", job.id, exc.code, delay)
            await self.store.release(job, self.owner, next_poll_at=now + delay, attempts=attempts)
            return
        await self._vendor_ok(job)
        if cancelled and status.state in (TaskState.SUCCEEDED, TaskState.FAILED):
            # Followed quietly only to learn whether the vendor billed.
            billed = status.state is TaskState.SUCCEEDED
            await self._settle_cancel(job, billing=Billing.BILLED if billed else Billing.NOT_BILLED)
        elif status.state in (TaskState.PENDING, TaskState.RUNNING):
            changed = not cancelled and (status.progress, status.stage) != (job.progress, job.stage)
            job = await self.store.release(
                job,
                self.owner,
                next_poll_at=now + next_poll_delay(timing.poll_interval, status.eta_seconds),
                progress=status.progress,
                stage=status.stage,
                attempts=0,
            )
            if changed:
                await self._notify(job)
        elif status.state is TaskState.FAILED:
            log.info(
                "job %d: vendor reports failure %s: %s",
                job.id,
                status.error_code,
                status.error_message,
            )
            await self._fail(
                job,
                status.error_code or "vendor_failed",
                status.error_message or MSG_FAILED,
                billing=Billing.NOT_BILLED,  # the vendors bill finished renders only
            )
        elif status.state is TaskState.SUCCEEDED:
            job = await self.store.update(
                job,
                self.owner,
                status=JobStatus.DOWNLOADING,
                completed_at=now,
                progress=100,
                stage="downloading",
                result_url=status.result_url,
                result_url_expires_at=status.url_expires_at,
                attempts=0,
            )
            await self._notify(job)
            await self._download(job)
        else:
            assert_never(status.state)

    async def _download(self, job: Job) -> None:
        set_job_context(job.id, job.provider, job.status.value)
        provider = self.providers.get(job.provider)
        assert job.task_id is not None
        dest = self.work_dir / f"job-{job.id}.mp4"
        done = TaskStatus(
            TaskState.SUCCEEDED, result_url=job.result_url, url_expires_at=job.result_url_expires_at
        )
        try:
            await self.pacer.wait(job.provider)
            with self.metrics.timed(job.provider, "download"):
                fetched = await provider.fetch(
                    job.task_id, job.model, done, dest, self.max_download_bytes
                )
        except ResultNotDownloaded as exc:
            # Too large, or sent too slowly: it answered, with a video we will not fetch.
            await self._vendor_ok(job)
            url = exc.url or job.result_url
            if url is None:
                log.warning(
                    "job %d: video not downloaded (%s) and %s gives no link; refunding",
                    job.id,
                    exc.detail or exc.code,
                    job.provider,
                )
                message = (
                    "The video is larger than this bot may download, and the video service gives no link to it. Your quota was refunded."
                    if isinstance(exc, ResultTooLarge)
                    else exc.member_message + " Your quota was refunded."
                )
                await self._fail(job, exc.code, message)
                return
            job = await self.store.update(
                job,
                self.owner,
                status=JobStatus.DELIVERING,
                result_url=url,
                result_url_expires_at=exc.url_expires_at or job.result_url_expires_at,
                error_code=exc.code,  # why a link and not the file (the post says so)
                attempts=0,
            )
            await self._deliver(job)
            return
        except ProviderError as exc:
            await self._vendor_failed(job, exc)
            attempts = job.attempts + 1
            if not exc.retryable or attempts >= MAX_FETCH_ATTEMPTS:
                log.warning("job %d: download failed: %s", job.id, exc.detail or exc)
                await self._fail(job, exc.code, exc.member_message + " Your quota was refunded.")
                return
            if isinstance(exc, ResultNotReady):
                # A fixed short wait (apiyi: ~4 s), never longer than two poll intervals
                # of the job's schedule, rather than a growing backoff.
                poll = self._timing(job).poll_interval
                delay = min(exc.retry_after or FETCH_RETRY_DELAY, 2 * poll)
            else:
                delay = backoff(attempts, FETCH_RETRY_DELAY, retry_after=exc.retry_after)
            await self.store.release(
                job, self.owner, next_poll_at=self.clock() + delay, attempts=attempts
            )
            return
        await self._vendor_ok(job)
        job = await self.store.update(
            job,
            self.owner,
            status=JobStatus.DELIVERING,
            result_path=str(fetched.path) if fetched.path else None,
            result_size=fetched.size,
            result_url=fetched.url or job.result_url,
            result_url_expires_at=fetched.url_expires_at or job.result_url_expires_at,
            stage="uploading",
            attempts=0,
        )
        await self._deliver(job)

    async def _deliver(self, job: Job) -> None:
        set_job_context(job.id, job.provider, job.status.value)
        if job.delivered_message_id is not None:
            await self._finish_delivered(job, job.delivered_message_id)
            return
        resumed = job.delivery_started_at is not None
        # Record the intent before posting, so a restart knows to look before posting again;
        # a cancel recorded before this point stops the post.
        job = await self.store.begin_delivery(job, self.owner)
        if job.cancel_requested_at is not None:
            await self._settle_cancel(job)
            return
        try:
            message_id = await self.publisher.deliver(job, resumed=resumed)
        except DeliveryFailed as exc:
            attempts = job.attempts + 1
            if exc.retryable and attempts < MAX_DELIVERY_ATTEMPTS:
                delay = backoff(attempts, 2.0)
                log.info("job %d: delivery failed (%s); retry in %.1fs", job.id, exc.code, delay)
                await self.store.release(
                    job, self.owner, next_poll_at=self.clock() + delay, attempts=attempts
                )
                return
            log.warning("job %d: delivery impossible: %s", job.id, exc.code)
            if exc.code == "too_large":
                log.warning(
                    "job %d: the video is over the channel's upload limit and %s gives no link. "
                    "Raise the server's upload limit (boosts) or use a vendor that returns URLs.",
                    job.id,
                    job.provider,
                )
            await self._fail(job, exc.code, exc.member_message)
            return
        await self._finish_delivered(job, message_id)

    async def _finish_delivered(self, job: Job, message_id: int) -> None:
        job = await self.store.finish(
            job,
            self.owner,
            JobStatus.DELIVERED,
            refund=False,
            delivered_message_id=message_id,
            stage=None,
        )
        set_job_context(job.id, job.provider, job.status.value)
        log.info("job %d: delivered as message %d", job.id, message_id)
        self.metrics.jobs_finished.labels(job.provider, job.status.value).inc()
        if job.completed_at is not None and job.finished_at is not None:
            lag = job.finished_at - job.completed_at
            self.metrics.delivery_lag.labels(job.provider).observe(lag)
        self._remove_file(job)
        await self._notify(job)

    async def _fail(
        self, job: Job, code: str, message: str, *, billing: Billing | None = None
    ) -> None:
        """End the job failed and refund the member; `billing` (default: what the job's
        record says) is what the operator's spend caps keep counting."""
        job = await self.store.finish(
            job,
            self.owner,
            JobStatus.FAILED,
            refund=True,
            billing=billing,
            error_code=code,
            error_message=message,
        )
        set_job_context(job.id, job.provider, job.status.value)
        self.metrics.jobs_finished.labels(job.provider, job.status.value).inc()
        self._remove_file(job)
        await self._notify(job)

    def _remove_file(self, job: Job) -> None:
        if job.result_path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(job.result_path)

    async def _alert(self, job: Job, exc: ProviderAuthError) -> None:
        text = (
            f"⚠️ **{job.provider}** refused this bot's account ({exc.code}): "
            f"{exc.member_message} Job #{job.id} was refunded. The operator should check "
            f"the {job.provider.upper()}_API_KEY and the account's credit."
        )
        try:
            await self.publisher.operator_alert(job, text)
        except Exception:
            log.exception("job %d: could not alert the admins", job.id)

    # -- vendor health -------------------------------------------------------------

    async def _vendor_failed(self, job: Job, exc: ProviderError) -> None:
        """Count a call that failed in a way that may mean the vendor is down; from the
        streak on, tell the job's server (the publisher allows one alert an hour)."""
        self.metrics.vendor_errors.labels(job.provider, exc.code).inc()
        if exc.code in NOT_AN_OUTAGE:
            return  # neither proof that it is down nor that it works
        if not exc.retryable:
            # It answered: a refusal or a bad request says the vendor is up.
            await self._vendor_ok(job)
            return
        count = self.health.failed(job.provider)
        if count < self.alert_failure_streak:
            return
        if count == self.alert_failure_streak:
            log.warning(
                "%s seems to be down: %d requests in a row failed (last: %s)",
                job.provider,
                count,
                exc.detail or exc.code,
            )
        # The member-safe sentence only: a detail may quote a URL or the vendor's body.
        last = exc.member_message.strip().rstrip(".")[:300]
        text = MSG_VENDOR_DOWN.format(provider=job.provider, count=count, last=last)
        try:
            posted = await self.publisher.operator_alert(job, text, kind="down")
        except Exception:
            log.exception("job %d: could not alert the admins", job.id)
            return
        if posted and job.guild_id is not None:
            self._told_down.setdefault(job.provider, {})[job.guild_id] = job

    async def _vendor_ok(self, job: Job) -> None:
        """A call answered: the streak ends, and servers told of an outage hear it is over."""
        count = self.health.ok(job.provider)
        told = self._told_down.pop(job.provider, {})
        if count >= self.alert_failure_streak:
            log.warning("%s is back after %d failed requests in a row", job.provider, count)
        for other in told.values():
            text = MSG_VENDOR_BACK.format(provider=job.provider, count=count)
            try:
                await self.publisher.operator_alert(other, text, kind="recovered")
            except Exception:
                log.exception("job %d: could not tell the admins %s is back", job.id, job.provider)

    # -- what members see ----------------------------------------------------------

    def _refresh_queue(self) -> None:
        """Show waiting jobs their place, in the background (edits must never hold up the
        loop or a submit); requests made while one runs are folded into one more pass."""
        if self._stopping:
            return
        if self._refresh_task is not None and not self._refresh_task.done():
            self._refresh_again = True
            return
        self._refresh_task = asyncio.create_task(self._refresh_positions(), name="veo-queue")

    async def _refresh_positions(self) -> None:
        while True:
            self._refresh_again = False
            try:
                await self._show_positions()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("could not show the queue's positions")
            if not self._refresh_again or self._stopping:
                return

    async def _show_positions(self) -> None:
        """Edit the message of each waiting job whose place changed (and only those), and
        end the message of one that left the queue without us (cancelled while waiting)."""
        rows = await self.store.queued_messages()
        positions = {job_id: n for n, (job_id, _) in enumerate(rows, 1)}
        left = [i for i in self._shown_position if i not in positions]
        for job_id in left:
            del self._shown_position[job_id]
            if job_id in self._in_hand:
                continue  # its own task shows what became of it
            job = await self.store.get(job_id)
            if job is not None and not job.is_active:
                await self._notify(job)
        for job_id, message_id in rows:
            position = positions[job_id]
            if message_id is None or job_id in self._in_hand:
                continue  # no message yet, or being worked on: its task will show it
            if self._shown_position.get(job_id) == position:
                continue
            job = await self.store.get(job_id)  # a fresh row: the message shows it all
            if job is None or job.status is not JobStatus.QUEUED or job_id in self._in_hand:
                continue
            self._shown_position[job_id] = position
            await self._notify(job, position)

    async def _notify(self, job: Job, position: int | None = None) -> None:
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
