"""`/veo-admin channels` and `/veo-admin exempt-roles`: Discord's own pickers, filled in
with what is saved, and a Clear button.

An admin picks channels and roles from Discord's lists instead of typing mentions, so
nothing can be mistyped. The controls are persistent `DynamicItem`s named only by what they
set (`veo-admin:channels`, `veo-admin:exempt-roles`, and those with `:clear`): an answer
left open across a restart still works. They change a server's settings, so every use is
checked again as a command is: the server is the interaction's own (never read from the
custom_id or the message), and the clicker must hold Manage Server there now (the
permissions Discord resolved for this very interaction, see `asker_of`). The answer is
then redrawn with what was saved, the pickers showing it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import discord

from bot.chat.askers import asker_of
from bot.chat.failures import refusal_text, said_text
from bot.chat.i18n import text
from bot.jobs.admin import NOT_ADMIN
from bot.jobs.requests import RequestInvalid
from bot.jobs.rules import channel_list
from cogs.admin_forms import NO_PINGS, dm_only, settings_embed

if TYPE_CHECKING:
    from bot.client import VeoBot

Interaction = discord.Interaction[Any]
What = Literal["channels", "exempt-roles"]
MAX_PICKED = 25  # the most one of Discord's menus takes
# Where /veo is typed: text and announcement channels, and the channels threads live in
# (a thread is allowed through its channel, see `rules.check_channel`).
CHANNEL_TYPES = [
    discord.ChannelType.text,
    discord.ChannelType.news,
    discord.ChannelType.forum,
    discord.ChannelType.media,
]
# What each picker asks, by the catalogue's key.
ASK = {"channels": "admin.ask_channels", "exempt-roles": "admin.ask_exempt_roles"}


async def picker(
    bot: VeoBot, guild_id: int, what: What, done: str | None = None, *, locale: str | None = None
) -> tuple[str, discord.Embed, discord.ui.View]:
    """The answer's words, the server's settings and the picker showing what is saved, in
    the admin's `locale`."""
    rules = await bot.service.server_settings(guild_id, with_overrides=True)
    spent = await bot.service.spent_today(guild_id)
    view = discord.ui.View(timeout=None)
    if what == "channels":
        view.add_item(ChannelPicker(rules.allowed_channels, locale))
    else:
        view.add_item(RolePicker(rules.exempt_roles, locale))
    view.add_item(ClearButton(what, locale))
    said = f"✅ {done}" if done else text(ASK[what], locale)
    return said, settings_embed(bot, rules, spent, locale), view


def _defaults(
    ids: Sequence[int], kind: discord.SelectDefaultValueType
) -> list[discord.SelectDefaultValue]:
    """What a picker shows as chosen (Discord takes no more than the menu's maximum)."""
    return [discord.SelectDefaultValue(id=i, type=kind) for i in ids[:MAX_PICKED]]


def _ids(values: Sequence[object]) -> list[int]:
    """The picked ids, whether discord.py resolved them into objects or left them as text."""
    ids: list[int] = []
    for value in values:
        found = int(str(getattr(value, "id", value)))
        if found not in ids:
            ids.append(found)
    return ids


def _done(what: What, ids: list[int], locale: str | None) -> str:
    if what == "channels":
        return (
            text("admin.channels_only", locale, channels=channel_list(ids))
            if ids
            else text("admin.channels_every", locale)
        )
    if ids:
        roles = " ".join(f"<@&{r}>" for r in ids)
        return text("admin.roles_exempt", locale, roles=roles)
    return text("admin.roles_none", locale)


async def save(interaction: Interaction, what: What, ids: list[int]) -> None:
    """Check who clicks where, save the pick for the interaction's own server, redraw."""
    bot: VeoBot = interaction.client
    guild_id = interaction.guild_id
    asker = asker_of(interaction)
    locale = str(interaction.locale)  # a private answer: the admin's language
    if guild_id is None or not asker.manage_guild:
        await _refuse(
            interaction, dm_only(locale) if guild_id is None else said_text(NOT_ADMIN, locale)
        )
        return
    try:
        if what == "channels":
            await bot.service.admin.change(asker, allowed_channels=ids)
        else:
            await bot.service.admin.change(asker, exempt_roles=ids)
    except RequestInvalid as exc:
        await _refuse(interaction, refusal_text(exc, locale))
        return
    said, embed, view = await picker(bot, guild_id, what, _done(what, ids, locale), locale=locale)
    await interaction.response.edit_message(
        content=said, embed=embed, view=view, allowed_mentions=NO_PINGS
    )


async def _refuse(interaction: Interaction, said: str) -> None:
    """A private word to the clicker; the answer they clicked on stays as it was."""
    await interaction.response.send_message(f"⚠️ {said}", ephemeral=True, allowed_mentions=NO_PINGS)


class ChannelPicker(
    discord.ui.DynamicItem[discord.ui.ChannelSelect[Any]], template=r"veo-admin:channels"
):
    """The channels where /veo works; none picked: every channel."""

    def __init__(self, picked: Sequence[int] = (), locale: str | None = None) -> None:
        super().__init__(
            discord.ui.ChannelSelect(
                custom_id="veo-admin:channels",
                channel_types=CHANNEL_TYPES,
                placeholder=text("admin.channels_placeholder", locale),
                min_values=0,
                max_values=MAX_PICKED,
                default_values=_defaults(picked, discord.SelectDefaultValueType.channel),
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ChannelPicker:
        return cls()

    async def callback(self, interaction: Interaction) -> None:
        await save(interaction, "channels", _ids(self.item.values))


class RolePicker(
    discord.ui.DynamicItem[discord.ui.RoleSelect[Any]], template=r"veo-admin:exempt-roles"
):
    """The roles whose members have no daily quota; none picked: no such role."""

    def __init__(self, picked: Sequence[int] = (), locale: str | None = None) -> None:
        super().__init__(
            discord.ui.RoleSelect(
                custom_id="veo-admin:exempt-roles",
                placeholder=text("admin.roles_placeholder", locale),
                min_values=0,
                max_values=MAX_PICKED,
                default_values=_defaults(picked, discord.SelectDefaultValueType.role),
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> RolePicker:
        return cls()

    async def callback(self, interaction: Interaction) -> None:
        await save(interaction, "exempt-roles", _ids(self.item.values))


class ClearButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"veo-admin:(?P<what>channels|exempt-roles):clear",
):
    """Empties the list: /veo in every channel, or every member with a quota."""

    def __init__(self, what: What, locale: str | None = None) -> None:
        self.what: What = what
        label = text("admin.clear_channels" if what == "channels" else "admin.clear_roles", locale)
        super().__init__(
            discord.ui.Button(
                label=label,
                style=discord.ButtonStyle.secondary,
                custom_id=f"veo-admin:{what}:clear",
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ClearButton:
        return cls("channels" if match["what"] == "channels" else "exempt-roles")

    async def callback(self, interaction: Interaction) -> None:
        await save(interaction, self.what, [])


ADMIN_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (
    ChannelPicker,
    RolePicker,
    ClearButton,
)
