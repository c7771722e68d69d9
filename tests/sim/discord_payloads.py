"""Builders for raw interaction payloads, as Discord sends them over the gateway.

Why: discord.py's real ``discord.Interaction(data=..., state=bot._connection)`` is the only honest
way to get an Interaction in tests (dpytest has no interactions); these dicts follow
``discord/types/interactions.py`` of discord.py 2.7.1, including the fields it reads
unconditionally (``attachment_size_limit``, ``version``, member ``flags``, channel ``position``).

Register each payload with the simulator (``sim.register_interaction(payload)``) so its callback
and webhook routes accept it. Default ids match ``DiscordSim``'s defaults.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

# Ids (the sim's defaults use the same bot/application and guild ids).
APPLICATION_ID = 1_100_000_000_000_000_001  # == the bot user id, as for every modern bot
GUILD_ID = 1_100_000_000_000_000_100
CHANNEL_ID = 1_100_000_000_000_000_200
USER_ID = 1_100_000_000_000_000_300
COMMAND_ID = 1_100_000_000_000_000_400

DEFAULT_ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024

# Permission bits (discord.Permissions).
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
SEND_MESSAGES_IN_THREADS = 1 << 38

PERMS_FULL = (
    VIEW_CHANNEL
    | SEND_MESSAGES
    | SEND_MESSAGES_IN_THREADS
    | ATTACH_FILES
    | EMBED_LINKS
    | READ_MESSAGE_HISTORY
)
PERMS_NO_SEND = VIEW_CHANNEL

# Option types (discord.AppCommandOptionType).
OPT_SUB_COMMAND = 1
OPT_SUB_COMMAND_GROUP = 2
OPT_STRING = 3
OPT_INTEGER = 4
OPT_BOOLEAN = 5
OPT_NUMBER = 10
OPT_ATTACHMENT = 11

# Interaction ids are snowflakes of "now", as Discord's are: discord.py derives the
# interaction's creation time (and so its 15-minute expiry) from the id.
_DISCORD_EPOCH_MS = 1_420_070_400_000
_serial = itertools.count()


def next_id() -> int:
    """A fresh time-based snowflake, unique within this process."""
    return ((int(time.time() * 1000) - _DISCORD_EPOCH_MS) << 22) | (next(_serial) & 0x3FFFFF)


def user(user_id: int = USER_ID, username: str | None = None) -> dict[str, Any]:
    return {
        "id": str(user_id),
        "username": username or f"member{user_id % 1000}",
        "discriminator": "0",
        "global_name": None,
        "avatar": None,
        "public_flags": 0,
    }


def member(
    user_id: int = USER_ID, *, permissions: int = PERMS_FULL, roles: list[int] | None = None
) -> dict[str, Any]:
    """A guild member as embedded in an interaction (``permissions`` = resolved in the channel)."""
    return {
        "user": user(user_id),
        "roles": [str(r) for r in roles or []],
        "permissions": str(permissions),
        "joined_at": "2024-01-01T00:00:00+00:00",
        "premium_since": None,
        "nick": None,
        "avatar": None,
        "deaf": False,
        "mute": False,
        "pending": False,
        "flags": 0,
        "communication_disabled_until": None,
    }


def text_channel(
    channel_id: int = CHANNEL_ID, guild_id: int = GUILD_ID, *, permissions: int = PERMS_FULL
) -> dict[str, Any]:
    """The partial guild text channel an interaction carries."""
    return {
        "id": str(channel_id),
        "type": 0,
        "guild_id": str(guild_id),
        "name": f"channel-{channel_id}",
        "position": 0,
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": None,
        "topic": None,
        "rate_limit_per_user": 0,
        "last_message_id": None,
        "flags": 0,
        "permissions": str(permissions),
    }


def _base(
    *,
    type_: int,
    user_id: int,
    guild_id: int | None,
    channel_id: int,
    app_permissions: int,
    member_permissions: int,
    application_id: int,
    interaction_id: int | None,
    token: str | None,
    attachment_size_limit: int,
    locale: str,
    guild_locale: str = "en-US",
) -> dict[str, Any]:
    interaction_id = interaction_id if interaction_id is not None else next_id()
    payload: dict[str, Any] = {
        "id": str(interaction_id),
        "application_id": str(application_id),
        "type": type_,
        "token": token or f"sim-token-{interaction_id}",
        "version": 1,
        "channel_id": str(channel_id),
        "app_permissions": str(app_permissions),
        "locale": locale,
        "entitlements": [],
        "attachment_size_limit": attachment_size_limit,
    }
    if guild_id is not None:
        payload.update(
            guild_id=str(guild_id),
            guild={"id": str(guild_id), "locale": guild_locale, "features": []},
            guild_locale=guild_locale,
            channel=text_channel(channel_id, guild_id, permissions=member_permissions),
            member=member(user_id, permissions=member_permissions),
            authorizing_integration_owners={"0": str(guild_id)},
            context=0,  # GUILD
        )
    else:  # a DM with the bot
        payload.update(
            user=user(user_id),
            channel={"id": str(channel_id), "type": 1, "recipients": [user(user_id)], "flags": 0},
            authorizing_integration_owners={"0": "0"},  # guild install, used in a bot DM
            context=1,  # BOT_DM
        )
    return payload


def _option(name: str, value: object, resolved: dict[str, Any]) -> dict[str, Any]:
    """One value option; an attachment object (a dict) goes into ``resolved.attachments``."""
    if isinstance(value, dict):
        resolved.setdefault("attachments", {})[str(value["id"])] = value
        return {"name": name, "type": OPT_ATTACHMENT, "value": str(value["id"])}
    if isinstance(value, bool):  # before int: bool is an int
        return {"name": name, "type": OPT_BOOLEAN, "value": value}
    if isinstance(value, int):
        return {"name": name, "type": OPT_INTEGER, "value": value}
    if isinstance(value, float):
        return {"name": name, "type": OPT_NUMBER, "value": value}
    if isinstance(value, str):
        return {"name": name, "type": OPT_STRING, "value": value}
    raise TypeError(f"unsupported option value for {name!r}: {value!r}")


def _command_data(
    *,
    command_id: int,
    name: str,
    subcommand: str | None,
    options: dict[str, object],
    attachments: list[dict[str, Any]] | None,
    focused: str | None = None,
    command_guild_id: int | None = None,
) -> dict[str, Any]:
    resolved: dict[str, Any] = {}
    for attachment in attachments or []:
        resolved.setdefault("attachments", {})[str(attachment["id"])] = attachment
    values = [_option(k, v, resolved) for k, v in options.items()]
    for value in values:
        if value["name"] == focused:
            value["focused"] = True
    if subcommand:  # "sub" or "group sub": wrap the values in SUB_COMMAND (in a GROUP)
        *groups, leaf = subcommand.split()
        nested: list[dict[str, Any]] = [{"name": leaf, "type": OPT_SUB_COMMAND, "options": values}]
        for group in reversed(groups):
            nested = [{"name": group, "type": OPT_SUB_COMMAND_GROUP, "options": nested}]
        values = nested
    data: dict[str, Any] = {"id": str(command_id), "name": name, "type": 1, "options": values}
    if resolved:
        data["resolved"] = resolved
    if command_guild_id is not None:
        data["guild_id"] = str(command_guild_id)
    return data


def slash_command(
    *,
    name: str,
    subcommand: str | None = None,
    options: dict[str, object] | None = None,
    attachments: list[dict[str, Any]] | None = None,
    command_id: int = COMMAND_ID,
    command_guild_id: int | None = None,
    user_id: int = USER_ID,
    guild_id: int | None = GUILD_ID,
    channel_id: int = CHANNEL_ID,
    app_permissions: int = PERMS_FULL,
    member_permissions: int = PERMS_FULL,
    application_id: int = APPLICATION_ID,
    interaction_id: int | None = None,
    token: str | None = None,
    attachment_size_limit: int = DEFAULT_ATTACHMENT_SIZE_LIMIT,
    locale: str = "en-US",
    guild_locale: str = "en-US",
) -> dict[str, Any]:
    """An APPLICATION_COMMAND (type 2) chat-input interaction (``locale``: the member's
    client's language; ``guild_locale``: the server's).

    ``options`` maps names to values: str → 3, int → 4, bool → 5, float → 10, and an attachment
    object (e.g. from ``sim.add_attachment``) → 11 with the object in ``data.resolved``.
    ``subcommand`` is "leaf" or "group leaf". ``guild_id=None`` builds a DM interaction.
    ``command_guild_id`` marks a guild-registered command (the tree looks it up per guild).
    """
    payload = _base(
        type_=2,
        user_id=user_id,
        guild_id=guild_id,
        channel_id=channel_id,
        app_permissions=app_permissions,
        member_permissions=member_permissions,
        application_id=application_id,
        interaction_id=interaction_id,
        token=token,
        attachment_size_limit=attachment_size_limit,
        locale=locale,
        guild_locale=guild_locale,
    )
    payload["data"] = _command_data(
        command_id=command_id,
        name=name,
        subcommand=subcommand,
        options=options or {},
        attachments=attachments,
        command_guild_id=command_guild_id,
    )
    return payload


def autocomplete(
    *,
    name: str,
    focused: str,
    subcommand: str | None = None,
    options: dict[str, object] | None = None,
    command_id: int = COMMAND_ID,
    command_guild_id: int | None = None,
    user_id: int = USER_ID,
    guild_id: int | None = GUILD_ID,
    channel_id: int = CHANNEL_ID,
    app_permissions: int = PERMS_FULL,
    member_permissions: int = PERMS_FULL,
    application_id: int = APPLICATION_ID,
    interaction_id: int | None = None,
    token: str | None = None,
    attachment_size_limit: int = DEFAULT_ATTACHMENT_SIZE_LIMIT,
    locale: str = "en-US",
) -> dict[str, Any]:
    """An APPLICATION_COMMAND_AUTOCOMPLETE (type 4) interaction; ``focused`` names the option
    being typed (its value is the partial text). Attachments are never resolved here."""
    payload = _base(
        type_=4,
        user_id=user_id,
        guild_id=guild_id,
        channel_id=channel_id,
        app_permissions=app_permissions,
        member_permissions=member_permissions,
        application_id=application_id,
        interaction_id=interaction_id,
        token=token,
        attachment_size_limit=attachment_size_limit,
        locale=locale,
    )
    options = options or {}
    if focused not in options:
        raise ValueError(f"focused option {focused!r} must be in options")
    payload["data"] = _command_data(
        command_id=command_id,
        name=name,
        subcommand=subcommand,
        options=options,
        attachments=None,
        focused=focused,
        command_guild_id=command_guild_id,
    )
    return payload


def component_click(
    custom_id: str,
    message: dict[str, Any],
    *,
    component_type: int = 2,
    values: list[str] | None = None,
    user_id: int = USER_ID,
    guild_id: int | None = GUILD_ID,
    channel_id: int | None = None,
    app_permissions: int = PERMS_FULL,
    member_permissions: int = PERMS_FULL,
    application_id: int = APPLICATION_ID,
    interaction_id: int | None = None,
    token: str | None = None,
    attachment_size_limit: int = DEFAULT_ATTACHMENT_SIZE_LIMIT,
    locale: str = "en-US",
) -> dict[str, Any]:
    """A MESSAGE_COMPONENT (type 3) interaction: a button (``component_type=2``) clicked on
    ``message`` (e.g. ``sim.message(id)``), or a select (3) with ``values``."""
    payload = _base(
        type_=3,
        user_id=user_id,
        guild_id=guild_id,
        channel_id=channel_id if channel_id is not None else int(message["channel_id"]),
        app_permissions=app_permissions,
        member_permissions=member_permissions,
        application_id=application_id,
        interaction_id=interaction_id,
        token=token,
        attachment_size_limit=attachment_size_limit,
        locale=locale,
    )
    data: dict[str, Any] = {"custom_id": custom_id, "component_type": component_type}
    if values is not None:
        data["values"] = values
    payload["data"] = data
    payload["message"] = message
    return payload


def guild_create(guild_id: int = GUILD_ID, *, name: str | None = None) -> dict[str, Any]:
    """A GUILD_CREATE event's data: the bot joined (or got back) a server. Only the fields
    discord.py's Guild reads without a default; no members, channels or roles."""
    return {
        "id": str(guild_id),
        "name": name or f"server-{guild_id % 1000}",
        "icon": None,
        "owner_id": str(USER_ID),
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "roles": [],
        "emojis": [],
        "features": [],
        "mfa_level": 0,
        "system_channel_flags": 0,
        "preferred_locale": "en-US",
        "premium_tier": 0,
        "nsfw_level": 0,
        "member_count": 2,
        "members": [],
        "channels": [],
        "threads": [],
        "stickers": [],
        "large": False,
    }


def guild_delete(guild_id: int = GUILD_ID, *, unavailable: bool = False) -> dict[str, Any]:
    """A GUILD_DELETE event's data: the bot was removed (or, with `unavailable`, the
    server is in an outage and will come back: nothing of it must be cancelled)."""
    data: dict[str, Any] = {"id": str(guild_id)}
    if unavailable:
        data["unavailable"] = True
    return data
