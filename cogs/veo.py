"""The `/veo` commands: turn Discord input into a validated request and back into words.

Business rules live in `bot.service`; this module only talks to Discord (STYLE 2).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import messages
from bot.providers.base import Mode, ModelSpec
from bot.requests import (
    MODE_LABELS,
    Draft,
    RequestInvalid,
    choose_model,
)
from bot.service import VideoService
from cogs.submission import submit_draft

if TYPE_CHECKING:
    from bot.client import VeoBot

log = logging.getLogger(__name__)

ONLY_MEMBER = discord.AllowedMentions.none()

ASPECT_NAMES = {
    "16:9": "16:9 landscape",
    "9:16": "9:16 portrait",
    "auto": "auto (the service decides)",
}


class VeoCog(commands.Cog):
    veo = app_commands.Group(name="veo", description="Make short AI videos with Google Veo")

    def __init__(self, bot: VeoBot) -> None:
        self.bot = bot

    @property
    def service(self) -> VideoService:
        return self.bot.service

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
        view = await self.service.quota(interaction.user.id)
        lines = [
            f"You have used **{view.used}** of **{view.limit}** videos today; "
            f"**{view.remaining}** left. The quota resets <t:{view.resets_at}:R>.",
        ]
        if view.active:
            lines.append("In progress:")
            now = dt.datetime.now(dt.UTC).timestamp()
            for job in view.active:
                lines.append(f"• **#{job.id}** — {messages.status_line(job, now)}")
        await interaction.response.send_message(
            "\n".join(lines), ephemeral=True, allowed_mentions=ONLY_MEMBER
        )

    # -- /veo models ------------------------------------------------------------------

    @veo.command(name="models", description="What each available model can do")
    async def models(self, interaction: discord.Interaction[VeoBot]) -> None:
        fields = [
            (f"{spec.label} — {provider.name}"[:256], messages.model_summary(spec))
            for provider in self.bot.providers
            for spec in provider.models.values()
        ]
        embeds = []
        for start in range(0, len(fields), 25):  # Discord: 25 fields per embed, 10 embeds
            embed = discord.Embed(
                title="Available video models" if start == 0 else None,
                description=(
                    f"Default: **{self.bot.providers.default}**. Pick with `model:` in `/veo generate`."
                    if start == 0
                    else None
                ),
                colour=discord.Colour.blurple(),
            )
            for name, value in fields[start : start + 25]:
                embed.add_field(name=name, value=value, inline=False)
            embeds.append(embed)
        await interaction.response.send_message(embeds=embeds[:10], ephemeral=True)

    # -- autocomplete -----------------------------------------------------------------

    @generate.autocomplete("model")
    async def _model_autocomplete(
        self, interaction: discord.Interaction[VeoBot], current: str
    ) -> list[app_commands.Choice[str]]:
        chosen = getattr(interaction.namespace, "provider", None)
        choices = []
        for provider in self.bot.providers:
            if chosen and provider.name != chosen:
                continue
            for spec in provider.models.values():
                name = f"{spec.label} — {provider.name}"
                if current.lower() in name.lower() or current.lower() in spec.name.lower():
                    value = f"{provider.name}/{spec.name}"
                    choices.append(app_commands.Choice(name=name[:100], value=value))
        return choices[:25]

    @generate.autocomplete("provider")
    async def _provider_autocomplete(
        self, interaction: discord.Interaction[VeoBot], current: str
    ) -> list[app_commands.Choice[str]]:
        return [
            app_commands.Choice(name=f"{p.label} ({p.name})"[:100], value=p.name)
            for p in self.bot.providers
            if current.lower() in p.name.lower() or current.lower() in p.label.lower()
        ][:25]

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
        return [
            app_commands.Choice(name=ASPECT_NAMES.get(r, r), value=r)
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
        return [app_commands.Choice(name=f"{d} seconds", value=d) for d in lengths]

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
        return [app_commands.Choice(name=MODE_LABELS[m], value=m.value) for m in modes]

    # -- errors ------------------------------------------------------------------------

    async def cog_app_command_error(
        self,
        interaction: discord.Interaction,
        error: app_commands.AppCommandError,
    ) -> None:
        log.error(
            "command %s failed",
            interaction.command and interaction.command.qualified_name,
            exc_info=error,
        )
        text = (
            "⚠️ Something went wrong on my side. Nothing was charged for a job that was not queued."
        )
        try:
            if interaction.response.is_done():
                await interaction.edit_original_response(content=text)
            else:
                await interaction.response.send_message(text, ephemeral=True)
        except discord.HTTPException:
            pass


async def setup(bot: VeoBot) -> None:
    await bot.add_cog(VeoCog(bot))
