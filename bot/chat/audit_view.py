"""The `/veo-admin log` embed: a server's admin and moderator acts, newest first.

Entries hold ids and values; the words are made here. Banned words are never echoed
(the log is read by every admin, and the words may be slurs); a count is shown instead.
A value left out of a command is stored as None (or an empty list) and read here as what
it means for that setting; 0 is always the number zero.
"""

from __future__ import annotations

import json
from typing import Any

import discord

from bot.jobs.admin import AuditAction
from storage.audit import AuditEntry

DESCRIPTION_LIMIT = 4096

SETTING_NAMES = {
    "daily_quota": "daily quota",
    "allowed_channels": "channels",
    "banned_words": "banned words",
    "default_provider": "default service",
    "default_model": "default model",
    "alert_channel_id": "alert channel",
    "exempt_roles": "roles without a quota",
    "allowed_models": "allowed models",
    "model_weights": "model weights",
    "daily_budget_usd": "daily spend cap",
    "animate_own_only": "own-messages-only rule of Animate with Veo",
}
# What an empty value (the option left out) means, per setting.
EMPTY = {
    "daily_quota": "the bot's default",
    "allowed_channels": "every channel",
    "banned_words": "none",
    "default_provider": "the bot's default",
    "default_model": "the bot's default",
    "alert_channel_id": "off",
    "exempt_roles": "none",
    "allowed_models": "every model",
    "model_weights": "1 for every model",
    "daily_budget_usd": "none",
}


def counted(n: int, noun: str, *, bold: bool = False) -> str:
    """`1 video`, `2 videos` (`**2** videos` when bold): never "video(s)"."""
    number = f"**{n}**" if bold else str(n)
    return f"{number} {noun if n == 1 else noun + 's'}"


def _value(key: str, value: Any) -> str:
    if key == "animate_own_only":
        return "**on**" if value else "**off**"
    if value is None or value == [] or value == {}:
        return EMPTY.get(key, "the default")
    if key == "allowed_channels":
        return " ".join(f"<#{c}>" for c in value)
    if key == "exempt_roles":
        return " ".join(f"<@&{r}>" for r in value)
    if key == "alert_channel_id":
        return f"<#{value}>"
    if key == "banned_words":
        return counted(len(value), "word")
    if key == "allowed_models":
        return ", ".join(f"`{m}`" for m in value)
    if key == "model_weights":
        return ", ".join(f"`{m}` counts {w}" for m, w in sorted(value.items()))
    if key == "daily_budget_usd":
        return f"**${float(value):,.2f}**"
    if key == "daily_quota" and isinstance(value, int):
        return counted(value, "video", bold=True) + " a day"
    return f"**{discord.utils.escape_markdown(str(value))}**"


def _settings(detail: str) -> str:
    try:
        values = json.loads(detail)
    except ValueError:
        values = {}
    if not isinstance(values, dict) or not values:
        return "changed the settings"
    changes = [
        f"the {SETTING_NAMES.get(k, k)} to {_value(k, v)}" for k, v in sorted(values.items())
    ]
    return "set " + "; ".join(changes)


def audit_line(entry: AuditEntry) -> str:
    """One entry as an admin reads it: when, who, what."""
    who = f"<@{entry.actor_id}>"
    target = f"<@{entry.target_id}>" if entry.target_id is not None else "a member"
    job = f"job #{entry.job_id}"
    action = entry.action
    if action == AuditAction.SETTINGS:
        what = _settings(entry.detail)
    elif action == AuditAction.MEMBER_QUOTA:
        what = (
            f"set {target}'s own quota to {counted(int(entry.detail), 'video', bold=True)} a day"
            if entry.detail.isdigit()
            else f"removed {target}'s own quota"
        )
    elif action == AuditAction.QUOTA_RESET:
        units = int(entry.detail) if entry.detail.isdigit() else 0
        what = f"reset {target}'s quota for today (refunded {counted(units, 'video', bold=True)})"
    elif action == AuditAction.REFUND:
        what = f"refunded {job} of {target}"
    elif action == AuditAction.DELETE:
        what = f"deleted the video of {job} by {target}"
    elif action == AuditAction.CANCEL:
        what = f"cancelled {job} of {target}"
    else:
        what = f"did `{action}`"
    return f"<t:{int(entry.created_at)}:f> · {who} {what}"


def audit_embed(entries: list[AuditEntry], *, retention_days: float) -> discord.Embed:
    embed = discord.Embed(title="Admin log — newest first", colour=discord.Colour.blurple())
    if not entries:
        embed.description = (
            "Nothing has been done here by admins or moderators in the last "
            f"{retention_days:g} days."
        )
        return embed
    lines: list[str] = []
    size = 0
    for entry in entries:
        line = audit_line(entry)
        if size + len(line) + 1 > DESCRIPTION_LIMIT:
            break
        lines.append(line)
        size += len(line) + 1
    embed.description = "\n".join(lines)
    embed.set_footer(text=f"Entries are kept for {retention_days:g} days.")
    return embed
