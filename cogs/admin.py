"""`/veo-admin`: per-server settings for people with Manage Server.

Discord hides the group from others (`default_permissions`), but a server can override
that, so every command checks Manage Server again here. The rules themselves are
applied in `bot.service`; this module only stores them and shows them back.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.askers import asker_of
from bot.providers import ProviderRegistry
from bot.requests import RequestInvalid, choose_model
from bot.service import channel_list
from bot.stats_view import stats_embed
from storage import GuildSettings
from storage.stats import DEFAULT_DAYS, MAX_DAYS, day_window, server_stats

if TYPE_CHECKING:
    from bot.client import VeoBot

NO_PINGS = discord.AllowedMentions.none()
NOT_ADMIN = "Only members with the **Manage Server** permission can change the video settings."
DM_ONLY = "These settings belong to a server: use `/veo-admin` in the server itself."
CHANNEL_REF = re.compile(r"<#(\d{15,20})>|(\d{15,20})")
ROLE_REF = re.compile(r"<@&(\d{15,20})>|(\d{15,20})")
MAX_BANNED = 200
MAX_WORD = 100


def _parse_ids(text: str, pattern: re.Pattern[str], problem: str) -> list[int]:
    ids: list[int] = []
    if pattern.sub(" ", text).replace(",", " ").strip():
        raise RequestInvalid(problem)
    for match in pattern.finditer(text):
        found = int(match[1] or match[2])
        if found not in ids:
            ids.append(found)
    return ids


def parse_channels(text: str) -> list[int]:
    """`<#1> <#2>`, `1, 2` → [1, 2]; raises RequestInvalid on anything else."""
    return _parse_ids(
        text,
        CHANNEL_REF,
        "Give channels as mentions (type `#` and pick them), separated by spaces.",
    )


def parse_roles(text: str) -> list[int]:
    """`<@&1> <@&2>` → [1, 2]; raises RequestInvalid on anything else."""
    return _parse_ids(
        text, ROLE_REF, "Give roles as mentions (type `@` and pick them), separated by spaces."
    )


def parse_models(text: str, registry: ProviderRegistry) -> list[str]:
    """`apiyi, apixo/quality` → entries naming a service or one of its models."""
    entries: list[str] = []
    for part in text.replace(",", " ").split():
        provider, _, model = part.partition("/")
        if provider not in registry or (model and registry.model(provider, model) is None):
            known = ", ".join(
                f"`{p.name}`" + "".join(f", `{p.name}/{m}`" for m in p.models) for p in registry
            )
            raise RequestInvalid(f"`{part}` is not a service or model of this bot. Known: {known}")
        if part not in entries:
            entries.append(part)
    return entries


def parse_words(text: str) -> list[str]:
    words: list[str] = []
    for part in text.split(","):
        word = " ".join(part.split())
        if word and word.casefold() not in {w.casefold() for w in words}:
            words.append(word)
    if len(words) > MAX_BANNED or any(len(w) > MAX_WORD for w in words):
        raise RequestInvalid(
            f"Keep it to {MAX_BANNED} words or phrases of at most {MAX_WORD} characters each."
        )
    return words


def settings_embed(bot: VeoBot, rules: GuildSettings, spent_today: float = 0.0) -> discord.Embed:
    """Every current setting of a server, as an admin sees it."""
    env_quota = bot.settings.daily_quota
    embed = discord.Embed(title="Video settings for this server", colour=discord.Colour.blurple())
    quota = (
        f"**{rules.daily_quota}** videos a day per member"
        if rules.daily_quota is not None
        else f"**{env_quota}** videos a day per member (the bot's default)"
    )
    embed.add_field(name="Daily quota", value=quota, inline=False)
    overrides = [f"<@{u}>: **{d}** a day" for u, d in rules.overrides.items()]
    embed.add_field(name="Member quotas", value=_clip(overrides, "none"), inline=False)
    embed.add_field(
        name="Channels where /veo works",
        value=channel_list(rules.allowed_channels)[:1024] or "every channel",
        inline=False,
    )
    words = ", ".join(f"||{w}||" for w in rules.banned_words)
    embed.add_field(
        name="Banned words", value=_clip([words] if words else [], "none"), inline=False
    )
    if rules.default_provider and rules.default_model:
        defaults = f"`{rules.default_provider}` / `{rules.default_model}`"
    else:
        provider = bot.providers.default
        defaults = f"`{provider}` / `{bot.providers.default_model(provider)}` (the bot's default)"
    embed.add_field(name="Default service / model", value=defaults, inline=False)
    alerts = f"<#{rules.alert_channel_id}>" if rules.alert_channel_id else "not set"
    embed.add_field(name="Alert channel", value=alerts, inline=False)
    roles = " ".join(f"<@&{r}>" for r in rules.exempt_roles)
    embed.add_field(
        name="Roles without a quota", value=_clip([roles] if roles else [], "none"), inline=False
    )
    models = ", ".join(f"`{m}`" for m in rules.allowed_models)
    embed.add_field(
        name="Models members may use",
        value=_clip([models] if models else [], "every model of the bot"),
        inline=False,
    )
    weights = [f"`{m}`: counts as **{w}**" for m, w in sorted(rules.model_weights.items())]
    embed.add_field(
        name="Model weights", value=_clip(weights, "every video counts as 1"), inline=False
    )
    embed.add_field(
        name="Daily spend cap", value=budget_text(bot, rules, spent_today), inline=False
    )
    return embed


def budget_text(bot: VeoBot, rules: GuildSettings, spent_today: float) -> str:
    cap = rules.daily_budget_usd
    text = f"**${cap:,.2f}** a day" if cap is not None else "none"
    text += f" (estimated today: ${spent_today:,.2f})"
    if bot.settings.daily_budget_usd is not None:
        text += f"; the bot's own cap of ${bot.settings.daily_budget_usd:,.2f} a day also applies"
    return text


def model_choices(
    registry: ProviderRegistry, current: str, provider: str | None = None
) -> list[app_commands.Choice[str]]:
    """Models as `provider/model` choices, optionally of one service."""
    return [
        app_commands.Choice(name=f"{s.label} — {p.name}"[:100], value=f"{p.name}/{s.name}")
        for p in registry
        if not provider or p.name == provider
        for s in p.models.values()
        if current.lower() in f"{p.name}/{s.name} {s.label}".lower()
    ][:25]


def _clip(lines: list[str], empty: str) -> str:
    text = "\n".join(lines) or empty
    return text if len(text) <= 1024 else text[:1020] + " …"


class AdminCog(commands.Cog):
    admin = app_commands.Group(
        name="veo-admin",
        description="Video settings for this server",
        default_permissions=discord.Permissions(manage_guild=True),
        guild_only=True,
    )

    def __init__(self, bot: VeoBot) -> None:
        self.bot = bot

    async def _guild(self, interaction: discord.Interaction[VeoBot]) -> int | None:
        """The guild id if the member may change its settings; otherwise say why not."""
        if interaction.guild_id is None:
            await self._say(interaction, DM_ONLY)
            return None
        if not asker_of(interaction).manage_guild:
            await self._say(interaction, NOT_ADMIN)
            return None
        return interaction.guild_id

    @staticmethod
    async def _say(interaction: discord.Interaction[VeoBot], text: str) -> None:
        await interaction.response.send_message(
            f"⚠️ {text}", ephemeral=True, allowed_mentions=NO_PINGS
        )

    async def _show(
        self, interaction: discord.Interaction[VeoBot], guild_id: int, done: str | None = None
    ) -> None:
        rules = await self.bot.service.guilds.get(guild_id, with_overrides=True)
        spent = await self.bot.service.spent_today(guild_id)
        await interaction.response.send_message(
            f"✅ {done}" if done else None,
            embed=settings_embed(self.bot, rules, spent),
            ephemeral=True,
            allowed_mentions=NO_PINGS,
        )

    @admin.command(name="show", description="Show this server's video settings")
    async def show(self, interaction: discord.Interaction[VeoBot]) -> None:
        if (guild_id := await self._guild(interaction)) is not None:
            await self._show(interaction, guild_id)

    @admin.command(name="quota", description="How many videos each member may make a day")
    @app_commands.describe(daily="Videos per member per day; 0 = use the bot's default")
    async def quota(
        self, interaction: discord.Interaction[VeoBot], daily: app_commands.Range[int, 0, 1000]
    ) -> None:
        if (guild_id := await self._guild(interaction)) is None:
            return
        await self.bot.service.guilds.set(guild_id, daily_quota=daily or None)
        done = (
            f"Members may now make {daily} video(s) a day."
            if daily
            else f"The server quota is off: the bot's default ({self.bot.settings.daily_quota}) applies."
        )
        await self._show(interaction, guild_id, done)

    @admin.command(name="quota-member", description="Give one member their own daily quota")
    @app_commands.describe(
        member="The member", daily="Videos per day for them (0 = none); leave out to remove"
    )
    async def quota_member(
        self,
        interaction: discord.Interaction[VeoBot],
        member: discord.User,
        daily: app_commands.Range[int, 0, 1000] | None = None,
    ) -> None:
        if (guild_id := await self._guild(interaction)) is None:
            return
        await self.bot.service.guilds.set_member_quota(guild_id, member.id, daily)
        done = (
            f"{member.mention} may now make {daily} video(s) a day."
            if daily is not None
            else f"{member.mention} follows the server quota again."
        )
        await self._show(interaction, guild_id, done)

    @admin.command(name="quota-reset", description="Give a member back today's used videos")
    @app_commands.describe(member="The member")
    async def quota_reset(
        self, interaction: discord.Interaction[VeoBot], member: discord.User
    ) -> None:
        if (guild_id := await self._guild(interaction)) is None:
            return
        was = await self.bot.service.reset_quota(member.id, guild_id)
        await self._show(
            interaction, guild_id, f"{member.mention} got back the {was} video(s) used today."
        )

    @admin.command(name="channels", description="The channels where /veo may be used")
    @app_commands.describe(channels="Channel mentions (#name …); leave out to allow every channel")
    async def channels(
        self, interaction: discord.Interaction[VeoBot], channels: str | None = None
    ) -> None:
        if (guild_id := await self._guild(interaction)) is None:
            return
        try:
            ids = parse_channels(channels or "")
        except RequestInvalid as exc:
            await self._say(interaction, str(exc))
            return
        await self.bot.service.guilds.set(guild_id, allowed_channels=ids)
        done = (
            f"/veo now works only in {channel_list(ids)}."
            if ids
            else "/veo works in every channel."
        )
        await self._show(interaction, guild_id, done)

    @admin.command(name="banned-words", description="Words that may not appear in prompts")
    @app_commands.describe(words="Comma-separated words or phrases; leave out to clear the list")
    async def banned_words(
        self, interaction: discord.Interaction[VeoBot], words: str | None = None
    ) -> None:
        if (guild_id := await self._guild(interaction)) is None:
            return
        try:
            parsed = parse_words(words or "")
        except RequestInvalid as exc:
            await self._say(interaction, str(exc))
            return
        await self.bot.service.guilds.set(guild_id, banned_words=parsed)
        done = (
            f"{len(parsed)} banned word(s) saved." if parsed else "The banned-word list is empty."
        )
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
        guilds = self.bot.service.guilds
        if provider is None and model is None:
            await guilds.set(guild_id, default_provider=None, default_model=None)
            await self._show(interaction, guild_id, "Members get the bot's default model again.")
            return
        registry = self.bot.providers
        try:
            chosen, name = choose_model(provider, model, registry)
            if registry.model(chosen, name) is None:
                models = ", ".join(f"`{m}`" for m in registry.get(chosen).models)
                raise RequestInvalid(f"`{name}` is not a model of {chosen}. Pick one of: {models}.")
        except RequestInvalid as exc:
            await self._say(interaction, str(exc))
            return
        await guilds.set(guild_id, default_provider=chosen, default_model=name)
        await self._show(interaction, guild_id, f"Default set to `{chosen}` / `{name}`.")

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

    @admin.command(name="exempt-roles", description="Roles whose members have no daily quota")
    @app_commands.describe(roles="Role mentions (@role …); leave out to clear the list")
    async def exempt_roles(
        self, interaction: discord.Interaction[VeoBot], roles: str | None = None
    ) -> None:
        if (guild_id := await self._guild(interaction)) is None:
            return
        try:
            ids = parse_roles(roles or "")
        except RequestInvalid as exc:
            await self._say(interaction, str(exc))
            return
        await self.bot.service.guilds.set(guild_id, exempt_roles=ids)
        done = (
            f"Members with {' '.join(f'<@&{r}>' for r in ids)} now have no daily quota "
            "(the spend cap still applies)."
            if ids
            else "Every member has a daily quota again."
        )
        await self._show(interaction, guild_id, done)

    @admin.command(name="models", description="Which services and models members may use")
    @app_commands.describe(
        allowed="Services or service/model names, comma-separated; leave out to allow all"
    )
    async def models(
        self, interaction: discord.Interaction[VeoBot], allowed: str | None = None
    ) -> None:
        if (guild_id := await self._guild(interaction)) is None:
            return
        try:
            entries = parse_models(allowed or "", self.bot.providers)
        except RequestInvalid as exc:
            await self._say(interaction, str(exc))
            return
        await self.bot.service.guilds.set(guild_id, allowed_models=entries)
        done = (
            f"Members may now use only {', '.join(f'`{e}`' for e in entries)}."
            if entries
            else "Members may use every model of the bot."
        )
        await self._show(interaction, guild_id, done)

    @admin.command(
        name="weight", description="How many daily videos one video of a model counts as"
    )
    @app_commands.describe(model="The model", units="Quota units per video (1 = a normal video)")
    async def weight(
        self,
        interaction: discord.Interaction[VeoBot],
        model: str,
        units: app_commands.Range[int, 1, 100],
    ) -> None:
        if (guild_id := await self._guild(interaction)) is None:
            return
        registry = self.bot.providers
        try:
            chosen, name = choose_model(None, model, registry)
            if registry.model(chosen, name) is None:
                raise RequestInvalid(f"`{model}` is not a model of this bot.")
        except RequestInvalid as exc:
            await self._say(interaction, str(exc))
            return
        key = f"{chosen}/{name}"
        rules = await self.bot.service.guilds.get(guild_id)
        weights = {k: v for k, v in rules.model_weights.items() if k != key}
        if units > 1:
            weights[key] = units
        await self.bot.service.guilds.set(guild_id, model_weights=weights)
        await self._show(interaction, guild_id, f"A `{key}` video now counts as {units}.")

    @weight.autocomplete("model")
    async def _weight_autocomplete(
        self, interaction: discord.Interaction[VeoBot], current: str
    ) -> list[app_commands.Choice[str]]:
        return model_choices(self.bot.providers, current)

    @admin.command(name="budget", description="The most this server may spend on videos a day")
    @app_commands.describe(
        dollars="US dollars a day, from the documented prices; leave out for none"
    )
    async def budget(
        self,
        interaction: discord.Interaction[VeoBot],
        dollars: app_commands.Range[float, 0.01, 1_000_000.0] | None = None,
    ) -> None:
        if (guild_id := await self._guild(interaction)) is None:
            return
        await self.bot.service.guilds.set(guild_id, daily_budget_usd=dollars)
        done = (
            f"New videos stop for the day once the estimated spend reaches ${dollars:,.2f}."
            if dollars is not None
            else "This server has no daily spend cap."
        )
        await self._show(interaction, guild_id, done)

    @admin.command(name="refund", description="Give a member back the quota one job used")
    @app_commands.describe(job="The job number")
    async def refund(
        self, interaction: discord.Interaction[VeoBot], job: app_commands.Range[int, 1]
    ) -> None:
        if (guild_id := await self._guild(interaction)) is None:
            return
        try:
            refunded = await self.bot.service.refund_job(job, asker_of(interaction))
        except RequestInvalid as exc:
            await self._say(interaction, str(exc))
            return
        await self._show(
            interaction,
            guild_id,
            f"Job #{refunded.id} was refunded: <@{refunded.user_id}> got back "
            f"{refunded.quota_units} video(s) of {refunded.quota_day}.",
        )

    @admin.command(name="stats", description="Jobs, failures, spend and top members lately")
    @app_commands.describe(days="How many days back, today included (default 7)")
    async def stats(
        self,
        interaction: discord.Interaction[VeoBot],
        days: app_commands.Range[int, 1, MAX_DAYS] = DEFAULT_DAYS,
    ) -> None:
        if (guild_id := await self._guild(interaction)) is None:
            return
        since, until = day_window(self.bot.service.clock(), days)
        report = await server_stats(self.bot.db, guild_id, since_day=since, until_day=until)
        await interaction.response.send_message(
            embed=stats_embed(report, days=days), ephemeral=True, allowed_mentions=NO_PINGS
        )

    @admin.command(name="alerts", description="Where the bot may post alerts for admins")
    @app_commands.describe(channel="A text channel; leave out to stop alerts")
    async def alerts(
        self, interaction: discord.Interaction[VeoBot], channel: discord.TextChannel | None = None
    ) -> None:
        if (guild_id := await self._guild(interaction)) is None:
            return
        await self.bot.service.guilds.set(
            guild_id, alert_channel_id=channel.id if channel is not None else None
        )
        done = f"Alerts will go to {channel.mention}." if channel else "Alerts are off."
        await self._show(interaction, guild_id, done)


async def setup(bot: VeoBot) -> None:
    await bot.add_cog(AdminCog(bot))
