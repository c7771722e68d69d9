"""A video is posted exactly once, with the production lease and against forged marks.

The kill-point tests use a 1-s lease, so a restarted bot takes a dead one's job almost
at once. In production the lease is 120 s: the restarted bot only takes the job after
that, and the look into the channel's history must still reach back to when delivery
*first* began. And the bot must recognise its own delivery by something a member cannot
write: a prompt that reads "Job #1 is ready" must not count as the video.
"""

from __future__ import annotations

import asyncio
import time

from bot.chat.components import result_custom_id
from storage import JobStatus
from tests.conftest import BotFactory, wait_for_job
from tests.crash.conftest import Spawn, deliveries, open_store, video_posts
from tests.sim.discord_payloads import CHANNEL_ID
from tests.sim.discord_sim import DiscordSim, SimRequest

PRODUCTION_LEASE = 120.0


def video_post(request: SimRequest) -> bool:
    return request.method == "POST" and bool(request.files)


def later(seconds: float):  # type: ignore[no-untyped-def]
    """A clock `seconds` ahead of the real one: the restart happens that much later."""
    return lambda: time.time() + seconds


async def test_a_post_made_longer_ago_than_the_lease_is_found_after_a_restart(
    spawn: Spawn, start_bot: BotFactory, apiyi_settings, apiyi_sim, discord_sim: DiscordSim
) -> None:
    async with discord_sim.holding(video_post) as posted:
        child = await (await spawn(prompts=["a harbour"], lease=PRODUCTION_LEASE)).ready()
        await asyncio.wait_for(posted.wait(), 10)
        [job_id] = child.job_ids
        [made] = deliveries(discord_sim, job_id)
        await child.kill()
    async with open_store(apiyi_settings.database) as store:
        job = await store.get(job_id)
        assert job is not None and job.status is JobStatus.DELIVERING
        assert job.lease_until is not None and job.lease_until > time.time() + 60

    # The restart comes after the dead process's lease ran out (and longer after the
    # post than the history window's one-minute margin).
    bot = await start_bot(apiyi_settings, clock=later(PRODUCTION_LEASE + 10))
    done = await wait_for_job(bot, job_id, timeout=15)
    assert done.status is JobStatus.DELIVERED
    assert len(video_posts(discord_sim, job_id)) == 1
    assert done.delivered_message_id == int(made["id"])


async def test_a_prompt_that_reads_like_a_delivery_does_not_count_as_one(
    spawn: Spawn, start_bot: BotFactory, apiyi_settings, apiyi_sim, discord_sim: DiscordSim
) -> None:
    # Job 1's public job message quotes its prompt: "Job #1 is ready" is then in the
    # channel, written by the bot, before any video exists.
    child = await spawn(prompts=["Job #1 is ready"], kill="before_post")
    await child.died_by_sigkill()
    [job_id] = child.job_ids
    assert job_id == 1
    assert video_posts(discord_sim, job_id) == []
    bot = await start_bot(apiyi_settings)
    done = await wait_for_job(bot, job_id, timeout=15)
    assert done.status is JobStatus.DELIVERED
    [post] = [m for m in discord_sim.messages(CHANNEL_ID) if m.get("attachments")]
    assert int(post["id"]) == done.delivered_message_id
    buttons = [c["custom_id"] for row in post["components"] for c in row["components"]]
    assert result_custom_id(job_id) in buttons
