"""The words members see about a job. Pure functions: easy to test, one place to edit."""

from __future__ import annotations

import datetime as dt
from typing import assert_never

import discord

from bot.providers.base import Mode, ModelSpec
from bot.requests import MODE_LABELS
from storage import Job, JobStatus

PROMPT_PREVIEW = 300


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


def preview(prompt: str, limit: int = PROMPT_PREVIEW) -> str:
    text = prompt if len(prompt) <= limit else prompt[: limit - 1] + "…"
    return "> " + text.replace("\n", "\n> ")


def describe_settings(job: Job, label: str) -> str:
    req = job.request
    parts = [f"**{label}**", job.provider]
    if req.get("duration"):
        parts.append(f"{req['duration']} s")
    if req.get("resolution"):
        parts.append(str(req["resolution"]))
    if req.get("aspect_ratio"):
        parts.append(str(req["aspect_ratio"]))
    if req.get("seed") is not None:
        parts.append(f"seed {req['seed']}")
    return " · ".join(parts)


def status_line(job: Job, now: float, typical: float | None = None) -> str:
    status = job.status
    if status is JobStatus.QUEUED:
        waiting = f" ({job.stage})" if job.stage else ""
        return f"⏳ Queued{waiting}"
    if status is JobStatus.SUBMITTING:
        return "📨 Sending to the video service…"
    if status is JobStatus.RUNNING:
        started = job.submitted_at or job.created_at
        elapsed = duration_text(now - started)
        if job.progress is not None and 0 < job.progress < 100:
            stage = f", {job.stage}" if job.stage and job.stage != "generating" else ""
            return f"🎞️ Generating — {job.progress}%{stage} ({elapsed})"
        stage = f" — {job.stage}" if job.stage and job.stage not in ("submitted",) else ""
        typical_text = f" of about {duration_text(typical)} typical" if typical else ""
        return f"🎞️ Generating{stage} ({elapsed}{typical_text})"
    if status is JobStatus.DOWNLOADING:
        return "⬇️ Fetching the video…"
    if status is JobStatus.DELIVERING:
        return "📤 Uploading…"
    if status is JobStatus.DELIVERED:
        took = duration_text((job.finished_at or now) - job.created_at)
        return f"✅ Delivered in {took}"
    if status is JobStatus.FAILED:
        return f"❌ Failed: {job.error_message or 'unknown error'}"
    if status is JobStatus.CANCELLED:
        return "🚫 Cancelled"
    assert_never(status)


def job_message(job: Job, label: str, now: float, typical: float | None = None) -> str:
    """The public job message: who, what, and where it stands."""
    lines = [
        f"🎬 **Job #{job.id}** for <@{job.user_id}>",
        preview(str(job.request.get("prompt", ""))),
        describe_settings(job, label),
        status_line(job, now, typical),
    ]
    return "\n".join(lines)[:2000]


def ready_marker(job_id: int) -> str:
    """The phrase that identifies a job's delivery post, looked for after a restart."""
    return f"Job #{job_id} is ready"


def ready_message(
    job: Job, *, link: str | None = None, link_expires_at: float | None = None
) -> str:
    text = f"✅ {ready_marker(job.id)}, <@{job.user_id}>!"
    if link is not None:
        expiry = f" (the link expires <t:{int(link_expires_at)}:R>)" if link_expires_at else ""
        text += f"\nThe file is larger than this channel's upload limit, so here is a link{expiry}:\n{link}"
    return text


def result_embed(
    job: Job, label: str, now: float, quota: tuple[int, int] | None = None
) -> discord.Embed:
    """The card under a finished video: what was asked, how, and what is left today."""
    req = job.request
    embed = discord.Embed(
        title=f"Job #{job.id}",
        description=preview(str(req.get("prompt", "")), 1000),
        colour=discord.Colour.green(),
    )
    embed.add_field(name="Model", value=label)
    embed.add_field(name="Provider", value=job.provider)
    embed.add_field(
        name="Length", value=f"{req['duration']} s" if req.get("duration") else "default"
    )
    embed.add_field(name="Resolution", value=str(req.get("resolution") or "default"))
    embed.add_field(name="Aspect", value=str(req.get("aspect_ratio") or "default"))
    embed.add_field(
        name="Seed", value=str(req["seed"]) if req.get("seed") is not None else "random"
    )
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
