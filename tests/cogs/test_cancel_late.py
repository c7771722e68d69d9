"""A cancel that comes late tells the truth: while the video is being fetched it still
stops the post (the render was billed, so the quota stays used); once the post is on its
way it is refused as too late, and the video arrives. Through the real buttons, against
the Discord and apiyi simulators."""

from __future__ import annotations

import asyncio

from storage import Billing, JobStatus, QuotaState
from tests.cogs.test_buttons import buttons, click, job_message
from tests.cogs.test_generate import generate
from tests.conftest import BotFactory, wait_for_job
from tests.crash.conftest import deliveries
from tests.crash.test_kill_points import video_post
from tests.sim.apiyi_sim import ApiyiSimulator
from tests.sim.discord_sim import DiscordSim


async def confirm_cancel(bot, sim: DiscordSim, job_id: int) -> str:  # type: ignore[no-untyped-def]
    """Click Cancel on the job message, then "Yes, cancel it"; the bot's last words."""
    asked = await click(bot, sim, f"veo:cancel:{job_id}", job_message(sim, job_id))
    question = str(asked.callbacks[0]["data"]["content"])
    assert asked.original_message_id is not None
    confirm = sim.message(asked.original_message_id)
    assert buttons(confirm) == [f"veo:cancel-yes:{job_id}"]
    answered = await click(bot, sim, f"veo:cancel-yes:{job_id}", confirm)
    return question + "\n" + str(answered.callbacks[0]["data"]["content"])


async def test_a_cancel_while_the_video_is_fetched_stops_the_post(
    start_bot: BotFactory, apiyi_settings, apiyi_sim: ApiyiSimulator, discord_sim: DiscordSim
) -> None:
    apiyi_sim.stall_video_after = 1024  # the download hangs after the first kilobyte
    bot = await start_bot(apiyi_settings)
    await generate(bot, discord_sim, prompt="a slow download")
    await asyncio.wait_for(apiyi_sim.video_stalled.wait(), 10)
    said = await confirm_cancel(bot, discord_sim, 1)
    assert "already made" in said and "quota stays used" in said
    assert "will not be posted" in said
    apiyi_sim.release_video.set()
    done = await wait_for_job(bot, 1)
    assert done.status is JobStatus.CANCELLED
    assert (done.quota_state, done.billing) == (QuotaState.COMMITTED, Billing.BILLED)
    assert deliveries(discord_sim, 1) == []


async def test_a_cancel_once_the_post_is_on_its_way_is_refused_truthfully(
    start_bot: BotFactory, apiyi_settings, apiyi_sim: ApiyiSimulator, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(apiyi_settings)
    async with discord_sim.holding(video_post) as posting:
        await generate(bot, discord_sim, prompt="a quick one")
        await asyncio.wait_for(posting.wait(), 10)
        said = await confirm_cancel(bot, discord_sim, 1)
    assert "already being posted" in said
    assert "will not be posted" not in said.splitlines()[-1]
    done = await wait_for_job(bot, 1)
    assert done.status is JobStatus.DELIVERED and done.cancel_requested_at is None
    assert len(deliveries(discord_sim, 1)) == 1
