"""The words of the listings members ask for: `/veo status`, `history`, `quota`, `help`
and `models`. Pure functions, like `messages` (the words about one job as it runs)."""

from __future__ import annotations

import discord
from discord.utils import escape_markdown

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
from bot.jobs.requests import MODE_LABELS, stored_request
from bot.jobs.schedule import Typical
from bot.providers.base import Mode, ModelSpec
from bot.providers.registry import ProviderRegistry
from storage import Job, JobStatus


def model_summary(spec: ModelSpec) -> str:
    """One model's capabilities in a line or two, for `/veo models`."""
    modes = ", ".join(MODE_LABELS[m] for m in Mode if m in spec.modes)
    if Mode.REFERENCE in spec.modes:
        modes += f" (up to {spec.max_reference_images})"
    parts = [
        f"`{spec.name}`",
        modes,
        "/".join(spec.aspect_ratios),
        "/".join(str(d) for d in spec.durations) + " s",
        "/".join(spec.resolutions),
    ]
    extras = [
        word
        for word, has in (
            ("negative prompt", spec.negative_prompt),
            ("seed", spec.seed),
            ("prompt enhancement", spec.enhance_prompt),
        )
        if has
    ]
    if extras:
        parts.append(", ".join(extras))
    if spec.price_usd:
        parts.append(f"${spec.price_usd:.2f} per video")
    parts.append(f"about {duration_text(spec.timing.initial_wait * 2)}")
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


def status_badge(job: Job) -> str:
    """The status as an emoji and a word, e.g. `✅ delivered`."""
    return f"{STATUS_EMOJI[job.status]} {job.status.value}"


def one_line(text: str, limit: int) -> str:
    """A prompt squeezed onto one line: whitespace collapsed, cut at `limit` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: max(0, limit - 1)] + "…"


def _plain(text: str) -> str:
    """Text safe to put inline in a line of Markdown (no formatting, no masked links)."""
    return escape_markdown(text)


def quota_job_line(
    job: Job, now: float, typical: Typical | None, position: int, service: str | None = None
) -> str:
    """One in-progress job in `/veo quota`."""
    line = f"• **#{job.id}** — {status_line(job, now, typical, service)}"
    if job.status is JobStatus.QUEUED:
        note = queue_note(position, typical)
        if note:
            line += f" · {note}"
    return line


def _image_settings(job: Job) -> str | None:
    req = stored_request(job)
    count = req.image_count
    if not count:
        return None
    mode = MODE_LABELS[req.mode]
    return f"Images: {mode} ({count} image{'s' if count != 1 else ''})"


def job_details(
    job: Job,
    label: str,
    now: float,
    *,
    typical: Typical | None = None,
    position: int = 0,
    show_owner: bool = False,
    service: str | None = None,
) -> str:
    """One job in detail, for `/veo status` (private, so the owner mention never pings)."""
    owner = f" for <@{job.user_id}>" if show_owner else ""
    lines = [f"🎬 **Job #{job.id}**{owner}", preview(prompt_of(job))]
    lines.append(describe_settings(job, label))
    images = _image_settings(job)
    if images:
        lines.append(images)
    negative = stored_request(job).negative_prompt
    if negative:
        lines.append(f"Avoid: {_plain(one_line(negative, 200))}")
    status = status_line(job, now, typical, service)
    if job.status is JobStatus.QUEUED:
        note = queue_note(position, typical)
        status += f" · {note}" if note else ""
    lines.append(f"Status: {status}")
    created = int(job.created_at)
    lines.append(f"Created <t:{created}:f> (<t:{created}:R>)")
    if job.finished_at is not None and not job.is_active:
        lines.append(f"Ended <t:{int(job.finished_at)}:R>")
    link = post_link(job)
    if link is not None:
        what = "Video" if job.delivered_message_id else "Job message"
        lines.append(f"{what}: {link}")
    text = "\n".join(lines)
    if len(text) > MESSAGE_LIMIT:  # only a huge negative prompt can get here
        text = text[: MESSAGE_LIMIT - 1] + "…"
    return text


def job_choice_label(job: Job) -> str:
    """An autocomplete choice for a job: `#12 · delivered · a lighthouse at dusk`."""
    head = f"#{job.id} · {job.status.value} · "
    return head + one_line(prompt_of(job), 100 - len(head))


def history_line(job: Job, prompt_limit: int = 60) -> str:
    """`#id · status · short prompt · link`, one line of `/veo history`."""
    parts = [
        f"**#{job.id}**",
        status_badge(job),
        _plain(one_line(prompt_of(job), prompt_limit)) or "(no prompt)",
    ]
    link = post_link(job)
    if link is not None:
        parts.append(f"[{'video' if job.delivered_message_id else 'post'}](<{link}>)")
    return " · ".join(parts)


def history_page(jobs: list[Job], page: int, *, has_more: bool) -> str:
    """One page of `/veo history` (up to HISTORY_PAGE_SIZE jobs, newest first)."""
    if not jobs:
        if page == 0:
            return "You have not made any videos yet. Start with `/veo generate`."
        return f"There are no older videos on page {page + 1}. Go back with **◀ Newer**."
    first = page * HISTORY_PAGE_SIZE + 1
    last = first + len(jobs) - 1
    if page == 0 and not has_more:
        header = f"**Your videos**, newest first ({len(jobs)} in all):"
    else:
        oldest = "" if has_more else ", your oldest"
        header = f"**Your videos**, newest first — page {page + 1} (videos {first}–{last}{oldest}):"
    for limit in (60, 40, 20, 0):
        lines = [header, *(history_line(job, limit) for job in jobs)]
        text = "\n".join(lines)
        if len(text) <= MESSAGE_LIMIT:
            return text
    return text[: MESSAGE_LIMIT - 1] + "…"


def image_modes(spec: ModelSpec) -> str:
    """What a model can do with images, in a few words, for `/veo help`."""
    modes = [MODE_LABELS[m] for m in Mode if m in spec.modes and m is not Mode.TEXT]
    if Mode.REFERENCE in spec.modes:
        modes[-1] += f" (up to {spec.max_reference_images})"
    if not modes:
        return "text only, no images"
    return ", ".join(modes) + ("" if Mode.TEXT in spec.modes else " (an image is required)")


def help_intro(commands: list[tuple[str, str]], quota: QuotaView, *, max_active: int) -> str:
    """The top of `/veo help`: what the bot does, its commands, the member's limits (an
    exempt member has no daily count, so none is shown)."""
    daily = (
        "• Your role on this server has no daily limit."
        if quota.exempt
        else f"• **{quota.limit}** videos per day (UTC); **{quota.remaining}** left today, "
        f"resetting <t:{quota.resets_at}:R>."
    )
    lines = [
        "I make short AI videos with Google's Veo models, through the services this "
        "server has enabled. Describe a scene (and attach images if you like); I queue the job, "
        "post its progress in the channel, and post the video there when it is ready.",
        "",
        "**Commands**",
        *(f"• {name} — {description}" for name, description in commands),
        "",
        "**Your limits**",
        daily,
        f"• Up to **{max_active}** jobs in progress at once.",
        "• A job that fails, or that you cancel before it is sent, is refunded.",
    ]
    return "\n".join(lines)[:4096]


def help_embed(
    commands: list[tuple[str, str]],
    quota: QuotaView,
    *,
    max_active: int,
    providers: ProviderRegistry,
    default_model: str,
) -> discord.Embed:
    """`/veo help`: the intro, then how each model uses images, within Discord's limits."""
    embed = discord.Embed(
        title="Veo video bot — help",
        description=help_intro(commands, quota, max_active=max_active),
        colour=discord.Colour.blurple(),
    )
    for name, value in image_mode_fields(providers):
        if len(embed) + len(name) + len(value) > 5900 or len(embed.fields) == 25:
            break  # Discord: 6,000 characters and 25 fields per embed
        embed.add_field(name=name, value=value, inline=False)
    embed.set_footer(
        text=f"Default model here: {default_model}. "
        "/veo models lists each model's lengths, sizes and prices."
    )
    return embed


def image_mode_fields(providers: ProviderRegistry) -> list[tuple[str, str]]:
    """Each enabled model's image modes, one embed field per service (split at 1,024)."""
    fields: list[tuple[str, str]] = []
    for provider in providers:
        name = f"Image modes · {provider.label}"[:256]
        chunk: list[str] = []
        for spec in provider.models.values():
            line = f"• **{spec.label}**: {image_modes(spec)}"[:1024]
            if chunk and len("\n".join([*chunk, line])) > 1024:
                fields.append((name, "\n".join(chunk)))
                chunk = []
            chunk.append(line)
        if chunk:
            fields.append((name, "\n".join(chunk)))
    return fields


def models_embeds(fields: list[tuple[str, str]], default_model: str) -> list[discord.Embed]:
    """`/veo models`: one field per model, split as Discord requires (25 fields an
    embed, 10 embeds a message)."""
    embeds = []
    for start in range(0, len(fields), 25):
        embed = discord.Embed(
            title="Available video models" if start == 0 else None,
            description=(
                f"Default here: **{default_model}**. Pick with `model:` in `/veo generate`, "
                "or set your own default with `/veo settings`."
                if start == 0
                else None
            ),
            colour=discord.Colour.blurple(),
        )
        for name, value in fields[start : start + 25]:
            embed.add_field(name=name, value=value, inline=False)
        embeds.append(embed)
    return embeds[:10]
