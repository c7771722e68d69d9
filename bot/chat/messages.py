"""The words members see about a job, from the catalogues (`bot.chat.i18n`): public posts
in the job's language (the server's), private replies in the member's. Pure functions."""

from __future__ import annotations

from typing import assert_never

import discord

from bot.chat.failures import job_failure_text
from bot.chat.i18n import has, text
from bot.jobs.days import duration_text
from bot.jobs.preferences import Defaults
from bot.jobs.requests import stored_request
from bot.jobs.schedule import Typical
from bot.providers.base import ModelSpec
from bot.providers.codes import ErrorCode
from storage import Job, JobStatus, MemberSettings

PROMPT_PREVIEW = 300


def prompt_of(job: Job, locale: str | None = None) -> str:
    """The job's prompt, or a note once the retention sweep has deleted it (rather than
    an empty quote that looks like a bug)."""
    if job.purged_at is not None:
        return text("job.prompt_deleted", locale or job.locale)
    return stored_request(job).prompt


def preview(prompt: str, limit: int = PROMPT_PREVIEW) -> str:
    shown = prompt if len(prompt) <= limit else prompt[: limit - 1] + "…"
    return "> " + shown.replace("\n", "\n> ")


def describe_settings(job: Job, label: str, locale: str | None = None) -> str:
    locale = locale or job.locale
    req = stored_request(job)
    parts = [f"**{label}**", job.provider]
    if req.duration:
        parts.append(text("job.seconds", locale, seconds=req.duration))
    if req.resolution:
        parts.append(req.resolution)
    if req.aspect_ratio:
        parts.append(req.aspect_ratio)
    if req.seed is not None:
        parts.append(text("job.seed", locale, seed=req.seed))
    return " · ".join(parts)


def stage_word(stage: str, locale: str | None) -> str:
    """A stage as the member reads it: translated where the catalogue knows the word (a
    vendor's own stage words show as the vendor sent them)."""
    return text(f"stage.{stage}", locale) if has(f"stage.{stage}") else stage


def status_line(
    job: Job,
    now: float,
    typical: Typical | None = None,
    service: str | None = None,
    locale: str | None = None,
) -> str:
    """Where the job stands, in one line; in `locale` (the job's own for public posts)."""
    locale = locale or job.locale
    status = job.status
    if status is JobStatus.QUEUED:
        if job.stage:
            return text("job.queued_stage", locale, stage=stage_word(job.stage, locale))
        return text("job.queued", locale)
    if status is JobStatus.SUBMITTING:
        return text("job.sending", locale)
    if status is JobStatus.RUNNING:
        started = job.submitted_at or job.created_at
        who = service or text("job.the_service", locale)
        if job.stage in (None, "submitted"):  # no check has shown the vendor at work yet
            return text("job.sent", locale, service=who, at=int(started))
        expect = expected(started, typical, now, locale)
        if job.stage == "queued":  # in the vendor's own queue: not generating yet
            return text("job.in_vendor_queue", locale, service=who, expect=expect)
        stage = stage_word(job.stage, locale) if job.stage != "generating" else ""
        if job.progress is not None and 0 < job.progress < 100:
            stage = f"{job.progress}%{', ' + stage if stage else ''}"
        key = "job.generating_stage" if stage else "job.generating"
        return text(key, locale, stage=stage, service=who, expect=expect)
    if status is JobStatus.DOWNLOADING:
        return text("job.fetching", locale)
    if status is JobStatus.DELIVERING:
        return text("job.uploading", locale)
    if status is JobStatus.DELIVERED:
        took = duration_text((job.finished_at or now) - job.created_at)
        return text("job.delivered", locale, took=took)
    if status is JobStatus.FAILED:
        return text("job.failed", locale, why=job_failure_text(job, locale))
    if status is JobStatus.CANCELLED:
        return text("job.cancelled", locale)
    assert_never(status)


def expected(started: float, typical: Typical | None, now: float, locale: str | None) -> str:
    """When a render is usually done, as a Discord relative time that counts on by itself
    (" · usually ready in 2 minutes"), so the message need not be edited to stay true."""
    if typical is None or typical.median < 1:
        return ""
    ready = started + typical.median
    if ready <= now:
        return text("job.taking_longer", locale)
    return text("job.usually_ready", locale, at=int(ready))


def job_message(
    job: Job,
    label: str,
    now: float,
    typical: Typical | None = None,
    *,
    position: int = 0,
    service: str | None = None,
) -> str:
    """The public job message, in the server's language: who, what, and where it stands
    (with its place in the queue while it waits, when `position` is known)."""
    locale = job.locale
    head = text("job.head", locale, job=job.id, user=job.user_id) + made_from(job)
    if job.status is JobStatus.DELIVERED and job.delivered_message_id is not None:
        # Collapsed to a pointer: the video post below carries the prompt and settings.
        link = message_link(job.guild_id, job.channel_id, job.delivered_message_id)
        took = duration_text((job.finished_at or now) - job.created_at)
        return head + text("job.delivered_pointer", locale, took=took, link=link)
    status = status_line(job, now, typical, service)
    if job.status is JobStatus.QUEUED and position > 0:
        status += f" · {queue_note(position, typical, locale)}"
    lines = [
        head,
        preview(prompt_of(job)),
        describe_settings(job, label),
        status,
    ]
    return "\n".join(lines)[:2000]


def ready_marker(job_id: int) -> str:
    """Words that open a job's delivery post in English (tests and people find it by
    them; the bot recognises its own posts by their buttons, which members cannot imitate)."""
    return f"Job #{job_id} is ready"


def ready_message(
    job: Job, *, link: str | None = None, link_expires_at: float | None = None
) -> str:
    locale = job.locale
    said = text("job.ready", locale, job=job.id, user=job.user_id)
    if link is not None:
        expiry = (
            text("job.link_expires", locale, at=int(link_expires_at)) if link_expires_at else ""
        )
        # The manager gave up on fetching it, or it is over the channel's upload limit.
        slow = job.error_code == ErrorCode.DOWNLOAD_TOO_SLOW
        why = text("job.too_slow_link" if slow else "job.too_large_link", locale, expiry=expiry)
        shown = f"||{link}||" if job.spoiler else link  # the member's spoiler setting
        said += f"\n{why}\n{shown}"
    return said


def result_embed(
    job: Job, spec: ModelSpec | None, label: str, now: float, quota: tuple[int, int] | None = None
) -> discord.Embed:
    """The card under a finished video: what was asked, how, and what is left today.
    Options the member left empty show the model's defaults."""
    locale = job.locale
    req = stored_request(job)
    duration = req.duration or (spec.default_duration if spec else None)
    resolution = req.resolution or (spec.resolutions[0] if spec else None)
    aspect = req.aspect_ratio or (spec.aspect_ratios[0] if spec else None)
    embed = discord.Embed(
        title=text("job.card_title", locale, job=job.id),
        description=preview(prompt_of(job), 1000),
        colour=discord.Colour.green(),
    )
    seconds = text("job.seconds", locale, seconds=duration) if duration else "—"
    seed = str(req.seed) if req.seed is not None else text("job.card_random", locale)
    for name, value in (
        ("card_model", label),
        ("card_provider", job.provider),
        ("card_length", seconds),
        ("card_resolution", str(resolution or "—")),
        ("card_aspect", str(aspect or "—")),
        ("card_seed", seed),
        ("card_took", duration_text(now - job.created_at)),
    ):
        embed.add_field(name=text(f"job.{name}", locale), value=value)
    if quota is not None:
        remaining, limit = quota
        embed.set_footer(text=text("job.card_left", locale, remaining=remaining, limit=limit))
    return embed


def message_link(guild_id: int | None, channel_id: int, message_id: int) -> str:
    return f"https://discord.com/channels/{guild_id or '@me'}/{channel_id}/{message_id}"


def post_link(job: Job) -> str | None:
    """The job's video post when delivered, else its job message, if it has one."""
    message_id = job.delivered_message_id or job.status_message_id
    if message_id is None:
        return None
    return message_link(job.guild_id, job.channel_id, message_id)


def queue_note(position: int, typical: Typical | None, locale: str | None = None) -> str:
    """Where a queued job stands and how long a render usually takes (like /info)."""
    parts = []
    if position > 0:
        parts.append(text("job.position", locale, position=position))
    if typical is not None and typical.median >= 1:  # "about 0s" would say nothing
        median = duration_text(typical.median)
        if typical.samples == 0:
            parts.append(text("job.ready_about", locale, median=median))
        else:
            p90 = duration_text(typical.p90)
            parts.append(text("job.ready_learned", locale, median=median, p90=p90))
    return " · ".join(parts)


def made_from(job: Job) -> str:
    """ " · from #12", linked to where job 12 is shown, for a job made from another."""
    if job.parent_job_id is None:
        return ""
    if job.parent_link:
        return text("job.from_link", job.locale, parent=job.parent_job_id, link=job.parent_link)
    return text("job.from", job.locale, parent=job.parent_job_id)


def defaults_note(defaults: Defaults | None, locale: str | None) -> str:
    """What the member's own settings did to this job, said once in the confirmation."""
    if defaults is None:
        return ""
    lines = []
    if defaults.used:
        lines.append(text("reply.defaults_used", locale, used=" · ".join(defaults.used)))
    if defaults.skipped_model:
        lines.append(text("reply.default_skipped", locale, model=defaults.skipped_model))
    return "".join(f"\n{line}" for line in lines)


def queued_here(job_id: int, link: str, defaults: Defaults | None, locale: str | None) -> str:
    said = text("reply.queued_here", locale, job=job_id, link=link)
    return said + defaults_note(defaults, locale)


def queued_below(job_id: int, reason: str, defaults: Defaults | None, locale: str | None) -> str:
    """Queued, in a channel the bot cannot post in (`reason` says why, or is empty)."""
    said = text("reply.queued_below", locale, job=job_id, reason=reason)
    return said + defaults_note(defaults, locale)


def failure_ping(job: Job, why: str) -> str:
    return text("job.failure_ping", job.locale, user=job.user_id, job=job.id, why=why)


def dm_copy(job: Job, link: str) -> str:
    """The copy of a video in its member's direct messages (they asked, in /veo settings)."""
    return text("job.dm_copy", job.locale, job=job.id, link=link)


def button(key: str, locale: str | None, **params: object) -> str:
    """A button's label (on a public post: in the job's language)."""
    return text(f"button.{key}", locale, **params)


# -- /veo settings, /veo forget ----------------------------------------------------------


def setting_name(what: str, locale: str | None) -> str:
    return text(f"settings.{what}", locale)


def settings_panel(prefs: MemberSettings, model_label: str | None, locale: str | None) -> str:
    """The panel's text: what is saved, and what it means."""

    def shown(value: object | None) -> str:
        return str(value) if value else text("settings.servers_default", locale)

    length = text("job.seconds", locale, seconds=prefs.duration) if prefs.duration else None
    return text(
        "settings.panel",
        locale,
        model=shown(model_label),
        aspect=shown(prefs.aspect_ratio),
        length=shown(length),
        resolution=shown(prefs.resolution),
    )


def forgotten(purged: int, locale: str | None) -> str:
    if purged == 1:
        return text("settings.forgotten_one", locale)
    return text("settings.forgotten", locale, count=purged)


# -- Continue, Delete --------------------------------------------------------------------


def continue_title(job_id: int, units: int, locale: str | None) -> str:
    """The Continue form's title: what it continues, and what it uses (not for exempt
    members, who have no count)."""
    if units:
        return text("reply.continue_title_uses", locale, job=job_id, units=units)
    return text("reply.continue_title", locale, job=job_id)


def reply(key: str, locale: str | None, **params: object) -> str:
    """A private reply's sentence, in the member's language."""
    return text(f"reply.{key}", locale, **params)
