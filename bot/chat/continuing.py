"""The Continue button under a delivered video, and its prompt form.

The form opens with what the next job will use (the model, and the quota it costs) and
a length limit that is that model's; the job it makes goes through the shared path of
every new job, its first frame the video's kept last frame.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord

from bot.chat import messages
from bot.chat.askers import asker_of
from bot.chat.components import Interaction, _JobButton, parent_of
from bot.chat.failures import refusal_text
from bot.chat.submission import role_ids_of, submit_request
from bot.jobs.access import Action
from bot.jobs.continuing import Continuation
from bot.jobs.requests import Draft, RequestInvalid
from bot.providers.base import Mode
from storage import Job

if TYPE_CHECKING:
    from bot.chat.bot import ChatBot


class ContinueButton(_JobButton, template=r"veo:continue:(?P<job>\d+)"):
    key, label, emoji, action = "continue", "Continue", "⏭", Action.CONTINUE

    async def act(self, interaction: Interaction, job: Job) -> None:
        bot: ChatBot = interaction.client
        try:
            job, plan = await bot.service.continuation(
                job.id, asker_of(interaction), role_ids_of(interaction)
            )
        except RequestInvalid as exc:
            await interaction.response.send_message(
                f"⚠️ {refusal_text(exc, str(interaction.locale))}", ephemeral=True
            )
            return
        await interaction.response.send_modal(ContinueModal(job, plan, str(interaction.locale)))


class ContinueModal(discord.ui.Modal):
    def __init__(self, job: Job, plan: Continuation, locale: str | None = None) -> None:
        super().__init__(
            title=messages.continue_title(job.id, plan.units, locale)[:45], timeout=600
        )
        self.job = job
        self.plan = plan
        self.prompt: discord.ui.TextInput[ContinueModal] = discord.ui.TextInput(
            label=messages.reply("continue_label", locale, model=plan.label)[:45],
            style=discord.TextStyle.paragraph,
            max_length=min(plan.prompt_limit, 4000),
        )
        self.add_item(self.prompt)

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        # The form may be sent long after it opened: the rule is asked again (through
        # `continuation`), and the draft is checked as a new command would be.
        bot: ChatBot = interaction.client
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            _, plan = await bot.service.continuation(
                self.job.id, asker_of(interaction), role_ids_of(interaction)
            )
            draft = Draft(
                prompt=self.prompt.value,
                provider=plan.provider,
                model=plan.model,
                mode=Mode.FIRST_FRAME.value,
                aspect_ratio=plan.aspect_ratio,
                has_image=True,
            )
            request, defaults = await bot.service.validate(
                draft, interaction.guild_id, interaction.user.id
            )
            image = await bot.service.last_frame(self.job.id, request)
        except RequestInvalid as exc:
            await interaction.edit_original_response(
                content=f"⚠️ {refusal_text(exc, str(interaction.locale))}"
            )
            return
        await submit_request(
            bot, interaction, request, [image], made_from=parent_of(self.job), defaults=defaults
        )
