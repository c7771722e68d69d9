"""`/veo settings`: a private panel of select menus and toggles, and `/veo forget`.

Every control changes the settings of whoever uses it, so none needs an owner check,
and each is a `DynamicItem` named by what it sets: a panel left open across a restart
still works. The panel is redrawn after every change, showing what is saved.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord

from bot.chat import messages
from bot.chat.failures import refusal_text
from bot.chat.i18n import text
from bot.jobs.requests import RequestInvalid
from bot.providers.registry import ProviderRegistry
from storage import MemberSettings

if TYPE_CHECKING:
    from bot.chat.bot import ChatBot

Interaction = discord.Interaction[Any]
ANY = "-"  # the "no preference" choice of every menu
FLAGS = ("dm_copy", "spoiler", "ping")
ASPECTS = ("16:9", "9:16")


def _models(providers: ProviderRegistry) -> list[tuple[str, str]]:
    """(value, label) of every model the bot offers, "provider/model", at most 24."""
    return [
        (f"{p.name}/{spec.name}", f"{spec.label} — {p.name}"[:100])
        for p in providers
        for spec in p.models.values()
    ][:24]


def _lengths(providers: ProviderRegistry) -> list[int]:
    return sorted({d for p in providers for s in p.models.values() for d in s.durations})[:24]


def _resolutions(providers: ProviderRegistry) -> list[str]:
    seen = [r for p in providers for s in p.models.values() for r in s.resolutions]
    return list(dict.fromkeys(seen))[:24]


def panel(
    prefs: MemberSettings, providers: ProviderRegistry, locale: str | None = None
) -> tuple[str, discord.ui.View]:
    """The panel's words and controls, showing what `prefs` holds, in `locale`."""
    model = f"{prefs.provider}/{prefs.model}" if prefs.model else ANY
    label = dict(_models(providers)).get(model)
    anything = (ANY, text("settings.no_preference", locale))
    lengths = [(str(d), text("job.seconds", locale, seconds=d)) for d in _lengths(providers)]
    menus = (
        ("model", model, _models(providers)),
        ("aspect", prefs.aspect_ratio or ANY, [(a, a) for a in ASPECTS]),
        ("length", str(prefs.duration) if prefs.duration else ANY, lengths),
        ("size", prefs.resolution or ANY, [(r, r) for r in _resolutions(providers)]),
    )
    view = discord.ui.View(timeout=None)
    for what, chosen, options in menus:
        view.add_item(SettingSelect(what, chosen, [anything, *options], locale))
    for flag in FLAGS:
        view.add_item(FlagButton(flag, on=bool(getattr(prefs, flag)), locale=locale))
    return messages.settings_panel(prefs, label, locale), view


class SettingSelect(
    discord.ui.DynamicItem[discord.ui.Select[Any]],
    template=r"veo:set:(?P<what>model|aspect|length|size)",
):
    """One menu of the panel: the default model, aspect, length or resolution."""

    def __init__(
        self,
        what: str,
        chosen: str = ANY,
        options: list[tuple[str, str]] | None = None,
        locale: str | None = None,
    ) -> None:
        self.what = what
        choices = [
            discord.SelectOption(label=label, value=value, default=value == chosen)
            for value, label in options or [(ANY, ANY)]
        ]
        super().__init__(
            discord.ui.Select(
                custom_id=f"veo:set:{what}",
                placeholder=text(f"settings.{what}", locale),
                options=choices,
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> SettingSelect:
        return cls(match["what"])

    async def callback(self, interaction: Interaction) -> None:
        bot: ChatBot = interaction.client
        values = self.item.values or [ANY]
        chosen = None if values[0] == ANY else values[0]
        changes: dict[str, object]
        if self.what == "model":
            provider, _, model = (chosen or "").partition("/")
            changes = {"provider": provider or None, "model": model or None}
        elif self.what == "aspect":
            changes = {"aspect_ratio": chosen}
        elif self.what == "length":
            changes = {"duration": int(chosen) if chosen and chosen.isdigit() else None}
        else:
            changes = {"resolution": chosen}
        await _change(bot, interaction, changes)


class FlagButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"veo:set:flag:(?P<flag>dm_copy|spoiler|ping)",
):
    """A toggle of the panel; the button's look shows whether it is on."""

    def __init__(self, flag: str, *, on: bool = False, locale: str | None = None) -> None:
        self.flag = flag
        super().__init__(
            discord.ui.Button(
                label=text(f"settings.{flag}", locale),
                emoji="✅" if on else "⬜",
                style=discord.ButtonStyle.success if on else discord.ButtonStyle.secondary,
                custom_id=f"veo:set:flag:{flag}",
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> FlagButton:
        return cls(match["flag"])

    async def callback(self, interaction: Interaction) -> None:
        bot: ChatBot = interaction.client
        prefs = await bot.service.preferences.get(interaction.user.id)
        await _change(bot, interaction, {self.flag: not getattr(prefs, self.flag)})


async def _change(bot: ChatBot, interaction: Interaction, changes: dict[str, object]) -> None:
    try:
        prefs = await bot.service.preferences.change(interaction.user.id, **changes)
    except RequestInvalid as exc:
        await interaction.response.send_message(
            f"⚠️ {refusal_text(exc, str(interaction.locale))}", ephemeral=True
        )
        return
    said, view = panel(prefs, bot.providers, str(interaction.locale))
    await interaction.response.edit_message(content=said, view=view)


def forget_question(user_id: int, locale: str | None) -> tuple[str, discord.ui.View]:
    view = discord.ui.View(timeout=None)
    view.add_item(ForgetButton(user_id, locale))
    return text("settings.forget_question", locale), view


class ForgetButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"veo:forget-yes:(?P<user>\d+)"
):
    """The confirmation of `/veo forget`, for the member who asked and nobody else."""

    def __init__(self, user_id: int, locale: str | None = None) -> None:
        self.user_id = user_id
        super().__init__(
            discord.ui.Button(
                label=text("settings.forget_confirm", locale),
                style=discord.ButtonStyle.danger,
                custom_id=f"veo:forget-yes:{user_id}",
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ForgetButton:
        return cls(int(match["user"]))

    async def callback(self, interaction: Interaction) -> None:
        if interaction.user.id != self.user_id:
            await interaction.response.send_message(
                text("reply.not_yours", str(interaction.locale)), ephemeral=True
            )
            return
        bot: ChatBot = interaction.client
        purged = await bot.service.preferences.forget(self.user_id)
        said = messages.forgotten(purged, str(interaction.locale))
        await interaction.response.edit_message(content=said, view=None)


SETTINGS_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (
    SettingSelect,
    FlagButton,
    ForgetButton,
)
