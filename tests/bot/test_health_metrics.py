"""`/healthz` and `/metrics` on the bot's web server, over real HTTP, with the real bot."""

from __future__ import annotations

import re
from collections.abc import Callable

import aiohttp

from bot.client import VeoBot
from bot.jobs.quota import QuotaRefused
from bot.jobs.requests import RequestInvalid
from bot.settings import Settings
from storage import JobStatus
from tests.conftest import BotFactory, wait_for_job
from tests.jobs.test_manager import submit
from tests.net import free_port
from tests.sim.discord_sim import DiscordSim


async def get(bot: VeoBot, path: str) -> tuple[int, str]:
    assert bot.web is not None
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{bot.web.port}{path}") as response:
            return response.status, await response.text()


def sample(text: str, name: str, **labels: str) -> float:
    """One sample's value from the Prometheus text format."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line))
        if line.split("{")[0].split(" ")[0] == name and found == labels:
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no sample {name}{labels} in:\n{text}")


async def test_healthz_reports_each_part_and_fails_when_one_is_down(
    start_bot: BotFactory, make_settings: Callable[..., Settings], discord_sim: DiscordSim
) -> None:
    bot = await start_bot(make_settings(VEO_HTTP_PORT=free_port()))
    status, body = await get(bot, "/healthz")
    # Logged in but no gateway session (as in every test): not healthy, and it says why.
    assert status == 503
    assert '"gateway": "not connected"' in body and '"database": "writable"' in body
    assert '"job_loop": "running"' in body
    bot._ready.set()  # what the gateway's READY does
    status, body = await get(bot, "/healthz")
    assert status == 200 and '"ok": true' in body
    await bot.manager.stop()
    status, body = await get(bot, "/healthz")
    assert status == 503 and '"job_loop": "stopped or stuck"' in body


async def test_metrics_count_jobs_calls_lag_and_refusals(
    start_bot: BotFactory, make_settings: Callable[..., Settings], discord_sim: DiscordSim
) -> None:
    bot = await start_bot(make_settings(VEO_HTTP_PORT=free_port(), VEO_DAILY_QUOTA=1))
    job = await submit(bot, provider="demo", model="demo-veo")
    await wait_for_job(bot, job.id, frozenset({JobStatus.DELIVERED}))
    try:
        await submit(bot, provider="demo", model="demo-veo")
    except (QuotaRefused, RequestInvalid):
        pass
    status, text = await get(bot, "/metrics")
    assert status == 200
    assert sample(text, "veo_jobs", state="delivered", provider="demo") == 1
    assert sample(text, "veo_queue_depth") == 0 and sample(text, "veo_jobs_active") == 0
    assert sample(text, "veo_vendor_call_seconds_count", provider="demo", call="submit") == 1
    assert sample(text, "veo_vendor_call_seconds_count", provider="demo", call="status") >= 1
    assert sample(text, "veo_vendor_call_seconds_count", provider="demo", call="download") == 1
    assert sample(text, "veo_delivery_lag_seconds_count", provider="demo") == 1
    assert sample(text, "veo_jobs_finished_total", provider="demo", status="delivered") == 1
    assert sample(text, "veo_quota_refusals_total", reason="quota") == 1
