"""The `Publisher` port's Discord side: shows jobs in Discord with the bot's own token
(job messages, failure pings, admins' alerts); the video itself is `posting`'s.

Nothing here depends on the 15-minute interaction token, except jobs whose channel
the bot cannot post in (then followups on the member's interaction are all we have).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping

import aiohttp
import discord

from bot.chat import estimates, messages
from bot.chat.failures import alert_text, job_failure_text
from bot.chat.posting import VideoPoster, Where, member_ping
from bot.chat.views import failed_view, job_view
from bot.jobs.schedule import Schedules
from bot.media.file_host import FileHost
from bot.media.reencode import Reencoder
from bot.providers.codes import Param
from bot.providers.registry import ProviderRegistry
from storage import TERMINAL, Job, JobStatus

log = logging.getLogger(__name__)

MIN_EDIT_INTERVAL = 5.0  # seconds between progress edits of one job message
NO_PINGS = discord.AllowedMentions.none()
ALERT_INTERVAL = 3600.0
# A recovery note only answers an outage alert that was posted, so it is as rare as those.
UNLIMITED_ALERTS = frozenset({"recovered"})
ENDED_REMEMBERED = 1000  # ended jobs whose messages late (stale) updates must not touch
# A job not updated here for this long has ended elsewhere (another process finished it)
# or sits in a long render: its per-job state is dropped. Keeping it only matters within
# MIN_EDIT_INTERVAL of an edit, so nothing shown changes.
STALE_AFTER = 3600.0
PRUNE_EVERY = 60.0


def _state(text: str) -> str:
    """The state a job message shows: the emoji that starts its last line."""
    return text.splitlines()[-1].split(" ")[0] if text else ""


class DiscordPublisher:
    def __init__(
        self,
        client: discord.Client,
        providers: ProviderRegistry,
        *,
        clock: Callable[[], float] = time.time,
        quota_left: Callable[[Job], Awaitable[tuple[int, int]]] | None = None,
        alert_channel: Callable[[int], Awaitable[int | None]] | None = None,
        claim_alert: Callable[[int, str, str, float], Awaitable[bool]] | None = None,
        reencoder: Reencoder | None = None,
        file_host: FileHost | None = None,
        min_edit_interval: float = MIN_EDIT_INTERVAL,
    ) -> None:
        self.client = client
        self.providers = providers
        self.clock = clock
        # What renders take lately; the composition root sets it once the job manager
        # (which learns them) exists. Until then messages use the documented guess.
        self.schedules: Schedules | None = None
        # A server's alert channel id, if its admins set one (/veo-admin alerts).
        self.alert_channel = alert_channel
        # Asks the database whether this process may post an alert (one in an hour across
        # every process); None: this process's own memory decides alone.
        self.claim_alert = claim_alert
        self._alerted: dict[tuple[int, str, str], float] = {}
        # Job messages: at most one edit per `min_edit_interval` while the state stays the
        # same; the newest text held back is posted when the interval is over.
        self.min_edit_interval = min_edit_interval
        self._last_edit: dict[int, tuple[float, str]] = {}
        self._held: dict[int, tuple[Job, str]] = {}
        self._timers: dict[int, asyncio.Task[None]] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        # The newest row version shown per job, so an older snapshot (read before the job
        # moved on) can never overwrite a newer state; and jobs whose message is final.
        self._seen: dict[int, float] = {}
        self._ended: OrderedDict[int, None] = OrderedDict()
        # When each job was last updated here, to prune jobs that ended elsewhere.
        self._touched: dict[int, float] = {}
        # Servers that removed the bot: nothing more is shown there, not even an update
        # read before the removal and still on its way (its jobs end quietly).
        self.left_guilds: set[int] = set()
        self._pruned_at = clock()
        self.where = Where(client, clock)
        self.poster = VideoPoster(
            self.where,
            providers,
            clock=clock,
            quota_left=quota_left,
            reencoder=reencoder,
            file_host=file_host,
        )

    # -- where a job's messages go ---------------------------------------------------

    def _label(self, job: Job) -> str:
        spec = self.providers.model(job.provider, job.model)
        return spec.label if spec is not None else job.model

    def view(self, job: Job) -> discord.ui.View:
        """The job message's buttons now (an empty view once the job has ended)."""
        return job_view(job) or discord.ui.View(timeout=None)

    def render(self, job: Job, position: int | None = None) -> str:
        """The job message; `position` is its place in the queue, when known."""
        typical = (
            estimates.typical_for(self.providers, self.schedules, job)
            if self.schedules is not None
            else None
        )
        return messages.job_message(
            job,
            self._label(job),
            self.clock(),
            typical,
            position=position or 0,
            service=estimates.service_label(self.providers, job),
        )

    # -- Publisher -------------------------------------------------------------------

    def tracked_jobs(self) -> set[int]:
        """Jobs this publisher keeps per-job state for (ended ones are forgotten)."""
        return set(self._touched) | set(self._last_edit) | set(self._seen) | set(self._locks)

    def _prune(self) -> None:
        """Forget jobs not updated here for STALE_AFTER (ended by another process, whose
        end this one never saw): per-job state must not grow with every job ever made."""
        now = self.clock()
        if now - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = now
        for job_id, at in list(self._touched.items()):
            lock = self._locks.get(job_id)
            busy = job_id in self._held or (lock is not None and lock.locked())
            if now - at > STALE_AFTER and not busy:
                self._forget(job_id)

    def _forget(self, job_id: int) -> None:
        for table in (self._last_edit, self._seen, self._locks, self._touched):
            table.pop(job_id, None)

    async def job_updated(self, job: Job, *, position: int | None = None) -> None:
        self._prune()
        if job.status_message_id is None or job.id in self._ended:
            return
        if job.guild_id in self.left_guilds:
            return
        self._touched[job.id] = self.clock()
        async with self._lock(job.id):
            if job.id in self._ended:
                return  # its final state is shown; this is an older snapshot
            if job.status not in TERMINAL and job.updated_at < self._seen.get(job.id, 0.0):
                return
            self._seen[job.id] = max(job.updated_at, self._seen.get(job.id, 0.0))
            text = self.render(job, position)
            last = self._last_edit.get(job.id)
            if last is not None and job.status not in TERMINAL:
                last_at, last_text = last
                if last_text == text:
                    self._held.pop(job.id, None)  # what is shown is current again
                    return
                if _state(last_text) == _state(text):
                    wait = last_at + self.min_edit_interval - self.clock()
                    if wait > 0:
                        self._hold(job, text, wait)
                        return
            await self._edit(job, text)

    def _lock(self, job_id: int) -> asyncio.Lock:
        """One edit of a job message at a time, so they land in the order decided."""
        return self._locks.setdefault(job_id, asyncio.Lock())

    def _hold(self, job: Job, text: str, wait: float) -> None:
        """Keep the newest text for when the interval is over (a progress step, a new
        place in the queue): shown late rather than lost."""
        self._held[job.id] = (job, text)
        timer = self._timers.get(job.id)
        if timer is None or timer.done():
            self._timers[job.id] = asyncio.create_task(
                self._post_held(job.id, wait), name=f"veo-edit-{job.id}"
            )

    async def _post_held(self, job_id: int, wait: float) -> None:
        try:
            while True:
                await asyncio.sleep(wait)
                if job_id not in self._held or job_id in self._ended:
                    return
                async with self._lock(job_id):
                    held = self._held.get(job_id)
                    if held is None or job_id in self._ended:
                        return
                    # An edit since this timer was set (a new state) restarts the interval.
                    last = self._last_edit.get(job_id)
                    wait = 0.0 if last is None else last[0] + self.min_edit_interval - self.clock()
                    if wait <= 0:
                        await self._edit(*held)
                        return
        except asyncio.CancelledError:
            raise
        except Exception:  # a nicety: never let it surface anywhere
            log.exception("job %d: could not post a held-back update", job_id)
        finally:
            if self._timers.get(job_id) is asyncio.current_task():
                del self._timers[job_id]

    async def close(self) -> None:
        timers = list(self._timers.values())
        self._timers.clear()
        self._held.clear()
        for timer in timers:
            timer.cancel()
        await asyncio.gather(*timers, return_exceptions=True)

    async def _edit(self, job: Job, text: str) -> None:
        """Show `text` on the job's message now (the caller holds the job's lock)."""
        assert job.status_message_id is not None
        self._held.pop(job.id, None)
        if job.guild_id in self.left_guilds:  # held back before the bot was removed
            return
        if job.status in TERMINAL:
            self._forget(job.id)
            self._ended[job.id] = None
            while len(self._ended) > ENDED_REMEMBERED:
                self._ended.popitem(last=False)
        else:
            self._last_edit[job.id] = (self.clock(), text)
        try:
            if job.delivery_mode == "followup":
                webhook = self.where.webhook(job)
                if webhook is not None:
                    await webhook.edit_message(
                        job.status_message_id, content=text, allowed_mentions=NO_PINGS
                    )
            else:
                message = self.where.channel(job).get_partial_message(job.status_message_id)
                await message.edit(content=text, allowed_mentions=NO_PINGS, view=self.view(job))
        except (discord.HTTPException, aiohttp.ClientError) as exc:
            log.info("job %d: could not update its message: %s", job.id, exc)
        if job.status is JobStatus.FAILED:
            await self._tell_failure(job)

    async def _tell_failure(self, job: Job) -> None:
        """A failure pings the member once, so they are not left waiting, with the buttons
        to try again. A member who turned pings off reads it on the job message alone."""
        if not job.ping:
            return
        text = messages.failure_ping(job, job_failure_text(job))
        mentions = member_ping(job)
        webhook = self.where.webhook(job)
        try:
            if job.delivery_mode == "followup":
                if webhook is not None:
                    await webhook.send(text, allowed_mentions=mentions, ephemeral=True)
                return
            try:
                await self.where.channel(job).send(
                    text,
                    allowed_mentions=mentions,
                    reference=self.where.reference(job),  # type: ignore[arg-type]  # None is accepted at runtime
                    silent=False,
                    view=failed_view(job),
                )
            except discord.Forbidden:
                # The channel shut the bot out since the command: answer the member's own
                # command instead, while its token is still valid (15 minutes).
                if webhook is None:
                    raise
                await webhook.send(text, allowed_mentions=mentions, ephemeral=True)
        except (discord.HTTPException, aiohttp.ClientError) as exc:
            log.info("job %d: could not tell the member about the failure: %s", job.id, exc)

    async def operator_alert(
        self, job: Job, params: Mapping[str, Param], *, kind: str = "account"
    ) -> bool:
        """Post to the server's alert channel, at most once an hour per server, vendor and
        kind of trouble, so a dead key or a long outage does not flood it."""
        if job.guild_id is None or self.alert_channel is None:
            return False
        text = alert_text(kind, params, job.locale)  # the server's language, as its posts
        key = (job.guild_id, job.provider, kind)
        now = self.clock()
        before = self._alerted.get(key)
        if kind not in UNLIMITED_ALERTS and before is not None and now - before < ALERT_INTERVAL:
            return False
        # Taken before the first await, so alerts raised at the same moment post once.
        self._alerted[key] = now
        channel_id = await self.alert_channel(job.guild_id)
        if channel_id is None:  # none set (yet): one set later gets the next alert
            if before is None:
                self._alerted.pop(key, None)
            else:
                self._alerted[key] = before
            return False
        claim = self.claim_alert if kind not in UNLIMITED_ALERTS else None
        if claim is not None and not await claim(job.guild_id, job.provider, kind, ALERT_INTERVAL):
            return False  # another process posted it within the hour
        try:
            channel = self.client.get_partial_messageable(channel_id, guild_id=job.guild_id)
            await channel.send(text, allowed_mentions=NO_PINGS)
        except (discord.HTTPException, aiohttp.ClientError) as exc:
            log.info("could not post an alert in channel %d: %s", channel_id, exc)
            return False
        return True

    async def remove(self, job: Job) -> bool:
        """Delete a job's video post and its job message (Delete); whether any went. In
        followup mode they are the member's interaction's, deletable while it is valid."""
        removed = False
        webhook = self.where.webhook(job) if job.delivery_mode == "followup" else None
        for message_id in (job.delivered_message_id, job.status_message_id):
            if message_id is None:
                continue
            try:
                if job.delivery_mode == "followup":
                    if webhook is None:
                        continue
                    await webhook.delete_message(message_id)
                else:
                    await self.where.channel(job).get_partial_message(message_id).delete()
                removed = True
            except discord.NotFound:
                removed = True  # gone already: what was asked for
            except (discord.HTTPException, aiohttp.ClientError) as exc:
                log.info("job %d: could not delete message %d: %s", job.id, message_id, exc)
        return removed

    async def deliver(self, job: Job, *, resumed: bool) -> int:
        return await self.poster.deliver(job, resumed=resumed)

    @property
    def reencoder(self) -> Reencoder | None:
        return self.poster.reencoder

    @reencoder.setter
    def reencoder(self, reencoder: Reencoder | None) -> None:
        self.poster.reencoder = reencoder
