"""The `/veo-admin stats` embed: a server's jobs, failures, spend and busiest members.

A window of up to 90 days and any number of models must still fit Discord's embed
limits, so every field is packed line by line and what does not fit is summed up in
one closing line instead of being cut mid-way. The words are the catalogue's
`[admin_view]` section (`locales/<locale>.admin.toml`), in the admin's `locale` (None
reads English).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import discord
from discord.utils import escape_markdown

from bot.chat.i18n import text
from bot.chat.listings import STATUS_EMOJI
from bot.providers.codes import ErrorCode
from storage.models import JobStatus
from storage.stats import DayCount, ModelSpend, ServerStats

FIELD_LIMIT = 1024  # characters in one field value
EMBED_LIMIT = 6000  # characters in the whole embed (title, description, fields, footer)
MAX_FIELDS = 25
LINE_LIMIT = 200  # a single line
CODE_LIMIT = 60  # a failure code (a vendor's can be anything)
CONTINUED = "\u200b"  # the name of a field that continues the one before it
MORE = " …"

DELIVERED = STATUS_EMOJI[JobStatus.DELIVERED]
FAILED = STATUS_EMOJI[JobStatus.FAILED]
CANCELLED = STATUS_EMOJI[JobStatus.CANCELLED]
ACTIVE = STATUS_EMOJI[JobStatus.QUEUED]

FOOTER = text("admin_view.stats_footer")  # in English; `stats_embed` says it in the locale's

# Failure codes an admin can read without the source: the bot's own and the vendors'
# common ones (looked up lower-cased, so CONTENT_VIOLATION matches too), each to its
# `admin_view.reason.<name>` sentence.
REASONS: dict[str, str] = {
    "unknown": "unknown",
    ErrorCode.REJECTED: "refused",
    ErrorCode.INVALID_PARAMETERS: "refused",
    ErrorCode.INVALID_PROMPT: "prompt_refused",
    ErrorCode.CONTENT_POLICY: "content_policy",
    "content_violation": "content_policy",
    ErrorCode.AUTH: "auth",
    ErrorCode.INSUFFICIENT_CREDITS: "out_of_credit",
    ErrorCode.QUOTA: "out_of_credit",
    ErrorCode.DEADLINE: "deadline",
    ErrorCode.UNCERTAIN: "uncertain",
    ErrorCode.INTERRUPTED: "interrupted",
    ErrorCode.PROVIDER_DISABLED: "provider_disabled",
    ErrorCode.INTERNAL_ERROR: "internal",
    ErrorCode.VENDOR_FAILED: "vendor_failed",
    ErrorCode.GENERATION_FAILED: "vendor_failed",
    ErrorCode.RATE_LIMITED: "busy",
    ErrorCode.SERVER_ERROR: "server_error",
    ErrorCode.TIMEOUT: "unreachable",
    ErrorCode.CONNECT_FAILED: "unreachable",
    ErrorCode.CONNECTION_LOST: "unreachable",
    ErrorCode.NOT_FOUND: "video_gone",
    ErrorCode.RESULT_EXPIRED: "video_gone",
    ErrorCode.VIDEO_GONE: "video_gone",
    ErrorCode.DOWNLOAD_FAILED: "download_failed",
    ErrorCode.TOO_LARGE: "too_large",
    ErrorCode.MISSING_PERMISSIONS: "missing_permissions",
    ErrorCode.CHANNEL_GONE: "channel_gone",
    "demo_failure": "demo_failure",
}


def _count(noun: str, n: int, locale: str | None) -> str:
    """`1 job`, `2 jobs`: the catalogue's `<noun>_one` for one, `<noun>` for any other."""
    return text(f"admin_view.{noun}_one" if n == 1 else f"admin_view.{noun}", locale, n=n)


def _size(said: str) -> int:
    """Length as Discord may count it: UTF-16 units, never less than code points (an
    emoji such as 🚫 is two), so a text within a limit here is within it there too."""
    return len(said.encode("utf-16-le")) // 2


def _embed_size(embed: discord.Embed) -> int:
    texts = [embed.title or "", embed.description or "", embed.footer.text or ""]
    texts += [f"{f.name or ''}{f.value or ''}" for f in embed.fields]
    return sum(_size(t) for t in texts)


def _clip(line: str, limit: int = LINE_LIMIT) -> str:
    return line if len(line) <= limit else line[: limit - len(MORE)] + MORE


def _pack(
    lines: Sequence[str],
    overflow: Callable[[int], str],
    *,
    tail: Sequence[str] = (),
    limit: int = FIELD_LIMIT,
) -> str:
    """As many of `lines` as fit in `limit` with `tail` kept at the end; the lines left
    out (from index k on) are replaced by `overflow(k)`."""
    lines = [_clip(line) for line in lines]
    tail = [_clip(line) for line in tail]
    packed = "\n".join([*lines, *tail])
    if _size(packed) <= limit:
        return packed
    for k in range(len(lines) - 1, -1, -1):
        packed = "\n".join([*lines[:k], _clip(overflow(k)), *tail])
        if _size(packed) <= limit:
            return packed
    return _clip(packed, limit // 2)  # unreachable with short tails; safe either way


def _day_line(d: DayCount, locale: str | None) -> str:
    parts = [f"`{d.day}`", _count("jobs", d.total, locale)]
    counts = (
        (d.delivered, DELIVERED),
        (d.failed, FAILED),
        (d.cancelled, CANCELLED),
        (d.active, ACTIVE),
    )
    parts += [f"{n} {emoji}" for n, emoji in counts if n]
    return " · ".join(parts)


def _chunks(lines: Sequence[str], limit: int = FIELD_LIMIT) -> list[str]:
    """Lines grouped greedily into field values of at most `limit` characters."""
    values: list[str] = []
    for line in lines:
        if values and _size(values[-1]) + 1 + _size(line) <= limit:
            values[-1] += "\n" + line
        else:
            values.append(line)
    return values


def _days_fields(
    days: list[DayCount], budget: int, max_fields: int, locale: str | None = None
) -> list[str]:
    """The per-day lines, newest first, spread over as many field values as `budget`
    characters (values plus one-character continuation names) and `max_fields` allow;
    the days that do not fit are summed up in the last line."""

    def overflow(k: int) -> str:
        rest = days[k:]
        jobs = _count("jobs", sum(d.total for d in rest), locale)
        more = _count("earlier_days", len(rest), locale)
        return text("admin_view.more_days", locale, days=more, jobs=jobs)

    lines = [_clip(_day_line(d, locale)) for d in days]
    for k in range(len(lines), -1, -1):
        values = _chunks(lines[:k] + ([overflow(k)] if k < len(lines) else []))
        cost = sum(_size(v) for v in values) + _size(CONTINUED) * (len(values) - 1)
        if cost <= budget and len(values) <= max_fields:
            return values
    return [_clip(overflow(0))]


def reason_label(code: str, *, locale: str | None = None) -> str:
    """A failure code as an admin reads it, with the code itself kept in backticks."""
    safe = _clip(code.replace("`", "'"), CODE_LIMIT) or "unknown"
    name = REASONS.get(code.lower())
    if name is None:
        return f"`{safe}`"
    return text(
        "admin_view.reason_code",
        locale,
        reason=text(f"admin_view.reason.{name}", locale),
        code=safe,
    )


def _failures_field(failures: list[tuple[str, int]], locale: str | None) -> str:
    if not failures:
        return text("admin_view.no_failures", locale)

    def overflow(k: int) -> str:
        rest = failures[k:]
        jobs = _count("jobs", sum(n for _, n in rest), locale)
        more = _count("other_reasons", len(rest), locale)
        return text("admin_view.more_reasons", locale, reasons=more, jobs=jobs)

    lines = [f"{reason_label(code, locale=locale)} · {n}" for code, n in failures]
    return _pack(lines, overflow)


def _spend_line(s: ModelSpend, locale: str | None) -> str:
    name = f"{escape_markdown(s.provider)} / {escape_markdown(s.model)}"
    jobs = _count("jobs", s.jobs, locale)
    priced = s.jobs - s.unpriced_jobs
    if priced == 0:
        return text("admin_view.spend_unpriced", locale, name=name, jobs=jobs)
    line = text("admin_view.spend_line", locale, name=name, jobs=jobs, dollars=s.dollars)
    if s.possibly_billed > 0:
        line += text("admin_view.spend_possibly", locale, dollars=s.possibly_billed)
    if s.unpriced_jobs:
        line += text("admin_view.spend_some_unpriced", locale, count=s.unpriced_jobs)
    return line


def _spend_field(stats: ServerStats, locale: str | None) -> str:
    spend = stats.spend

    def overflow(k: int) -> str:
        rest = spend[k:]
        more = _count("other_models", len(rest), locale)
        dollars = sum(s.dollars for s in rest)
        return text("admin_view.more_models", locale, models=more, dollars=dollars)

    tail = [text("admin_view.spend_total", locale, dollars=stats.total_spend)]
    if stats.possibly_billed > 0:
        tail.append(text("admin_view.possibly_billed", locale, dollars=stats.possibly_billed))
    unpriced = stats.unpriced_jobs
    if unpriced:
        key = "admin_view.not_counted_one" if unpriced == 1 else "admin_view.not_counted"
        tail.append(text(key, locale, jobs=_count("jobs", unpriced, locale)))
    return _pack([_spend_line(s, locale) for s in spend], overflow, tail=tail)


def _users_field(top_users: list[tuple[int, int, float]], locale: str | None) -> str:
    lines = [
        text(
            "admin_view.top_member",
            locale,
            rank=rank,
            user=user_id,
            jobs=_count("jobs", jobs, locale),
            dollars=dollars,
        )
        for rank, (user_id, jobs, dollars) in enumerate(top_users, start=1)
    ]

    def overflow(k: int) -> str:
        more = _count("other_members", len(top_users) - k, locale)
        return text("admin_view.more_members", locale, members=more)

    return _pack(lines, overflow)


def _summary(stats: ServerStats, locale: str | None) -> str:
    active = sum(d.active for d in stats.days)
    return text(
        "admin_view.summary_active" if active else "admin_view.summary",
        locale,
        first=stats.first_day,
        last=stats.last_day,
        jobs=_count("jobs", stats.total_jobs, locale),
        delivered=sum(d.delivered for d in stats.days),
        failed=sum(d.failed for d in stats.days),
        cancelled=sum(d.cancelled for d in stats.days),
        active=active,
    )


def stats_embed(stats: ServerStats, *, days: int, locale: str | None = None) -> discord.Embed:
    """The admin's view of `stats` for the last `days` days, within Discord's limits."""
    one = days == 1
    title = text(
        "admin_view.stats_title_one" if one else "admin_view.stats_title", locale, days=days
    )
    embed = discord.Embed(title=title[:256], colour=discord.Colour.blurple())
    embed.set_footer(text=text("admin_view.stats_footer", locale))
    if stats.is_empty:
        key = "admin_view.stats_empty_one" if one else "admin_view.stats_empty"
        embed.description = text(key, locale, days=days)
        return embed
    embed.description = _summary(stats, locale)
    days_name = text(
        "admin_view.per_day",
        locale,
        delivered=DELIVERED,
        failed=FAILED,
        cancelled=CANCELLED,
        active=ACTIVE,
    )[:256]
    named = (
        ("admin_view.failures", _failures_field(stats.failures, locale)),
        ("admin_view.spend", _spend_field(stats, locale)),
        (
            "admin_view.top_members",
            _users_field(stats.top_users, locale) if stats.top_users else "",
        ),
    )
    for key, value in named:
        if value:  # no busiest members: no field
            embed.add_field(name=text(key, locale), value=value, inline=False)
    # The other fields are at most FIELD_LIMIT each; the days get whatever is left.
    budget = EMBED_LIMIT - _embed_size(embed) - _size(days_name)
    values = _days_fields(stats.days, budget, MAX_FIELDS - len(embed.fields), locale)
    for i, value in enumerate(values):
        embed.insert_field_at(i, name=days_name if i == 0 else CONTINUED, value=value, inline=False)
    return embed
