"""The composition root: opens the long-lived resources, builds the services, closes them.

Nothing else constructs a session, a database or a provider: every part is handed what it
uses, so a test can hand it a real one of its own.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from bot.chat.bot import ChatBot
from bot.chat.failures import said_text
from bot.chat.i18n import Translator
from bot.chat.publisher import DiscordPublisher
from bot.jobs.health import VendorHealth
from bot.jobs.loop import JobManager
from bot.jobs.pacing import Pacer
from bot.jobs.retention import RetentionSweeper
from bot.jobs.rules import DMS_OFF
from bot.jobs.service import VideoService
from bot.media.file_host import FileHost
from bot.media.reencode import Reencoder
from bot.metrics import Metrics
from bot.netguard import guarded_session, origins
from bot.providers.registry import build_providers
from bot.settings import Settings
from bot.web.server import WebServer
from storage import ACTIVE, Database, Job, JobStatus, JobStore, Stores

log = logging.getLogger(__name__)

HEALTH_LOOP_SILENCE = 120.0  # the job loop goes round at least every idle_wait (30 s)

EXTENSIONS = ("cogs.veo", "cogs.animate", "cogs.admin")


class VeoTree(app_commands.CommandTree["VeoBot"]):
    """The last net: any unexpected failure becomes a short apology with a reference
    that also appears in the log, so the operator can find what happened."""

    async def interaction_check(self, interaction: discord.Interaction[VeoBot], /) -> bool:
        """Direct messages are closed unless the operator opened them (VEO_ALLOW_DMS)."""
        if interaction.guild_id is not None or interaction.client.settings.allow_dms:
            return True
        if interaction.type is discord.InteractionType.autocomplete:
            await interaction.response.autocomplete([])
        else:
            refused = said_text(DMS_OFF, str(interaction.locale))
            await interaction.response.send_message(f"⚠️ {refused}", ephemeral=True)
        return False

    async def on_error(
        self, interaction: discord.Interaction[VeoBot], error: app_commands.AppCommandError
    ) -> None:
        ref = secrets.token_hex(4)
        name = interaction.command.qualified_name if interaction.command else "?"
        log.error("command %s failed [ref %s]", name, ref, exc_info=error)
        text = (
            f"⚠️ Something went wrong on my side (reference `{ref}`). "
            "Nothing was charged for a job that was not queued."
        )
        try:
            if interaction.response.is_done():
                await interaction.edit_original_response(content=text)
            else:
                await interaction.response.send_message(text, ephemeral=True)
        except discord.HTTPException:
            log.info("could not apologise for ref %s", ref)


def _shards(settings: Settings) -> dict[str, Any]:
    """Unset: one process with the shards Discord recommends. Set: this process's slice of
    VEO_SHARD_COUNT shards (a server's events, interactions too, come on shard
    (server id >> 22) % count; direct messages on shard 0)."""
    shards: dict[str, Any] = {}
    if settings.shard_count is not None:
        shards["shard_count"] = settings.shard_count
    if settings.shard_ids is not None:
        shards["shard_ids"] = settings.shard_ids
    return shards


class VeoBot(ChatBot):
    publisher: DiscordPublisher
    db: Database
    store: JobStore
    manager: JobManager
    sweeper: RetentionSweeper
    health: VendorHealth
    metrics: Metrics

    def __init__(
        self,
        settings: Settings,
        *,
        timing_overrides: dict[str, dict[str, float]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.none() | discord.Intents(guilds=True),
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            tree_cls=VeoTree,
            **_shards(settings),
        )
        self.settings = settings
        self._timing_overrides = timing_overrides
        # Wall-clock time for every part that stores or compares times (tests inject one
        # to stand in for a restart long after a crash).
        self.clock = clock
        self._resources_open = False

    async def setup_hook(self) -> None:
        settings = self.settings
        clock = self.clock
        trusted = origins(
            [settings.apiyi_base_url, settings.apixo_base_url, settings.veo3o1_base_url]
            + [settings.yelinai_base_url]
        )
        self.session = guarded_session(
            trusted,
            allow_private=settings.allow_private_urls,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=15),
        )
        self.db = await Database.open(settings.database)
        self._resources_open = True
        self.stores = Stores.over(self.db, clock=clock)
        self.store = self.stores.jobs
        self.metrics = Metrics()
        self.metrics.watch_jobs(
            self._job_counts, waiting=JobStatus.QUEUED, active=[s.value for s in ACTIVE]
        )
        self.providers = build_providers(settings, self.session)
        reencoder = Reencoder(timeout=settings.reencode_timeout) if Reencoder.available() else None
        self.file_host: FileHost | None = None
        if settings.public_url and settings.http_port is not None:
            self.file_host = FileHost(
                settings.data_dir / "served",
                public_url=settings.public_url,
                retention=settings.file_retention_hours * 3600,
                max_bytes=settings.file_store_mb * 1024 * 1024,
            )
        self.publisher = DiscordPublisher(
            self,
            self.providers,
            clock=clock,
            quota_left=self._quota_left,
            reencoder=reencoder,
            alert_channel=self._alert_channel,
            claim_alert=lambda guild, vendor, kind, every: self.stores.guilds.claim_alert(
                guild, vendor, kind, every=every
            ),
            file_host=self.file_host,
        )
        self.web: WebServer | None = None
        if settings.http_port is not None:
            self.web = WebServer(
                self.store,
                lambda: self.manager.wake(),
                host=settings.http_host,
                port=settings.http_port,
                public_url=settings.public_url,
                image_ttl=settings.image_url_ttl,
                health=self.health_report,
                metrics=self.metrics,
                files=self.file_host,
            )
        self.health = VendorHealth(
            streak=settings.alert_failure_streak, cooldown=settings.vendor_cooldown
        )
        self.manager = JobManager(
            self.store,
            self.providers,
            self.publisher,
            work_dir=settings.data_dir / "downloads",
            max_download_bytes=settings.max_download_bytes,
            max_concurrency=settings.max_concurrent_jobs,
            timing_overrides={**settings.schedule_overrides(), **(self._timing_overrides or {})},
            learn_schedules=settings.learn_schedules,
            public=self.web if settings.public_url else None,
            alert_failure_streak=settings.alert_failure_streak,
            health=self.health,
            pacer=Pacer(settings.vendor_limits()),
            metrics=self.metrics,
            batch_window=max(0.01, settings.loop_batch_window),
            clock=clock,
        )
        self.publisher.schedules = self.manager.crew.schedules
        self.service = VideoService(
            settings,
            self.stores,
            self.providers,
            self.manager,
            health=self.health,
            metrics=self.metrics,
            clock=clock,
        )
        # Command names and descriptions in the shipped languages, sent with every sync.
        await self.tree.set_translator(Translator())
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        if self.web is not None:
            await self.web.start()
        await self.manager.start()
        self.sweeper = RetentionSweeper(
            self.stores.retention,
            retention_days=settings.retention_days,
            clock=clock,
            leading=lambda: self.manager.leader.leading,
        )
        self.sweeper.start()
        if self.file_host is not None:
            self.file_host.start()
        log.info(
            "providers: %s (default %s); database %s",
            ", ".join(self.providers.names()),
            self.providers.default,
            self.db.name,
        )

    async def _job_counts(self) -> dict[tuple[str, str], int]:
        """The jobs by state, for the metrics: the whole database's, so only the leading
        process reports them (N processes would report them N times)."""
        return await self.store.counts() if self.manager.leader.leading else {}

    async def health_report(self) -> tuple[bool, dict[str, str]]:
        """What /healthz says: the gateway, the database and the job loop."""
        checks: dict[str, str] = {}
        gateway = self.is_ready() and not self.is_closed()
        checks["gateway"] = "connected" if gateway else "not connected"
        try:
            async with asyncio.timeout(5):
                await self.db.writable()
            database = True
            checks["database"] = "writable"
        except Exception as exc:
            database = False
            checks["database"] = f"not writable ({type(exc).__name__})"
        loop = self.manager.alive(max_silence=HEALTH_LOOP_SILENCE)
        checks["job_loop"] = "running" if loop else "stopped or stuck"
        return gateway and database and loop, checks

    async def _alert_channel(self, guild_id: int) -> int | None:
        return (await self.service.guilds.get(guild_id)).alert_channel_id

    async def _quota_left(self, job: Job) -> tuple[int, int]:
        view = await self.service.quota(job.user_id, job.guild_id)
        return view.remaining, view.limit

    async def sync_commands(self) -> None:
        """Guild commands update at once; global ones take a while to appear."""
        if self.settings.guild_ids:
            for guild_id in self.settings.guild_ids:
                guild = discord.Object(guild_id)
                self.tree.copy_global_to(guild=guild)
                await self.tree.sync(guild=guild)
            log.info("commands synced to guilds %s", self.settings.guild_ids)
        else:
            await self.tree.sync()
            log.info("commands synced globally (they can take up to an hour to appear)")

    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """Removed from a server (not an outage: discord.py reports those apart)."""
        self.publisher.left_guilds.add(guild.id)
        jobs = await self.service.server_left(guild.id)
        log.info("removed from server %d; %d of its job(s) stopped", guild.id, len(jobs))

    async def on_guild_join(self, guild: discord.Guild) -> None:
        self.publisher.left_guilds.discard(guild.id)
        await self.service.server_joined(guild.id)

    async def on_ready(self) -> None:
        log.info("logged in as %s (%s)", self.user, self.user.id if self.user else "?")

    async def close(self) -> None:
        if self._resources_open:
            await self.sweeper.stop()
            if self.file_host is not None:
                await self.file_host.stop()
            await self.manager.stop()
            if self.web is not None:
                await self.web.close()
            await self.providers.close()
            await self.session.close()
            await self.db.close()
            self._resources_open = False
        await super().close()
