"""The `/veo-admin stats` embed: a server's jobs, failures, spend and busiest members.

A window of up to 90 days and any number of models must still fit Discord's embed
limits, so every field is packed line by line and what does not fit is summed up in
one closing line instead of being cut mid-way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import discord
from discord.utils import escape_markdown

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

FOOTER = (
    "Spend is estimated from the vendors' documented prices; jobs the vendor did not bill count $0."
)

# Failure codes an admin can read without the source: the bot's own and the vendors'
# common ones (looked up lower-cased, so CONTENT_VIOLATION matches too).
REASONS: dict[str, str] = {
    "unknown": "No reason recorded",
    ErrorCode.REJECTED: "Refused by the vendor",
    ErrorCode.INVALID_PARAMETERS: "Refused by the vendor",
    ErrorCode.INVALID_PROMPT: "Prompt refused by the vendor",
    ErrorCode.CONTENT_POLICY: "Blocked by content policy",
    "content_violation": "Blocked by content policy",
    ErrorCode.AUTH: "Vendor refused the bot's key",
    ErrorCode.INSUFFICIENT_CREDITS: "Vendor account out of credit",
    ErrorCode.QUOTA: "Vendor account out of credit",
    ErrorCode.DEADLINE: "Took too long",
    ErrorCode.UNCERTAIN: "Vendor did not confirm the job",
    ErrorCode.INTERRUPTED: "Bot restarted while sending",
    ErrorCode.PROVIDER_DISABLED: "Vendor no longer enabled",
    ErrorCode.INTERNAL_ERROR: "Error inside the bot",
    ErrorCode.VENDOR_FAILED: "Vendor could not make it",
    ErrorCode.GENERATION_FAILED: "Vendor could not make it",
    ErrorCode.RATE_LIMITED: "Vendor too busy",
    ErrorCode.SERVER_ERROR: "Vendor server error",
    ErrorCode.TIMEOUT: "Vendor unreachable",
    ErrorCode.CONNECT_FAILED: "Vendor unreachable",
    ErrorCode.CONNECTION_LOST: "Vendor unreachable",
    ErrorCode.NOT_FOUND: "Video gone at the vendor",
    ErrorCode.RESULT_EXPIRED: "Video gone at the vendor",
    ErrorCode.VIDEO_GONE: "Video gone at the vendor",
    ErrorCode.DOWNLOAD_FAILED: "Download failed",
    ErrorCode.TOO_LARGE: "Too large to post here",
    ErrorCode.MISSING_PERMISSIONS: "Bot may not post in the channel",
    ErrorCode.CHANNEL_GONE: "Channel deleted",
    "demo_failure": "Demo failure (#fail)",
}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _size(text: str) -> int:
    """Length as Discord may count it: UTF-16 units, never less than code points (an
    emoji such as 🚫 is two), so a text within a limit here is within it there too."""
    return len(text.encode("utf-16-le")) // 2


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
    text = "\n".join([*lines, *tail])
    if _size(text) <= limit:
        return text
    for k in range(len(lines) - 1, -1, -1):
        text = "\n".join([*lines[:k], _clip(overflow(k)), *tail])
        if _size(text) <= limit:
            return text
    return _clip(text, limit // 2)  # unreachable with short tails; safe either way


def _day_line(d: DayCount) -> str:
    parts = [f"`{d.day}`", _plural(d.total, "job")]
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


def _days_fields(days: list[DayCount], budget: int, max_fields: int) -> list[str]:
    """The per-day lines, newest first, spread over as many field values as `budget`
    characters (values plus one-character continuation names) and `max_fields` allow;
    the days that do not fit are summed up in the last line."""

    def overflow(k: int) -> str:
        rest = days[k:]
        jobs = sum(d.total for d in rest)
        return f"… and {_plural(len(rest), 'earlier day')} with {_plural(jobs, 'job')}"

    lines = [_clip(_day_line(d)) for d in days]
    for k in range(len(lines), -1, -1):
        values = _chunks(lines[:k] + ([overflow(k)] if k < len(lines) else []))
        cost = sum(_size(v) for v in values) + _size(CONTINUED) * (len(values) - 1)
        if cost <= budget and len(values) <= max_fields:
            return values
    return [_clip(overflow(0))]


def reason_label(code: str) -> str:
    """A failure code as an admin reads it, with the code itself kept in backticks."""
    safe = _clip(code.replace("`", "'"), CODE_LIMIT) or "unknown"
    name = REASONS.get(code.lower())
    return f"{name} `{safe}`" if name else f"`{safe}`"


def _failures_field(failures: list[tuple[str, int]]) -> str:
    if not failures:
        return "No failed jobs."

    def overflow(k: int) -> str:
        rest = failures[k:]
        jobs = sum(n for _, n in rest)
        return f"… and {_plural(len(rest), 'other reason')} with {_plural(jobs, 'job')}"

    lines = [f"{reason_label(code)} · {n}" for code, n in failures]
    return _pack(lines, overflow)


def _spend_line(s: ModelSpend) -> str:
    name = f"{escape_markdown(s.provider)} / {escape_markdown(s.model)}"
    priced = s.jobs - s.unpriced_jobs
    if priced == 0:
        return f"{name} · {_plural(s.jobs, 'job')} · no documented price"
    line = f"{name} · {_plural(s.jobs, 'job')} · ${s.dollars:.2f}"
    if s.possibly_billed > 0:
        line += f" (${s.possibly_billed:.2f} possibly)"
    if s.unpriced_jobs:
        line += f" ({s.unpriced_jobs} without a price)"
    return line


def _spend_field(stats: ServerStats) -> str:
    spend = stats.spend

    def overflow(k: int) -> str:
        rest = spend[k:]
        dollars = sum(s.dollars for s in rest)
        return f"… and {_plural(len(rest), 'other model')}: ${dollars:.2f}"

    tail = [f"**Total: ${stats.total_spend:.2f}**"]
    if stats.possibly_billed > 0:
        tail.append(
            f"Of that, ${stats.possibly_billed:.2f} was possibly billed: jobs sent to a video "
            "service that never said how they ended (members were refunded)."
        )
    unpriced = stats.unpriced_jobs
    if unpriced:
        tail.append(
            f"{_plural(unpriced, 'job')} on models without a documented price "
            f"{'is' if unpriced == 1 else 'are'} not counted."
        )
    return _pack([_spend_line(s) for s in spend], overflow, tail=tail)


def _users_field(top_users: list[tuple[int, int, float]]) -> str:
    lines = [
        f"{rank}. <@{user_id}> · {_plural(jobs, 'job')} · ${dollars:.2f}"
        for rank, (user_id, jobs, dollars) in enumerate(top_users, start=1)
    ]
    return _pack(lines, lambda k: f"… and {_plural(len(top_users) - k, 'other member')}")


def _summary(stats: ServerStats) -> str:
    delivered = sum(d.delivered for d in stats.days)
    failed = sum(d.failed for d in stats.days)
    cancelled = sum(d.cancelled for d in stats.days)
    active = sum(d.active for d in stats.days)
    text = (
        f"From `{stats.first_day}` to `{stats.last_day}` (UTC): "
        f"**{_plural(stats.total_jobs, 'job')}** — {delivered} delivered, {failed} failed, "
        f"{cancelled} cancelled"
    )
    return text + (f", {active} in progress." if active else ".")


def stats_embed(stats: ServerStats, *, days: int) -> discord.Embed:
    """The admin's view of `stats` for the last `days` days, within Discord's limits."""
    window = _plural(days, "day") if days != 1 else "day"
    embed = discord.Embed(title=f"Video stats — last {window}", colour=discord.Colour.blurple())
    embed.set_footer(text=FOOTER)
    if stats.is_empty:
        embed.description = f"No videos were made on this server in the last {window}."
        return embed
    embed.description = _summary(stats)
    legend = (
        f"{DELIVERED} delivered · {FAILED} failed · {CANCELLED} cancelled · {ACTIVE} in progress"
    )
    days_name = f"Jobs per day ({legend})"
    embed.add_field(name="Failures by reason", value=_failures_field(stats.failures), inline=False)
    embed.add_field(name="Estimated spend", value=_spend_field(stats), inline=False)
    if stats.top_users:
        embed.add_field(name="Top members", value=_users_field(stats.top_users), inline=False)
    # The other fields are at most FIELD_LIMIT each; the days get whatever is left.
    budget = EMBED_LIMIT - _embed_size(embed) - _size(days_name)
    values = _days_fields(stats.days, budget, MAX_FIELDS - len(embed.fields))
    for i, value in enumerate(values):
        embed.insert_field_at(i, name=days_name if i == 0 else CONTINUED, value=value, inline=False)
    return embed
