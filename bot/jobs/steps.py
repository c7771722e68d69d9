"""One handler per job state: what the job manager does with a job it holds.

- queued → submitting → running: the request is sent once (`submit`), its task id
  stored before anything else, then the vendor is polled on the job's schedule (`poll`);
- a job found `submitting` after a restart is resolved (`resume_submitting`);
- downloading and delivering are `Delivery`'s; every end is `Endings`'.

Each transition is persisted before it is acted on, and every write is fenced by the
lease, so a restart resumes any job and two processes never work the same one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
from typing import assert_never

from bot.jobs.crew import Crew
from bot.jobs.delivery import Delivery
from bot.jobs.endings import Endings, Step
from bot.jobs.health import VendorAlerts, VendorHealth
from bot.jobs.positions import Progress
from bot.jobs.requests import stored_request
from bot.jobs.retry import (
    FULL_VENDOR_RECHECK,
    MAX_SUBMIT_ATTEMPTS,
    OUTAGE_QUEUE_LIMIT,
    backoff,
)
from bot.jobs.schedule import render_time
from bot.logs import set_job_context
from bot.providers.base import (
    InputImage,
    Provider,
    ProviderAuthError,
    ProviderError,
    ProviderTimeout,
    TaskState,
)
from bot.providers.codes import ErrorCode, Failure
from storage import Billing, Job, JobStatus
from storage.jobs import LeaseLost

log = logging.getLogger(__name__)


class Steps:
    def __init__(
        self,
        crew: Crew,
        *,
        health: VendorHealth,
        alerts: VendorAlerts,
        endings: Endings,
        progress: Progress,
        delivery: Delivery,
    ) -> None:
        self.crew = crew
        self.health = health
        self.alerts = alerts
        self.endings = endings
        self.progress = progress
        self.delivery = delivery

    async def step(self, job: Job) -> None:
        set_job_context(job.id, job.provider, job.status.value)  # for every line logged here
        status = job.status
        # A cancelled job that the vendor may be rendering (submitting, running) goes on
        # quietly until we know whether it was billed; the rest end here.
        settle_now = (JobStatus.QUEUED, JobStatus.DOWNLOADING, JobStatus.DELIVERING)
        if job.cancel_requested_at is not None and status in settle_now:
            await self.endings.settle_cancel(job)
        elif status is JobStatus.QUEUED:
            await self.submit(job)
        elif status is JobStatus.SUBMITTING:
            await self.resume_submitting(job)
        elif status is JobStatus.RUNNING:
            await self.poll(job)
        elif status is JobStatus.DOWNLOADING:
            await self.delivery.download(job)
        elif status is JobStatus.DELIVERING:
            await self.delivery.deliver(job)
        elif status in (JobStatus.DELIVERED, JobStatus.FAILED, JobStatus.CANCELLED):
            return
        else:
            assert_never(status)

    # -- queued → submitting → running ------------------------------------------------

    async def submit(self, job: Job) -> None:
        crew = self.crew
        if job.provider not in crew.providers:
            await self.endings.fail(job, Failure(ErrorCode.PROVIDER_DISABLED))
            return
        provider = crew.providers.get(job.provider)
        if await self._hold_back(job):
            return
        request = stored_request(job)
        spec = provider.models.get(job.model)
        token = None
        if crew.public is not None and spec is not None and spec.callbacks:
            token = secrets.token_urlsafe(24)
        # Persist the intent first: a crash from here on must never lead to a second submit.
        # It takes one of the vendor's task places, unless they are all taken (then the job
        # waits, its images unread: a full vendor may keep it waiting many rounds).
        started = await crew.store.start_submit(
            job,
            crew.owner,
            cap=crew.pacer.max_tasks(job.provider),
            callback_token=token,
            sent_at=None,
        )
        if started is None:
            await self._wait_for_a_place(job)
            return
        job = started
        self.progress.refresh_queue()  # the jobs behind this one move up
        submit = request.to_submit(await self._images_for(job, provider))
        if token is not None and crew.public is not None:
            submit = dataclasses.replace(
                submit, callback_url=crew.public.callback_url(job.provider, token)
            )
        await crew.pacer.wait(job.provider)
        # Send or not is decided with the cancel flag in one transaction, right before the
        # request: a cancel that arrived while the job waited its turn stops it here.
        job = await crew.store.mark_sent(job, crew.owner)
        if job.cancel_requested_at is not None:
            log.info("job %d: cancelled before it was sent", job.id)
            await self.endings.settle_cancel(job)
            return
        try:
            with crew.metrics.timed(job.provider, "submit"):
                task_id = await provider.submit(submit)
        except ProviderTimeout as exc:
            await self.alerts.failed(job, exc)
            log.warning(
                "job %d: submit to %s uncertain (%s); failing and refunding. If the vendor did "
                "accept it, it may bill a video nobody receives.",
                job.id,
                job.provider,
                exc.detail or exc,
            )
            await self.endings.fail(job, Failure(ErrorCode.UNCERTAIN))
            return
        except ProviderError as exc:
            await self.alerts.failed(job, exc)
            await self._submit_error(job, exc)
            return
        except Exception:
            log.exception("job %d: submit raised unexpectedly; treating as uncertain", job.id)
            await self.endings.fail(job, Failure(ErrorCode.UNCERTAIN))
            return
        # The task id is stored before anything slow (an alert, an edit) may run: the
        # vendor bills the task whatever happens to this process next.
        now = crew.clock()
        timing = crew.schedules.timing(job)
        stored = await self._store_task_id(job, task_id, now, timing.deadline)
        if stored is None:
            return
        job = stored
        log.info("job %d: submitted to %s as %s", job.id, job.provider, task_id)
        await self.alerts.ok(job)
        await self.progress.notify(job)
        plan = await crew.schedules.plan(job)
        await crew.store.release(job, crew.owner, next_poll_at=now + plan.next_check(0.0))

    async def _store_task_id(
        self, job: Job, task_id: str, now: float, deadline: float
    ) -> Job | None:
        """Store the vendor's task id, trying again while the database refuses the write;
        if it never takes it, end the job "uncertain": the member is refunded, the spend
        counts (the vendor may render and bill), and the log keeps the task id."""
        crew = self.crew
        delays = crew.task_id_write_retries
        for attempt in range(len(delays) + 1):
            try:
                return await crew.store.update(
                    job,
                    crew.owner,
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
        await self.endings.fail(job, Failure(ErrorCode.UNCERTAIN, {"step": Step.STORE_TASK_ID}))
        return None

    async def _hold_back(self, job: Job) -> bool:
        """Keep a queued job waiting while its vendor is down, rather than spend submit
        attempts on it; a job that waits too long for a dead vendor is failed and
        refunded instead of hanging."""
        if self.health.is_healthy(job.provider):
            return False
        if self.crew.clock() - job.created_at > OUTAGE_QUEUE_LIMIT:
            await self.endings.fail(job, Failure(ErrorCode.VENDOR_DOWN))
            return True
        delay = max(1.0, self.health.retry_in(job.provider))
        await self._wait(job, delay, "waiting for the video service to recover")
        return True

    async def _wait_for_a_place(self, job: Job) -> None:
        """The vendor has as many of our tasks as it takes at once: look again shortly."""
        await self._wait(job, FULL_VENDOR_RECHECK, "waiting for a free slot at the video service")

    async def _wait(self, job: Job, delay: float, stage: str) -> None:
        if job.stage != stage:
            log.info("job %d: held back (%s)", job.id, stage)
        crew = self.crew
        await crew.store.release(job, crew.owner, next_poll_at=crew.clock() + delay, stage=stage)

    async def _images_for(self, job: Job, provider: Provider) -> list[InputImage]:
        """The job's images as the vendor needs them: vendors that fetch URLs get the
        bot's own expiring URLs when it has a public address, else the signed Discord
        URLs captured with the command (valid about a day; the job is submitted at once)."""
        crew = self.crew
        stored = await crew.store.images(job.id)
        spec = provider.models.get(job.model)
        if not stored or spec is None or spec.image_transport != "url":
            return [InputImage(i.data, i.mime, i.filename) for i in stored]
        urls = [i.source_url for i in stored]
        if crew.public is not None:
            tokens = [secrets.token_urlsafe(24) for _ in stored]
            await crew.store.publish_images(job.id, tokens, crew.clock() + crew.public.ttl)
            urls = [crew.public.url_for(t, i.filename) for t, i in zip(tokens, stored, strict=True)]
        return [
            InputImage(i.data, i.mime, i.filename, url) for i, url in zip(stored, urls, strict=True)
        ]

    async def _submit_error(self, job: Job, exc: ProviderError) -> None:
        crew = self.crew
        if isinstance(exc, ProviderAuthError):
            log.error(
                "job %d: %s refused the API key or account: %s",
                job.id,
                job.provider,
                exc.detail or exc,
            )
            await self.alerts.account(job, exc)
        if exc.retryable and job.attempts + 1 < MAX_SUBMIT_ATTEMPTS:
            attempts = job.attempts + 1
            delay = backoff(attempts, 2.0, retry_after=exc.retry_after)
            log.info("job %d: submit refused for now (%s); retry in %.1fs", job.id, exc.code, delay)
            # The vendor answered "not now": nothing of this attempt is at the vendor.
            await crew.store.release(
                job,
                crew.owner,
                next_poll_at=crew.clock() + delay,
                status=JobStatus.QUEUED,
                attempts=attempts,
                stage="waiting for the video service",
                sent_at=None,
            )
            return
        log.info("job %d: submit rejected: %s (%s)", job.id, exc.code, exc.detail or exc)
        await self.endings.fail(job, exc.say.failure(exc.code), billing=Billing.NOT_BILLED)

    async def resume_submitting(self, job: Job) -> None:
        crew = self.crew
        if job.task_id:
            now = crew.clock()
            job = await crew.store.update(
                job, crew.owner, status=JobStatus.RUNNING, stage="submitted"
            )
            await crew.store.release(job, crew.owner, next_poll_at=now)
            return
        if job.sent_at is None:
            # Stopped before the request was let go: the vendor cannot have it. Queue it
            # again, to be sent as if nothing had happened.
            log.info("job %d: found mid-submit, never sent; queueing it again", job.id)
            await crew.store.release(
                job, crew.owner, next_poll_at=crew.clock(), status=JobStatus.QUEUED
            )
            return
        log.warning(
            "job %d: found mid-submit after a restart; the vendor may or may not have it. "
            "Failing and refunding rather than submitting twice.",
            job.id,
        )
        await self.endings.fail(job, Failure(ErrorCode.INTERRUPTED))

    async def poll(self, job: Job) -> None:
        crew = self.crew
        set_job_context(job.id, job.provider, job.status.value)
        provider = crew.providers.get(job.provider) if job.provider in crew.providers else None
        now = crew.clock()
        if provider is None or job.task_id is None:
            await self.endings.fail(job, Failure(ErrorCode.PROVIDER_DISABLED, {"step": Step.POLL}))
            return
        cancelled = job.cancel_requested_at is not None
        if job.deadline_at is not None and now > job.deadline_at:
            log.warning("job %d: %s task %s passed its deadline", job.id, job.provider, job.task_id)
            if cancelled:
                await self.endings.settle_cancel(job)  # sent, never finished: possibly billed
            else:
                await self.endings.fail(job, Failure(ErrorCode.DEADLINE))
            return
        timing = crew.schedules.timing(job)
        try:
            await crew.pacer.wait(job.provider)
            with crew.metrics.timed(job.provider, "status"):
                status = await provider.status(job.task_id, job.model)
        except ProviderError as exc:
            await self.alerts.failed(job, exc)
            if not exc.retryable:
                log.warning("job %d: status check failed for good: %s", job.id, exc.detail or exc)
                if isinstance(exc, ProviderAuthError):
                    await self.alerts.account(job, exc)
                await self.endings.fail(job, exc.say.failure(exc.code))
                return
            attempts = job.attempts + 1
            delay = backoff(attempts, timing.poll_interval, retry_after=exc.retry_after)
            log.info("job %d: status check failed (%s); retry in %.1fs", job.id, exc.code, delay)
            await crew.store.release(job, crew.owner, next_poll_at=now + delay, attempts=attempts)
            return
        await self.alerts.ok(job)
        if cancelled and status.state in (TaskState.SUCCEEDED, TaskState.FAILED):
            # Followed quietly only to learn whether the vendor billed.
            billed = status.state is TaskState.SUCCEEDED
            await self.endings.settle_cancel(
                job, billing=Billing.BILLED if billed else Billing.NOT_BILLED
            )
        elif status.state in (TaskState.PENDING, TaskState.RUNNING):
            changed = not cancelled and (status.progress, status.stage) != (job.progress, job.stage)
            job = await crew.store.release(
                job,
                crew.owner,
                next_poll_at=await crew.schedules.next_check_at(job, now, status.eta_seconds),
                progress=status.progress,
                stage=status.stage,
                attempts=0,
                checked_at=now,
            )
            if changed:
                await self.progress.notify(job)
        elif status.state is TaskState.FAILED:
            log.info(
                "job %d: vendor reports failure %s: %s",
                job.id,
                status.error_code,
                status.error_say,
            )
            code = status.error_code or ErrorCode.VENDOR_FAILED
            failure = status.error_say.failure(code) if status.error_say else Failure(code)
            # The vendors bill finished renders only.
            await self.endings.fail(job, failure, billing=Billing.NOT_BILLED)
        elif status.state is TaskState.SUCCEEDED:
            done = {
                "status": JobStatus.DOWNLOADING,
                "completed_at": now,
                "progress": 100,
                "stage": "downloading",
                "result_url": status.result_url,
                "result_url_expires_at": status.url_expires_at,
                "attempts": 0,
            }
            sample = render_time(job, now, timing.initial_wait + 2 * timing.poll_interval)
            if sample is None:
                job = await crew.store.update(job, crew.owner, **done)
            else:
                key = crew.schedules.key(job)
                job = await crew.store.complete(job, crew.owner, key, sample, **done)
                crew.schedules.noted(key, sample)
            await self.progress.notify(job)
            await self.delivery.download(job)
        else:
            assert_never(status.state)
