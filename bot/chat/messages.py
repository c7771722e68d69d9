"""The words members see about a job. Pure functions: easy to test, one place to edit."""

from __future__ import annotations

from typing import assert_never

import discord

from bot.chat.estimates import ready_after_start
from bot.chat.failures import job_failure_text
from bot.jobs.days import duration_text
from bot.jobs.preferences import Defaults
from bot.jobs.requests import stored_request
from bot.jobs.schedule import Typical
from bot.providers.base import ModelSpec
from bot.providers.codes import ErrorCode
from storage import Job, JobStatus, MemberSettings

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
        who = service or "the service"
        if job.stage in (None, "submitted"):  # no check has shown the vendor at work yet
            return f"📨 Sent to {who}, waiting for it to accept · sent <t:{int(started)}:R>"
        expect = expected(started, typical, now)
        if job.stage == "queued":  # in the vendor's own queue: not generating yet
            return f"⏳ Waiting in its queue · accepted by {who}{expect}"
        stage = f" — {job.stage}" if job.stage != "generating" else ""
        if job.progress is not None and 0 < job.progress < 100:
            stage = f" — {job.progress}%{', ' + job.stage if stage else ''}"
        return f"🎞️ Generating{stage} · accepted by {who}{expect}"
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


def expected(started: float, typical: Typical | None, now: float) -> str:
    """When a render is usually done, as a Discord relative time that counts on by itself
    (" · usually ready in 2 minutes"), so the message need not be edited to stay true."""
    if typical is None or typical.median < 1:
        return ""
    ready = started + typical.median
    if ready <= now:
        return " · taking longer than usual"
    return f" · usually ready <t:{int(ready)}:R>"


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
    head = f"🎬 **Job #{job.id}** for <@{job.user_id}>{made_from(job)}"
    if job.status is JobStatus.DELIVERED and job.delivered_message_id is not None:
        # Collapsed to a pointer: the video post below carries the prompt and settings.
        link = message_link(job.guild_id, job.channel_id, job.delivered_message_id)
        took = duration_text((job.finished_at or now) - job.created_at)
        return f"{head} · ✅ Delivered in {took}: [the video](<{link}>)"
    status = status_line(job, now, typical, service)
    if job.status is JobStatus.QUEUED and position > 0:
        status += f" · {queue_note(position, typical)}"
    lines = [
        head,
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
        shown = f"||{link}||" if job.spoiler else link  # the member's spoiler setting
        text += f"\n{why}, so here is a link{expiry}:\n{shown}"
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


def made_from(job: Job) -> str:
    """ " · from #12", linked to where job 12 is shown, for a job made from another."""
    if job.parent_job_id is None:
        return ""
    number = f"#{job.parent_job_id}"
    return f" · from [{number}](<{job.parent_link}>)" if job.parent_link else f" · from {number}"


def defaults_note(defaults: Defaults | None) -> str:
    """What the member's own settings did to this job, said once in the confirmation."""
    if defaults is None:
        return ""
    lines = []
    if defaults.used:
        lines.append(f"Using your defaults: {' · '.join(defaults.used)}")
    if defaults.skipped_model:
        lines.append(
            f"Your default model, {defaults.skipped_model}, is not available here, so this "
            "server's default was used. (I'll only mention this once here.)"
        )
    return "".join(f"\n{line}" for line in lines)


def queued_here(job_id: int, link: str, defaults: Defaults | None) -> str:
    return f"✅ Queued as **job #{job_id}**: follow it here → {link}{defaults_note(defaults)}"


def queued_below(job_id: int, reason: str, defaults: Defaults | None) -> str:
    """Queued, in a channel the bot cannot post in (`reason` says why, or is empty)."""
    return (
        f"✅ Queued as **job #{job_id}**. {reason}progress and the video will appear below, "
        f"as long as it finishes within 15 minutes.{defaults_note(defaults)}"
    )


def failure_ping(job: Job, why: str) -> str:
    return f"<@{job.user_id}> job #{job.id} failed: {why}"


def dm_copy(job: Job, link: str) -> str:
    """The copy of a video in its member's direct messages (they asked, in /veo settings)."""
    return f"Your video of job #{job.id} is ready: {link}"


# -- /veo settings, /veo forget ----------------------------------------------------------

NO_PREFERENCE = "No preference (the server's default)"
SETTING_NAMES = {
    "model": "Default model",
    "aspect": "Default aspect",
    "length": "Default length",
    "size": "Default resolution",
    "dm_copy": "Also send to my DMs",
    "spoiler": "Post as spoilers",
    "ping": "Ping me when done",
}
FORGET_QUESTION = (
    "Delete your settings, and the prompts and images of all your finished jobs? The job "
    "numbers and today's quota stay; Retry and Remix of those jobs will no longer work. "
    "This cannot be undone."
)
FORGET_CONFIRM = "Yes, delete them"
NOT_YOURS = "This button belongs to someone else."


def settings_panel(prefs: MemberSettings, model_label: str | None) -> str:
    """The panel's text: what is saved, and what it means."""

    def shown(value: object | None) -> str:
        return str(value) if value else "server's default"

    length = f"{prefs.duration} s" if prefs.duration else None
    return (
        "**Your settings** — yours in every server. What you type in a command comes "
        "first; a server's limits always win (a default it does not allow is skipped).\n"
        f"Model: **{shown(model_label)}** · Aspect: **{shown(prefs.aspect_ratio)}** · "
        f"Length: **{shown(length)}** · Resolution: **{shown(prefs.resolution)}**"
    )


def forgotten(purged: int) -> str:
    jobs = "1 job" if purged == 1 else f"{purged} jobs"
    return (
        f"Done: your settings are deleted, and the prompts and images of {jobs} are gone. "
        "Jobs still running keep theirs until they end."
    )


# -- Continue ----------------------------------------------------------------------------


def continue_title(job_id: int, units: int) -> str:
    """The Continue form's title: what it continues, and what it uses (not for exempt
    members, who have no count)."""
    return f"Continue job #{job_id}" + (f" (uses {units})" if units else "")


def continue_label(model_label: str) -> str:
    return f"What happens next? ({model_label})"


# -- Delete ------------------------------------------------------------------------------


def delete_question(job_id: int) -> str:
    return f"Delete the video of job #{job_id} and its job message? This cannot be undone."


def deleted(job_id: int) -> str:
    return f"Deleted the video of job #{job_id} and its job message."


def delete_failed(job_id: int) -> str:
    return f"I could not delete the messages of job #{job_id}; they may be gone already."
