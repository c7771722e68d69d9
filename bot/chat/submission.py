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
        images = await read_images(bot, request, attachments)
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
    bot: ChatBot, request: GenerationRequest, attachments: list[tuple[str, discord.Attachment]]
) -> list[InputImage]:
    """Download each attachment now (Discord's URLs expire) and check its real type."""
    spec = bot.providers.model(request.provider, request.model)
    assert spec is not None
    mb = spec.max_image_bytes / (1024 * 1024)
    too_big = "`{slot}` is larger than {mb:g} MB, the limit for {label}."
    images = []
    for slot, attachment in attachments:
        if attachment.size > spec.max_image_bytes:
            raise RequestInvalid(too_big.format(slot=slot, mb=mb, label=spec.label))
        try:
            data = await fetch_capped(bot.session, attachment.url, spec.max_image_bytes)
        except ImageTooLarge:
            raise RequestInvalid(too_big.format(slot=slot, mb=mb, label=spec.label)) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.info("could not download attachment %s: %s", attachment.id, exc)
            raise RequestInvalid(
                f"I could not download `{slot}` from Discord; please attach it again."
            ) from None
        image = check_image(data, slot=slot, spec=spec, filename=attachment.filename)
        # Kept for vendors that fetch images by URL (when the bot has no public address).
        images.append(dataclasses.replace(image, url=attachment.url))
    return images


def role_ids_of(interaction: discord.Interaction[ChatBot]) -> tuple[int, ...]:
    """The member's role ids as Discord sent them with the interaction (`Member.roles`
    only lists roles found in the cache, which a bot without the guild cached lacks)."""
    return tuple(getattr(interaction.user, "_roles", ()))


def missing_permissions(interaction: discord.Interaction[ChatBot]) -> list[str]:
    """What the bot lacks to post progress and the video here, in Discord's words."""
    if interaction.guild_id is None:
        return []
    perms = interaction.app_permissions
    needed = [
        ("View Channel", perms.view_channel),
        ("Send Messages", perms.send_messages),
        ("Attach Files", perms.attach_files),
        ("Embed Links", perms.embed_links),
    ]
    if isinstance(interaction.channel, discord.Thread):
        needed.append(("Send Messages in Threads", perms.send_messages_in_threads))
    return [name for name, ok in needed if not ok]


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
    text = bot.publisher.render(job)
    message: discord.Message | discord.WebhookMessage | None = None
    reason = ""
    if origin.delivery_mode == "channel":
        channel = bot.get_partial_messageable(origin.channel_id, guild_id=origin.guild_id)
        try:
            message = await channel.send(
                text, allowed_mentions=NO_PINGS, view=bot.publisher.view(job)
            )
        except discord.HTTPException as exc:
            log.info(
                "job %d: cannot post in channel %d (%s); using followups",
                job.id,
                origin.channel_id,
                exc,
            )
            reason = "I can't post in this channel, so "
    elif missing := missing_permissions(interaction):
        reason = (
            f"I lack {', '.join(f'**{p}**' for p in missing)} in this channel (a server admin "
            "can grant it), so "
        )
    else:
        reason = "I can't post in this channel (I am not in this server), so "
    followup = message is None
    if message is None:
        await interaction.edit_original_response(
            content=messages.queued_below(job.id, reason, defaults, str(interaction.locale))
        )
        message = await interaction.followup.send(text, wait=True, allowed_mentions=NO_PINGS)
    else:
        link = messages.message_link(origin.guild_id, origin.channel_id, message.id)
        await interaction.edit_original_response(
            content=messages.queued_here(job.id, link, defaults, str(interaction.locale))
        )
    await bot.service.started(job, message.id, followup=followup)
