"""How a job ends: delivered, failed or cancelled, each in one transaction that also
settles the member's quota and records what the vendor probably billed; then the file is
removed and the member shown the end.

The sentences a member reads when a job fails for a reason of the core's own are here.
"""

from __future__ import annotations

import contextlib
import logging
import os

from bot.jobs.crew import Crew
from bot.jobs.positions import Progress
from bot.logs import set_job_context
from storage import Billing, CancelReason, Job, JobStatus

log = logging.getLogger(__name__)

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
MSG_PROVIDER_DISABLED = (
    "This job's video service is no longer enabled here. Your quota was refunded."
)
MSG_TOO_LARGE_NO_LINK = (
    "The video is larger than this bot may download, and the video service gives no link "
    "to it. Your quota was refunded."
)


class Endings:
    def __init__(self, crew: Crew, progress: Progress) -> None:
        self.crew = crew
        self.progress = progress

    async def fail(
        self, job: Job, code: str, message: str, *, billing: Billing | None = None
    ) -> None:
        """End the job failed and refund the member; `billing` (default: what the job's
        record says) is what the operator's spend caps keep counting."""
        crew = self.crew
        job = await crew.store.finish(
            job,
            crew.owner,
            JobStatus.FAILED,
            refund=True,
            billing=billing,
            error_code=code,
            error_message=message,
        )
        set_job_context(job.id, job.provider, job.status.value)
        crew.metrics.jobs_finished.labels(job.provider, job.status.value).inc()
        self.remove_file(job)
        await self.progress.notify(job)

    async def settle_cancel(self, job: Job, *, billing: Billing | None = None) -> None:
        """End a cancelled job. The member is refunded unless the vendor finished the
        render (then it billed, and the charge stays); a job stopped because the bot left
        its server is always refunded, since nobody can receive it. `billing` is what the
        vendor said; without news it follows from the job's record."""
        crew = self.crew
        if billing is None:
            billing = job.probable_billing
        refund = billing is not Billing.BILLED or job.cancel_reason is CancelReason.BOT_REMOVED
        job = await crew.store.finish(
            job, crew.owner, JobStatus.CANCELLED, refund=refund, billing=billing
        )
        crew.metrics.jobs_finished.labels(job.provider, job.status.value).inc()
        self.remove_file(job)
        log.info(
            "job %d: cancelled (%s; vendor: %s)",
            job.id,
            "refunded" if refund else "charged: the vendor billed",
            billing.value,
        )
        await self.progress.notify(job)

    async def delivered(self, job: Job, message_id: int) -> None:
        crew = self.crew
        job = await crew.store.finish(
            job,
            crew.owner,
            JobStatus.DELIVERED,
            refund=False,
            delivered_message_id=message_id,
            stage=None,
        )
        set_job_context(job.id, job.provider, job.status.value)
        log.info("job %d: delivered as message %d", job.id, message_id)
        crew.metrics.jobs_finished.labels(job.provider, job.status.value).inc()
        if job.completed_at is not None and job.finished_at is not None:
            lag = job.finished_at - job.completed_at
            crew.metrics.delivery_lag.labels(job.provider).observe(lag)
        self.remove_file(job)
        await self.progress.notify(job)

    @staticmethod
    def remove_file(job: Job) -> None:
        if job.result_path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(job.result_path)
