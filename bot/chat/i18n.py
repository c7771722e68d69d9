"""The words members read, in their language: one catalogue per shipped locale.

`locales/en.toml` is the source; `zh-CN.toml` and `es-ES.toml` translate it key for key
with the same `{placeholders}` (a test holds them to it). A key missing from a locale
reads in English, so a new sentence never shows blank. Private replies are told in the
language of the member's Discord client (`interaction.locale`); public posts in the
server's (`Job.locale`, stored when the command ran, since the process that posts may not
have the server cached). Discord's `es-419` reads the Spanish of Spain; any other Chinese
than `zh-CN` reads English rather than the wrong script.

Command names, descriptions and choices reach Discord through `Translator`, from the
same catalogues (`[command]`).
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

import discord
from discord import app_commands

from bot.providers.download import spoken_duration

ENGLISH = "en"
SHIPPED = ("en", "zh-CN", "es-ES")
# Discord locales that read another shipped one.
FALLBACKS = {"es-419": "es-ES", "en-US": "en", "en-GB": "en"}


def sections(locale: str) -> dict[str, dict[str, str]]:
    """One locale's catalogue as its sections: `<locale>.toml` and any `<locale>.<part>.toml`
    (a part per side of the bot, e.g. `en.refusals.toml`), which must not share a section."""
    merged: dict[str, dict[str, str]] = {}
    folder = resources.files("bot.chat").joinpath("locales")
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        name = path.name
        if name == f"{locale}.toml" or (name.startswith(f"{locale}.") and name.endswith(".toml")):
            for section, table in tomllib.loads(path.read_text(encoding="utf-8")).items():
                if section in merged:
                    raise ValueError(f"{name}: section [{section}] is already in another part")
                merged[section] = {str(k): str(v) for k, v in table.items()}
    return merged


@cache
def catalogue(locale: str) -> Mapping[str, str]:
    """Every sentence of one shipped locale, by "section.key"."""
    return {
        f"{section}.{key}": said
        for section, table in sections(locale).items()
        for key, said in table.items()
    }


def shipped(locale: str | None) -> str:
    """The shipped locale that a Discord locale reads ("es-419" → "es-ES", "fr" → "en")."""
    if locale is None:
        return ENGLISH
    locale = FALLBACKS.get(locale, locale)
    return locale if locale in SHIPPED else ENGLISH


def has(key: str) -> bool:
    return key in catalogue(ENGLISH)


class _Fill(string.Formatter):
    """`str.format` that leaves a missing parameter empty rather than raising: a row
    written by an older or newer bot must still show a sentence."""

    def __init__(self, locale: str) -> None:
        self.locale = locale

    def get_value(self, key: int | str, args: Any, kwargs: Mapping[str, Any]) -> Any:
        return kwargs.get(str(key), "")

    def format_field(self, value: Any, format_spec: str) -> str:
        # "{seconds:duration}": a number of seconds as a member says it ("2 minutes").
        if format_spec == "duration":
            return spoken_duration(float(value)) if isinstance(value, int | float) else ""
        # "{options:options}": option keys ("seed,negative_prompt") as a member reads them.
        if format_spec == "options":
            keys = [f"failure.option.{key}" for key in str(value).split(",")]
            names = [text(k, self.locale) if has(k) else k for k in keys]
            return text("word.or", self.locale).join(names)
        # "{modes:modes}": generation modes ("text,first_frame") by their labels (a refusal's).
        if format_spec == "modes":
            keys = [f"refusal.mode.{mode}" for mode in str(value).split(",")]
            return ", ".join(text(k, self.locale) if has(k) else k for k in keys)
        try:
            return str(super().format_field(value, format_spec))
        except ValueError:  # "{limit:,}" of a parameter a row lacks: shown plainly
            return str(value)


def text(key: str, locale: str | None = None, /, **params: Any) -> str:
    """The sentence `key` in `locale` (English where it has none), filled in."""
    chosen = shipped(locale)
    template = catalogue(chosen).get(key)
    if template is None:
        template = catalogue(ENGLISH)[key]
    return _Fill(chosen).format(template, **params)


def command_key(location: app_commands.TranslationContextLocation, data: Any) -> str | None:
    """The catalogue key of one translatable string of the command tree, from where it
    is: "veo.generate.name", "veo.generate.description", "veo.generate.prompt.description",
    "Animate with Veo.name". Keys follow the tree, so the cogs keep plain English strings."""
    where = app_commands.TranslationContextLocation
    if location in (where.command_name, where.group_name):
        return f"{_path(data)}.name"
    if location in (where.command_description, where.group_description):
        return f"{_path(data)}.description"
    if location is where.parameter_name:
        return f"{_path(data.command)}.{data.name}.name"
    if location is where.parameter_description:
        return f"{_path(data.command)}.{data.name}.description"
    return None  # choices: the bot's are offered by autocomplete, in the member's words


def _path(command: Any) -> str:
    """A slash command's place in its groups ("veo.generate"); a context menu's name,
    which is one name that may hold spaces ("Animate with Veo")."""
    if isinstance(command, app_commands.ContextMenu):
        return command.name
    return str(command.qualified_name).replace(" ", ".")


class Translator(app_commands.Translator):
    """Command names and descriptions from the catalogues' `[command]` section, by their
    place in the command tree (`command_key`); English stays as the cogs write it."""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        chosen = shipped(locale.value)
        key = command_key(context.location, context.data)
        if key is None or chosen == ENGLISH:
            return None
        return catalogue(chosen).get(f"command.{key}")
