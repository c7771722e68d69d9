"""Quota as a member sees it: what they have left, and why a request was refused.

The ledger itself (reserve, refund, reset) is in `storage.jobs`; the rules that decide a
member's limit are the service's. This module turns the store's refusals into words.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.jobs.days import next_reset
from storage import Job, OverBudget, OverQuota, TooManyActive


@dataclass(frozen=True, slots=True)
class QuotaView:
    used: int
    limit: int
    resets_at: int
    active: list[Job]
    exempt: bool = False

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


class QuotaRefused(Exception):
    """Over the daily quota or the active-job cap; the message is for the member."""


def quota_refusal(
    exc: OverQuota | OverBudget | TooManyActive,
    *,
    limit: int,
    units: int,
    model: str,
    in_server: bool,
    now: float,
) -> tuple[str, QuotaRefused]:
    """(the reason for the metrics, the refusal in the member's words)."""
    reset = next_reset(now)
    if isinstance(exc, OverBudget):
        who = "This server" if exc.scope == "server" else "The bot"
        return "budget", QuotaRefused(
            f"{who} has reached today's spending limit for videos. New videos can be "
            f"made again <t:{reset}:R> (<t:{reset}:t>). Nothing was charged."
        )
    if isinstance(exc, TooManyActive):
        return "active", QuotaRefused(
            f"You already have {exc.active} {'job' if exc.active == 1 else 'jobs'} in progress "
            f"(the limit is {exc.limit}). "
            "Wait for one to finish, then try again. Nothing was charged."
        )
    if limit <= 0 and in_server:
        return "quota", QuotaRefused(
            "Making videos is switched off for you on this server. Nothing was charged."
        )
    if units > limit:
        return "quota", QuotaRefused(
            f"`{model}` costs {units} of your videos, more than your daily "
            f"quota of {limit}. Pick another model. Nothing was charged."
        )
    if units > 1:
        return "quota", QuotaRefused(
            f"`{model}` counts as {units} of your {limit} daily videos and you "
            f"don't have that many left today. Pick another model, or wait until your "
            f"quota resets <t:{reset}:R> (<t:{reset}:t>). Nothing was charged."
        )
    return "quota", QuotaRefused(
        f"You have used all {limit} of today's videos. "
        f"Your quota resets <t:{reset}:R> (<t:{reset}:t>)."
    )
