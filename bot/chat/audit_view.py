"""The `/veo-admin log` embed: a server's admin and moderator acts, newest first.

Entries hold ids and values; the words are made here. Banned words are never echoed
(the log is read by every admin, and the words may be slurs); a count is shown instead.
A value left out of a command is stored as None (or an empty list) and read here as what
it means for that setting; 0 is always the number zero. The words are the catalogue's
`[admin_view]` section (`locales/<locale>.admin.toml`), in the admin's `locale` (None
reads English).
"""

from __future__ import annotations

import json
from typing import Any

import discord

from bot.chat.i18n import has, text
from bot.jobs.admin import AuditAction
from storage.audit import AuditEntry

DESCRIPTION_LIMIT = 4096


def _videos(n: int, locale: str | None) -> str:
    """`**1** video`, `**2** videos`."""
    return text("admin_view.videos_one" if n == 1 else "admin_view.videos", locale, n=n)


def _setting_name(key: str, locale: str | None) -> str:
    """A setting as the log names it; a key this bot does not know, as stored."""
    name = f"admin_view.setting.{key}"
    return text(name, locale) if has(name) else key


def _value(key: str, value: Any, locale: str | None) -> str:
    if key == "animate_own_only":
        return text("admin_view.on" if value else "admin_view.off", locale)
    if value is None or value == [] or value == {}:
        empty = f"admin_view.empty.{key}"
        return text(empty if has(empty) else "admin_view.empty_default", locale)
    if key == "allowed_channels":
        return " ".join(f"<#{c}>" for c in value)
    if key == "exempt_roles":
        return " ".join(f"<@&{r}>" for r in value)
    if key == "alert_channel_id":
        return f"<#{value}>"
    if key == "banned_words":
        count = len(value)
        return text("admin_view.words_one" if count == 1 else "admin_view.words", locale, n=count)
    if key == "allowed_models":
        return ", ".join(f"`{m}`" for m in value)
    if key == "model_weights":
        weights = [
            text("admin_view.weight", locale, model=m, units=w) for m, w in sorted(value.items())
        ]
        return text("admin_view.comma", locale).join(weights)
    if key == "daily_budget_usd":
        return f"**${float(value):,.2f}**"
    if key == "daily_quota" and isinstance(value, int):
        return text("admin_view.a_day", locale, videos=_videos(value, locale))
    return f"**{discord.utils.escape_markdown(str(value))}**"


def _settings(detail: str, locale: str | None) -> str:
    try:
        values = json.loads(detail)
    except ValueError:
        values = {}
    if not isinstance(values, dict) or not values:
        return text("admin_view.settings_changed", locale)
    changes = [
        text(
            "admin_view.setting_to",
            locale,
            setting=_setting_name(k, locale),
            value=_value(k, v, locale),
        )
        for k, v in sorted(values.items())
    ]
    return text(
        "admin_view.settings_set",
        locale,
        changes=text("admin_view.semicolon", locale).join(changes),
    )


def audit_line(entry: AuditEntry, *, locale: str | None = None) -> str:
    """One entry as an admin reads it: when, who, what."""
    if entry.target_id is not None:
        target = f"<@{entry.target_id}>"
    else:
        target = text("admin_view.a_member", locale)
    job = entry.job_id
    action = entry.action
    if action == AuditAction.SETTINGS:
        what = _settings(entry.detail, locale)
    elif action == AuditAction.MEMBER_QUOTA:
        what = (
            text(
                "admin_view.member_quota",
                locale,
                target=target,
                quota=_value("daily_quota", int(entry.detail), locale),
            )
            if entry.detail.isdigit()
            else text("admin_view.member_quota_removed", locale, target=target)
        )
    elif action == AuditAction.QUOTA_RESET:
        units = int(entry.detail) if entry.detail.isdigit() else 0
        what = text("admin_view.quota_reset", locale, target=target, videos=_videos(units, locale))
    elif action == AuditAction.REFUND:
        what = text("admin_view.refunded", locale, job=job, target=target)
    elif action == AuditAction.DELETE:
        what = text("admin_view.deleted", locale, job=job, target=target)
    elif action == AuditAction.CANCEL:
        what = text("admin_view.cancelled", locale, job=job, target=target)
    else:
        what = text("admin_view.did", locale, action=action)
    return text(
        "admin_view.line", locale, at=int(entry.created_at), who=f"<@{entry.actor_id}>", what=what
    )


def audit_embed(
    entries: list[AuditEntry], *, retention_days: float, locale: str | None = None
) -> discord.Embed:
    title = text("admin_view.log_title", locale)[:256]
    embed = discord.Embed(title=title, colour=discord.Colour.blurple())
    if not entries:
        embed.description = text("admin_view.log_empty", locale, days=retention_days)[
            :DESCRIPTION_LIMIT
        ]
        return embed
    lines: list[str] = []
    size = 0
    for entry in entries:
        line = audit_line(entry, locale=locale)
        if size + len(line) + 1 > DESCRIPTION_LIMIT:
            break
        lines.append(line)
        size += len(line) + 1
    embed.description = "\n".join(lines)
    embed.set_footer(text=text("admin_view.log_footer", locale, days=retention_days))
    return embed
