"""The bot removed from a server: that server's jobs not yet sent are cancelled and
refunded, the ones already rendering finish quietly (nothing is posted anywhere; the
spend counts, the member is refunded), another server's jobs go on, and the server's
settings are kept for the retention period in case the bot is invited back. Driven
through discord.py's own GUILD_CREATE / GUILD_DELETE handling."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable

from bot.client import VeoBot
from bot.settings import Settings
from storage import Billing, JobStatus, QuotaState
from tests.cogs.test_job_commands import add_jobs
from tests.conftest import BotFactory, wait_for_job
from tests.jobs.test_manager import FAST, origin, submit
from tests.sim.apiyi_sim import ApiyiSimulator
from tests.sim.discord_payloads import (
    CHANNEL_ID,
    GUILD_ID,
    USER_ID,
    guild_create,
    guild_delete,
)
from tests.sim.discord_sim import DiscordSim

SettingsFactory = Callable[..., Settings]
OTHER_GUILD = GUILD_ID + 1
OTHER_CHANNEL = CHANNEL_ID + 50


async def queued_job(bot: VeoBot, user_id: int) -> int:
    """A job waiting in the queue (held back, so nothing sends it meanwhile)."""
    await add_jobs(bot, 1, user_id=user_id, provider="apiyi", model=FAST)
    [job] = await bot.store.recent_for_user(user_id, limit=1)
    return job.id


def edits_of(sim: DiscordSim, message_id: int | None) -> int:
    return len(sim.find_requests("PATCH", rf"/messages/{message_id}$"))


async def test_removal_stops_that_servers_jobs_and_no_other(
    start_bot: BotFactory,
    make_settings: SettingsFactory,
    apiyi_sim: ApiyiSimulator,
    discord_sim: DiscordSim,
) -> None:
    apiyi_sim.queued_for = None  # renders wait until the test finishes them
    settings = make_settings(
        APIYI_API_KEY=apiyi_sim.api_key,
        APIYI_BASE_URL=apiyi_sim.base_url,
        VEO_MAX_ACTIVE_PER_USER=5,
        VEO_DAILY_QUOTA=5,
    )
    bot = await start_bot(settings)
    bot._connection.parse_guild_create(guild_create(GUILD_ID))
    bot._connection.parse_guild_create(guild_create(OTHER_GUILD))
    await bot.service.guilds.set(GUILD_ID, daily_quota=3)

    rendering = await submit(bot, prompt="rendering in A")
    rendering = await wait_for_job(bot, rendering.id, frozenset({JobStatus.RUNNING}))
    elsewhere = await submit(
        bot,
        prompt="rendering in B",
        where=origin(user_id=USER_ID + 2, guild_id=OTHER_GUILD, channel_id=OTHER_CHANNEL),
    )
    elsewhere = await wait_for_job(bot, elsewhere.id, frozenset({JobStatus.RUNNING}))
    waiting = await queued_job(bot, USER_ID + 1)
    edits_before = edits_of(discord_sim, rendering.status_message_id)

    bot._connection.parse_guild_delete(guild_delete(GUILD_ID))

    stopped = await wait_for_job(bot, waiting)
    assert (stopped.status, stopped.quota_state) == (JobStatus.CANCELLED, QuotaState.REFUNDED)
    assert stopped.billing is Billing.NOT_BILLED
    assert await bot.store.usage(USER_ID + 1, stopped.quota_day, GUILD_ID) == 0

    # The renders finish at the vendor: A's is billed but has nowhere to go.
    assert rendering.task_id is not None and elsewhere.task_id is not None
    apiyi_sim.set_task_status(rendering.task_id, "completed")
    apiyi_sim.set_task_status(elsewhere.task_id, "completed")
    quiet = await wait_for_job(bot, rendering.id)
    assert quiet.status is JobStatus.CANCELLED
    assert (quiet.quota_state, quiet.billing) == (QuotaState.REFUNDED, Billing.BILLED)
    assert await bot.store.usage(USER_ID, quiet.quota_day, GUILD_ID) == 0
    assert await bot.service.spent_today(GUILD_ID) > 0  # the operator was billed
    delivered = await wait_for_job(bot, elsewhere.id)
    assert delivered.status is JobStatus.DELIVERED  # server B never noticed
    await asyncio.sleep(0.2)
    posts = discord_sim.messages(CHANNEL_ID)
    assert not any(p.get("attachments") for p in posts)  # nothing posted in A
    assert edits_of(discord_sim, rendering.status_message_id) == edits_before
    assert [r.json["prompt"] for r in apiyi_sim.submits()] == ["rendering in A", "rendering in B"]

    # A's settings wait for the retention period, then go; B's stay.
    assert (await bot.service.guilds.get(GUILD_ID)).daily_quota == 3
    await bot.service.guilds.set(OTHER_GUILD, daily_quota=4)
    bot.sweeper._clock = lambda: time.time() + 31 * 86400
    await bot.sweeper.sweep_once()
    assert (await bot.service.guilds.get(GUILD_ID)).daily_quota is None
    assert (await bot.service.guilds.get(OTHER_GUILD)).daily_quota == 4


async def test_invited_back_within_retention_keeps_the_settings(
    start_bot: BotFactory, make_settings: SettingsFactory, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(make_settings())
    bot._connection.parse_guild_create(guild_create(GUILD_ID))
    await bot.service.guilds.set(GUILD_ID, daily_quota=3)
    bot._connection.parse_guild_delete(guild_delete(GUILD_ID))
    await asyncio.sleep(0.1)
    bot._connection.parse_guild_create(guild_create(GUILD_ID))  # invited back
    await asyncio.sleep(0.1)
    bot.sweeper._clock = lambda: time.time() + 31 * 86400
    await bot.sweeper.sweep_once()
    assert (await bot.service.guilds.get(GUILD_ID)).daily_quota == 3


async def test_an_outage_is_not_a_removal(
    start_bot: BotFactory, make_settings: SettingsFactory, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(make_settings())
    bot._connection.parse_guild_create(guild_create(GUILD_ID))
    waiting = await queued_job(bot, USER_ID)
    bot._connection.parse_guild_delete(guild_delete(GUILD_ID, unavailable=True))
    await asyncio.sleep(0.2)
    job = await bot.store.get(waiting)
    assert job is not None and job.status is JobStatus.QUEUED
    assert job.cancel_requested_at is None


async def test_an_update_read_before_the_removal_is_not_shown_after_it(
    start_bot: BotFactory,
    apiyi_settings: Settings,
    apiyi_sim: ApiyiSimulator,
    discord_sim: DiscordSim,
) -> None:
    """A poll that read a job just before the bot was removed must not edit the job
    message after it (the removal wins, whatever was on its way)."""
    apiyi_sim.queued_for = None
    bot = await start_bot(apiyi_settings)
    bot._connection.parse_guild_create(guild_create(GUILD_ID))
    job = await submit(bot, prompt="rendering in A")
    job = await wait_for_job(bot, job.id, frozenset({JobStatus.RUNNING}))
    await asyncio.sleep(0.2)
    before = edits_of(discord_sim, job.status_message_id)
    bot._connection.parse_guild_delete(guild_delete(GUILD_ID))
    await asyncio.sleep(0.2)
    # The snapshot the poll had in hand, now with news to show.
    stale = dataclasses.replace(job, stage="generating", progress=40, updated_at=time.time())
    await bot.publisher.job_updated(stale)
    assert edits_of(discord_sim, job.status_message_id) == before
