"""Quota as a member sees it: what they have left, and why a request was refused.

The ledger itself (reserve, refund, reset) is in `storage.jobs`; the rules that decide a
member's limit are the service's. This module turns the store's refusals into the
member's (a sentence by key, worded by the chat side).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.jobs.days import next_reset
from bot.jobs.refusals import Refusal
from bot.providers.codes import say
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


class QuotaRefused(Refusal):
    """Over the daily quota, a spend cap or the active-job cap: a `[refusal]` sentence by
    key (see `bot.jobs.refusals`), told in the member's language by the chat side."""


def quota_refusal(
    exc: OverQuota | OverBudget | TooManyActive,
    *,
    limit: int,
    units: int,
    model: str,
    in_server: bool,
    now: float,
) -> tuple[str, QuotaRefused]:
    """(the reason for the metrics, the refusal for the member)."""
    reset = next_reset(now)
    if isinstance(exc, OverBudget):
        if exc.scope == "server":
            return "budget", QuotaRefused(say("refusal.server_budget", reset=reset))
        return "budget", QuotaRefused(say("refusal.bot_budget", reset=reset))
    if isinstance(exc, TooManyActive):
        if exc.active == 1:
            busy = say("refusal.too_many_active_one", active=exc.active, limit=exc.limit)
        else:
            busy = say("refusal.too_many_active", active=exc.active, limit=exc.limit)
        return "active", QuotaRefused(busy)
    if limit <= 0 and in_server:
        return "quota", QuotaRefused(say("refusal.quota_off"))
    if units > limit:
        return "quota", QuotaRefused(
            say("refusal.costs_more_than_quota", model=model, units=units, limit=limit)
        )
    if units > 1:
        return "quota", QuotaRefused(
            say("refusal.costs_more_than_left", model=model, units=units, limit=limit, reset=reset)
        )
    return "quota", QuotaRefused(say("refusal.quota_used", limit=limit, reset=reset))
