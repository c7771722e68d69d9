"""The "Animate with Veo" message context menu: make a short video from the images of any message.

What the member goes through:

1. Right-click (long-press) a message → Apps → **Animate with Veo**.
2. At once, privately, and at no cost, the bot refuses when the message has no image
   attachments (an `image/*` content type or, without one, a .jpg/.jpeg/.png/.webp/.gif name),
   when the default model cannot take that many images, or when the member has no videos
   left today.
3. Otherwise a form opens: the prompt, and "How to use the images" — only when the default
   model (the default provider's default model) can read that many images in more than one
   way, e.g. two images on a model with both first + last frame and reference images.
4. On submit the interaction is deferred privately, the images are mapped to slots (below)
   and the draft goes through the shared path of every new job (`bot.chat.submission.submit_draft`:
   validate → download and check the bytes → reserve quota → queue → announce).

How the images are read, in message order (`map_images`, a pure function):

- 1 image  → the first frame (or one reference image, on a model without first-frame mode);
- 2 images → first + last frame where the model has it, else two reference images;
- 3+       → reference images, up to the model's `max_reference_images` (at most 5);
- more than the model can take → one sentence saying so, before anything is spent.

Reference images use the slots `image`, `image2` … `image5`; first + last uses `image` and
`last_frame` (these names appear in the bot's refusals, e.g. "`image2` (x.png) is not an image").

"How to use the images" accepts (case and spacing do not matter; empty = the default above):
`first` / `first frame` / `start`; `first+last` / `first and last` / `start+end`;
`reference` / `references` / `ref` / `refs`; and the mode values `first_frame`, `first_last`,
`reference`.

The form is not persistent: after a restart (or 30 minutes) an open form can no longer be
sent, and the member simply uses the menu again.
"""

from __future__ import annotations

import logging
import re
import secrets
from typing import TYPE_CHECKING, TypedDict

import discord
from discord import app_commands
from discord.ext import commands

from bot.chat.submission import role_ids_of, submit_draft
from bot.jobs.requests import MODE_LABELS, Draft, RequestInvalid, prompt_limit
from bot.providers.base import Mode, ModelSpec

if TYPE_CHECKING:
    from bot.client import VeoBot

log = logging.getLogger(__name__)

MENU_NAME = "Animate with Veo"
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".gif")
# Slot names, in message order, for reference images (`Draft.extra_images` counts all but the first).
REFERENCE_SLOTS = ("image", "image2", "image3", "image4", "image5")
DISCORD_TEXT_INPUT_MAX = 4000
FORM_TIMEOUT = 30 * 60.0

NO_IMAGES = (
    "That message has no images to animate. Use **Animate with Veo** on a message with a "
    "JPEG, PNG or WebP picture attached, or make a video from a prompt with `/veo generate`."
)
FAILED = (
    "⚠️ Something went wrong on my side (reference `{ref}`). "
    "Nothing was charged for a job that was not queued."
)

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


def is_image(attachment: discord.Attachment) -> bool:
    """An image by its declared type or, when Discord gives none, by its name. The bytes
    are checked later anyway (`check_image`), before anything is spent."""
    if attachment.content_type:
        return attachment.content_type.lower().startswith("image/")
    return attachment.filename.lower().endswith(IMAGE_EXTENSIONS)


def _images(count: int) -> str:
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


def _most_images(spec: ModelSpec) -> int:
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


def map_images(
    count: int, spec: ModelSpec, mode: Mode | None = None
) -> tuple[ImageFields, tuple[str, ...]]:
    """Map `count` images (in message order) to the draft's image fields and slot names.

    Raises RequestInvalid with one sentence when `spec` cannot use that many images, or
    not in the chosen `mode`.
    """
    readings = image_readings(count, spec)
    if not readings:
        most = _most_images(spec)
        if most == 0:
            raise RequestInvalid(
                f"**{spec.label}**, the model used here, makes videos from text only, so it "
                "cannot animate images."
            )
        if count > most:
            raise RequestInvalid(
                f"That message has {_images(count)}, but **{spec.label}** can use at most "
                f"{most}. Try `/veo generate` with the images you want."
            )
        can = _listing([m for m in MODE_LABELS if m in spec.modes and m is not Mode.TEXT])
        raise RequestInvalid(f"**{spec.label}** cannot animate {_images(count)}; it can do: {can}.")
    if mode is None:
        mode = readings[0]
    elif mode not in readings:
        raise RequestInvalid(
            f"With {_images(count)}, **{spec.label}** can use them as {_listing(readings)}, "
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


class AnimateModal(discord.ui.Modal):
    """The form: a prompt, and how to use the images where the model offers a choice."""

    def __init__(
        self,
        bot: VeoBot,
        *,
        provider: str,
        spec: ModelSpec,
        images: list[discord.Attachment],
    ) -> None:
        super().__init__(title=f"Animate {_images(len(images))} with Veo", timeout=FORM_TIMEOUT)
        self.bot = bot
        self.provider = provider
        self.spec = spec
        self.images = images
        self.readings = image_readings(len(images), spec)
        # Validation's limit, within what Discord allows.
        limit = min(prompt_limit(spec, bot.settings.max_prompt), DISCORD_TEXT_INPUT_MAX)
        self.prompt: discord.ui.TextInput[AnimateModal] = discord.ui.TextInput(
            style=discord.TextStyle.paragraph,
            placeholder="e.g. The camera slowly pushes in as the dog turns its head; warm evening light.",
            required=True,
            min_length=1,
            max_length=limit,
        )
        self.add_item(
            discord.ui.Label(
                text="Prompt",
                description="What should happen in the video: action, camera, light, sound.",
                component=self.prompt,
            )
        )
        self.how: discord.ui.TextInput[AnimateModal] | None = None
        if len(self.readings) > 1:
            default, *others = self.readings
            self.how = discord.ui.TextInput(
                style=discord.TextStyle.short,
                placeholder=(
                    f"{MODE_WORDS[default]} (the default if left empty) or "
                    + " or ".join(MODE_WORDS[m] for m in others)
                )[:100],
                required=False,
                max_length=40,
            )
            self.add_item(
                discord.ui.Label(
                    text="How to use the images (optional)",
                    description="; ".join(
                        f"{MODE_WORDS[m]}: {MODE_HINTS[m]}" for m in self.readings
                    )[:100],
                    component=self.how,
                )
            )

    async def on_submit(self, interaction: discord.Interaction[VeoBot]) -> None:  # type: ignore[override]
        # Acknowledge first: reading the images and queueing may take longer than 3 seconds.
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            mode = parse_mode(self.how.value, self.readings) if self.how is not None else None
            fields, slots = map_images(len(self.images), self.spec, mode)
        except RequestInvalid as exc:
            await interaction.edit_original_response(content=f"⚠️ {exc}")
            return
        draft = Draft(
            prompt=self.prompt.value,
            provider=self.provider,
            model=self.spec.name,
            **fields,
        )
        attachments = list(zip(slots, self.images, strict=True))
        await submit_draft(self.bot, interaction, draft, attachments)

    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction[VeoBot], error: Exception
    ) -> None:
        # A form is not a command: the tree's last net never sees it, so apologise here the
        # same way (a reference the operator finds in the log).
        ref = secrets.token_hex(4)
        log.error("the %s form failed [ref %s]", MENU_NAME, ref, exc_info=error)
        text = FAILED.format(ref=ref)
        try:
            if interaction.response.is_done():
                await interaction.edit_original_response(content=text)
            else:
                await interaction.response.send_message(text, ephemeral=True)
        except discord.HTTPException:
            log.info("could not apologise for ref %s", ref)


class AnimateCog(commands.Cog):
    def __init__(self, bot: VeoBot) -> None:
        self.bot = bot
        # A context menu cannot be declared with a decorator inside a cog (discord.py).
        # Its unexpected failures go to the tree's last net (VeoTree.on_error).
        self.menu = app_commands.ContextMenu(name=MENU_NAME, callback=self.animate)

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    async def animate(
        self, interaction: discord.Interaction[VeoBot], message: discord.Message
    ) -> None:
        images = [a for a in message.attachments if is_image(a)]
        if not images:
            await interaction.response.send_message(NO_IMAGES, ephemeral=True)
            return
        provider, model = await self.bot.service.default_model(interaction.guild_id)
        spec = self.bot.providers.model(provider, model)
        assert spec is not None
        try:
            map_images(len(images), spec)
        except RequestInvalid as exc:
            await interaction.response.send_message(f"⚠️ {exc}", ephemeral=True)
            return
        # Say so now rather than after the member has written a prompt.
        quota = await self.bot.service.quota(
            interaction.user.id, interaction.guild_id, role_ids_of(interaction)
        )
        if quota.remaining == 0 and not quota.exempt:
            await interaction.response.send_message(
                f"⚠️ You have used all {quota.limit} of today's videos. Your quota resets "
                f"<t:{quota.resets_at}:R> (<t:{quota.resets_at}:t>).",
                ephemeral=True,
            )
            return
        modal = AnimateModal(self.bot, provider=provider, spec=spec, images=images)
        await interaction.response.send_modal(modal)


async def setup(bot: VeoBot) -> None:
    await bot.add_cog(AnimateCog(bot))
