"""Posting a finished video, exactly once, with the bot's own token.

The file is posted when it fits the channel's upload limit; otherwise a re-encoded copy
(with the vendor's full-quality link), the vendor's link, or the bot's own served copy.
Every post carries the result buttons, whose Delete custom_id marks it as this job's
delivery: after a restart mid-delivery the channel is searched for that mark, from when
delivery first began, before anything is posted again.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import discord

from bot.chat import messages
from bot.chat.components import result_custom_id
from bot.chat.i18n import text
from bot.chat.views import result_view
from bot.jobs.publishing import DeliveryFailed
from bot.media.file_host import FileHost
from bot.media.reencode import Reencoder
from bot.providers.codes import ErrorCode, say
from bot.providers.registry import ProviderRegistry
from storage import Job

log = logging.getLogger(__name__)

HISTORY_SCAN = 500  # messages read after a restart mid-delivery
# Discord's default upload limit: what to aim for when it refused a file we thought fitted.
DISCORD_DEFAULT_LIMIT = 10 * 1024 * 1024


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.3g} MB"


def member_ping(job: Job) -> discord.AllowedMentions:
    """The job's member and nobody else, whatever the echoed prompt holds; nobody at all
    when they turned pings off (`/veo settings`)."""
    if not job.ping:
        return discord.AllowedMentions.none()
    return discord.AllowedMentions(users=[discord.Object(job.user_id)], everyone=False, roles=False)


def _too_large(exc: discord.HTTPException) -> bool:
    return exc.status == 413 or exc.code == 40005


class Where:
    """Where a job's messages go: its channel, or the member's interaction followups."""

    def __init__(self, client: discord.Client, clock: Callable[[], float]) -> None:
        self.client = client
        self.clock = clock

    def channel(self, job: Job) -> discord.PartialMessageable:
        return self.client.get_partial_messageable(job.channel_id, guild_id=job.guild_id)

    def webhook(self, job: Job) -> discord.Webhook | None:
        if job.interaction_app_id is None or job.interaction_token is None:
            return None
        if job.interaction_expires_at is not None and self.clock() > job.interaction_expires_at - 5:
            return None
        webhook = discord.Webhook.partial(
            job.interaction_app_id, job.interaction_token, client=self.client
        )
        # An interaction's followup webhook (what `interaction.followup` is): discord.py
        # allows ephemeral messages only on application webhooks.
        webhook.type = discord.WebhookType.application
        return webhook

    def reference(self, job: Job) -> discord.MessageReference | None:
        if job.status_message_id is None or job.delivery_mode != "channel":
            return None
        return discord.MessageReference(
            message_id=job.status_message_id, channel_id=job.channel_id, fail_if_not_exists=False
        )


class VideoPoster:
    def __init__(
        self,
        where: Where,
        providers: ProviderRegistry,
        *,
        clock: Callable[[], float] = time.time,
        quota_left: Callable[[Job], Awaitable[tuple[int, int]]] | None = None,
        reencoder: Reencoder | None = None,
        file_host: FileHost | None = None,
    ) -> None:
        self.where = where
        self.client = where.client
        self.providers = providers
        self.clock = clock
        # (remaining, limit) for a member, shown under a finished video.
        self.quota_left = quota_left
        # Makes a video over the upload limit fit (None: post the link instead).
        self.reencoder = reencoder
        # Serves videos too large for Discord that have no vendor link (None: no address).
        self.file_host = file_host

    def _label(self, job: Job) -> str:
        spec = self.providers.model(job.provider, job.model)
        return spec.label if spec is not None else job.model

    async def deliver(self, job: Job, *, resumed: bool) -> int:
        if resumed:
            existing = await self._find_delivery(job)
            if existing is not None:
                log.info("job %d: already posted as %d before the restart", job.id, existing)
                return existing
        path = Path(job.result_path) if job.result_path else None
        size = (
            job.result_size
            if job.result_size is not None
            else (path.stat().st_size if path else None)
        )
        have_file = path is not None and path.exists()
        target = job.filesize_limit
        if have_file and size is not None and size <= job.filesize_limit:
            assert path is not None
            try:
                return await self._post(job, file_path=path)
            except discord.HTTPException as exc:
                if not _too_large(exc):
                    raise self._translate(exc) from exc
                log.info("job %d: Discord refused the upload as too large", job.id)
                # The real limit is below what we were told: aim under the refused size.
                target = min(
                    job.filesize_limit,
                    DISCORD_DEFAULT_LIMIT if size > DISCORD_DEFAULT_LIMIT else size * 3 // 4,
                )
        if have_file and self.reencoder is not None:
            assert path is not None
            posted = await self._post_reencoded(job, path, target)
            if posted is not None:
                return posted
        if job.result_url:
            try:
                return await self._post(job, link=job.result_url)
            except discord.HTTPException as exc:
                raise self._translate(exc) from exc
        if have_file and self.file_host is not None:
            assert path is not None
            # No vendor link (apiyi's current channel): the bot serves the file itself.
            url = self.file_host.publish(path, f"veo-job-{job.id}.mp4")
            if url is not None:
                log.info("job %d: too large for Discord; serving it at the bot's address", job.id)
                try:
                    return await self._post(
                        job, link=url, link_expires_at=self.clock() + self.file_host.retention
                    )
                except discord.HTTPException as exc:
                    raise self._translate(exc) from exc
        raise DeliveryFailed(
            say("channel_too_small", limit=_mb(job.filesize_limit)), code=ErrorCode.TOO_LARGE
        )

    async def _post_reencoded(self, job: Job, path: Path, limit: int) -> int | None:
        """Post a copy of the video re-encoded to fit `limit`, with the vendor's full-quality
        link beside it; None when no copy could be made or Discord still refused it."""
        assert self.reencoder is not None
        log.info("job %d: re-encoding the video to fit %s", job.id, _mb(limit))
        fitted = await self.reencoder.fit(path, limit, path.with_name(f"{path.stem}.fit.mp4"))
        if fitted is None:
            log.info("job %d: the video could not be made to fit; posting a link", job.id)
            return None
        # The limit is only shown when it is the one Discord gave (not our guess after a 413).
        if limit == job.filesize_limit:
            note = text("chat.reencoded_limit", job.locale, limit=_mb(limit))
        else:
            note = text("chat.reencoded", job.locale)
        if job.result_url:
            expires = job.result_url_expires_at
            expiry = text("job.link_expires", job.locale, at=int(expires)) if expires else ""
            link = job.result_url
            note += "\n" + text("chat.full_quality", job.locale, expiry=expiry, link=link)
        try:
            return await self._post(job, file_path=fitted, note=note)
        except discord.HTTPException as exc:
            if not _too_large(exc):
                raise self._translate(exc) from exc
            log.info("job %d: Discord refused the re-encoded copy too; posting a link", job.id)
            return None
        finally:
            fitted.unlink(missing_ok=True)

    async def _post(
        self,
        job: Job,
        *,
        file_path: Path | None = None,
        link: str | None = None,
        note: str | None = None,
        link_expires_at: float | None = None,
    ) -> int:
        expires = link_expires_at if link_expires_at is not None else job.result_url_expires_at
        content = messages.ready_message(job, link=link, link_expires_at=expires)
        if note:
            content += "\n" + note
        embed = await self._result_embed(job)
        mentions = member_ping(job)
        # A discord.File is closed after sending: build a new one for every attempt.
        files = [_video(job, file_path)] if file_path else []
        try:
            if job.delivery_mode == "followup":
                webhook = self.where.webhook(job)
                if webhook is None:
                    raise DeliveryFailed(say("token_expired"), code=ErrorCode.TOKEN_EXPIRED)
                sent = await webhook.send(
                    content, wait=True, allowed_mentions=mentions, files=files, embed=embed
                )
                if job.dm_copy:
                    await self._dm_copy(job, sent.id, file_path)
                return sent.id
            message = await self.where.channel(job).send(
                content,
                allowed_mentions=mentions,
                reference=self.where.reference(job),  # type: ignore[arg-type]  # None is accepted at runtime
                files=files,
                embed=embed,
                view=result_view(job, self.providers),
            )
            if job.dm_copy:
                await self._dm_copy(job, message.id, file_path)
            return message.id
        except aiohttp.ClientError as exc:
            raise DeliveryFailed(
                say("discord_unreachable"), code=ErrorCode.NETWORK, retryable=True
            ) from exc
        finally:
            for f in files:
                f.close()

    async def _dm_copy(self, job: Job, post_id: int, file_path: Path | None) -> None:
        """The member asked for their videos in their direct messages as well: the file
        when it fits a DM's upload limit, else the link to the post. Best effort: the post
        in the channel is the delivery; a member who does not accept DMs just gets that."""
        link = messages.message_link(job.guild_id, job.channel_id, post_id)
        fits = file_path is not None and file_path.stat().st_size <= DISCORD_DEFAULT_LIMIT
        files = [_video(job, file_path)] if fits and file_path is not None else []
        try:
            user = await self.client.fetch_user(job.user_id)
            await user.send(messages.dm_copy(job, link), files=files)
        except (discord.HTTPException, aiohttp.ClientError) as exc:
            log.info("job %d: could not send the member a copy in DMs: %s", job.id, exc)
        finally:
            for f in files:
                f.close()

    async def _result_embed(self, job: Job) -> discord.Embed:
        quota = None
        if self.quota_left is not None and job.quota_units > 0:  # 0: exempt, no count
            try:
                quota = await self.quota_left(job)
            except Exception:  # a nicety: never let it stop a delivery
                log.exception("job %d: could not read the member's quota", job.id)
        spec = self.providers.model(job.provider, job.model)
        return messages.result_embed(job, spec, self._label(job), self.clock(), quota)

    def _translate(self, exc: discord.HTTPException) -> DeliveryFailed:
        if isinstance(exc, discord.Forbidden):
            return DeliveryFailed(say("missing_permissions"), code=ErrorCode.MISSING_PERMISSIONS)
        if isinstance(exc, discord.NotFound):
            return DeliveryFailed(say("channel_gone"), code=ErrorCode.CHANNEL_GONE)
        if _too_large(exc):
            return DeliveryFailed(say("discord_too_large"), code=ErrorCode.TOO_LARGE)
        return DeliveryFailed(say("discord_trouble"), code=f"discord_{exc.status}", retryable=True)

    async def _find_delivery(self, job: Job) -> int | None:
        """After a restart mid-delivery: did the post already happen?

        The post is recognised by its Delete button's custom_id, which only the bot can
        put on a message (text would not do: job messages quote members' prompts). The
        search starts a minute before delivery *first* began, however long ago that was
        and however busy the channel has been since: the post, if made, is among the
        first messages after that point."""
        mark = result_custom_id(job.id)
        me = self.client.user.id if self.client.user else None
        try:
            if job.delivery_mode == "followup":
                return None  # followups cannot be listed; a duplicate there is the lesser harm
            since = max(job.delivery_started_at or 0.0, job.created_at) - 60
            after = discord.Object(
                discord.utils.time_snowflake(dt.datetime.fromtimestamp(since, dt.UTC))
            )
            history = self.where.channel(job).history(
                limit=HISTORY_SCAN, after=after, oldest_first=True
            )
            async for message in history:
                if (me is None or message.author.id == me) and _carries(message, mark):
                    return message.id
        except discord.NotFound as exc:
            raise DeliveryFailed(say("channel_gone"), code=ErrorCode.CHANNEL_GONE) from exc
        except discord.HTTPException as exc:
            log.info("job %d: could not read channel history (%s); posting", job.id, exc)
        return None


def _video(job: Job, path: Path) -> discord.File:
    """The video as an attachment; hidden behind a spoiler when its member asked."""
    return discord.File(path, filename=f"veo-job-{job.id}.mp4", spoiler=job.spoiler)


def _carries(message: discord.Message, custom_id: str) -> bool:
    """Whether one of the message's buttons has `custom_id`."""
    for row in message.components:
        for item in getattr(row, "children", ()):
            if getattr(item, "custom_id", None) == custom_id:
                return True
    return False
