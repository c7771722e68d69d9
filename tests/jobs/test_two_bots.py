"""Two bots on one database file (two processes, as far as the file is concerned), with
the real Discord simulator: a job's end is told once, whichever of them tells it, and a
bot does not keep state for jobs another one finished."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from bot.client import VeoBot
from bot.jobs.requests import GenerationRequest
from bot.settings import Settings
from storage import JobStatus, JobStore
from tests.conftest import BotFactory, wait_for_job
from tests.jobs.test_manager import FAST, origin
from tests.sim.discord_payloads import CHANNEL_ID, GUILD_ID
from tests.sim.discord_sim import DiscordSim, SimRequest

SettingsFactory = Callable[..., Settings]


def pings(sim: DiscordSim, job_id: int) -> list[SimRequest]:
    return [
        r
        for r in sim.find_requests("POST", r"/channels/\d+/messages$")
        if isinstance(r.json, dict) and f"job #{job_id} failed" in str(r.json.get("content"))
    ]


async def failed_untold_job(bot: VeoBot) -> int:
    """A job that failed a minute ago in a process that died before telling its member."""
    request = GenerationRequest(provider="apiyi", model=FAST, prompt="x")
    job = await bot.service.accept(request, [], origin())
    channel = bot.get_partial_messageable(CHANNEL_ID, guild_id=GUILD_ID)
    message = await channel.send(bot.publisher.render(job))
    await bot.store.release_hold(job.id, status_message_id=message.id)
    [claimed] = await bot.store.claim_due("dead", lease_seconds=60, limit=1)
    earlier = JobStore(bot.db, clock=lambda: time.time() - 60)
    await earlier.finish(
        claimed, "dead", JobStatus.FAILED, refund=True, error_code="internal_error"
    )
    return job.id


async def test_two_bots_tell_a_failure_once(
    start_bot: BotFactory, make_settings: SettingsFactory, discord_sim: DiscordSim
) -> None:
    settings = make_settings(APIYI_API_KEY="k", APIYI_BASE_URL="http://127.0.0.1:9")
    setup = await start_bot(settings)
    await setup.manager.stop()  # only writes the job
    job_id = await failed_untold_job(setup)

    def ping(request: SimRequest) -> bool:
        content = str((request.json or {}).get("content"))
        return request.method == "POST" and f"job #{job_id} failed" in content

    # Discord is slow to answer the first teller.
    async with discord_sim.holding(ping) as first_ping:
        await start_bot(settings)
        await start_bot(settings)
        await asyncio.wait_for(first_ping.wait(), 10)
        await asyncio.sleep(1.0)  # both bots' look for untold jobs has run by now
        assert len(pings(discord_sim, job_id)) == 1
    await asyncio.sleep(0.2)
    assert len(pings(discord_sim, job_id)) == 1


async def test_a_bot_forgets_jobs_another_bot_finished(
    start_bot: BotFactory, apiyi_settings: Settings, apiyi_sim, discord_sim: DiscordSim
) -> None:
    now = [time.time()]
    shower = await start_bot(apiyi_settings, clock=lambda: now[0])
    await shower.manager.stop()  # this one only shows jobs; the other one works them
    apiyi_sim.queued_for = None
    worker = await start_bot(apiyi_settings)
    request = GenerationRequest(provider="apiyi", model=FAST, prompt="x")
    job = await worker.service.accept(request, [], origin())
    channel = worker.get_partial_messageable(CHANNEL_ID, guild_id=GUILD_ID)
    message = await channel.send(worker.publisher.render(job))
    await worker.service.started(job, message.id)
    running = await wait_for_job(worker, job.id, frozenset({JobStatus.RUNNING}))
    await shower.publisher.job_updated(running)  # it showed the job once
    assert job.id in shower.publisher.tracked_jobs()

    assert running.task_id is not None
    apiyi_sim.set_task_status(running.task_id, "completed")
    await wait_for_job(worker, job.id)  # the other bot delivers it; this one never hears
    now[0] += 2 * 3600
    later = await worker.service.accept(request, [], origin(user_id=origin().user_id + 1))
    shown = await channel.send(worker.publisher.render(later))
    await worker.service.started(later, shown.id)
    fresh = await worker.store.get(later.id)
    assert fresh is not None
    await shower.publisher.job_updated(fresh)  # its next update prunes what went stale
    assert shower.publisher.tracked_jobs() == {later.id}
