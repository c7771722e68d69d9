"""Turning a member's request into a queued job, shared by every way of asking
(`/veo generate`, "Animate with Veo", Retry and Remix).

The interaction must already be deferred (ephemeral): every answer here is an edit of
that private response, and the public job message is posted with the bot's token.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING

import aiohttp
import discord

from bot.chat import messages
from bot.chat.failures import refusal_text
from bot.chat.i18n import text
from bot.jobs.origin import Origin, Parent
from bot.jobs.preferences import Defaults
from bot.jobs.quota import QuotaRefused
from bot.jobs.requests import Draft, GenerationRequest, RequestInvalid, check_image
from bot.media.images import ImageTooLarge, fetch_capped
from bot.providers.base import InputImage
from storage import Job

if TYPE_CHECKING:
    from bot.chat.bot import ChatBot

log = logging.getLogger(__name__)

NEEDED_TO_POST = discord.Permissions(
    view_channel=True, send_messages=True, attach_files=True, embed_links=True
)


# The job message names the member but pings nobody, whatever the echoed prompt holds:
# the member just ran the command; they are pinged once, when the video is ready (or not).
NO_PINGS = discord.AllowedMentions.none()


async def submit_draft(
    bot: ChatBot,
    interaction: discord.Interaction[ChatBot],
    draft: Draft,
    attachments: list[tuple[str, discord.Attachment]],
) -> Job | None:
    """Validate (with the member's own defaults), read the images, reserve quota, queue
    and announce; or say why not."""
    try:
        request, defaults = await bot.service.validate(
            draft, interaction.guild_id, interaction.user.id
        )
        images = await read_images(bot, request, attachments, str(interaction.locale))
        return await submit_request(bot, interaction, request, images, defaults=defaults)
    except RequestInvalid as exc:
        await interaction.edit_original_response(
            content=f"⚠️ {refusal_text(exc, str(interaction.locale))}"
        )
        return None


async def submit_request(
    bot: ChatBot,
    interaction: discord.Interaction[ChatBot],
    request: GenerationRequest,
    images: list[InputImage],
    *,
    made_from: Parent | None = None,
    defaults: Defaults | None = None,
) -> Job | None:
    """Queue an already validated request (also Retry, New take and Remix, `made_from`
    an earlier job) and announce it."""
    origin = origin_of(interaction)
    try:
        job = await bot.service.accept(request, images, origin, made_from=made_from)
    except (RequestInvalid, QuotaRefused) as exc:
        await interaction.edit_original_response(
            content=f"⚠️ {refusal_text(exc, str(interaction.locale))}"
        )
        return None
    await announce(bot, interaction, job, origin, defaults)
    if defaults is not None and defaults.skipped_model is not None:
        await bot.service.preferences.told(origin.user_id, origin.guild_id or 0)
    return job


async def read_images(
    bot: ChatBot,
    request: GenerationRequest,
    attachments: list[tuple[str, discord.Attachment]],
    locale: str | None = None,
) -> list[InputImage]:
    """Download each attachment now (Discord's URLs expire) and check its real type; a
    refusal is worded in `locale`."""
    spec = bot.providers.model(request.provider, request.model)
    assert spec is not None
    mb = spec.max_image_bytes / (1024 * 1024)
    images = []
    for slot, attachment in attachments:
        too_big = text("chat.image_too_large", locale, slot=slot, mb=mb, label=spec.label)
        if attachment.size > spec.max_image_bytes:
            raise RequestInvalid(too_big)
        try:
            data = await fetch_capped(bot.session, attachment.url, spec.max_image_bytes)
        except ImageTooLarge:
            raise RequestInvalid(too_big) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.info("could not download attachment %s: %s", attachment.id, exc)
            raise RequestInvalid(text("chat.download_failed", locale, slot=slot)) from None
        image = check_image(data, slot=slot, spec=spec, filename=attachment.filename)
        # Kept for vendors that fetch images by URL (when the bot has no public address).
        images.append(dataclasses.replace(image, url=attachment.url))
    return images


def role_ids_of(interaction: discord.Interaction[ChatBot]) -> tuple[int, ...]:
    """The member's role ids as Discord sent them with the interaction (`Member.roles`
    only lists roles found in the cache, which a bot without the guild cached lacks)."""
    return tuple(getattr(interaction.user, "_roles", ()))


def missing_permissions(
    interaction: discord.Interaction[ChatBot], locale: str | None = None
) -> list[str]:
    """What the bot lacks to post progress and the video here, in Discord's words (as its
    settings show them in `locale`)."""
    if interaction.guild_id is None:
        return []
    perms = interaction.app_permissions
    needed = ["view_channel", "send_messages", "attach_files", "embed_links"]
    if isinstance(interaction.channel, discord.Thread):
        needed.append("send_messages_in_threads")
    return [text(f"chat.permission.{p}", locale) for p in needed if not getattr(perms, p)]


def origin_of(interaction: discord.Interaction[ChatBot]) -> Origin:
    perms = interaction.app_permissions
    in_thread = isinstance(interaction.channel, discord.Thread)
    can_post = (
        interaction.guild_id is not None
        and perms >= NEEDED_TO_POST
        and (not in_thread or perms.send_messages_in_threads)
    )
    parent = (
        interaction.channel.parent_id if isinstance(interaction.channel, discord.Thread) else None
    )
    return Origin(
        user_id=interaction.user.id,
        guild_id=interaction.guild_id,
        channel_id=interaction.channel_id or 0,
        filesize_limit=interaction.filesize_limit,
        delivery_mode="channel" if can_post else "followup",
        application_id=interaction.application_id,
        interaction_token=interaction.token,
        interaction_expires_at=interaction.expires_at.timestamp(),
        role_ids=role_ids_of(interaction),
        parent_channel_id=parent,
        locale=str(interaction.guild_locale or interaction.locale),
    )


async def announce(
    bot: ChatBot,
    interaction: discord.Interaction[ChatBot],
    job: Job,
    origin: Origin,
    defaults: Defaults | None = None,
) -> None:
    """Post the public job message that all progress and the video will go to."""
    locale = str(interaction.locale)
    said = bot.publisher.render(job)
    message: discord.Message | discord.WebhookMessage | None = None
    reason = ""
    if origin.delivery_mode == "channel":
        channel = bot.get_partial_messageable(origin.channel_id, guild_id=origin.guild_id)
        try:
            message = await channel.send(
                said, allowed_mentions=NO_PINGS, view=bot.publisher.view(job)
            )
        except discord.HTTPException as exc:
            log.info(
                "job %d: cannot post in channel %d (%s); using followups",
                job.id,
                origin.channel_id,
                exc,
            )
            reason = text("chat.cannot_post", locale)
    elif missing := missing_permissions(interaction, locale):
        comma = text("listing.comma", locale)
        reason = text("chat.lacking", locale, permissions=comma.join(f"**{p}**" for p in missing))
    else:
        reason = text("chat.not_in_server", locale)
    followup = message is None
    if message is None:
        await interaction.edit_original_response(
            content=messages.queued_below(job.id, reason, defaults, locale)
        )
        message = await interaction.followup.send(said, wait=True, allowed_mentions=NO_PINGS)
    else:
        link = messages.message_link(origin.guild_id, origin.channel_id, message.id)
        await interaction.edit_original_response(
            content=messages.queued_here(job.id, link, defaults, locale)
        )
    await bot.service.started(job, message.id, followup=followup)
