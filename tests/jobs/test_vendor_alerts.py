"""Admins hear when a vendor seems down (a streak of failed calls) and when it is back,
against the real apiyi and Discord simulators: once per streak, never per failure, and
never with the key in the text."""

from __future__ import annotations

from collections.abc import Callable

from bot.client import VeoBot
from bot.settings import Settings
from storage import Job, JobStatus, QuotaState
from tests.conftest import BotFactory, wait_for_job
from tests.jobs.test_manager import submit
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
