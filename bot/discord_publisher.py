"""Shows jobs in Discord and posts finished videos, with the bot's own token.

Nothing here depends on the 15-minute interaction token, except jobs whose channel
the bot cannot post in (then followups on the member's interaction are all we have).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import discord

from bot import messages
from bot.components import job_view, result_view
from bot.providers import ProviderRegistry
from bot.publishing import DeliveryFailed
from bot.reencode import Reencoder
from storage import TERMINAL, Job, JobStatus

log = logging.getLogger(__name__)

MIN_EDIT_INTERVAL = 5.0  # seconds between progress edits of one job message
NO_PINGS = discord.AllowedMentions.none()
HISTORY_SCAN = 50
ALERT_INTERVAL = 3600.0
# Discord's default upload limit: what to aim for when it refused a file we thought fitted.
DISCORD_DEFAULT_LIMIT = 10 * 1024 * 1024

MSG_TOO_LARGE = (
    "The video is larger than this channel's upload limit ({limit}), and the video service "
    "gives no link to it. Your quota was refunded."
)
MSG_REENCODED = (
    "The original is larger than this channel's upload limit{limit}, so this is a smaller copy."
)
MSG_FULL_QUALITY = "Full quality{expiry}: <{link}>"
MSG_NO_CHANNEL = (
    "The channel of this job is gone, so the video could not be posted. Your quota was refunded."
)
MSG_FORBIDDEN = "I am not allowed to post in this channel (I need Send Messages and Attach Files). Your quota was refunded."
MSG_TOKEN_EXPIRED = (
    "I could not post in the channel, and the command's reply expired before the video was "
    "ready. Your quota was refunded; ask an admin to let me post here."
)


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.3g} MB"


def _too_large(exc: discord.HTTPException) -> bool:
    return exc.status == 413 or exc.code == 40005


class DiscordPublisher:
    def __init__(
        self,
        client: discord.Client,
        providers: ProviderRegistry,
        *,
        clock: Callable[[], float] = time.time,
        quota_left: Callable[[Job], Awaitable[tuple[int, int]]] | None = None,
        alert_channel: Callable[[int], Awaitable[int | None]] | None = None,
        reencoder: Reencoder | None = None,
    ) -> None:
        self.client = client
        self.providers = providers
        self.clock = clock
        # (remaining, limit) for a member, shown under a finished video.
        self.quota_left = quota_left
        # A server's alert channel id, if its admins set one (/veo-admin alerts).
        self.alert_channel = alert_channel
        self._alerted: dict[tuple[int, str], float] = {}
        # Makes a video over the upload limit fit (None: post the link instead).
        self.reencoder = reencoder
        self._last_edit: dict[int, tuple[float, str]] = {}

    # -- where a job's messages go ---------------------------------------------------

    def _channel(self, job: Job) -> discord.PartialMessageable:
        return self.client.get_partial_messageable(job.channel_id, guild_id=job.guild_id)

    def _webhook(self, job: Job) -> discord.Webhook | None:
        if job.interaction_app_id is None or job.interaction_token is None:
            return None
        if job.interaction_expires_at is not None and self.clock() > job.interaction_expires_at - 5:
            return None
        return discord.Webhook.partial(
            job.interaction_app_id, job.interaction_token, client=self.client
        )

    def _label(self, job: Job) -> str:
        spec = self.providers.model(job.provider, job.model)
        return spec.label if spec is not None else job.model

    def _typical(self, job: Job) -> float | None:
        spec = self.providers.model(job.provider, job.model)
        if spec is None:
            return None
        return spec.timing_for(job.request.get("resolution")).initial_wait * 2

    def view(self, job: Job) -> discord.ui.View:
        """The job message's buttons now (an empty view once the job has ended)."""
        return job_view(job) or discord.ui.View(timeout=None)

    def render(self, job: Job) -> str:
        return messages.job_message(job, self._label(job), self.clock(), self._typical(job))

    # -- Publisher -------------------------------------------------------------------

    async def job_updated(self, job: Job) -> None:
        if job.status_message_id is None:
            return
        text = self.render(job)
        now = self.clock()
        last = self._last_edit.get(job.id)
        if last is not None:
            last_at, last_text = last
            if last_text == text:
                return
            same_state = (
                last_text.splitlines()[-1:][0].split(" ")[0] == text.splitlines()[-1].split(" ")[0]
            )
            if same_state and now - last_at < MIN_EDIT_INTERVAL and job.status not in TERMINAL:
                return
        self._last_edit[job.id] = (now, text)
        if job.status in TERMINAL:
            self._last_edit.pop(job.id, None)
        try:
            if job.delivery_mode == "followup":
                webhook = self._webhook(job)
                if webhook is not None:
                    await webhook.edit_message(
                        job.status_message_id, content=text, allowed_mentions=NO_PINGS
                    )
            else:
                message = self._channel(job).get_partial_message(job.status_message_id)
                await message.edit(content=text, allowed_mentions=NO_PINGS, view=self.view(job))
        except (discord.HTTPException, aiohttp.ClientError) as exc:
            log.info("job %d: could not update its message: %s", job.id, exc)
        if job.status is JobStatus.FAILED:
            await self._tell_failure(job)

    async def _tell_failure(self, job: Job) -> None:
        """A failure pings the member once, so they are not left waiting."""
        text = f"<@{job.user_id}> job #{job.id} failed: {job.error_message}"
        mentions = discord.AllowedMentions(
            users=[discord.Object(job.user_id)], everyone=False, roles=False
        )
        try:
            if job.delivery_mode == "followup":
                webhook = self._webhook(job)
                if webhook is not None:
                    await webhook.send(text, allowed_mentions=mentions, ephemeral=True)
            else:
                await self._channel(job).send(
                    text,
                    allowed_mentions=mentions,
                    reference=self._reference(job),  # type: ignore[arg-type]  # None is accepted at runtime
                    silent=False,
                )
        except (discord.HTTPException, aiohttp.ClientError) as exc:
            log.info("job %d: could not tell the member about the failure: %s", job.id, exc)

    async def operator_alert(self, job: Job, text: str) -> None:
        """Post to the server's alert channel, at most once an hour per server and vendor,
        so a dead key does not flood it."""
        if job.guild_id is None or self.alert_channel is None:
            return
        key = (job.guild_id, job.provider)
        now = self.clock()
        if now - self._alerted.get(key, 0.0) < ALERT_INTERVAL:
            return
        channel_id = await self.alert_channel(job.guild_id)
        if channel_id is None:
            return
        self._alerted[key] = now
        try:
            channel = self.client.get_partial_messageable(channel_id, guild_id=job.guild_id)
            await channel.send(text, allowed_mentions=NO_PINGS)
        except (discord.HTTPException, aiohttp.ClientError) as exc:
            log.info("could not post an alert in channel %d: %s", channel_id, exc)

    def _reference(self, job: Job) -> discord.MessageReference | None:
        if job.status_message_id is None or job.delivery_mode != "channel":
            return None
        return discord.MessageReference(
            message_id=job.status_message_id, channel_id=job.channel_id, fail_if_not_exists=False
        )

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
        raise DeliveryFailed(MSG_TOO_LARGE.format(limit=_mb(job.filesize_limit)), code="too_large")

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
        shown = f" ({_mb(limit)})" if limit == job.filesize_limit else ""
        note = MSG_REENCODED.format(limit=shown)
        if job.result_url:
            expires = job.result_url_expires_at
            expiry = f" (the link expires <t:{int(expires)}:R>)" if expires else ""
            note += "\n" + MSG_FULL_QUALITY.format(expiry=expiry, link=job.result_url)
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
    ) -> int:
        content = messages.ready_message(job, link=link, link_expires_at=job.result_url_expires_at)
        if note:
            content += "\n" + note
        embed = await self._result_embed(job)
        mentions = discord.AllowedMentions(
            users=[discord.Object(job.user_id)], everyone=False, roles=False
        )
        # A discord.File is closed after sending: build a new one for every attempt.
        files = [discord.File(file_path, filename=f"veo-job-{job.id}.mp4")] if file_path else []
        try:
            if job.delivery_mode == "followup":
                webhook = self._webhook(job)
                if webhook is None:
                    raise DeliveryFailed(MSG_TOKEN_EXPIRED, code="token_expired")
                sent = await webhook.send(
                    content, wait=True, allowed_mentions=mentions, files=files, embed=embed
                )
                return sent.id
            message = await self._channel(job).send(
                content,
                allowed_mentions=mentions,
                reference=self._reference(job),  # type: ignore[arg-type]  # None is accepted at runtime
                files=files,
                embed=embed,
                view=result_view(job),
            )
            return message.id
        except aiohttp.ClientError as exc:
            raise DeliveryFailed(
                "Discord could not be reached.", code="network", retryable=True
            ) from exc
        finally:
            for f in files:
                f.close()

    async def _result_embed(self, job: Job) -> discord.Embed:
        quota = None
        if self.quota_left is not None:
            try:
                quota = await self.quota_left(job)
            except Exception:  # a nicety: never let it stop a delivery
                log.exception("job %d: could not read the member's quota", job.id)
        spec = self.providers.model(job.provider, job.model)
        return messages.result_embed(job, spec, self._label(job), self.clock(), quota)

    def _translate(self, exc: discord.HTTPException) -> DeliveryFailed:
        if isinstance(exc, discord.Forbidden):
            return DeliveryFailed(MSG_FORBIDDEN, code="missing_permissions")
        if isinstance(exc, discord.NotFound):
            return DeliveryFailed(MSG_NO_CHANNEL, code="channel_gone")
        if _too_large(exc):
            return DeliveryFailed("too large", code="too_large")
        return DeliveryFailed(
            "Discord had a problem.", code=f"discord_{exc.status}", retryable=True
        )

    async def _find_delivery(self, job: Job) -> int | None:
        """After a restart mid-delivery: did the post already happen?"""
        marker = re.compile(re.escape(messages.ready_marker(job.id)) + r"\b")
        me = self.client.user.id if self.client.user else None
        try:
            if job.delivery_mode == "followup":
                return None  # followups cannot be listed; a duplicate there is the lesser harm
            async for message in self._channel(job).history(limit=HISTORY_SCAN):
                if (me is None or message.author.id == me) and marker.search(message.content):
                    return message.id
        except discord.NotFound as exc:
            raise DeliveryFailed(MSG_NO_CHANNEL, code="channel_gone") from exc
        except discord.HTTPException as exc:
            log.info("job %d: could not read channel history (%s); posting", job.id, exc)
        return None
