"""The `/veo-admin` forms: what an admin types turned into settings, and the settings shown
back. Pure functions of Discord's objects and the registry; the commands are in
`cogs.admin`, the channel and role pickers in `cogs.admin_pickers`.

Every number reads the same way in every command: 0 is the number zero (no videos, no
dollars), and an option left out means the default (shown here as "the bot's default",
"none" or "every …").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.chat.audit_view import counted
from bot.jobs.requests import RequestInvalid
from bot.jobs.rules import channel_list
from bot.providers.registry import ProviderRegistry
from storage import GuildSettings

if TYPE_CHECKING:
    from bot.client import VeoBot

NO_PINGS = discord.AllowedMentions.none()
DM_ONLY = "These settings belong to a server: use `/veo-admin` in the server itself."
MAX_BANNED = 200
MAX_WORD = 100


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
    embed = discord.Embed(title="Video settings for this server", colour=discord.Colour.blurple())
    embed.add_field(name="Daily quota", value=quota_text(bot, rules), inline=False)
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
    animate = "only on the member's own messages" if rules.animate_own_only else "on any message"
    embed.add_field(name="Animate with Veo", value=animate, inline=False)
    return embed


def quota_text(bot: VeoBot, rules: GuildSettings) -> str:
    """The server's daily quota; 0 is shown as what it does (nobody makes videos)."""
    if rules.daily_quota is None:
        default = counted(bot.settings.daily_quota, "video", bold=True)
        return f"{default} a day per member (the bot's default)"
    text = f"{counted(rules.daily_quota, 'video', bold=True)} a day per member"
    if rules.daily_quota == 0:
        text += " (switched off, but for member quotas and roles without a quota)"
    return text


def quota_done(bot: VeoBot, daily: int | None) -> str:
    """What `/veo-admin quota` did: left out, 0 and a number each read as they act."""
    if daily is None:
        default = counted(bot.settings.daily_quota, "video")
        return f"The server quota is removed: the bot's default of {default} a day applies."
    if daily == 0:
        return (
            "Members may now make 0 videos a day: making videos is switched off here, "
            "but for members with their own quota or a role without a quota."
        )
    return f"Members may now make {counted(daily, 'video')} a day."


def budget_done(dollars: float | None) -> str:
    """What `/veo-admin budget` did: no cap, a cap of $0, or a cap."""
    if dollars is None:
        return "This server has no daily spend cap."
    if dollars == 0:
        return (
            "Nothing may be spent here: every video with a documented price is refused "
            "(models without one count as $0 and can still be used)."
        )
    return f"New videos stop for the day once the estimated spend reaches ${dollars:,.2f}."


def budget_text(bot: VeoBot, rules: GuildSettings, spent_today: float) -> str:
    cap = rules.daily_budget_usd
    text = f"**${cap:,.2f}** a day" if cap is not None else "none"
    if cap == 0:
        text += ": only models without a documented price (counted as $0) can be used"
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
