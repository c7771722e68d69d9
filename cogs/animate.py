"""The "Animate with Veo" message context menu: make a short video from the images of any message.

What the member goes through:

1. Right-click (long-press) a message → Apps → **Animate with Veo**.
2. At once, privately, and at no cost, the bot refuses when the server lets members animate
   their own messages only (`GuildSettings.animate_own_only`; DMs are not affected) and the
   message is someone else's, when the message has no image attachments (an `image/*`
   content type or, without one, a .jpg/.jpeg/.png/.webp/.gif name), when no model can be
   used for them at all (a text-only default and no allowed model that takes them), or when
   the member has no videos left today.
3. Otherwise a form opens with the prompt and, where there is something to decide, "How to
   use the images":
   - the default model (the server's, `VideoService.default_model`) takes them all but can
     read them more than one way (two images on a model with both first + last frame and
     reference images): a text field, empty = the default reading;
   - the default model takes fewer images than the message has: a select of every way a
     model the server allows (`VideoService.models_for`) takes them all — the first of
     them chosen — and "Only the first image (<default model>)"; when no allowed model
     takes them all the form says that only the first image will be animated.
   The prompt's length limit is the chosen model's (`prompt_limit`); with a select, the
   smallest among the models offered, and validation checks the chosen one's on submit.
4. On submit the interaction is deferred privately, the images are mapped to slots
   (`cogs.animate_images`) and the draft goes through the shared path of every new job
   (`bot.chat.submission.submit_draft`: validate → download and check the bytes → reserve
   quota → queue → announce). Nothing is spent before that.

Reference images use the slots `image`, `image2` … `image5`; first + last uses `image` and
`last_frame` (these names appear in the bot's refusals, e.g. "`image2` (x.png) is not an image").

The typed "How to use the images" accepts (case and spacing do not matter; empty = the
default): `first` / `first frame` / `start`; `first+last` / `first and last` / `start+end`;
`reference` / `references` / `ref` / `refs`; and the mode values `first_frame`,
`first_last`, `reference`.

Every sentence here is the catalogue's `[animate]` section
(`bot/chat/locales/<locale>.animate.toml`), in the member's language (`interaction.locale`):
the menu's answers and the form are private. A refusal raised by `cogs.animate_images` is
already worded in that language (a plain sentence, shown as it is).

The form is not persistent: after a restart (or 30 minutes) an open form can no longer be
sent, and the member simply uses the menu again.
"""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.chat.failures import refusal_text
from bot.chat.i18n import text
from bot.chat.submission import role_ids_of, submit_draft
from bot.jobs.requests import Draft, RequestInvalid, prompt_limit
from bot.providers.base import ModelSpec
from cogs.animate_images import (
    MODE_WORDS,
    MOST_SAID,
    Choice,
    choices_for,
    image_readings,
    images_word,
    map_images,
    mode_hint,
    most_images,
    parse_mode,
)

if TYPE_CHECKING:
    from bot.client import VeoBot

log = logging.getLogger(__name__)

MENU_NAME = "Animate with Veo"
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".gif")
DISCORD_TEXT_INPUT_MAX = 4000
# Discord's longest form title and label, and text field placeholder (a translation that
# runs longer is cut rather than refused by Discord).
MOST_TITLE = 45
MOST_PLACEHOLDER = 100
FORM_TIMEOUT = 30 * 60.0


def is_image(attachment: discord.Attachment) -> bool:
    """An image by its declared type or, when Discord gives none, by its name. The bytes
    are checked later anyway (`check_image`), before anything is spent."""
    if attachment.content_type:
        return attachment.content_type.lower().startswith("image/")
    return attachment.filename.lower().endswith(IMAGE_EXTENSIONS)


class AnimateModal(discord.ui.Modal):
    """The form: a prompt, and how to use the images where there is something to decide
    (see the module's docstring). `choices` is `choices_for`'s list: empty when the
    default model takes every image. Worded in `locale`, the member's."""

    def __init__(
        self,
        bot: VeoBot,
        *,
        provider: str,
        spec: ModelSpec,
        images: list[discord.Attachment],
        choices: list[Choice] | None = None,
        locale: str | None = None,
    ) -> None:
        title = text("animate.title", locale, images=images_word(len(images), locale))
        super().__init__(title=title[:MOST_TITLE], timeout=FORM_TIMEOUT)
        self.bot = bot
        self.locale = locale
        self.provider = provider
        self.spec = spec
        self.images = images
        self.choices = choices or []
        self.readings = [] if self.choices else image_readings(len(images), spec)
        only_first = len(self.choices) == 1 and self.choices[0].first_only
        if only_first:
            # Said before the prompt is written, so nobody is surprised by the video.
            self.add_item(discord.ui.TextDisplay(self._only_first()))
        # Validation's limit, within what Discord allows; with a choice, the smallest of
        # those on offer, so whatever is picked the prompt fits (validation checks again).
        offered = [c.spec for c in self.choices] or [spec]
        limit = min(prompt_limit(s, bot.settings.max_prompt) for s in offered)
        self.prompt: discord.ui.TextInput[AnimateModal] = discord.ui.TextInput(
            style=discord.TextStyle.paragraph,
            placeholder=text("animate.prompt_placeholder", locale)[:MOST_PLACEHOLDER],
            required=True,
            min_length=1,
            max_length=min(limit, DISCORD_TEXT_INPUT_MAX),
        )
        self.add_item(
            discord.ui.Label(
                text=text("animate.prompt_label", locale)[:MOST_TITLE],
                description=text("animate.prompt_description", locale)[:MOST_SAID],
                component=self.prompt,
            )
        )
        self.how: discord.ui.TextInput[AnimateModal] | None = None
        if len(self.readings) > 1:
            self._ask_how()
        self.pick: discord.ui.Select[AnimateModal] | None = None
        if self.choices and not only_first:
            self._offer_choices()

    def _only_first(self) -> str:
        count, most = len(self.images), most_images(self.spec)
        return text(
            "animate.only_first", self.locale, count=count, label=self.spec.label, most=most
        )

    def _ask_how(self) -> None:
        locale = self.locale
        default, *others = self.readings
        placeholder = text(
            "animate.how_placeholder",
            locale,
            default=MODE_WORDS[default],
            others=text("word.or", locale).join(MODE_WORDS[m] for m in others),
        )
        self.how = discord.ui.TextInput(
            style=discord.TextStyle.short,
            placeholder=placeholder[:MOST_PLACEHOLDER],
            required=False,
            max_length=40,
        )
        hints = text("animate.hint_joiner", locale).join(
            text("animate.hint_item", locale, word=MODE_WORDS[m], hint=mode_hint(m, locale))
            for m in self.readings
        )
        self.add_item(
            discord.ui.Label(
                text=text("animate.how_label_optional", locale)[:MOST_TITLE],
                description=hints[:MOST_SAID],
                component=self.how,
            )
        )

    def _offer_choices(self) -> None:
        locale, label = self.locale, self.spec.label
        count, most = len(self.images), most_images(self.spec)
        if most == 0:
            why = text("animate.why_text_only", locale, label=label)
        else:
            images = images_word(most, locale)
            why = text("animate.why_too_many", locale, label=label, images=images, count=count)
        self.pick = discord.ui.Select(
            options=[
                discord.SelectOption(
                    label=c.label(locale),
                    value=str(i),
                    description=c.description(locale),
                    default=i == 0,
                )
                for i, c in enumerate(self.choices)
            ],
            required=True,
        )
        self.add_item(
            discord.ui.Label(
                text=text("animate.how_label", locale)[:MOST_TITLE],
                description=why[:MOST_SAID],
                component=self.pick,
            )
        )

    def chosen(self, locale: str | None = None) -> Choice:
        """What the member picked, or the one reading typed (or defaulted) for the default
        model; refused in `locale`."""
        count = len(self.images)
        if not self.choices:
            typed = self.how.value if self.how is not None else ""
            mode = parse_mode(typed, self.readings, locale)
            return Choice(self.provider, self.spec, mode or self.readings[0], count, count)
        if self.pick is None:
            return self.choices[0]
        values = self.pick.values
        index = int(values[0]) if len(values) == 1 and values[0].isdigit() else -1
        if not 0 <= index < len(self.choices):
            raise RequestInvalid(text("animate.choose_how", locale))
        return self.choices[index]

    async def on_submit(self, interaction: discord.Interaction[VeoBot]) -> None:  # type: ignore[override]
        # Acknowledge first: reading the images and queueing may take longer than 3 seconds.
        await interaction.response.defer(ephemeral=True, thinking=True)
        locale = str(interaction.locale)
        try:
            choice = self.chosen(locale)
            fields, slots = map_images(choice.count, choice.spec, choice.mode, locale=locale)
        except RequestInvalid as exc:
            await interaction.edit_original_response(content=f"⚠️ {refusal_text(exc, locale)}")
            return
        # The chosen model's prompt limit and the server's rules are checked here, again.
        draft = Draft(
            prompt=self.prompt.value,
            provider=choice.provider,
            model=choice.spec.name,
            **fields,
        )
        attachments = list(zip(slots, self.images[: choice.count], strict=True))
        await submit_draft(self.bot, interaction, draft, attachments)

    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction[VeoBot], error: Exception
    ) -> None:
        # A form is not a command: the tree's last net never sees it, so apologise here the
        # same way (a reference the operator finds in the log).
        ref = secrets.token_hex(4)
        log.error("the %s form failed [ref %s]", MENU_NAME, ref, exc_info=error)
        sorry = f"⚠️ {text('animate.failed', str(interaction.locale), ref=ref)}"
        try:
            if interaction.response.is_done():
                await interaction.edit_original_response(content=sorry)
            else:
                await interaction.response.send_message(sorry, ephemeral=True)
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
        locale = str(interaction.locale)
        if await self._not_theirs(interaction, message):
            await interaction.response.send_message(
                text("animate.own_only", locale), ephemeral=True
            )
            return
        images = [a for a in message.attachments if is_image(a)]
        if not images:
            await interaction.response.send_message(
                text("animate.no_images", locale), ephemeral=True
            )
            return
        service = self.bot.service
        provider, model = await service.default_model(interaction.guild_id)
        spec = self.bot.providers.model(provider, model)
        assert spec is not None
        takes_all = bool(image_readings(len(images), spec))
        allowed = [] if takes_all else await service.models_for(interaction.guild_id)
        try:
            choices = choices_for(len(images), (provider, spec), allowed, locale=locale)
        except RequestInvalid as exc:
            await interaction.response.send_message(
                f"⚠️ {refusal_text(exc, locale)}", ephemeral=True
            )
            return
        # Say so now rather than after the member has written a prompt.
        quota = await service.quota(
            interaction.user.id, interaction.guild_id, role_ids_of(interaction)
        )
        if quota.remaining == 0 and not quota.exempt:
            used = text("animate.quota_used", locale, limit=quota.limit, reset=quota.resets_at)
            await interaction.response.send_message(f"⚠️ {used}", ephemeral=True)
            return
        modal = AnimateModal(
            self.bot, provider=provider, spec=spec, images=images, choices=choices, locale=locale
        )
        await interaction.response.send_modal(modal)

    async def _not_theirs(
        self, interaction: discord.Interaction[VeoBot], message: discord.Message
    ) -> bool:
        """Someone else's message, on a server that lets members animate their own only
        (a DM has no such rule). Asked first, so nothing of the message is even looked at."""
        if interaction.guild_id is None or message.author.id == interaction.user.id:
            return False
        rules = await self.bot.service.server_settings(interaction.guild_id)
        return rules.animate_own_only


async def setup(bot: VeoBot) -> None:
    await bot.add_cog(AnimateCog(bot))
