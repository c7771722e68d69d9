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

from bot.chat.i18n import text
from bot.jobs.requests import RequestInvalid
from bot.jobs.rules import channel_list
from bot.providers.registry import ProviderRegistry
from storage import GuildSettings, Job

if TYPE_CHECKING:
    from bot.client import VeoBot

NO_PINGS = discord.AllowedMentions.none()
DM_ONLY = text("admin.dm_only")  # in English; `dm_only` says it in the admin's language
MAX_BANNED = 200
MAX_WORD = 100


def dm_only(locale: str | None) -> str:
    """Why a setting cannot be changed outside a server."""
    return text("admin.dm_only", locale)


def counted(n: int, locale: str | None, noun: str = "videos", *, bold: bool = False) -> str:
    """`1 video`, `2 videos` (`**2** videos` when bold) in `locale`: never "video(s)"."""
    section = "admin_view" if bold else "admin"
    return text(f"{section}.{noun}_one" if n == 1 else f"{section}.{noun}", locale, n=n)


def parse_models(typed: str, registry: ProviderRegistry, locale: str | None = None) -> list[str]:
    """`apiyi, apixo/quality` → entries naming a service or one of its models."""
    entries: list[str] = []
    for part in typed.replace(",", " ").split():
        provider, _, model = part.partition("/")
        if provider not in registry or (model and registry.model(provider, model) is None):
            known = ", ".join(
                f"`{p.name}`" + "".join(f", `{p.name}/{m}`" for m in p.models) for p in registry
            )
            raise RequestInvalid(text("admin.not_a_service", locale, part=part, known=known))
        if part not in entries:
            entries.append(part)
    return entries


def parse_words(typed: str, locale: str | None = None) -> list[str]:
    words: list[str] = []
    for part in typed.split(","):
        word = " ".join(part.split())
        if word and word.casefold() not in {w.casefold() for w in words}:
            words.append(word)
    if len(words) > MAX_BANNED or any(len(w) > MAX_WORD for w in words):
        said = text("admin.too_many_words", locale, most=MAX_BANNED, chars=MAX_WORD)
        raise RequestInvalid(said)
    return words


def settings_embed(
    bot: VeoBot, rules: GuildSettings, spent_today: float = 0.0, locale: str | None = None
) -> discord.Embed:
    """Every current setting of a server, as an admin sees it."""

    def say(key: str, **params: object) -> str:
        return text(f"admin.{key}", locale, **params)

    def field(key: str, value: str) -> None:
        embed.add_field(name=say(f"field.{key}"), value=value, inline=False)

    embed = discord.Embed(title=say("title"), colour=discord.Colour.blurple())
    field("daily_quota", quota_text(bot, rules, locale))
    overrides = [say("member_quota_line", user=u, n=d) for u, d in rules.overrides.items()]
    field("member_quotas", _clip(overrides, say("none")))
    field("channels", channel_list(rules.allowed_channels)[:1024] or say("every_channel"))
    words = ", ".join(f"||{w}||" for w in rules.banned_words)
    field("banned_words", _clip([words] if words else [], say("none")))
    if rules.default_provider and rules.default_model:
        defaults = f"`{rules.default_provider}` / `{rules.default_model}`"
    else:
        provider = bot.providers.default
        model = bot.providers.default_model(provider)
        defaults = say("bots_default_model", provider=provider, model=model)
    field("defaults", defaults)
    alerts = f"<#{rules.alert_channel_id}>" if rules.alert_channel_id else say("not_set")
    field("alerts", alerts)
    roles = " ".join(f"<@&{r}>" for r in rules.exempt_roles)
    field("exempt_roles", _clip([roles] if roles else [], say("none")))
    models = ", ".join(f"`{m}`" for m in rules.allowed_models)
    field("models", _clip([models] if models else [], say("every_model")))
    weights = [say("weight_line", model=m, units=w) for m, w in sorted(rules.model_weights.items())]
    field("weights", _clip(weights, say("every_video_one")))
    field("budget", budget_text(bot, rules, spent_today, locale))
    field("animate", say("animate_own" if rules.animate_own_only else "animate_every"))
    return embed


def quota_text(bot: VeoBot, rules: GuildSettings, locale: str | None = None) -> str:
    """The server's daily quota; 0 is shown as what it does (nobody makes videos)."""
    if rules.daily_quota is None:
        default = counted(bot.settings.daily_quota, locale, bold=True)
        return text("admin.quota_default", locale, videos=default)
    videos = counted(rules.daily_quota, locale, bold=True)
    key = "admin.quota_off" if rules.daily_quota == 0 else "admin.quota"
    return text(key, locale, videos=videos)


def quota_done(bot: VeoBot, daily: int | None, locale: str | None = None) -> str:
    """What `/veo-admin quota` did: left out, 0 and a number each read as they act."""
    if daily is None:
        default = counted(bot.settings.daily_quota, locale)
        return text("admin.quota_removed", locale, videos=default)
    if daily == 0:
        return text("admin.quota_zero", locale)
    return text("admin.quota_set", locale, videos=counted(daily, locale))


def member_quota_done(member: str, daily: int | None, locale: str | None) -> str:
    """What `/veo-admin quota-member` did: a member's own quota, or none any more."""
    if daily is None:
        return text("admin.member_quota_removed", locale, member=member)
    return text("admin.member_quota", locale, member=member, videos=counted(daily, locale))


def reset_done(member: str, was: int, locale: str | None) -> str:
    """What `/veo-admin quota-reset` did: the videos refunded, or nothing to refund."""
    if not was:
        return text("admin.quota_reset_nothing", locale, member=member)
    return text("admin.quota_reset", locale, videos=counted(was, locale), member=member)


def weight_done(model: str, units: int | None, locale: str | None) -> str:
    """What `/veo-admin weight` did: what one video of `model` counts as now."""
    if units is None:
        return text("admin.weight_removed", locale, model=model)
    return text("admin.weight_set", locale, model=model, videos=counted(units, locale))


def refund_done(job: Job, locale: str | None) -> str:
    """What `/veo-admin refund` did: whom the job's quota went back to."""
    videos = counted(job.quota_units, locale)
    return text(
        "admin.refunded", locale, job=job.id, user=job.user_id, videos=videos, day=job.quota_day
    )


def budget_done(dollars: float | None, locale: str | None = None) -> str:
    """What `/veo-admin budget` did: no cap, a cap of $0, or a cap."""
    if dollars is None:
        return text("admin.budget_removed", locale)
    if dollars == 0:
        return text("admin.budget_zero", locale)
    return text("admin.budget_set", locale, dollars=dollars)


def budget_text(
    bot: VeoBot, rules: GuildSettings, spent_today: float, locale: str | None = None
) -> str:
    cap = rules.daily_budget_usd
    if cap is None:
        said = text("admin.none", locale)
    else:
        said = text(
            "admin.budget_cap_zero" if cap == 0 else "admin.budget_cap", locale, dollars=cap
        )
    said = text("admin.budget_today", locale, cap=said, dollars=spent_today)
    if (bots := bot.settings.daily_budget_usd) is not None:
        said = text("admin.budget_bot_cap", locale, budget=said, dollars=bots)
    return said


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
