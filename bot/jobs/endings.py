"""How a job ends: delivered, failed or cancelled, each in one transaction that also
settles the member's quota and records what the vendor probably billed; then the file is
removed and the member shown the end.

A failure is kept as its code and parameters (`Failure`), never as a sentence: the chat
side words it when it is shown (`bot.chat.failures`).
"""

from __future__ import annotations

import contextlib
import enum
import logging
import os

from bot.jobs.crew import Crew
from bot.jobs.positions import Progress
from bot.logs import set_job_context
from bot.providers.codes import Failure
from storage import Billing, CancelReason, Job, JobStatus

log = logging.getLogger(__name__)


class Step(enum.StrEnum):
    """Where in the job a failure happened: a failure's `step` parameter, set only where
    the same code is told differently there."""

    STORE_TASK_ID = "store_task_id"  # the vendor took the job; storing its task id failed
    POLL = "poll"  # following a task the vendor has
    DOWNLOAD = "download"  # fetching the finished video


class Endings:
    def __init__(self, crew: Crew, progress: Progress) -> None:
        self.crew = crew
        self.progress = progress

    async def fail(self, job: Job, failure: Failure, *, billing: Billing | None = None) -> None:
        """End the job failed and refund the member; `billing` (default: what the job's
        record says) is what the operator's spend caps keep counting."""
        crew = self.crew
        job = await crew.store.finish(
            job,
            crew.owner,
            JobStatus.FAILED,
            refund=True,
            billing=billing,
            error_code=failure.code,
            error_params=failure.params_json(),
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
