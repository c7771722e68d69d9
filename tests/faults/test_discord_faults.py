"""Discord faults at delivery, through the real bot (discord.py's own HTTP client) against
the Discord simulator: Missing Permissions on the video post, rate limits on posts and
edits (left to discord.py: the bot adds no loop of its own), and 5xx answers (retried a
bounded number of times with backoff, then failed and refunded). A 413 and a deleted
channel are covered in tests/bot/test_manager.py and tests/bot/test_reencode.py."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.chat.failures import job_failure_text
from bot.settings import Settings
from storage import Job, JobStatus, QuotaState
from tests.chat.test_sentences import SENTENCES
from tests.cogs.test_generate import generate
from tests.conftest import BotFactory, wait_for_job
from tests.faults import (
    SLACK,
    apiyi_settings,
    delivery_posts,
    failure_notes,
    fast_forward,
    jittered,
    put_back,
)
from tests.jobs.test_manager import deliveries, held_job, usage
from tests.sim.apiyi_sim import ApiyiSimulator
from tests.sim.discord_payloads import CHANNEL_ID
from tests.sim.discord_sim import DiscordSim

POST = rf"^/channels/{CHANNEL_ID}/messages$"
EDIT = rf"^/channels/{CHANNEL_ID}/messages/\d+$"
DELIVERY_BASE = 2.0
MAX_DELIVERY_ATTEMPTS = 6


@pytest.fixture
def settings(make_settings: Callable[..., Settings], apiyi_sim: ApiyiSimulator) -> Settings:
    return apiyi_settings(make_settings, apiyi_sim)


def statuses(requests: list[object]) -> list[int | None]:
    return [getattr(r, "status", None) for r in requests]


async def test_missing_permissions_at_delivery_fails_refunds_and_names_the_permissions(
    start_bot: BotFactory, settings: Settings, apiyi_sim: ApiyiSimulator, discord_sim: DiscordSim
) -> None:
    """The bot could post when the job started; by the time the video is ready an admin
    took that away (403 / 50013). Retrying cannot help: one attempt, then a refund."""
    bot = await start_bot(settings)
    job, task_id = await held_job(bot, apiyi_sim)
    discord_sim.forbid_channel(CHANNEL_ID)
    apiyi_sim.set_task_status(task_id, "completed")
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.error_code) == (JobStatus.FAILED, "missing_permissions")
    assert done.quota_state is QuotaState.REFUNDED and await usage(bot) == 0
    assert "Send Messages and Attach Files" in job_failure_text(done)
    assert statuses(delivery_posts(discord_sim)) == [403]  # never retried
    assert deliveries(discord_sim, job.id) == []


async def test_missing_permissions_at_delivery_is_explained_to_the_member(
    start_bot: BotFactory, settings: Settings, apiyi_sim: ApiyiSimulator, discord_sim: DiscordSim
) -> None:
    """Through /veo generate: the member's command can still be answered (its token is
    valid for 15 minutes) even though the channel cannot be posted in."""
    apiyi_sim.queued_for = None
    bot = await start_bot(settings)
    iid = await generate(bot, discord_sim, prompt="a lighthouse at dusk")
    running = await wait_for_job(bot, 1, frozenset({JobStatus.RUNNING}))
    assert running.delivery_mode == "channel" and running.task_id is not None
    discord_sim.forbid_channel(CHANNEL_ID)
    apiyi_sim.set_task_status(running.task_id, "completed")
    done = await wait_for_job(bot, 1)
    assert (done.status, done.error_code) == (JobStatus.FAILED, "missing_permissions")
    interaction = discord_sim.interaction(iid)
    ids = [interaction.original_message_id, *interaction.followup_ids]
    seen = [str(discord_sim.message(i)["content"]) for i in ids if i is not None]
    assert any(SENTENCES["missing_permissions"] in text for text in seen), seen


async def test_rate_limits_on_the_post_and_the_edits_are_left_to_discord_py(
    start_bot: BotFactory, settings: Settings, apiyi_sim: ApiyiSimulator, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(settings)
    job, task_id = await held_job(bot, apiyi_sim)
    discord_sim.fail_next("PATCH", EDIT, 429, times=2, retry_after=0.05)
    discord_sim.fail_next("POST", POST, 429, times=3, retry_after=0.05)
    apiyi_sim.set_task_status(task_id, "completed")
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.quota_state) == (JobStatus.DELIVERED, QuotaState.COMMITTED)
    # discord.py waited out each 429 and sent the same request again; the manager never
    # saw a failure (no retry of its own was scheduled) and posted once.
    assert done.attempts == 0
    assert statuses(delivery_posts(discord_sim)) == [429, 429, 429, 200]
    assert len(deliveries(discord_sim, job.id)) == 1
    edits = discord_sim.find_requests("PATCH", EDIT)
    assert statuses(edits).count(429) == 2 and statuses(edits)[-1] == 200
    final = discord_sim.message(done.status_message_id or 0)
    assert "✅ Delivered" in str(final["content"])


async def test_a_discord_500_is_retried_inside_discord_py_and_posted_once(
    start_bot: BotFactory, settings: Settings, apiyi_sim: ApiyiSimulator, discord_sim: DiscordSim
) -> None:
    """discord.py itself retries 500/502/504/524 (after 1 s, 3 s, ...)."""
    bot = await start_bot(settings)
    job, task_id = await held_job(bot, apiyi_sim)
    discord_sim.fail_next("POST", POST, 500, times=1)
    apiyi_sim.set_task_status(task_id, "completed")
    done = await wait_for_job(bot, job.id)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    assert done.attempts == 0
    assert statuses(delivery_posts(discord_sim)) == [500, 200]
    assert len(deliveries(discord_sim, job.id)) == 1


async def test_a_discord_503_is_retried_with_backoff_and_posted_once(
    start_bot: BotFactory, settings: Settings, apiyi_sim: ApiyiSimulator, discord_sim: DiscordSim
) -> None:
    """discord.py raises a 503 at once: the manager waits and tries again, first looking in
    the channel for a post that may have gone through."""
    bot = await start_bot(settings)
    job, task_id = await held_job(bot, apiyi_sim)
    discord_sim.fail_next("POST", POST, 503, times=1)
    apiyi_sim.set_task_status(task_id, "completed")
    _, delay = await put_back(bot, job.id, JobStatus.DELIVERING, 1)
    low, high = jittered(DELIVERY_BASE, 1)
    assert low - SLACK <= delay <= high + 0.05
    history_reads = len(discord_sim.find_requests("GET", POST))
    await fast_forward(bot, job.id)
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.quota_state) == (JobStatus.DELIVERED, QuotaState.COMMITTED)
    assert statuses(delivery_posts(discord_sim)) == [503, 200]
    assert len(discord_sim.find_requests("GET", POST)) > history_reads  # looked first
    assert len(deliveries(discord_sim, job.id)) == 1


async def test_discord_5xx_that_never_ends_fails_and_refunds_after_the_last_attempt(
    start_bot: BotFactory, settings: Settings, apiyi_sim: ApiyiSimulator, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(settings)
    job, task_id = await held_job(bot, apiyi_sim)
    discord_sim.fail_next("POST", POST, 503, times=MAX_DELIVERY_ATTEMPTS)
    apiyi_sim.set_task_status(task_id, "completed")
    delays = []
    for attempt in range(1, MAX_DELIVERY_ATTEMPTS):
        current, delay = await put_back(bot, job.id, JobStatus.DELIVERING, attempt)
        low, high = jittered(DELIVERY_BASE, attempt)
        assert low - SLACK <= delay <= high + 0.05, (attempt, delay)
        delays.append(delay)
        await fast_forward(bot, job.id)
    done: Job = await wait_for_job(bot, job.id)
    assert (done.status, done.error_code) == (JobStatus.FAILED, "discord_503")
    assert done.quota_state is QuotaState.REFUNDED and await usage(bot) == 0
    assert statuses(delivery_posts(discord_sim)) == [503] * MAX_DELIVERY_ATTEMPTS
    assert deliveries(discord_sim, job.id) == []
    assert len(failure_notes(discord_sim, job.id)) == 1  # Discord answered again by then
