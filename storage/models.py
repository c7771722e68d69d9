"""Row types of the store. Status is a str enum with named active and terminal sets."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    SUBMITTING = "submitting"
    RUNNING = "running"
    DOWNLOADING = "downloading"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE: frozenset[JobStatus] = frozenset(
    {
        JobStatus.QUEUED,
        JobStatus.SUBMITTING,
        JobStatus.RUNNING,
        JobStatus.DOWNLOADING,
        JobStatus.DELIVERING,
    }
)
TERMINAL: frozenset[JobStatus] = frozenset(
    {JobStatus.DELIVERED, JobStatus.FAILED, JobStatus.CANCELLED}
)


class QuotaState(enum.StrEnum):
    RESERVED = "reserved"
    COMMITTED = "committed"
    REFUNDED = "refunded"
    # An admin's quota reset gave the units back while the job held them: the job owes the
    # ledger nothing more, so its end neither commits nor refunds anything.
    WAIVED = "waived"


class Billing(enum.StrEnum):
    """What the vendor probably charged for a job, beside the member's quota state.

    The member is refunded whenever they got no video; the operator's spend caps follow
    this instead, so a vendor that renders and bills a job we gave up on is still counted.
    """

    PENDING = "pending"  # still running: counted against the caps, as a reservation
    BILLED = "billed"  # the vendor reported the render finished
    POSSIBLY_BILLED = "possibly_billed"  # sent, outcome unknown (timeout, deadline, restart)
    NOT_BILLED = "not_billed"  # never sent, or the vendor reported that it failed


class CancelReason(enum.StrEnum):
    MEMBER = "member"  # the member (or an admin) asked
    BOT_REMOVED = "bot_removed"  # the bot left the server: end quietly, refund the member


@dataclass(frozen=True, slots=True)
class Job:
    """One row of `jobs`. Field names are the column names."""

    id: int
    user_id: int
    guild_id: int | None
    channel_id: int
    # The accepted request; read back typed by `bot.jobs.requests.stored_request`.
    request_json: str
    provider: str
    model: str
    status: JobStatus
    task_id: str | None
    progress: int | None
    stage: str | None
    attempts: int
    next_poll_at: float
    deadline_at: float | None
    lease_owner: str | None
    lease_until: float | None
    error_code: str | None
    # Written only before migration 6; such rows show it as their failure's sentence.
    error_message: str | None
    result_path: str | None
    result_url: str | None
    result_url_expires_at: float | None
    result_size: int | None
    filesize_limit: int
    status_message_id: int | None
    delivery_mode: str
    interaction_app_id: int | None
    interaction_token: str | None
    interaction_expires_at: float | None
    delivery_started_at: float | None
    delivered_message_id: int | None
    cancel_requested_at: float | None
    callback_token: str | None
    quota_day: str
    quota_state: QuotaState
    created_at: float
    submitted_at: float | None
    completed_at: float | None
    finished_at: float | None
    updated_at: float
    quota_units: int = 1
    cost_usd: float | None = None
    purged_at: float | None = None
    told_at: float | None = None
    sent_at: float | None = None
    billing: Billing = Billing.PENDING
    cancel_reason: CancelReason | None = None
    # The failure's parameters as JSON text (bot.providers.codes.Failure), None for none.
    error_params: str | None = None
    # The last status check that found the task still running, and the last time the
    # vendor's callback said it changed: together they bound when a render finished.
    checked_at: float | None = None
    poked_at: float | None = None
    # The job a Retry, New take or Remix was made from, and a link to where it is shown.
    parent_job_id: int | None = None
    parent_link: str | None = None
    # The member's delivery toggles when the command ran (`MemberSettings`).
    spoiler: bool = False
    dm_copy: bool = False
    ping: bool = True
    # When the video's last frame was kept (for Continue); None: none was.
    frame_at: float | None = None
    # The language of the job's public posts (the server's when the command ran).
    locale: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> Job:
        data = dict(row)
        for flag in ("spoiler", "dm_copy", "ping"):
            if flag in data:
                data[flag] = bool(data[flag])
        data["status"] = JobStatus(data["status"])
        data["quota_state"] = QuotaState(data["quota_state"])
        data["billing"] = Billing(data["billing"])
        if data.get("cancel_reason") is not None:
            data["cancel_reason"] = CancelReason(data["cancel_reason"])
        return cls(**data)

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    @property
    def probable_billing(self) -> Billing:
        """What the vendor probably billed if the job ended now without further news: a
        render it reported finished is billed; a job never sent cannot be; anything sent
        and unresolved (a timeout, a deadline, a restart mid-submit) possibly is."""
        if self.completed_at is not None:
            return Billing.BILLED
        if self.sent_at is None:
            return Billing.NOT_BILLED
        return Billing.POSSIBLY_BILLED

    @property
    def quota_scope(self) -> int:
        """The ledger's server key: the guild, or 0 for direct messages."""
        return self.guild_id or 0


@dataclass(frozen=True, slots=True)
class MemberSettings:
    """A member's own defaults, theirs in every server: used where they type nothing and
    the server allows it. None (or the toggles' defaults) means "no preference"."""

    provider: str | None = None
    model: str | None = None
    aspect_ratio: str | None = None
    duration: int | None = None
    resolution: str | None = None
    dm_copy: bool = False  # a copy of each video in their direct messages
    spoiler: bool = False  # their videos posted as spoilers
    ping: bool = True  # mentioned when a video is ready (or failed)
    # Servers already told that one of these is not allowed there (told once per server).
    told: frozenset[int] = frozenset()

    @classmethod
    def from_row(cls, row: Any) -> MemberSettings:
        told = frozenset(int(g) for g in str(row["told"]).split(",") if g)
        return cls(
            provider=row["provider"],
            model=row["model"],
            aspect_ratio=row["aspect_ratio"],
            duration=row["duration"],
            resolution=row["resolution"],
            dm_copy=bool(row["dm_copy"]),
            spoiler=bool(row["spoiler"]),
            ping=bool(row["ping"]),
            told=told,
        )

    @property
    def is_empty(self) -> bool:
        return self == MemberSettings(told=self.told)


@dataclass(frozen=True, slots=True)
class StoredImage:
    filename: str
    mime: str
    data: bytes
    # The attachment's signed Discord URL at command time (expires in about a day).
    source_url: str | None = None
