"""A refusal: a request the job core will not do, held as data until a member reads it.

The job core writes no sentences (ARCHITECTURE.md, "Failures"): a refusal names its
sentence with a `Say`, a key of the catalogue's `[refusal]` section
(`bot/chat/locales/<locale>.refusals.toml`) and the values it quotes, and the chat side
words it in the reader's language when it is shown (`bot.chat.failures.refusal_text`).
So one sentence is written once, in the catalogue, for every language and every caller.

`str(exc)` is still the English sentence, for the logs, for tests and for a caller with no
language to offer. The job core must not import `bot.chat` (nor, through it, `discord`), so
`english` reads the English part of the catalogue itself, as the plain TOML data it is,
and fills it in the way `bot.chat.i18n.text` does; a test holds the two to the same words.
A refusal may still be given a plain sentence (a cog's own words, already worded): it has
no `say` and is shown as it was given.
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from bot.providers.codes import Say

# The English part of the catalogue that holds the refusals (the chat side's source), in
# the `bot` package: read as data, so nothing of `bot.chat` is imported.
SOURCE = "chat/locales/en.refusals.toml"
# A "{modes:modes}" parameter names generation modes by value ("text,first_frame"); each is
# read as its label, `refusal.mode.<value>` ("text only, first frame").
MODE_LABEL = "refusal.mode.{}"


class Refusal(Exception):
    """A member's request that cannot be done: `say` is the sentence they read (None for a
    plain sentence given as it is), `str(exc)` the same in English."""

    def __init__(self, said: Say | str) -> None:
        self.say: Say | None = None if isinstance(said, str) else said
        super().__init__(said if isinstance(said, str) else english(said))


@cache
def _english() -> Mapping[str, str]:
    path = resources.files("bot")
    for part in SOURCE.split("/"):
        path = path / part
    try:
        tables = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    return {f"{s}.{k}": str(v) for s, table in tables.items() for k, v in table.items()}


class _Fill(string.Formatter):
    """`str.format` that leaves a missing parameter empty (as `bot.chat.i18n` does)."""

    def get_value(self, key: int | str, args: Any, kwargs: Mapping[str, Any]) -> Any:
        return kwargs.get(str(key), "")

    def format_field(self, value: Any, format_spec: str) -> str:
        if format_spec == "modes":
            labels = _english()
            modes = str(value).split(",")
            return ", ".join(labels.get(MODE_LABEL.format(m), m) for m in modes)
        try:
            return str(super().format_field(value, format_spec))
        except ValueError:
            return str(value)


def english(said: Say) -> str:
    """The sentence `said` names, in English; its key and parameters where the catalogue
    has no such key (a typo a test would catch, never a blank line in a log)."""
    template = _english().get(said.key)
    if template is None:
        quoted = ", ".join(f"{k}={v!r}" for k, v in said.params.items())
        return f"{said.key}({quoted})"
    return _Fill().format(template, **said.params)
