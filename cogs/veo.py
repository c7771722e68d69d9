"""The `/veo` commands: turn Discord input into a validated request and back into words.

Business rules live in `bot.jobs.service`; this module only talks to Discord.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.chat import estimates, i18n, listings
from bot.chat.askers import asker_of, parse_job_number
from bot.chat.components import HistoryPageButton, cancel_prompt, history_reply
from bot.chat.failures import refusal_text
from bot.chat.i18n import text
from bot.chat.settings_view import SETTINGS_ITEMS, forget_question, panel
from bot.chat.submission import role_ids_of, submit_draft
from bot.chat.views import JOB_BUTTONS
from bot.jobs.access import Action
from bot.jobs.requests import Draft, RequestInvalid, choose_model, stored_request
from bot.jobs.schedule import Schedules
from bot.jobs.service import VideoService
from bot.providers.base import Mode, ModelSpec
from storage import Job, JobStatus

if TYPE_CHECKING:
    from bot.client import VeoBot

log = logging.getLogger(__name__)

ONLY_MEMBER = discord.AllowedMentions.none()


class VeoCog(commands.Cog):
    veo = app_commands.Group(name="veo", description="Make short AI videos with Google Veo")

    def __init__(self, bot: VeoBot) -> None:
        self.bot = bot

    @property
    def service(self) -> VideoService:
        return self.bot.service

    @property
    def _schedules(self) -> Schedules:
        return self.bot.manager.crew.schedules

    async def cog_load(self) -> None:
        # The persistent buttons of jobs and of history pages belong to this cog: they
        # work again after a restart once it is loaded.
        self.bot.add_dynamic_items(HistoryPageButton, *JOB_BUTTONS, *SETTINGS_ITEMS)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(HistoryPageButton, *JOB_BUTTONS, *SETTINGS_ITEMS)

    # -- /veo generate ----------------------------------------------------------------

    @veo.command(name="generate", description="Make a short video from a prompt (and images)")
    @app_commands.describe(
        prompt="What should happen in the video: scene, action, camera, light, sound",
        image="First frame, or first reference image",
        last_frame="Last frame (with `image` as the first)",
        image2="Second reference image",
        image3="Third reference image",
        mode="How to use the images, where the model offers several ways",
        model="Which model to use",
        provider="Which video service to use",
        aspect_ratio="Landscape or portrait",
        duration="Length in seconds",
        resolution="Output resolution",
        negative_prompt="What to avoid (e.g. blurry, watermark)",
        seed="A number to make results more repeatable",
        enhance_prompt="Let the video service improve your prompt (where the model offers it)",
    )
    async def generate(
        self,
        interaction: discord.Interaction[VeoBot],
        prompt: str,
        image: discord.Attachment | None = None,
        last_frame: discord.Attachment | None = None,
        image2: discord.Attachment | None = None,
        image3: discord.Attachment | None = None,
        mode: str | None = None,
        model: str | None = None,
        provider: str | None = None,
        aspect_ratio: str | None = None,
        duration: int | None = None,
        resolution: str | None = None,
        negative_prompt: str | None = None,
        seed: app_commands.Range[int, 0, 4294967295] | None = None,
        enhance_prompt: bool | None = None,
    ) -> None:
        # Acknowledge first: everything after this may take longer than 3 seconds.
        await interaction.response.defer(ephemeral=True, thinking=True)
        draft = Draft(
            prompt=prompt,
            provider=provider,
            model=model,
            mode=mode,
            aspect_ratio=aspect_ratio,
            duration=duration,
            resolution=resolution,
            negative_prompt=negative_prompt,
            seed=seed,
            enhance_prompt=enhance_prompt,
            has_image=image is not None,
            has_last_frame=last_frame is not None,
            extra_images=int(image2 is not None) + int(image3 is not None),
        )
        slots = [
            ("image", image),
            ("last_frame", last_frame),
            ("image2", image2),
            ("image3", image3),
        ]
        attachments = [(n, a) for n, a in slots if a is not None]
        await submit_draft(self.bot, interaction, draft, attachments)

    # -- /veo quota -------------------------------------------------------------------

    @veo.command(name="quota", description="How many videos you have left today")
    async def quota(self, interaction: discord.Interaction[VeoBot]) -> None:
        locale = str(interaction.locale)
        view = await self.service.quota(
            interaction.user.id, interaction.guild_id, role_ids_of(interaction)
        )
        key = "chat.quota_exempt" if view.exempt else "chat.quota_used"
        used = {"used": view.used, "limit": view.limit, "remaining": view.remaining}
        lines = [text(key, locale, **used, at=view.resets_at)]
        if view.active:
            lines.append(text("chat.in_progress", locale))
            now = dt.datetime.now(dt.UTC).timestamp()
            for job in view.active:
                queued = job.status is JobStatus.QUEUED
                position = await self.service.queue_position(job) if queued else 0
                typical = estimates.typical_for(self.bot.providers, self._schedules, job)
                service = estimates.service_label(self.bot.providers, job)
                lines.append(
                    listings.quota_job_line(job, now, typical, position, service, locale=locale)
                )
        await interaction.response.send_message(
            "\n".join(lines)[: listings.MESSAGE_LIMIT], ephemeral=True, allowed_mentions=ONLY_MEMBER
        )

    # -- /veo status, cancel, history ----------------------------------------------------

    async def _asked_job(
        self, interaction: discord.Interaction[VeoBot], job: str, action: Action
    ) -> Job:
        """The job a command names, if the member may take `action` on it (raises
        RequestInvalid, the same for a job they may not touch as for a missing one)."""
        number = parse_job_number(job, str(interaction.locale))
        return await self.service.job_for(number, asker_of(interaction), action)

    @veo.command(name="status", description="One of your jobs in detail")
    @app_commands.describe(job="The job number, e.g. #12 (pick one from the list)")
    async def status(self, interaction: discord.Interaction[VeoBot], job: str) -> None:
        try:
            found = await self._asked_job(interaction, job, Action.VIEW)
        except RequestInvalid as exc:
            await self._say(interaction, f"⚠️ {refusal_text(exc, str(interaction.locale))}")
            return
        queued = found.status is JobStatus.QUEUED
        position = await self.service.queue_position(found) if queued else 0
        spec = self.bot.providers.model(found.provider, found.model)
        text = listings.job_details(
            found,
            spec.label if spec is not None else found.model,
            dt.datetime.now(dt.UTC).timestamp(),
            typical=estimates.typical_for(self.bot.providers, self._schedules, found),
            position=position,
            service=estimates.service_label(self.bot.providers, found),
            show_owner=found.user_id != interaction.user.id,
            locale=str(interaction.locale),
        )
        await self._say(interaction, text)

    @veo.command(name="cancel", description="Cancel one of your videos that is still in progress")
    @app_commands.describe(job="The job number, e.g. #12 (pick one from the list)")
    async def cancel(self, interaction: discord.Interaction[VeoBot], job: str) -> None:
        locale = str(interaction.locale)
        try:
            found = await self._asked_job(interaction, job, Action.CANCEL)
        except RequestInvalid as exc:
            await self._say(interaction, f"⚠️ {refusal_text(exc, locale)}")
            return
        if not found.is_active:
            status = listings.status_word(found, locale)
            await self._say(
                interaction, text("chat.cancel_ended", locale, job=found.id, status=status)
            )
            return
        owner = found.user_id == interaction.user.id
        said, view = cancel_prompt(found, owner=owner, locale=locale)
        await interaction.response.send_message(
            said, view=view, ephemeral=True, allowed_mentions=ONLY_MEMBER
        )

    @veo.command(name="history", description="Your recent videos, newest first")
    async def history(self, interaction: discord.Interaction[VeoBot]) -> None:
        said, view = await history_reply(self.bot, interaction.user.id, 0, str(interaction.locale))
        await interaction.response.send_message(
            said, view=view, ephemeral=True, allowed_mentions=ONLY_MEMBER
        )

    @staticmethod
    async def _say(interaction: discord.Interaction[VeoBot], said: str) -> None:
        await interaction.response.send_message(
            said[: listings.MESSAGE_LIMIT], ephemeral=True, allowed_mentions=ONLY_MEMBER
        )

    # -- /veo settings, forget -----------------------------------------------------------

    @veo.command(name="settings", description="Your own defaults, and DMs, spoilers and pings")
    async def settings(self, interaction: discord.Interaction[VeoBot]) -> None:
        prefs = await self.service.preferences.get(interaction.user.id)
        said, view = panel(prefs, self.bot.providers, str(interaction.locale))
        await interaction.response.send_message(said, view=view, ephemeral=True)

    @veo.command(
        name="forget", description="Delete your settings and your jobs' prompts and images"
    )
    async def forget(self, interaction: discord.Interaction[VeoBot]) -> None:
        said, view = forget_question(interaction.user.id, str(interaction.locale))
        await interaction.response.send_message(said, view=view, ephemeral=True)

    # -- /veo help ---------------------------------------------------------------------

    @veo.command(name="help", description="What this bot does, its commands and your limits")
    async def help(self, interaction: discord.Interaction[VeoBot]) -> None:
        locale = str(interaction.locale)
        quota = await self.service.quota(
            interaction.user.id, interaction.guild_id, role_ids_of(interaction)
        )
        said = i18n.catalogue(i18n.shipped(locale))  # command names: Discord's, translated
        commands_ = [
            (
                f"`/veo {said.get(f'command.veo.{c.name}.name', c.name)}`",
                said.get(f"command.veo.{c.name}.description", c.description),
            )
            for c in self.veo.walk_commands()
            if isinstance(c, app_commands.Command)
        ]
        for menu in self.bot.tree.get_commands(type=discord.AppCommandType.message):
            name = said.get(f"command.{menu.name}.name", menu.name)
            commands_.append((f"**{name}**", text("chat.menu_help", locale, menu=name)))
        provider, model = await self.service.default_model(interaction.guild_id)
        spec = self.bot.providers.model(provider, model)
        embed = listings.help_embed(
            commands_,
            quota,
            max_active=self.bot.settings.max_active_per_user,
            providers=self.bot.providers,
            default_model=spec.label if spec is not None else model,
            locale=locale,
        )
        await interaction.response.send_message(
            embed=embed, ephemeral=True, allowed_mentions=ONLY_MEMBER
        )

    # -- /veo models ------------------------------------------------------------------

    @veo.command(name="models", description="What each available model can do")
    async def models(self, interaction: discord.Interaction[VeoBot]) -> None:
        locale = str(interaction.locale)
        fields = [
            (
                f"{spec.label} — {provider}"[:256],
                listings.model_summary(spec, locale=locale)
                + estimates.render_time_note(
                    self._schedules.typical(provider, spec.name), locale=locale
                )
                + ("\n" + text("chat.counts_as", locale, units=units) if units > 1 else ""),
            )
            for provider, spec, units in await self.service.models_for(interaction.guild_id)
        ]
        provider, model = await self.service.default_model(interaction.guild_id)
        spec = self.bot.providers.model(provider, model)
        label = spec.label if spec is not None else model
        embeds = listings.models_embeds(fields, label, locale=locale)
        await interaction.response.send_message(embeds=embeds[:10], ephemeral=True)

    # -- autocomplete -----------------------------------------------------------------

    @generate.autocomplete("model")
    async def _model_autocomplete(
        self, interaction: discord.Interaction[VeoBot], current: str
    ) -> list[app_commands.Choice[str]]:
        chosen = getattr(interaction.namespace, "provider", None)
        choices = []
        for provider, spec, _ in await self.service.models_for(interaction.guild_id):
            if chosen and provider != chosen:
                continue
            name = f"{spec.label} — {provider}"
            if current.lower() in name.lower() or current.lower() in spec.name.lower():
                value = f"{provider}/{spec.name}"
                choices.append(app_commands.Choice(name=name[:100], value=value))
        return choices[:25]

    @generate.autocomplete("provider")
    async def _provider_autocomplete(
        self, interaction: discord.Interaction[VeoBot], current: str
    ) -> list[app_commands.Choice[str]]:
        allowed = {
            provider for provider, _, _ in await self.service.models_for(interaction.guild_id)
        }
        return [
            app_commands.Choice(name=f"{p.label} ({p.name})"[:100], value=p.name)
            for p in self.bot.providers
            if p.name in allowed
            and (current.lower() in p.name.lower() or current.lower() in p.label.lower())
        ][:25]

    @status.autocomplete("job")
    @cancel.autocomplete("job")
    async def _job_autocomplete(
        self, interaction: discord.Interaction[VeoBot], current: str
    ) -> list[app_commands.Choice[str]]:
        typed = current.strip().lower()
        number = typed.lstrip("#").strip()
        by_number_only = typed.startswith("#")  # "#1" means job 1…, not prompts with "1"
        jobs = await self.service.history(interaction.user.id, limit=25)
        loc = str(interaction.locale)
        return [
            app_commands.Choice(name=listings.job_choice_label(job, locale=loc), value=str(job.id))
            for job in jobs
            if not typed
            or str(job.id).startswith(number)
            or (not by_number_only and typed in stored_request(job).prompt.lower())
        ]

    def _chosen_spec(self, interaction: discord.Interaction[VeoBot]) -> ModelSpec | None:
        """The model the member has picked so far (or the default), for option suggestions."""
        ns = interaction.namespace
        try:
            provider, model = choose_model(
                getattr(ns, "provider", None), getattr(ns, "model", None), self.bot.providers
            )
        except RequestInvalid:
            return None
        return self.bot.providers.model(provider, model)

    @generate.autocomplete("aspect_ratio")
    async def _aspect_autocomplete(
        self, interaction: discord.Interaction[VeoBot], current: str
    ) -> list[app_commands.Choice[str]]:
        spec = self._chosen_spec(interaction)
        ratios = spec.aspect_ratios if spec else ()
        said = i18n.catalogue(i18n.shipped(str(interaction.locale)))
        return [
            app_commands.Choice(name=said.get(f"chat.aspect.{r}", r), value=r)
            for r in ratios
            if current in r
        ]

    @generate.autocomplete("duration")
    async def _duration_autocomplete(
        self, interaction: discord.Interaction[VeoBot], current: str
    ) -> list[app_commands.Choice[int]]:
        spec = self._chosen_spec(interaction)
        resolution = getattr(interaction.namespace, "resolution", None)
        lengths = spec.durations_for(resolution) if spec else ()
        locale = str(interaction.locale)
        return [
            app_commands.Choice(name=text("chat.seconds", locale, seconds=d), value=d)
            for d in lengths
        ]

    @generate.autocomplete("resolution")
    async def _resolution_autocomplete(
        self, interaction: discord.Interaction[VeoBot], current: str
    ) -> list[app_commands.Choice[str]]:
        spec = self._chosen_spec(interaction)
        if spec is None:
            return []
        duration = getattr(interaction.namespace, "duration", None)
        return [
            app_commands.Choice(name=r, value=r)
            for r in spec.resolutions
            if duration is None or duration in spec.durations_for(r)
        ]

    @generate.autocomplete("mode")
    async def _mode_autocomplete(
        self, interaction: discord.Interaction[VeoBot], current: str
    ) -> list[app_commands.Choice[str]]:
        spec = self._chosen_spec(interaction)
        modes = [m for m in Mode if spec is not None and m in spec.modes and m is not Mode.TEXT]
        loc = str(interaction.locale)
        return [app_commands.Choice(name=listings.mode_label(m, loc), value=m.value) for m in modes]


async def setup(bot: VeoBot) -> None:
    await bot.add_cog(VeoCog(bot))
