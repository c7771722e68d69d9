"""Which buttons a job's messages carry in each state (the buttons themselves are in
`components` and `continuing`)."""

from __future__ import annotations

from typing import Any

import discord

from bot.chat.components import (
    BUTTONS,
    CancelButton,
    DeleteButton,
    NewTakeButton,
    RemixButton,
    RetryButton,
)
from bot.chat.continuing import ContinueButton
from bot.chat.messages import button
from bot.jobs.requests import stored_request
from bot.providers.registry import ProviderRegistry
from storage import Job, JobStatus


def job_view(job: Job) -> discord.ui.View | None:
    """The buttons a job message shows in its current state: Cancel while it runs, the
    way to try again once it failed. Labels in the job's language (a public post)."""
    if job.status is JobStatus.FAILED:
        return failed_view(job)
    if not job.is_active:
        return None
    view = discord.ui.View(timeout=None)
    view.add_item(CancelButton(job.id, label=button("cancel", job.locale)))
    return view


def failed_view(job: Job) -> discord.ui.View:
    """Try again (the same request) and Edit prompt (a Remix), so a member whose job
    failed need not type the command and upload the images again."""
    view = discord.ui.View(timeout=None)
    view.add_item(RetryButton(job.id, label=button("try_again", job.locale)))
    view.add_item(RemixButton(job.id, label=button("edit_prompt", job.locale)))
    return view


def result_view(job: Job, providers: ProviderRegistry) -> discord.ui.View:
    """The buttons under a video. A job with a seed the member gave (on a model that
    takes one) offers New take and Same seed; any other, one Retry. Continue is there
    when the video's last frame was kept (ffmpeg, and a model that takes a first frame),
    with what it uses of the member's quota (nothing said to exempt members: units 0)."""
    locale = job.locale
    view = discord.ui.View(timeout=None)
    spec = providers.model(job.provider, job.model)
    if stored_request(job).seed is not None and spec is not None and spec.seed:
        view.add_item(NewTakeButton(job.id, label=button("new_take", locale)))
        view.add_item(RetryButton(job.id, label=button("same_seed", locale)))
    else:
        view.add_item(RetryButton(job.id, label=button("retry", locale)))
    view.add_item(RemixButton(job.id, label=button("remix", locale)))
    if job.frame_at is not None:
        units = job.quota_units
        label = (
            button("continue_uses", locale, units=units) if units else button("continue", locale)
        )
        view.add_item(ContinueButton(job.id, label=label))
    view.add_item(DeleteButton(job.id, label=button("delete", locale)))
    return view


# Every button bound to a job, for the cog that registers them (after a restart too).
JOB_BUTTONS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (*BUTTONS, ContinueButton)
