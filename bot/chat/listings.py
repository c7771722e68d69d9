"""The words of the listings members ask for: `/veo status`, `history`, `quota`, `help`
and `models`. Pure functions, like `messages` (the words about one job as it runs).

The sentences are the catalogue's `[listing]` section (`locales/<locale>.listings.toml`);
each function takes the member's `locale` (None reads English). The job's own lines that
`messages` makes (its status, settings, a purged prompt's note) follow `locale` too, and
read the job's language when it is None, as they always have."""

from __future__ import annotations

import discord
from discord.utils import escape_markdown

from bot.chat.i18n import text
from bot.chat.messages import (
    describe_settings,
    post_link,
    preview,
    prompt_of,
    queue_note,
    status_line,
)
from bot.jobs.days import duration_text
from bot.jobs.quota import QuotaView
from bot.jobs.requests import stored_request
from bot.jobs.schedule import Typical
from bot.providers.base import Mode, ModelSpec
from bot.providers.registry import ProviderRegistry
from storage import Job, JobStatus


def mode_label(mode: Mode, locale: str | None = None) -> str:
    """A generation mode as a member reads it ("first frame")."""
    return text(f"listing.mode.{mode.value}", locale)


def model_summary(spec: ModelSpec, *, locale: str | None = None) -> str:
    """One model's capabilities in a line or two, for `/veo models`."""
    comma = text("listing.comma", locale)
    modes = comma.join(mode_label(m, locale) for m in Mode if m in spec.modes)
    if Mode.REFERENCE in spec.modes:
        modes += text("listing.up_to", locale, most=spec.max_reference_images)
    parts = [
        f"`{spec.name}`",
        modes,
        "/".join(spec.aspect_ratios),
        text("listing.seconds", locale, seconds="/".join(str(d) for d in spec.durations)),
        "/".join(spec.resolutions),
    ]
    extras = [
        text(f"listing.{key}", locale)
        for key, has in (
            ("negative_prompt", spec.negative_prompt),
            ("seed", spec.seed),
            ("enhance_prompt", spec.enhance_prompt),
        )
        if has
    ]
    if extras:
        parts.append(comma.join(extras))
    if spec.price_usd:
        parts.append(text("listing.price", locale, price=spec.price_usd))
    took = duration_text(spec.timing.initial_wait * 2)
    parts.append(text("listing.about", locale, duration=took))
    return " · ".join(parts)[:1024]


# -- /veo status, history, quota, help ---------------------------------------------

STATUS_EMOJI: dict[JobStatus, str] = {
    JobStatus.QUEUED: "⏳",
    JobStatus.SUBMITTING: "📨",
    JobStatus.RUNNING: "🎞️",
    JobStatus.DOWNLOADING: "⬇️",
    JobStatus.DELIVERING: "📤",
    JobStatus.DELIVERED: "✅",
    JobStatus.FAILED: "❌",
    JobStatus.CANCELLED: "🚫",
}

HISTORY_PAGE_SIZE = 10
MESSAGE_LIMIT = 2000


def status_word(job: Job, locale: str | None = None) -> str:
    """The job's status as a word, e.g. `delivered`."""
    return text(f"listing.status.{job.status.value}", locale)


def status_badge(job: Job, *, locale: str | None = None) -> str:
    """The status as an emoji and a word, e.g. `✅ delivered`."""
    return f"{STATUS_EMOJI[job.status]} {status_word(job, locale)}"


def one_line(text: str, limit: int) -> str:
    """A prompt squeezed onto one line: whitespace collapsed, cut at `limit` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: max(0, limit - 1)] + "…"


def _plain(text: str) -> str:
    """Text safe to put inline in a line of Markdown (no formatting, no masked links)."""
    return escape_markdown(text)


def quota_job_line(
    job: Job,
    now: float,
    typical: Typical | None,
    position: int,
    service: str | None = None,
    *,
    locale: str | None = None,
) -> str:
    """One in-progress job in `/veo quota`."""
    line = f"• **#{job.id}** — {status_line(job, now, typical, service, locale)}"
    if job.status is JobStatus.QUEUED:
        note = queue_note(position, typical, locale)
        if note:
            line += f" · {note}"
    return line


def _image_settings(job: Job, locale: str | None) -> str | None:
    req = stored_request(job)
    count = req.image_count
    if not count:
        return None
    key = "listing.images_one" if count == 1 else "listing.images"
    return text(key, locale, mode=mode_label(req.mode, locale), count=count)


def job_details(
    job: Job,
    label: str,
    now: float,
    *,
    typical: Typical | None = None,
    position: int = 0,
    show_owner: bool = False,
    service: str | None = None,
    locale: str | None = None,
) -> str:
    """One job in detail, for `/veo status` (private, so the owner mention never pings)."""
    head = "listing.details_head_owner" if show_owner else "listing.details_head"
    lines = [
        text(head, locale, job=job.id, user=job.user_id),
        preview(prompt_of(job, locale)),
        describe_settings(job, label, locale),
    ]
    images = _image_settings(job, locale)
    if images:
        lines.append(images)
    negative = stored_request(job).negative_prompt
    if negative:
        lines.append(text("listing.avoid", locale, negative=_plain(one_line(negative, 200))))
    status = status_line(job, now, typical, service, locale)
    if job.status is JobStatus.QUEUED:
        note = queue_note(position, typical, locale)
        status += f" · {note}" if note else ""
    lines.append(text("listing.status_is", locale, status=status))
    lines.append(text("listing.created", locale, at=int(job.created_at)))
    if job.finished_at is not None and not job.is_active:
        lines.append(text("listing.ended", locale, at=int(job.finished_at)))
    link = post_link(job)
    if link is not None:
        key = "listing.video_at" if job.delivered_message_id else "listing.job_message_at"
        lines.append(text(key, locale, link=link))
    said = "\n".join(lines)
    if len(said) > MESSAGE_LIMIT:  # only a huge negative prompt can get here
        said = said[: MESSAGE_LIMIT - 1] + "…"
    return said


def job_choice_label(job: Job, *, locale: str | None = None) -> str:
    """An autocomplete choice for a job: `#12 · delivered · a lighthouse at dusk`."""
    head = f"#{job.id} · {status_word(job, locale)} · "
    return head + one_line(prompt_of(job, locale), 100 - len(head))


def history_line(job: Job, prompt_limit: int = 60, *, locale: str | None = None) -> str:
    """`#id · status · short prompt · link`, one line of `/veo history`."""
    prompt = _plain(one_line(prompt_of(job, locale), prompt_limit))
    parts = [
        f"**#{job.id}**",
        status_badge(job, locale=locale),
        prompt or text("listing.no_prompt", locale),
    ]
    link = post_link(job)
    if link is not None:
        key = "listing.history_video" if job.delivered_message_id else "listing.history_post"
        parts.append(text(key, locale, link=link))
    return " · ".join(parts)


def history_page(jobs: list[Job], page: int, *, has_more: bool, locale: str | None = None) -> str:
    """One page of `/veo history` (up to HISTORY_PAGE_SIZE jobs, newest first)."""
    if not jobs:
        if page == 0:
            return text("listing.history_none", locale)
        return text("listing.history_no_older", locale, page=page + 1)
    first = page * HISTORY_PAGE_SIZE + 1
    last = first + len(jobs) - 1
    if page == 0 and not has_more:
        header = text("listing.history_all", locale, count=len(jobs))
    else:
        key = "listing.history_page" if has_more else "listing.history_page_oldest"
        header = text(key, locale, page=page + 1, first=first, last=last)
    for limit in (60, 40, 20, 0):
        lines = [header, *(history_line(job, limit, locale=locale) for job in jobs)]
        said = "\n".join(lines)
        if len(said) <= MESSAGE_LIMIT:
            return said
    return said[: MESSAGE_LIMIT - 1] + "…"


def image_modes(spec: ModelSpec, *, locale: str | None = None) -> str:
    """What a model can do with images, in a few words, for `/veo help`."""
    modes = [mode_label(m, locale) for m in Mode if m in spec.modes and m is not Mode.TEXT]
    if Mode.REFERENCE in spec.modes:
        modes[-1] += text("listing.up_to", locale, most=spec.max_reference_images)
    if not modes:
        return text("listing.text_only", locale)
    needed = "" if Mode.TEXT in spec.modes else text("listing.image_required", locale)
    return text("listing.comma", locale).join(modes) + needed


def help_intro(
    commands: list[tuple[str, str]],
    quota: QuotaView,
    *,
    max_active: int,
    locale: str | None = None,
) -> str:
    """The top of `/veo help`: what the bot does, its commands, the member's limits (an
    exempt member has no daily count, so none is shown)."""
    daily = (
        text("listing.help_no_daily_limit", locale)
        if quota.exempt
        else text(
            "listing.help_daily",
            locale,
            limit=quota.limit,
            remaining=quota.remaining,
            at=quota.resets_at,
        )
    )
    lines = [
        text("listing.help_about", locale),
        "",
        text("listing.help_commands", locale),
        *(f"• {name} — {description}" for name, description in commands),
        "",
        text("listing.help_limits", locale),
        daily,
        text("listing.help_active", locale, max_active=max_active),
        text("listing.help_refunds", locale),
    ]
    return "\n".join(lines)[:4096]


def help_embed(
    commands: list[tuple[str, str]],
    quota: QuotaView,
    *,
    max_active: int,
    providers: ProviderRegistry,
    default_model: str,
    locale: str | None = None,
) -> discord.Embed:
    """`/veo help`: the intro, then how each model uses images, within Discord's limits."""
    embed = discord.Embed(
        title=text("listing.help_title", locale)[:256],
        description=help_intro(commands, quota, max_active=max_active, locale=locale),
        colour=discord.Colour.blurple(),
    )
    for name, value in image_mode_fields(providers, locale=locale):
        if len(embed) + len(name) + len(value) > 5900 or len(embed.fields) == 25:
            break  # Discord: 6,000 characters and 25 fields per embed
        embed.add_field(name=name, value=value, inline=False)
    embed.set_footer(text=text("listing.help_footer", locale, model=default_model)[:2048])
    return embed


def image_mode_fields(
    providers: ProviderRegistry, *, locale: str | None = None
) -> list[tuple[str, str]]:
    """Each enabled model's image modes, one embed field per service (split at 1,024)."""
    fields: list[tuple[str, str]] = []
    for provider in providers:
        name = text("listing.image_modes_of", locale, service=provider.label)[:256]
        chunk: list[str] = []
        for spec in provider.models.values():
            modes = image_modes(spec, locale=locale)
            line = text("listing.image_modes_line", locale, label=spec.label, modes=modes)[:1024]
            if chunk and len("\n".join([*chunk, line])) > 1024:
                fields.append((name, "\n".join(chunk)))
                chunk = []
            chunk.append(line)
        if chunk:
            fields.append((name, "\n".join(chunk)))
    return fields


def models_embeds(
    fields: list[tuple[str, str]], default_model: str, *, locale: str | None = None
) -> list[discord.Embed]:
    """`/veo models`: one field per model, split as Discord requires (25 fields an
    embed, 10 embeds a message)."""
    embeds = []
    for start in range(0, len(fields), 25):
        first = start == 0
        embed = discord.Embed(
            title=text("listing.models_title", locale)[:256] if first else None,
            description=(
                text("listing.models_default", locale, model=default_model)[:4096]
                if first
                else None
            ),
            colour=discord.Colour.blurple(),
        )
        for name, value in fields[start : start + 25]:
            embed.add_field(name=name, value=value, inline=False)
        embeds.append(embed)
    return embeds[:10]
