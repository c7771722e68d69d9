"""apixo's callbacks are a hint, never the truth: with VEO_PUBLIC_URL the bot asks apixo
to call it back, but a callback that never comes must not strand the job (polling finishes
it), and one that comes early or with a forged body must only make the bot ask the vendor
now. The real web server, the apixo simulator, the real job manager."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest

from bot.providers.apixo.catalog import FAST
from bot.settings import Settings
from storage import JobStatus, QuotaState
from tests.conftest import BotFactory, wait_for_job
from tests.faults import UNPACED, LateFileServer
from tests.jobs.test_manager import deliveries
from tests.net import free_port
from tests.providers.apixo.test_e2e import posted_video, submit
from tests.sim.apixo_sim import ApixoSimulator
from tests.sim.discord_sim import DiscordSim


@pytest.fixture
async def sim() -> AsyncIterator[ApixoSimulator]:
    s = ApixoSimulator(queued_for=0.1, running_for=0.1)
    await s.start()
    try:
        yield s
    finally:
        await s.close()


def callback_settings(
    make_settings: Callable[..., Settings],
    sim: ApixoSimulator,
    *,
    wait: float,
    poll: float,
    early_checks: int = 3,
) -> Settings:
    port = free_port()
    return make_settings(
        APIXO_API_KEY=sim.api_key,
        APIXO_BASE_URL=sim.base_url,
        VEO_HTTP_PORT=port,
        VEO_PUBLIC_URL=f"http://127.0.0.1:{port}",
        VEO_APIXO_INITIAL_WAIT=wait,
        VEO_APIXO_POLL_INTERVAL=poll,
        VEO_APIXO_RATE_PER_MINUTE=UNPACED,
        VEO_APIXO_EARLY_CHECKS=early_checks,
    )


async def test_a_callback_that_never_comes_is_covered_by_polling(
    start_bot: BotFactory,
    make_settings: Callable[..., Settings],
    sim: ApixoSimulator,
    discord_sim: DiscordSim,
) -> None:
    sim.callbacks_enabled = False  # the vendor never calls back
    sim.queued_for = sim.running_for = 0.25
    bot = await start_bot(callback_settings(make_settings, sim, wait=0.1, poll=0.1))
    job = await submit(bot, model=FAST)
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.quota_state) == (JobStatus.DELIVERED, QuotaState.COMMITTED)
    [sent] = sim.submits()
    assert sent.json["request_type"] == "callback"  # it did ask for one
    assert sim.callbacks == []
    assert len(sim.status_polls()) >= 3  # polling saw it pending, running, done
    assert posted_video(discord_sim, job.id) == sim.video_bytes
    # Without a callback the render is known to have ended between two checks.
    assert done.checked_at is not None and done.submitted_at is not None
    assert done.completed_at is not None
    [sample] = await bot.store.render_times(bot.manager.crew.schedules.key(done), limit=5)
    assert sample.low == pytest.approx(done.checked_at - done.submitted_at)
    assert sample.high == pytest.approx(done.completed_at - done.submitted_at)
    assert sample.high > sample.low


def forged(task_id: str, kind: str, url: str) -> dict[str, Any]:
    data: dict[str, Any] = {"taskId": task_id, "state": kind, "completeTime": 1}
    if kind == "success":
        data["resultJson"] = json.dumps({"resultUrls": [url]})
    else:
        data.update(failCode="CONTENT_VIOLATION", failMsg="Content violates usage policy")
    return {"code": 200, "message": "success", "data": data}


@pytest.mark.parametrize("kind", ["success", "failed"])
async def test_an_early_or_forged_callback_only_makes_the_bot_ask_the_vendor(
    start_bot: BotFactory,
    make_settings: Callable[..., Settings],
    sim: ApixoSimulator,
    discord_sim: DiscordSim,
    kind: str,
) -> None:
    sim.queued_for = None  # the vendor holds the task until the test moves it
    # Polls a minute apart and no early checks: within this test only callbacks make the
    # bot look.
    settings = callback_settings(make_settings, sim, wait=60, poll=60, early_checks=0)
    bot = await start_bot(settings, timing=None)
    elsewhere = LateFileServer(free_port())
    await elsewhere.start()
    try:
        job = await submit(bot, model=FAST)
        running = await wait_for_job(bot, job.id, frozenset({JobStatus.RUNNING}))
        assert running.task_id is not None and running.callback_token is not None
        assert sim.status_polls() == []
        # Before the task is done, a body claiming it ended (with a link elsewhere, or
        # a failure) arrives at the job's callback address.
        url = f"{settings.public_url}/callbacks/apixo/{running.callback_token}"
        body = forged(running.task_id, kind, elsewhere.url)
        async with aiohttp.ClientSession() as http, http.post(url, json=body) as resp:
            assert resp.status == 200
        asked = time.monotonic()
        while not sim.status_polls() and time.monotonic() - asked < 5:
            await asyncio.sleep(0.02)
        after = await wait_for_job(
            bot, job.id, frozenset({JobStatus.RUNNING}), until=lambda j: j.lease_owner is None
        )
        # The hint made the bot ask at once; the vendor said "pending"; nothing else moved.
        assert len(sim.status_polls()) == 1
        assert after.result_url is None and after.quota_state is QuotaState.RESERVED
        assert after.next_poll_at - after.updated_at > 30  # back to the slow schedule
        assert elsewhere.gets == 0 and sim.file_gets() == []
        # Now the vendor really finishes, and calls back itself.
        sim.set_task_status(running.task_id, "success")
        done = await wait_for_job(bot, job.id)
        assert (done.status, done.quota_state) == (JobStatus.DELIVERED, QuotaState.COMMITTED)
        assert done.result_url == sim.file_url(running.task_id)
        assert elsewhere.gets == 0
        assert posted_video(discord_sim, job.id) == sim.video_bytes
        assert len(deliveries(discord_sim, job.id)) == 1
        assert sim.callbacks and sim.callbacks[-1].status == 200
        # The vendor's own callback dates the render exactly (the forged one, answered
        # "pending" by the check after it, does not).
        assert done.poked_at is not None and done.submitted_at is not None
        [sample] = await bot.store.render_times(bot.manager.crew.schedules.key(done), limit=5)
        assert sample.low == sample.high == pytest.approx(done.poked_at - done.submitted_at)
    finally:
        await elsewhere.close()
