"""Admins hear when a vendor seems down (a streak of failed calls) and when it is back,
against the real apiyi and Discord simulators: once per streak, never per failure, and
never with the key in the text."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from bot.client import VeoBot
from bot.jobs.requests import GenerationRequest
from bot.settings import Settings
from storage import Job, JobStatus, QuotaState
from tests.conftest import BotFactory, wait_for_job
from tests.jobs.test_manager import FAST, origin, submit
from tests.sim.apiyi_sim import ApiyiSimulator
from tests.sim.discord_payloads import CHANNEL_ID, GUILD_ID
from tests.sim.discord_sim import DiscordSim

ALERTS = CHANNEL_ID + 1
DOWN = "⚠️ **apiyi** seems to be down: 3 requests in a row failed"
BACK = "✅ **apiyi** is back"


async def run_through(bot: VeoBot, sim: ApiyiSimulator, prompt: str, failures: int) -> Job:
    """A job whose first `failures` status checks get a 502; it must still be delivered."""
    for _ in range(failures):
        sim.queue_status_error(502)
    job = await submit(bot, prompt=prompt)
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.quota_state) == (JobStatus.DELIVERED, QuotaState.COMMITTED)
    assert not sim.status_errors  # every scripted failure was met
    return done


def alerts(sim: DiscordSim) -> list[str]:
    return [str(m["content"]) for m in sim.messages(ALERTS)]


async def test_a_streak_of_failures_alerts_once_and_the_recovery_is_told(
    start_bot: BotFactory,
    make_settings: Callable[..., Settings],
    apiyi_sim: ApiyiSimulator,
    discord_sim: DiscordSim,
) -> None:
    settings = make_settings(
        APIYI_API_KEY=apiyi_sim.api_key,
        APIYI_BASE_URL=apiyi_sim.base_url,
        VEO_ALERT_FAILURE_STREAK=3,
        VEO_MAX_ACTIVE_PER_USER=5,
        VEO_DAILY_QUOTA=10,
    )
    bot = await start_bot(settings)
    assert bot.manager.alert_failure_streak == 3  # the setting reaches the manager
    await bot.service.guilds.set(GUILD_ID, alert_channel_id=ALERTS)

    # Below the streak: nothing. The success in between starts the count again (2 + 2).
    await run_through(bot, apiyi_sim, "one", failures=2)
    await run_through(bot, apiyi_sim, "two", failures=2)
    assert alerts(discord_sim) == []

    # Five in a row: one alert at the third, none for the fourth and fifth; then the
    # vendor answers again and the admins are told it is back.
    await run_through(bot, apiyi_sim, "three", failures=5)
    down, back = alerts(discord_sim)
    assert down.startswith(DOWN)
    assert "(last: The video service is having trouble right now" in down
    assert "nothing is charged for jobs that fail" in down
    assert apiyi_sim.api_key not in down and "http" not in down
    assert back.startswith(BACK) and "after 5 failed in a row" in back

    # A new outage within the hour: the hourly limit holds it back, and so no "back"
    # either (admins were last told it works, which is still true).
    await run_through(bot, apiyi_sim, "four", failures=4)
    assert alerts(discord_sim) == [down, back]
    # The members never saw the outage: every job was delivered (asserted above).


async def test_processes_alerting_about_one_outage_together_post_it_once(
    start_bot: BotFactory, make_settings: Callable[..., Settings], discord_sim: DiscordSim
) -> None:
    """Every process sees the outage in its own calls; the server's admins read of it once
    an hour, not once per process (the database remembers when it was posted)."""
    settings = make_settings(APIYI_API_KEY="k", APIYI_BASE_URL="http://127.0.0.1:9")
    bots = [await start_bot(settings) for _ in range(3)]
    await bots[0].service.guilds.set(GUILD_ID, alert_channel_id=ALERTS)
    job = await submit_only(bots[0])
    params = {"provider": "apiyi", "count": 3}
    posted = await asyncio.gather(
        *(b.publisher.operator_alert(job, params, kind="down") for b in bots)
    )
    assert sorted(posted) == [False, False, True]
    assert len([a for a in alerts(discord_sim) if a.startswith(DOWN)]) == 1
    # An hour later the next one may go out again, from whichever process sees it first.
    later = [await start_bot(settings, clock=lambda: time.time() + 3601)]
    assert await later[0].publisher.operator_alert(job, params, kind="down")


async def submit_only(bot: VeoBot) -> Job:
    """A job row to alert about; its manager never sends it anywhere."""
    await bot.manager.stop()
    request = GenerationRequest(provider="apiyi", model=FAST, prompt="x")
    return await bot.service.accept(request, [], origin())
