"""The words members see about a job. Pure functions: easy to test, one place to edit."""

from __future__ import annotations

from typing import assert_never

import discord
from discord.utils import escape_markdown

from bot.chat.estimates import after_elapsed, ready_after_start
from bot.chat.failures import job_failure_text
from bot.jobs.days import duration_text
from bot.jobs.requests import MODE_LABELS, stored_request
from bot.jobs.schedule import Typical
from bot.providers.base import Mode, ModelSpec
from bot.providers.codes import ErrorCode
from bot.providers.registry import ProviderRegistry
from storage import Job, JobStatus

PROMPT_PREVIEW = 300
PROMPT_DELETED = "(prompt deleted after the retention period)"


def prompt_of(job: Job) -> str:
    """The job's prompt, or a note once the retention sweep has deleted it (rather than
    an empty quote that looks like a bug)."""
    if job.purged_at is not None:
        return PROMPT_DELETED
    return stored_request(job).prompt


def preview(prompt: str, limit: int = PROMPT_PREVIEW) -> str:
    text = prompt if len(prompt) <= limit else prompt[: limit - 1] + "…"
    return "> " + text.replace("\n", "\n> ")


def describe_settings(job: Job, label: str) -> str:
    req = stored_request(job)
    parts = [f"**{label}**", job.provider]
    if req.duration:
        parts.append(f"{req.duration} s")
    if req.resolution:
        parts.append(req.resolution)
    if req.aspect_ratio:
        parts.append(req.aspect_ratio)
    if req.seed is not None:
        parts.append(f"seed {req.seed}")
    return " · ".join(parts)


def status_line(
    job: Job, now: float, typical: Typical | None = None, service: str | None = None
) -> str:
    status = job.status
    if status is JobStatus.QUEUED:
        waiting = f" ({job.stage})" if job.stage else ""
        return f"⏳ Queued{waiting}"
    if status is JobStatus.SUBMITTING:
        return "📨 Sending to the video service…"
    if status is JobStatus.RUNNING:
        started = job.submitted_at or job.created_at
        elapsed = duration_text(now - started)
        who = service or "the video service"
        expect = after_elapsed(typical)
        if job.stage in (None, "submitted"):  # no check has shown the vendor at work yet
            return f"📨 Sent to {who}, waiting for it to accept ({elapsed}{expect})"
        accepted = f"accepted by {who}"
        if job.progress is not None and 0 < job.progress < 100:
            stage = f", {job.stage}" if job.stage != "generating" else ""
            return f"🎞️ Generating — {job.progress}%{stage} · {accepted} ({elapsed})"
        stage = f" — {job.stage}" if job.stage != "generating" else ""
        return f"🎞️ Generating{stage} · {accepted} ({elapsed}{expect})"
    if status is JobStatus.DOWNLOADING:
        return "⬇️ Fetching the video…"
    if status is JobStatus.DELIVERING:
        return "📤 Uploading…"
    if status is JobStatus.DELIVERED:
        took = duration_text((job.finished_at or now) - job.created_at)
        return f"✅ Delivered in {took}"
    if status is JobStatus.FAILED:
        return f"❌ Failed: {job_failure_text(job)}"
    if status is JobStatus.CANCELLED:
        return "🚫 Cancelled"
    assert_never(status)


def job_message(
    job: Job,
    label: str,
    now: float,
    typical: Typical | None = None,
    *,
    position: int = 0,
    service: str | None = None,
) -> str:
    """The public job message: who, what, and where it stands (with its place in the
    queue while it waits, when `position` is known)."""
    status = status_line(job, now, typical, service)
    if job.status is JobStatus.QUEUED and position > 0:
        status += f" · {queue_note(position, typical)}"
    lines = [
        f"🎬 **Job #{job.id}** for <@{job.user_id}>",
        preview(prompt_of(job)),
        describe_settings(job, label),
        status,
    ]
    return "\n".join(lines)[:2000]


def ready_marker(job_id: int) -> str:
    """The words that open a job's delivery post (for people: the bot recognises its own
    posts by their buttons, which members cannot imitate)."""
    return f"Job #{job_id} is ready"


def ready_message(
    job: Job, *, link: str | None = None, link_expires_at: float | None = None
) -> str:
    text = f"✅ {ready_marker(job.id)}, <@{job.user_id}>!"
    if link is not None:
        expiry = f" (the link expires <t:{int(link_expires_at)}:R>)" if link_expires_at else ""
        if job.error_code == ErrorCode.DOWNLOAD_TOO_SLOW:  # the manager gave up on fetching it
            why = "The video service sent the video too slowly for the bot to download it"
        else:
            why = "The file is larger than this channel's upload limit"
        text += f"\n{why}, so here is a link{expiry}:\n{link}"
    return text


def result_embed(
    job: Job, spec: ModelSpec | None, label: str, now: float, quota: tuple[int, int] | None = None
) -> discord.Embed:
    """The card under a finished video: what was asked, how, and what is left today.
    Options the member left empty show the model's defaults."""
    req = stored_request(job)
    duration = req.duration or (spec.default_duration if spec else None)
    resolution = req.resolution or (spec.resolutions[0] if spec else None)
    aspect = req.aspect_ratio or (spec.aspect_ratios[0] if spec else None)
    embed = discord.Embed(
        title=f"Job #{job.id}",
        description=preview(prompt_of(job), 1000),
        colour=discord.Colour.green(),
    )
    embed.add_field(name="Model", value=label)
    embed.add_field(name="Provider", value=job.provider)
    embed.add_field(name="Length", value=f"{duration} s" if duration else "—")
    embed.add_field(name="Resolution", value=str(resolution or "—"))
    embed.add_field(name="Aspect", value=str(aspect or "—"))
    embed.add_field(name="Seed", value=str(req.seed) if req.seed is not None else "random")
    embed.add_field(name="Took", value=duration_text(now - job.created_at))
    if quota is not None:
        remaining, limit = quota
        embed.set_footer(text=f"{remaining} of {limit} videos left today")
    return embed


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


def message_link(guild_id: int | None, channel_id: int, message_id: int) -> str:
    return f"https://discord.com/channels/{guild_id or '@me'}/{channel_id}/{message_id}"


def post_link(job: Job) -> str | None:
    """The job's video post when delivered, else its job message, if it has one."""
    message_id = job.delivered_message_id or job.status_message_id
    if message_id is None:
        return None
    return message_link(job.guild_id, job.channel_id, message_id)


def queue_note(position: int, typical: Typical | None) -> str:
    """Where a queued job stands and how long a render usually takes (like /info)."""
    parts = []
    if position > 0:
        parts.append(f"position **{position}** in the queue")
    if typical is not None and typical.median >= 1:  # "about 0s" would say nothing
        parts.append(ready_after_start(typical))
    return " · ".join(parts)


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


def help_intro(
    commands: list[tuple[str, str]],
    *,
    daily_quota: int,
    max_active: int,
    remaining: int,
    resets_at: int,
) -> str:
    """The top of `/veo help`: what the bot does, its commands, the member's limits."""
    lines = [
        "I make short AI videos with Google's Veo models, through the video services this "
        "server has enabled. Describe a scene (and attach images if you like); I queue the job, "
        "post its progress in the channel, and post the video there when it is ready.",
        "",
        "**Commands**",
        *(f"• {name} — {description}" for name, description in commands),
        "",
        "**Your limits**",
        f"• **{daily_quota}** videos per day (UTC); **{remaining}** left today, "
        f"resetting <t:{resets_at}:R>.",
        f"• Up to **{max_active}** videos in progress at once.",
        "• A video that fails, or that you cancel before it is sent, does not count.",
    ]
    return "\n".join(lines)[:4096]


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
