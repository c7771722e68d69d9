"""The last two states of a job: downloading the finished video, and posting it.

The video is streamed to disk within the download cap and time budget; one that will not
come (too large, too slow) is posted as the vendor's link where there is one. Posting
records when it first began, so a restart looks for an earlier post before posting again.
"""

from __future__ import annotations

import logging
from pathlib import Path

from bot.jobs.crew import Crew
from bot.jobs.endings import Endings, Step
from bot.jobs.health import VendorAlerts
from bot.jobs.publishing import DeliveryFailed
from bot.jobs.retry import FETCH_RETRY_DELAY, MAX_DELIVERY_ATTEMPTS, MAX_FETCH_ATTEMPTS, backoff
from bot.logs import set_job_context
from bot.media.frames import last_frame
from bot.providers.base import (
    Mode,
    ProviderError,
    ResultNotDownloaded,
    ResultNotReady,
    ResultTooLarge,
    TaskState,
    TaskStatus,
)
from bot.providers.codes import ErrorCode, Failure
from bot.providers.registry import ProviderRegistry
from storage import Job, JobStatus

log = logging.getLogger(__name__)


class Delivery:
    def __init__(self, crew: Crew, alerts: VendorAlerts, endings: Endings) -> None:
        self.crew = crew
        self.alerts = alerts
        self.endings = endings

    async def download(self, job: Job) -> None:
        crew = self.crew
        set_job_context(job.id, job.provider, job.status.value)
        provider = crew.providers.get(job.provider)
        assert job.task_id is not None
        dest = crew.work_dir / f"job-{job.id}.mp4"
        done = TaskStatus(
            TaskState.SUCCEEDED, result_url=job.result_url, url_expires_at=job.result_url_expires_at
        )
        try:
            await crew.pacer.wait(job.provider)
            with crew.metrics.timed(job.provider, "download"):
                fetched = await provider.fetch(
                    job.task_id, job.model, done, dest, crew.max_download_bytes
                )
        except ResultNotDownloaded as exc:
            # Too large, or sent too slowly: it answered, with a video we will not fetch.
            await self.alerts.ok(job)
            url = exc.url or job.result_url
            if url is None:
                log.warning(
                    "job %d: video not downloaded (%s) and %s gives no link; refunding",
                    job.id,
                    exc.detail or exc.code,
                    job.provider,
                )
                if isinstance(exc, ResultTooLarge):
                    failure = Failure(exc.code, {"step": Step.DOWNLOAD})
                else:
                    failure = exc.say.failure(exc.code, step=Step.DOWNLOAD)
                await self.endings.fail(job, failure)
                return
            job = await crew.store.update(
                job,
                crew.owner,
                status=JobStatus.DELIVERING,
                result_url=url,
                result_url_expires_at=exc.url_expires_at or job.result_url_expires_at,
                error_code=exc.code,  # why a link and not the file (the post says so)
                attempts=0,
            )
            await self.deliver(job)
            return
        except ProviderError as exc:
            await self.alerts.failed(job, exc)
            attempts = job.attempts + 1
            if not exc.retryable or attempts >= MAX_FETCH_ATTEMPTS:
                log.warning("job %d: download failed: %s", job.id, exc.detail or exc)
                await self.endings.fail(job, exc.say.failure(exc.code, step=Step.DOWNLOAD))
                return
            if isinstance(exc, ResultNotReady):
                # A fixed short wait (apiyi: ~4 s), never longer than two poll intervals
                # of the job's schedule, rather than a growing backoff.
                poll = crew.schedules.timing(job).poll_interval
                delay = min(exc.retry_after or FETCH_RETRY_DELAY, 2 * poll)
            else:
                delay = backoff(attempts, FETCH_RETRY_DELAY, retry_after=exc.retry_after)
            await crew.store.release(
                job, crew.owner, next_poll_at=crew.clock() + delay, attempts=attempts
            )
            return
        await self.alerts.ok(job)
        frame_at = await self._keep_last_frame(job, fetched.path)
        job = await crew.store.update(
            job,
            crew.owner,
            status=JobStatus.DELIVERING,
            frame_at=frame_at,
            result_path=str(fetched.path) if fetched.path else None,
            result_size=fetched.size,
            result_url=fetched.url or job.result_url,
            result_url_expires_at=fetched.url_expires_at or job.result_url_expires_at,
            stage="uploading",
            attempts=0,
        )
        await self.deliver(job)

    async def _keep_last_frame(self, job: Job, path: Path | None) -> float | None:
        """Keep the video's last frame for Continue, while the file is on disk; when it
        was kept. Nothing without the file, without ffmpeg (the `video` extra), or when no
        enabled model starts from a first frame (the button would lead nowhere)."""
        crew = self.crew
        if path is None or not takes_first_frame(crew.providers):
            return None
        frame = await last_frame(path)
        if frame is None:
            return None
        await crew.store.keep_frame(job.id, frame.mime, frame.data)
        return crew.clock()

    async def deliver(self, job: Job) -> None:
        crew = self.crew
        set_job_context(job.id, job.provider, job.status.value)
        if job.delivered_message_id is not None:
            await self.endings.delivered(job, job.delivered_message_id)
            return
        resumed = job.delivery_started_at is not None
        # Record the intent before posting, so a restart knows to look before posting again;
        # a cancel recorded before this point stops the post.
        job = await crew.store.begin_delivery(job, crew.owner)
        if job.cancel_requested_at is not None:
            await self.endings.settle_cancel(job)
            return
        try:
            message_id = await crew.publisher.deliver(job, resumed=resumed)
        except DeliveryFailed as exc:
            attempts = job.attempts + 1
            if exc.retryable and attempts < MAX_DELIVERY_ATTEMPTS:
                delay = backoff(attempts, 2.0)
                log.info("job %d: delivery failed (%s); retry in %.1fs", job.id, exc.code, delay)
                await crew.store.release(
                    job, crew.owner, next_poll_at=crew.clock() + delay, attempts=attempts
                )
                return
            log.warning("job %d: delivery impossible: %s", job.id, exc.code)
            if exc.code == ErrorCode.TOO_LARGE:
                log.warning(
                    "job %d: the video is over the channel's upload limit and %s gives no link. "
                    "Raise the server's upload limit (boosts) or use a vendor that returns URLs.",
                    job.id,
                    job.provider,
                )
            await self.endings.fail(job, exc.say.failure(exc.code))
            return
        await self.endings.delivered(job, message_id)


def takes_first_frame(providers: ProviderRegistry) -> bool:
    """Whether any enabled model can start a video from an image (Continue's need)."""
    return any(Mode.FIRST_FRAME in s.modes for p in providers for s in p.models.values())
