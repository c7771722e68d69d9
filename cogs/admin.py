"""`/veo-admin`: per-server settings for people with Manage Server.

Discord hides the group from others (`default_permissions`), but a server can override
that, so every command checks Manage Server again here. The rules themselves are
applied in `bot.jobs.service`; this module only stores them and shows them back.

One reading of every number option: 0 is the number zero (a quota of 0 makes no videos,
a cap of $0 spends nothing), and leaving the option out puts the setting back to its
default (or removes it). Channels and exempt roles are picked from Discord's own menus
(`cogs.admin_pickers`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.chat.askers import asker_of
from bot.chat.audit_view import audit_embed
from bot.chat.failures import refusal_text, said_text
from bot.chat.i18n import text
from bot.chat.stats_view import stats_embed
from bot.jobs.admin import NOT_ADMIN
from bot.jobs.requests import RequestInvalid, choose_model
from cogs.admin_forms import (
    NO_PINGS,
    budget_done,
    counted,
    dm_only,
    member_quota_done,
    model_choices,
    parse_models,
    parse_words,
    quota_done,
    refund_done,
    reset_done,
    settings_embed,
    weight_done,
)
from cogs.admin_pickers import ADMIN_ITEMS, What, picker
from storage.stats import DEFAULT_DAYS, MAX_DAYS

if TYPE_CHECKING:
    from bot.client import VeoBot

LOG_DEFAULT = 20


class AdminCog(commands.Cog):
    admin = app_commands.Group(
        name="veo-admin",
        description="Video settings for this server",
        default_permissions=discord.Permissions(manage_guild=True),
        guild_only=True,
    )

    def __init__(self, bot: VeoBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        # The pickers of `channels` and `exempt-roles` belong to this cog: they work again
        # after a restart once it is loaded.
        self.bot.add_dynamic_items(*ADMIN_ITEMS)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(*ADMIN_ITEMS)

    async def _guild(self, interaction: discord.Interaction[VeoBot]) -> int | None:
        """The guild id if the member may change its settings; otherwise say why not."""
        if interaction.guild_id is None:
            await self._say(interaction, dm_only(_locale(interaction)))
            return None
        if not asker_of(interaction).manage_guild:
            await self._say(interaction, said_text(NOT_ADMIN, _locale(interaction)))
            return None
        return interaction.guild_id

    @staticmethod
    async def _say(interaction: discord.Interaction[VeoBot], said: str) -> None:
        await interaction.response.send_message(
            f"⚠️ {said}", ephemeral=True, allowed_mentions=NO_PINGS
        )

    async def _show(
        self, interaction: discord.Interaction[VeoBot], guild_id: int, done: str | None = None
    ) -> None:
        rules = await self.bot.service.server_settings(guild_id, with_overrides=True)
        spent = await self.bot.service.spent_today(guild_id)
        await interaction.response.send_message(
            f"✅ {done}" if done else None,
            embed=settings_embed(self.bot, rules, spent, _locale(interaction)),
            ephemeral=True,
            allowed_mentions=NO_PINGS,
        )

    @admin.command(name="show", description="Show this server's video settings")
    async def show(self, interaction: discord.Interaction[VeoBot]) -> None:
        if (guild_id := await self._guild(interaction)) is not None:
            await self._show(interaction, guild_id)

    @admin.command(name="quota", description="How many videos each member may make a day")
    @app_commands.describe(
        daily="Videos per member a day (0 = none at all); leave out for the bot's default"
    )
    async def quota(
        self,
        interaction: discord.Interaction[VeoBot],
        daily: app_commands.Range[int, 0, 1000] | None = None,
    ) -> None:
        if (guild_id := await self._guild(interaction)) is None:
            return
        await self.bot.service.admin.change(asker_of(interaction), daily_quota=daily)
        await self._show(interaction, guild_id, quota_done(self.bot, daily, _locale(interaction)))

    @admin.command(name="quota-member", description="Give one member their own daily quota")
    @app_commands.describe(
        member="The member",
        daily="Videos a day for them (0 = none at all); leave out to remove their own quota",
    )
    async def quota_member(
        self,
        interaction: discord.Interaction[VeoBot],
        member: discord.User,
        daily: app_commands.Range[int, 0, 1000] | None = None,
    ) -> None:
        if (guild_id := await self._guild(interaction)) is None:
            return
        await self.bot.service.admin.member_quota(asker_of(interaction), member.id, daily)
        done = member_quota_done(member.mention, daily, _locale(interaction))
        await self._show(interaction, guild_id, done)

    @admin.command(name="quota-reset", description="Refund the videos a member used today")
    @app_commands.describe(member="The member")
    async def quota_reset(
        self, interaction: discord.Interaction[VeoBot], member: discord.User
    ) -> None:
        if (guild_id := await self._guild(interaction)) is None:
            return
        was = await self.bot.service.admin.reset_quota(asker_of(interaction), member.id)
        await self._show(
            interaction, guild_id, reset_done(member.mention, was, _locale(interaction))
        )

    @admin.command(name="channels", description="Pick the channels where /veo may be used")
    async def channels(self, interaction: discord.Interaction[VeoBot]) -> None:
        await self._picker(interaction, "channels")

    async def _picker(self, interaction: discord.Interaction[VeoBot], what: What) -> None:
        """Answer privately with the server's settings and the picker for `what`."""
        if (guild_id := await self._guild(interaction)) is None:
            return
        said, embed, view = await picker(self.bot, guild_id, what, locale=_locale(interaction))
        await interaction.response.send_message(
            said, embed=embed, view=view, ephemeral=True, allowed_mentions=NO_PINGS
        )

    @admin.command(name="banned-words", description="Words that may not appear in prompts")
    @app_commands.describe(words="Comma-separated words or phrases; leave out to clear the list")
    async def banned_words(
        self, interaction: discord.Interaction[VeoBot], words: str | None = None
    ) -> None:
        if (guild_id := await self._guild(interaction)) is None:
            return
        locale = _locale(interaction)
        try:
            parsed = parse_words(words or "", locale)
        except RequestInvalid as exc:
            await self._say(interaction, refusal_text(exc, locale))
            return
        await self.bot.service.admin.change(asker_of(interaction), banned_words=parsed)
        saved = counted(len(parsed), locale, "banned_words")
        done = text("admin.banned_saved" if parsed else "admin.banned_empty", locale, words=saved)
        await self._show(interaction, guild_id, done)

    @admin.command(
        name="defaults", description="The service and model used when a member picks none"
    )
    @app_commands.describe(
        provider="Video service; leave both out to use the bot's default",
        model="Model (its service's default if left out)",
    )
    async def defaults(
        self,
        interaction: discord.Interaction[VeoBot],
        provider: str | None = None,
        model: str | None = None,
    ) -> None:
        if (guild_id := await self._guild(interaction)) is None:
            return
        locale = _locale(interaction)
        if provider is None and model is None:
            await self.bot.service.admin.change(
                asker_of(interaction), default_provider=None, default_model=None
            )
            await self._show(interaction, guild_id, text("admin.defaults_removed", locale))
            return
        registry = self.bot.providers
        try:
            chosen, name = choose_model(provider, model, registry)
            if registry.model(chosen, name) is None:
                models = ", ".join(f"`{m}`" for m in registry.get(chosen).models)
                said = text(
                    "admin.not_a_model_of", locale, model=name, provider=chosen, models=models
                )
                raise RequestInvalid(said)
        except RequestInvalid as exc:
            await self._say(interaction, refusal_text(exc, locale))
            return
        await self.bot.service.admin.change(
            asker_of(interaction), default_provider=chosen, default_model=name
        )
        done = text("admin.defaults_set", locale, provider=chosen, model=name)
        await self._show(interaction, guild_id, done)

    @defaults.autocomplete("provider")
    async def _provider_autocomplete(
        self, interaction: discord.Interaction[VeoBot], current: str
    ) -> list[app_commands.Choice[str]]:
        return [
            app_commands.Choice(name=f"{p.label} ({p.name})"[:100], value=p.name)
            for p in self.bot.providers
            if current.lower() in p.name.lower()
        ][:25]

    @defaults.autocomplete("model")
    async def _model_autocomplete(
        self, interaction: discord.Interaction[VeoBot], current: str
    ) -> list[app_commands.Choice[str]]:
        chosen = getattr(interaction.namespace, "provider", None)
        return model_choices(self.bot.providers, current, chosen)

    @admin.command(name="exempt-roles", description="Pick the roles whose members have no quota")
    async def exempt_roles(self, interaction: discord.Interaction[VeoBot]) -> None:
        await self._picker(interaction, "exempt-roles")

    @admin.command(name="models", description="Which services and models members may use")
    @app_commands.describe(
        allowed="Services or service/model names, comma-separated; leave out to allow all"
    )
    async def models(
        self, interaction: discord.Interaction[VeoBot], allowed: str | None = None
    ) -> None:
        if (guild_id := await self._guild(interaction)) is None:
            return
        locale = _locale(interaction)
        try:
            entries = parse_models(allowed or "", self.bot.providers, locale)
        except RequestInvalid as exc:
            await self._say(interaction, refusal_text(exc, locale))
            return
        await self.bot.service.admin.change(asker_of(interaction), allowed_models=entries)
        models = ", ".join(f"`{e}`" for e in entries)
        done = text("admin.models_only" if entries else "admin.models_every", locale, models=models)
        await self._show(interaction, guild_id, done)

    @admin.command(
        name="weight", description="How many daily videos one video of a model counts as"
    )
    @app_commands.describe(
        model="The model",
        units="Videos of the quota it counts as (at least 1; 0 is refused); leave out for 1",
    )
    async def weight(
        self,
        interaction: discord.Interaction[VeoBot],
        model: str,
        units: app_commands.Range[int, 0, 100] | None = None,
    ) -> None:
        if (guild_id := await self._guild(interaction)) is None:
            return
        registry = self.bot.providers
        locale = _locale(interaction)
        try:
            chosen, name = choose_model(None, model, registry)
            if registry.model(chosen, name) is None:
                raise RequestInvalid(text("admin.not_a_model", locale, model=model))
            key = f"{chosen}/{name}"
            await self.bot.service.admin.weight(asker_of(interaction), key, units)
        except RequestInvalid as exc:
            await self._say(interaction, refusal_text(exc, locale))
            return
        await self._show(interaction, guild_id, weight_done(key, units, locale))

    @weight.autocomplete("model")
    async def _weight_autocomplete(
        self, interaction: discord.Interaction[VeoBot], current: str
    ) -> list[app_commands.Choice[str]]:
        return model_choices(self.bot.providers, current)

    @admin.command(name="budget", description="The most this server may spend on videos a day")
    @app_commands.describe(
        dollars="US dollars a day, from documented prices (0 = nothing); leave out for no cap"
    )
    async def budget(
        self,
        interaction: discord.Interaction[VeoBot],
        dollars: app_commands.Range[float, 0.0, 1_000_000.0] | None = None,
    ) -> None:
        if (guild_id := await self._guild(interaction)) is None:
            return
        await self.bot.service.admin.change(asker_of(interaction), daily_budget_usd=dollars)
        await self._show(interaction, guild_id, budget_done(dollars, _locale(interaction)))

    @admin.command(
        name="animate-own-only", description="Animate with Veo only on the member's own messages"
    )
    @app_commands.describe(
        enabled="True: members animate only their own messages; False: any message"
    )
    async def animate_own_only(
        self, interaction: discord.Interaction[VeoBot], enabled: bool
    ) -> None:
        if (guild_id := await self._guild(interaction)) is None:
            return
        await self.bot.service.admin.change(asker_of(interaction), animate_own_only=enabled)
        done = text(
            "admin.animate_own_only" if enabled else "admin.animate_any", _locale(interaction)
        )
        await self._show(interaction, guild_id, done)

    @admin.command(name="refund", description="Refund the quota one finished job used")
    @app_commands.describe(job="The job number")
    async def refund(
        self, interaction: discord.Interaction[VeoBot], job: app_commands.Range[int, 1]
    ) -> None:
        if (guild_id := await self._guild(interaction)) is None:
            return
        locale = _locale(interaction)
        try:
            refunded = await self.bot.service.refund_job(job, asker_of(interaction))
        except RequestInvalid as exc:
            await self._say(interaction, refusal_text(exc, locale))
            return
        await self._show(interaction, guild_id, refund_done(refunded, locale))

    @admin.command(name="stats", description="Jobs, failures, spend and top members lately")
    @app_commands.describe(days="How many days back, today included (default 7)")
    async def stats(
        self,
        interaction: discord.Interaction[VeoBot],
        days: app_commands.Range[int, 1, MAX_DAYS] = DEFAULT_DAYS,
    ) -> None:
        if await self._guild(interaction) is None:
            return
        report = await self.bot.service.admin.stats(asker_of(interaction), days=days)
        await interaction.response.send_message(
            embed=stats_embed(report, days=days, locale=_locale(interaction)),
            ephemeral=True,
            allowed_mentions=NO_PINGS,
        )

    @admin.command(name="alerts", description="Where the bot may post alerts for admins")
    @app_commands.describe(channel="A text channel; leave out to stop alerts")
    async def alerts(
        self, interaction: discord.Interaction[VeoBot], channel: discord.TextChannel | None = None
    ) -> None:
        if (guild_id := await self._guild(interaction)) is None:
            return
        await self.bot.service.admin.change(
            asker_of(interaction), alert_channel_id=channel.id if channel is not None else None
        )
        locale = _locale(interaction)
        mention = channel.mention if channel else ""
        done = text("admin.alerts_set" if channel else "admin.alerts_off", locale, channel=mention)
        await self._show(interaction, guild_id, done)

    @admin.command(name="log", description="Who changed what here lately (admins and moderators)")
    @app_commands.describe(count="How many of the newest entries (default 20)")
    async def log(
        self,
        interaction: discord.Interaction[VeoBot],
        count: app_commands.Range[int, 1, 50] = LOG_DEFAULT,
    ) -> None:
        if await self._guild(interaction) is None:
            return
        entries = await self.bot.service.admin.log(asker_of(interaction), limit=count)
        embed = audit_embed(
            entries, retention_days=self.bot.settings.retention_days, locale=_locale(interaction)
        )
        await interaction.response.send_message(
            embed=embed, ephemeral=True, allowed_mentions=NO_PINGS
        )


def _locale(interaction: discord.Interaction[VeoBot]) -> str:
    """Admin replies are private: told in the language of the admin's Discord client."""
    return str(interaction.locale)


async def setup(bot: VeoBot) -> None:
    await bot.add_cog(AdminCog(bot))
