"""The `/veo-admin log` embed: a server's admin and moderator acts, newest first.

Entries hold ids and values; the words are made here. Banned words are never echoed
(the log is read by every admin, and the words may be slurs); a count is shown instead.
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
}


def _value(key: str, value: Any) -> str:
    if value is None or value == [] or value == {}:
        return "the default" if key not in ("alert_channel_id",) else "off"
    if key == "allowed_channels":
        return " ".join(f"<#{c}>" for c in value)
    if key == "exempt_roles":
        return " ".join(f"<@&{r}>" for r in value)
    if key == "alert_channel_id":
        return f"<#{value}>"
    if key == "banned_words":
        return f"{len(value)} word(s)"
    if key == "allowed_models":
        return ", ".join(f"`{m}`" for m in value)
    if key == "model_weights":
        return ", ".join(f"`{m}` counts {w}" for m, w in sorted(value.items()))
    if key == "daily_budget_usd":
        return f"**${float(value):,.2f}**"
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
            f"set {target}'s own quota to **{entry.detail}** a day"
            if entry.detail
            else f"removed {target}'s own quota"
        )
    elif action == AuditAction.QUOTA_RESET:
        what = f"reset {target}'s quota for today (gave back **{entry.detail or 0}**)"
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
