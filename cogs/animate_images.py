"""How "Animate with Veo" reads a message's images: pure functions of counts and models.

Kept apart from the cog so the rules can be tested as plain data and the cog stays a
translation of Discord in and words out. Every sentence is the catalogue's (`[animate]`,
`bot/chat/locales/<locale>.animate.toml`), told in the `locale` a caller passes (the
member's; English when none); a refusal raised here is already in that language.

How the images are read, in message order (`map_images`):

- 1 image  → the first frame (or one reference image, on a model without first-frame mode);
- 2 images → first + last frame where the model has it, else two reference images;
- 3+       → reference images, up to the model's `max_reference_images` (at most 5).

When the server's default model cannot take them all, `choices_for` lists what the member
may pick instead: each model the server allows that takes them all (each way it can read
them), then only the first image on the default model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypedDict

import discord

from bot.chat.i18n import has, text
from bot.jobs.requests import MODE_LABELS, RequestInvalid
from bot.providers.base import Mode, ModelSpec

# Slot names, in message order, for reference images (`Draft.extra_images` counts all but the first).
REFERENCE_SLOTS = ("image", "image2", "image3", "image4", "image5")
# A select offers at most 25 options; one is kept for "only the first image".
MOST_CHOICES = 24

# Discord's longest select option label and description, and label description.
MOST_SAID = 100

# The word a member types for each reading (in English in every language: `parse_mode`
# reads these); what it means is the catalogue's `animate.hint.<mode>` (`mode_hint`).
MODE_WORDS = {
    Mode.FIRST_FRAME: "first",
    Mode.FIRST_LAST: "first+last",
    Mode.REFERENCE: "reference",
}
_ACCEPTED: dict[str, Mode] = {
    "first": Mode.FIRST_FRAME,
    "start": Mode.FIRST_FRAME,
    "firstframe": Mode.FIRST_FRAME,
    "first+last": Mode.FIRST_LAST,
    "start+end": Mode.FIRST_LAST,
    "firstlast": Mode.FIRST_LAST,
    "reference": Mode.REFERENCE,
    "references": Mode.REFERENCE,
    "ref": Mode.REFERENCE,
    "refs": Mode.REFERENCE,
}
_FILLER = frozenset({"frame", "frames", "and", "image", "images", "as", "the", "a", "mode"})


class ImageFields(TypedDict):
    """The image part of a `Draft`."""

    mode: str
    has_image: bool
    has_last_frame: bool
    extra_images: int


@dataclass(frozen=True, slots=True)
class Choice:
    """One way the form offers to animate a message's images: on which model, read how,
    and how many of them (all, or only the first)."""

    provider: str
    spec: ModelSpec
    mode: Mode
    count: int
    of: int  # how many images the message has

    @property
    def first_only(self) -> bool:
        return self.count < self.of

    def label(self, locale: str | None = None) -> str:
        """The select option's label, in `locale`."""
        if self.first_only:
            said = text("animate.option_only_first", locale, label=self.spec.label)
        else:
            mode = mode_name(self.mode, locale)
            said = text("animate.option_model_mode", locale, label=self.spec.label, mode=mode)
        return said[:MOST_SAID]

    def description(self, locale: str | None = None) -> str:
        """The select option's description, in `locale`."""
        if self.first_only:
            left = self.of - 1
            what = "opens" if self.mode is Mode.FIRST_FRAME else "guides"
            key = f"animate.only_first.{what}{'_one' if left == 1 else ''}"
            said = text(key, locale, left=left)
        elif self.mode is Mode.REFERENCE and self.of == 2:
            said = text("animate.both_guide", locale)
        elif self.mode is Mode.REFERENCE:
            said = text("animate.all_guide", locale, count=self.of)
        else:
            said = mode_hint(self.mode, locale)
        return said[:MOST_SAID]


def images_word(count: int, locale: str | None = None) -> str:
    """How many images, in words ("1 image", "3 images"), in `locale`."""
    key = "animate.image_one" if count == 1 else "animate.images"
    return text(key, locale, count=count)


def mode_name(mode: Mode, locale: str | None = None) -> str:
    """A generation mode as the bot's refusals name it (`refusal.mode.<value>`), in
    `locale`; the job core's English label where the catalogue has no such name."""
    key = f"refusal.mode.{mode.value}"
    return text(key, locale) if has(key) else MODE_LABELS[mode]


def mode_hint(mode: Mode, locale: str | None = None) -> str:
    """What a reading of the images does ("the image opens the video"), in `locale`."""
    return text(f"animate.hint.{mode.value}", locale)


def image_readings(count: int, spec: ModelSpec) -> list[Mode]:
    """The ways `spec` can use exactly `count` images, the default first."""
    readings = []
    if count == 1 and Mode.FIRST_FRAME in spec.modes:
        readings.append(Mode.FIRST_FRAME)
    if count == 2 and Mode.FIRST_LAST in spec.modes:
        readings.append(Mode.FIRST_LAST)
    most = min(spec.max_reference_images, len(REFERENCE_SLOTS))
    if Mode.REFERENCE in spec.modes and 1 <= count <= most:
        readings.append(Mode.REFERENCE)
    return readings


def most_images(spec: ModelSpec) -> int:
    """How many images `spec` can animate at most (0: text only)."""
    most = 0
    if Mode.FIRST_FRAME in spec.modes:
        most = 1
    if Mode.FIRST_LAST in spec.modes:
        most = 2
    if Mode.REFERENCE in spec.modes:
        most = max(most, min(spec.max_reference_images, len(REFERENCE_SLOTS)))
    return most


def listing(words: list[str], locale: str | None = None) -> str:
    """A list in words ("a, b or c"), in `locale`."""
    if len(words) < 2:
        return "".join(words)
    head = text("animate.list_comma", locale).join(words[:-1])
    return head + text("word.or", locale) + words[-1]


def _modes(readings: list[Mode], locale: str | None) -> str:
    return listing([mode_name(m, locale) for m in readings], locale)


def cannot_take(count: int, spec: ModelSpec, locale: str | None = None) -> RequestInvalid:
    """The one sentence saying `spec` cannot read `count` images, in `locale`."""
    most = most_images(spec)
    if most == 0:
        return RequestInvalid(text("animate.text_only_model", locale, label=spec.label))
    images = images_word(count, locale)
    if count > most:
        return RequestInvalid(
            text("animate.at_most", locale, images=images, label=spec.label, most=most)
        )
    can = _modes([m for m in MODE_LABELS if m in spec.modes and m is not Mode.TEXT], locale)
    return RequestInvalid(
        text("animate.cannot_animate", locale, label=spec.label, images=images, modes=can)
    )


def map_images(
    count: int, spec: ModelSpec, mode: Mode | None = None, *, locale: str | None = None
) -> tuple[ImageFields, tuple[str, ...]]:
    """Map `count` images (in message order) to the draft's image fields and slot names.

    Raises RequestInvalid with one sentence (in `locale`) when `spec` cannot use that many
    images, or not in the chosen `mode`.
    """
    readings = image_readings(count, spec)
    if not readings:
        raise cannot_take(count, spec, locale)
    if mode is None:
        mode = readings[0]
    elif mode not in readings:
        raise RequestInvalid(
            text(
                "animate.readings_mismatch",
                locale,
                images=images_word(count, locale),
                label=spec.label,
                readings=_modes(readings, locale),
                mode=mode_name(mode, locale),
            )
        )
    if mode is Mode.FIRST_FRAME:
        slots: tuple[str, ...] = ("image",)
    elif mode is Mode.FIRST_LAST:
        slots = ("image", "last_frame")
    else:
        slots = REFERENCE_SLOTS[:count]
    fields = ImageFields(
        mode=mode.value,
        has_image=True,
        has_last_frame=mode is Mode.FIRST_LAST,
        extra_images=count - 1 if mode is Mode.REFERENCE else 0,
    )
    return fields, slots


def choices_for(
    count: int,
    default: tuple[str, ModelSpec],
    allowed: list[tuple[str, ModelSpec, int]],
    *,
    locale: str | None = None,
) -> list[Choice]:
    """What to offer when the default model cannot take all `count` images: every way an
    allowed model (`VideoService.models_for`, in its order) reads them all, then only the
    first image on the default model. Empty when the default takes them all (the form
    then asks only how, if the default can read them more than one way).

    Raises RequestInvalid (why the default cannot, in `locale`) when there is nothing to
    offer.
    """
    provider, spec = default
    if image_readings(count, spec):
        return []
    choices = [
        Choice(name, model, mode, count, count)
        for name, model, _units in allowed
        for mode in image_readings(count, model)
    ][:MOST_CHOICES]
    first = image_readings(1, spec)
    if count > 1 and first:
        choices.append(Choice(provider, spec, first[0], 1, count))
    if not choices:
        raise cannot_take(count, spec, locale)
    return choices


def parse_mode(typed: str, readings: list[Mode], locale: str | None = None) -> Mode | None:
    """The reading a member typed; None when left empty. Refused in `locale`."""
    words = [w for w in re.findall(r"[a-z]+", typed.lower()) if w not in _FILLER]
    if not words:
        return None
    mode = _ACCEPTED.get("+".join(words))
    if mode is None:
        accepted = text("word.or", locale).join(f"`{MODE_WORDS[m]}`" for m in readings)
        shown = discord.utils.escape_markdown(typed.strip()[:50])
        raise RequestInvalid(text("animate.not_understood", locale, shown=shown, accepted=accepted))
    return mode
