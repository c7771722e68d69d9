"""UTC days as quotas count them, and durations as members read them.

Quotas and spend caps reset at UTC midnight for everyone, whatever a member's time
zone: one rule, one moment, shown to each member in their own time by Discord's
`<t:…>` timestamps.
"""

from __future__ import annotations

import datetime as dt

__all__ = ["day_key", "duration_text", "next_reset"]


def day_key(now: float) -> str:
    """The quota day a moment belongs to (UTC)."""
    return dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%d")


def next_reset(now: float) -> int:
    """Unix time of the next UTC midnight, when daily quotas reset."""
    today = dt.datetime.fromtimestamp(now, dt.UTC).date()
    midnight = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), dt.UTC)
    return int(midnight.timestamp())


def duration_text(seconds: float) -> str:
    seconds = max(0, int(seconds))
    minutes, secs = divmod(seconds, 60)
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"
