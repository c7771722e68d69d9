"""The `/veo-admin` forms: what an admin types turned into settings, and the settings shown
back. Pure functions of Discord's objects and the registry; the commands are in
`cogs.admin`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.jobs.requests import RequestInvalid
from bot.jobs.rules import channel_list
from bot.providers.registry import ProviderRegistry
from storage import GuildSettings

if TYPE_CHECKING:
    from bot.client import VeoBot

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
