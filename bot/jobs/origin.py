"""Where a request came from, and what it was made from: handed by the chat side to
`VideoService.accept` as plain data, so the job core never sees an interaction."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a request came from and how its results can reach the member."""

    user_id: int
    guild_id: int | None
    channel_id: int
    filesize_limit: int
    delivery_mode: str  # "channel" | "followup"
    application_id: int | None = None
    interaction_token: str | None = None
    interaction_expires_at: float | None = None
    role_ids: tuple[int, ...] = ()
    parent_channel_id: int | None = None  # a thread's channel, for the channel rule
    # The language of the job's public posts: the server's ("es-ES"), the member's in DMs.
    locale: str | None = None


@dataclass(frozen=True, slots=True)
class Parent:
    """The job a new one is made from (Retry, New take, Remix), and where it is shown."""

    job_id: int
    link: str | None = None
