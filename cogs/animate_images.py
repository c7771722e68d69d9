"""How "Animate with Veo" reads a message's images: pure functions of counts and models.

Kept apart from the cog so the rules can be tested as plain data and the cog stays a
translation of Discord in and words out.

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

from bot.jobs.requests import MODE_LABELS, RequestInvalid
from bot.providers.base import Mode, ModelSpec

# Slot names, in message order, for reference images (`Draft.extra_images` counts all but the first).
REFERENCE_SLOTS = ("image", "image2", "image3", "image4", "image5")
# A select offers at most 25 options; one is kept for "only the first image".
MOST_CHOICES = 24

# The word a member types for each reading, and what it means (for the form's hints).
MODE_WORDS = {
    Mode.FIRST_FRAME: "first",
    Mode.FIRST_LAST: "first+last",
    Mode.REFERENCE: "reference",
}
MODE_HINTS = {
    Mode.FIRST_FRAME: "the image opens the video",
    Mode.FIRST_LAST: "1st image opens the video, 2nd ends it",
    Mode.REFERENCE: "they guide subjects and style",
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

    @property
    def label(self) -> str:
        if self.first_only:
            return f"Only the first image ({self.spec.label})"[:100]
        return f"{self.spec.label}: {MODE_LABELS[self.mode]}"[:100]

    @property
    def description(self) -> str:
        if self.first_only:
            left = self.of - 1
            rest = "the other image is" if left == 1 else f"the other {left} images are"
            what = "it opens the video" if self.mode is Mode.FIRST_FRAME else "it guides the video"
            return f"{what}; {rest} not used"[:100]
        if self.mode is Mode.REFERENCE:
            return f"{'both' if self.of == 2 else f'all {self.of}'} guide subjects and style"
        return MODE_HINTS[self.mode]


def images_word(count: int) -> str:
    return f"{count} image" if count == 1 else f"{count} images"


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


def _listing(readings: list[Mode]) -> str:
    labels = [MODE_LABELS[m] for m in readings]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " or " + labels[-1]


def cannot_take(count: int, spec: ModelSpec) -> RequestInvalid:
    """The one sentence saying `spec` cannot read `count` images."""
    most = most_images(spec)
    if most == 0:
        return RequestInvalid(
            f"**{spec.label}**, the model used here, makes videos from text only, so it "
            "cannot animate images."
        )
    if count > most:
        return RequestInvalid(
            f"That message has {images_word(count)}, but **{spec.label}** can use at most "
            f"{most}. Try `/veo generate` with the images you want."
        )
    can = _listing([m for m in MODE_LABELS if m in spec.modes and m is not Mode.TEXT])
    return RequestInvalid(
        f"**{spec.label}** cannot animate {images_word(count)}; it can do: {can}."
    )


def map_images(
    count: int, spec: ModelSpec, mode: Mode | None = None
) -> tuple[ImageFields, tuple[str, ...]]:
    """Map `count` images (in message order) to the draft's image fields and slot names.

    Raises RequestInvalid with one sentence when `spec` cannot use that many images, or
    not in the chosen `mode`.
    """
    readings = image_readings(count, spec)
    if not readings:
        raise cannot_take(count, spec)
    if mode is None:
        mode = readings[0]
    elif mode not in readings:
        raise RequestInvalid(
            f"With {images_word(count)}, **{spec.label}** can use them as {_listing(readings)}, "
            f"not as {MODE_LABELS[mode]}."
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
) -> list[Choice]:
    """What to offer when the default model cannot take all `count` images: every way an
    allowed model (`VideoService.models_for`, in its order) reads them all, then only the
    first image on the default model. Empty when the default takes them all (the form
    then asks only how, if the default can read them more than one way).

    Raises RequestInvalid (why the default cannot) when there is nothing to offer.
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
        raise cannot_take(count, spec)
    return choices


def parse_mode(text: str, readings: list[Mode]) -> Mode | None:
    """The reading a member typed; None when left empty."""
    words = [w for w in re.findall(r"[a-z]+", text.lower()) if w not in _FILLER]
    if not words:
        return None
    mode = _ACCEPTED.get("+".join(words))
    if mode is None:
        accepted = " or ".join(f"`{MODE_WORDS[m]}`" for m in readings)
        shown = discord.utils.escape_markdown(text.strip()[:50])
        raise RequestInvalid(
            f"I did not understand “{shown}” as a way to use the images. Write {accepted}, "
            "or leave it empty."
        )
    return mode
