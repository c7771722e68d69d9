"""Persistent buttons. Each carries its job number in its custom_id, so it keeps working
after a restart (registered once with `add_dynamic_items`, by the cog that owns them).

A job number in a custom_id comes from outside like any other, so every button asks
`bot.jobs.access.may` for its own action: the job's owner may use it from anywhere, an admin
(Manage Server) only inside the job's own server, and Delete is also open to Manage
Messages there. Anyone else is told, privately, exactly what a missing job gets.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import discord

from bot.chat import listings, messages
from bot.chat.askers import asker_of
from bot.chat.failures import refusal_text
from bot.chat.i18n import text
from bot.chat.submission import submit_request
from bot.jobs.access import Action
from bot.jobs.origin import Parent
from bot.jobs.requests import RequestInvalid, stored_request
from storage import Job, JobStatus

if TYPE_CHECKING:
    from bot.chat.bot import ChatBot

log = logging.getLogger(__name__)

Interaction = discord.Interaction[Any]


async def owned_job(interaction: Interaction, job_id: int, action: Action) -> Job | None:
    """The job if the clicker may take `action` on it; otherwise answer them (in the
    words of a missing job) and return None."""
    bot: ChatBot = interaction.client
    try:
        return await bot.service.job_for(job_id, asker_of(interaction), action)
    except RequestInvalid as exc:
        await interaction.response.send_message(
            f"⚠️ {refusal_text(exc, str(interaction.locale))}", ephemeral=True
        )
        return None


def cancel_prompt(
    job: Job, *, owner: bool = True, locale: str | None = None
) -> tuple[str, discord.ui.View]:
    """What cancelling will cost, said before anyone confirms (in `locale`). No vendor can
    stop a render, and a render it finished was billed; `owner` is False when an admin
    cancels another member's job, so the words say whose quota it is."""
    if job.status is JobStatus.QUEUED:
        key = "chat.cancel_queued"
    elif job.status in (JobStatus.SUBMITTING, JobStatus.RUNNING):
        key = "chat.cancel_running"
    else:
        key = "chat.cancel_made"
    said = text(key if owner else f"{key}_member", locale, job=job.id)
    view = discord.ui.View(timeout=None)
    view.add_item(ConfirmCancelButton(job.id, messages.button("cancel_yes", locale)))
    return said, view


class _JobButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"veo:_:(?P<job>\d+)"):
    """A button bound to one job; subclasses set their template, `key` (the custom_id's
    word), the `action` the rule is asked about, the look, and `act`. (This base's
    template is never registered.)"""

    key = ""
    action = Action.VIEW
    label = ""
    style = discord.ButtonStyle.secondary
    emoji: str | None = None

    def __init__(self, job_id: int, label: str | None = None) -> None:
        self.job_id = job_id
        super().__init__(
            discord.ui.Button(
                label=label or self.label,
                style=self.style,
                emoji=self.emoji,
                custom_id=f"veo:{self.key}:{job_id}",
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> _JobButton:
        return cls(int(match["job"]))

    async def callback(self, interaction: Interaction) -> None:
        job = await owned_job(interaction, self.job_id, self.action)
        if job is not None:
            await self.act(interaction, job)

    async def act(self, interaction: Interaction, job: Job) -> None:
        raise NotImplementedError


class CancelButton(_JobButton, template=r"veo:cancel:(?P<job>\d+)"):
    key, label, style, emoji = "cancel", "Cancel", discord.ButtonStyle.danger, "✖️"
    action = Action.CANCEL

    async def act(self, interaction: Interaction, job: Job) -> None:
        if not job.is_active:
            await interaction.response.send_message(
                text("chat.already_ended", str(interaction.locale), job=job.id), ephemeral=True
            )
            return
        said, view = cancel_prompt(
            job, owner=job.user_id == interaction.user.id, locale=str(interaction.locale)
        )
        await interaction.response.send_message(said, view=view, ephemeral=True)


class ConfirmCancelButton(_JobButton, template=r"veo:cancel-yes:(?P<job>\d+)"):
    key, label, style = "cancel-yes", text("button.cancel_yes"), discord.ButtonStyle.danger
    action = Action.CANCEL

    async def act(self, interaction: Interaction, job: Job) -> None:
        bot: ChatBot = interaction.client
        try:
            job = await bot.service.cancel(job.id, asker_of(interaction))
        except RequestInvalid as exc:
            await interaction.response.edit_message(
                content=refusal_text(exc, str(interaction.locale)), view=None
            )
            return
        if job.status is JobStatus.CANCELLED:
            owner = job.user_id == interaction.user.id
            key = "chat.cancelled" if owner else "chat.cancelled_member"
        elif job.completed_at is not None:
            key = "chat.not_posted_made"
        else:
            key = "chat.not_posted_later"
        said = text(key, str(interaction.locale), job=job.id)
        await interaction.response.edit_message(content=said, view=None)


class RetryButton(_JobButton, template=r"veo:retry:(?P<job>\d+)"):
    """The same request again, the seed included ("Same seed" where the member gave
    one; "Try again" under a failure)."""

    key, label, emoji, action = "retry", "Retry", "🔁", Action.RETRY
    new_seed = False

    async def act(self, interaction: Interaction, job: Job) -> None:
        bot: ChatBot = interaction.client
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            request, images = await bot.service.again(
                job.id, asker_of(interaction), new_seed=self.new_seed
            )
        except RequestInvalid as exc:
            await interaction.edit_original_response(
                content=f"⚠️ {refusal_text(exc, str(interaction.locale))}"
            )
            return
        await submit_request(bot, interaction, request, images, made_from=parent_of(job))


class NewTakeButton(RetryButton, template=r"veo:newtake:(?P<job>\d+)"):
    """The same request with a new seed: a different take, where Retry would make a
    near-copy of a job whose member gave a seed."""

    key, label, emoji = "newtake", "New take", "🎲"
    new_seed = True


def parent_of(job: Job) -> Parent:
    """A job a new one is made from, linked to where members see it."""
    return Parent(job.id, messages.post_link(job))


class RemixModal(discord.ui.Modal):
    def __init__(self, job: Job, limit: int = 4000, locale: str | None = None) -> None:
        super().__init__(title=text("chat.remix_title", locale), timeout=600)
        self.job = job
        limit = min(limit, 4000)  # Discord's own cap on a text field
        self.prompt: discord.ui.TextInput[RemixModal] = discord.ui.TextInput(
            label=text("chat.remix_prompt", locale),
            style=discord.TextStyle.paragraph,
            default=stored_request(job).prompt[:limit],
            max_length=limit,
        )
        self.add_item(self.prompt)

    async def on_submit(self, interaction: Interaction) -> None:
        # Whoever holds the form's id can send it, and permissions change: ask the rule
        # again for this sender, here (`again` does, with the Remix action).
        bot: ChatBot = interaction.client
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            request, images = await bot.service.again(
                self.job.id, asker_of(interaction), prompt=self.prompt.value
            )
        except RequestInvalid as exc:
            await interaction.edit_original_response(
                content=f"⚠️ {refusal_text(exc, str(interaction.locale))}"
            )
            return
        await submit_request(bot, interaction, request, images, made_from=parent_of(self.job))


class RemixButton(_JobButton, template=r"veo:remix:(?P<job>\d+)"):
    key, label, emoji, action = "remix", "Remix", "✏️", Action.REMIX

    async def act(self, interaction: Interaction, job: Job) -> None:
        # Said before the form opens: a form that cannot be used is worse than none.
        bot: ChatBot = interaction.client
        try:
            limit = await bot.service.remix_limit(job)
        except RequestInvalid as exc:
            await interaction.response.send_message(
                f"⚠️ {refusal_text(exc, str(interaction.locale))}", ephemeral=True
            )
            return
        await interaction.response.send_modal(RemixModal(job, limit, str(interaction.locale)))


class DeleteButton(_JobButton, template=r"veo:delete:(?P<job>\d+)"):
    """Asks first: deleting removes the video and the job message (whose prompt echo is
    what a moderator usually wants gone), and cannot be undone."""

    key, label, emoji, action = "delete", "Delete", "🗑️", Action.DELETE

    async def act(self, interaction: Interaction, job: Job) -> None:
        view = discord.ui.View(timeout=None)
        locale = str(interaction.locale)
        view.add_item(ConfirmDeleteButton(job.id, messages.button("delete_yes", locale)))
        await interaction.response.send_message(
            messages.reply("delete_question", locale, job=job.id),
            view=view,
            ephemeral=True,
        )


class ConfirmDeleteButton(_JobButton, template=r"veo:delete-yes:(?P<job>\d+)"):
    key, label, style = "delete-yes", text("button.delete_yes"), discord.ButtonStyle.danger
    action = Action.DELETE

    async def act(self, interaction: Interaction, job: Job) -> None:
        # Only the two messages the job's row names, both the bot's own posts in the job's
        # channel: a moderator's Manage Messages reaches nothing else through this button.
        bot: ChatBot = interaction.client
        await interaction.response.defer(ephemeral=True, thinking=True)
        removed = await bot.publisher.remove(job)
        if not removed:
            await interaction.edit_original_response(
                content=messages.reply("delete_failed", str(interaction.locale), job=job.id)
            )
            return
        await bot.service.deleted(job, asker_of(interaction))
        await interaction.edit_original_response(
            content=messages.reply("deleted", str(interaction.locale), job=job.id)
        )


def result_custom_id(job_id: int) -> str:
    """The Delete button's custom_id under job `job_id`'s video. Only the bot can put
    components on its messages, so this marks the delivery post (file or link) in a way
    no member's text can imitate; found in channel history after a restart."""
    return f"veo:{DeleteButton.key}:{job_id}"


async def history_reply(
    bot: ChatBot, user_id: int, page: int, locale: str | None = None
) -> tuple[str, discord.ui.View]:
    """One page of a member's jobs, with the buttons to the newer and older pages (in the
    member's `locale`)."""
    size = listings.HISTORY_PAGE_SIZE
    jobs = await bot.service.history(user_id, limit=size + 1, offset=page * size)
    has_more = len(jobs) > size
    jobs = jobs[:size]
    said = listings.history_page(jobs, page, has_more=has_more, locale=locale)
    view = discord.ui.View(timeout=None)
    if page > 0 or has_more:
        newer = max(page - 1, 0)
        view.add_item(
            HistoryPageButton(user_id, newer, newer=True, disabled=page == 0, locale=locale)
        )
        older = page + 1
        view.add_item(HistoryPageButton(user_id, older, disabled=not has_more, locale=locale))
    return said, view


class HistoryPageButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"veo:history:(?P<user>\d+):(?P<page>\d+)",
):
    """A `/veo history` page button. The owner and the page it leads to live in its
    custom_id, so it keeps working after a restart; only the owner may use it."""

    def __init__(
        self,
        user_id: int,
        page: int,
        *,
        newer: bool = False,
        disabled: bool = False,
        locale: str | None = None,
    ) -> None:
        self.user_id = user_id
        self.page = page
        super().__init__(
            discord.ui.Button(
                label=text("chat.history_newer" if newer else "chat.history_older", locale),
                style=discord.ButtonStyle.secondary,
                custom_id=f"veo:history:{user_id}:{page}",
                disabled=disabled,
            )
        )

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> HistoryPageButton:
        return cls(int(match["user"]), int(match["page"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        if interaction.user.id != self.user_id:
            await interaction.response.send_message(
                text("chat.history_not_yours", str(interaction.locale)),
                ephemeral=True,
                allowed_mentions=discord.AllowedMentions.none(),
            )
            return
        bot: ChatBot = interaction.client
        said, view = await history_reply(bot, self.user_id, self.page, str(interaction.locale))
        await interaction.response.edit_message(
            content=said, view=view, allowed_mentions=discord.AllowedMentions.none()
        )


BUTTONS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (
    CancelButton,
    ConfirmCancelButton,
    RetryButton,
    NewTakeButton,
    RemixButton,
    DeleteButton,
    ConfirmDeleteButton,
)
