"""Promises that cost the operator money when broken, against the real apiyi and Discord
simulators, a real SQLite file and the real composition root:

- a cancel recorded before the submit request leaves stops it (nothing is sent);
- a vendor's task id, once received, is stored before anything slow runs, and a
  database that refuses the write is tried again; a write that never succeeds ends the
  job "uncertain" with its spend counted;
- spend caps count what the vendor probably billed (billed and possibly billed), while
  the member is refunded whenever they got no video;
- an admin's quota reset gives back exactly what was used at that moment.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.chat.failures import job_failure_text
from bot.chat.stats_view import stats_embed
from bot.client import VeoBot
from bot.jobs.access import Asker
from bot.jobs.quota import QuotaRefused
from bot.jobs.requests import GenerationRequest
from bot.providers.base import Timing
from bot.providers.codes import Failure
from bot.settings import Settings
from storage import Billing, JobStatus, QuotaState
from tests.chat.test_failures import BEFORE
from tests.conftest import BotFactory, wait_for_job
from tests.crash.conftest import until
from tests.jobs.test_manager import FAST, origin, submit
from tests.postgres import SQLITE_ONLY
from tests.sim.apiyi_sim import ApiyiSimulator
from tests.sim.discord_payloads import CHANNEL_ID, GUILD_ID, USER_ID
from tests.sim.discord_sim import DiscordSim, SimRequest

SettingsFactory = Callable[..., Settings]
ALERTS = CHANNEL_ID + 1


def apiyi(make_settings: SettingsFactory, sim: ApiyiSimulator, **extra: object) -> Settings:
    values: dict[str, object] = {"VEO_MAX_ACTIVE_PER_USER": 5, "VEO_DAILY_QUOTA": 5, **extra}
    return make_settings(APIYI_API_KEY=sim.api_key, APIYI_BASE_URL=sim.base_url, **values)


def prompts(sim: ApiyiSimulator) -> list[str]:
    return [str(r.json["prompt"]) for r in sim.submits() if isinstance(r.json, dict)]


def price(bot: VeoBot) -> float:
    spec = bot.providers.model("apiyi", FAST)
    assert spec is not None and spec.price_usd
    return spec.price_usd


# -- a cancel before the request leaves --------------------------------------------------


async def test_a_cancel_while_the_job_waits_its_turn_stops_the_submit(
    start_bot: BotFactory, make_settings: SettingsFactory, apiyi_sim: ApiyiSimulator
) -> None:
    apiyi_sim.queued_for = None  # the first job stays at the vendor
    # 20 requests a minute: the second submit waits about 3 s for its turn, `submitting`.
    bot = await start_bot(apiyi(make_settings, apiyi_sim, VEO_APIYI_RATE_PER_MINUTE=20))
    first = await submit(bot, prompt="first")
    await wait_for_job(bot, first.id, frozenset({JobStatus.RUNNING}))
    second = await submit(bot, prompt="second", where=origin(user_id=USER_ID + 1))
    waiting = await wait_for_job(bot, second.id, frozenset({JobStatus.SUBMITTING}))
    assert waiting.sent_at is None

    cancelled = await bot.store.request_cancel(second.id)
    assert cancelled is not None and cancelled.cancel_requested_at is not None
    bot.manager.queue_changed()
    done = await wait_for_job(bot, second.id, timeout=20)
    assert done.status is JobStatus.CANCELLED
    assert (done.quota_state, done.billing) == (QuotaState.REFUNDED, Billing.NOT_BILLED)
    assert prompts(apiyi_sim) == ["first"]  # the second request never left
    assert await bot.store.usage(USER_ID + 1, done.quota_day, GUILD_ID) == 0


# -- a task id, once received, is never lost ---------------------------------------------


def refuse_task_ids(path: Path) -> None:
    """Make the database itself refuse to store any task id (a write error, as a locked
    or full database gives) until `allow_task_ids`."""
    with sqlite3.connect(path) as conn:
        conn.executescript(
            """
            CREATE TABLE IF NOT EXISTS test_fault (on_ INTEGER);
            INSERT INTO test_fault VALUES (1);
            CREATE TRIGGER IF NOT EXISTS test_refuse_task_id BEFORE UPDATE OF task_id ON jobs
            WHEN NEW.task_id IS NOT NULL AND EXISTS (SELECT 1 FROM test_fault)
            BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;
            """
        )
    conn.close()


def allow_task_ids(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM test_fault")
    conn.close()


@SQLITE_ONLY
async def test_a_task_id_write_refused_for_a_while_is_tried_again(
    start_bot: BotFactory,
    make_settings: SettingsFactory,
    apiyi_sim: ApiyiSimulator,
    discord_sim: DiscordSim,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = apiyi(make_settings, apiyi_sim)
    bot = await start_bot(settings)
    refuse_task_ids(settings.db_path)
    with caplog.at_level(logging.WARNING, logger="bot.jobs.loop"):
        job = await submit(bot)
        await until(lambda: "could not store task id" in caplog.text, "a refused write")
    allow_task_ids(settings.db_path)
    done = await wait_for_job(bot, job.id, timeout=20)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    assert len(apiyi_sim.submits()) == 1
    assert (done.quota_state, done.billing) == (QuotaState.COMMITTED, Billing.BILLED)


@SQLITE_ONLY
async def test_a_task_id_that_can_never_be_stored_ends_uncertain_and_counts(
    start_bot: BotFactory,
    make_settings: SettingsFactory,
    apiyi_sim: ApiyiSimulator,
    discord_sim: DiscordSim,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = apiyi(make_settings, apiyi_sim)
    bot = await start_bot(settings)
    bot.manager.task_id_write_retries = (0.01, 0.02)
    refuse_task_ids(settings.db_path)
    job = await submit(bot)
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.error_code) == (JobStatus.FAILED, "uncertain")
    assert job_failure_text(done) == BEFORE["task_lost"]
    assert Failure.load_params(done.error_params) == {"step": "store_task_id"}
    # The member got nothing: refunded. The vendor renders and bills anyway: counted.
    assert (done.quota_state, done.billing) == (QuotaState.REFUNDED, Billing.POSSIBLY_BILLED)
    assert await bot.service.spent_today(GUILD_ID) == pytest.approx(price(bot))
    [task] = apiyi_sim.submits()
    assert len(apiyi_sim.submits()) == 1
    # The operator can find the task at the vendor from the log.
    [task_id] = list(apiyi_sim.tasks)
    assert any(task_id in r.getMessage() for r in caplog.records if r.levelname == "ERROR")
    assert task is not None


async def test_the_vendor_is_back_alert_waits_until_the_task_id_is_stored(
    start_bot: BotFactory,
    make_settings: SettingsFactory,
    apiyi_sim: ApiyiSimulator,
    discord_sim: DiscordSim,
) -> None:
    """A submit that ends an outage must store its task id before telling the admins
    (a stop or crash during that post would otherwise lose it)."""
    settings = apiyi(make_settings, apiyi_sim, VEO_ALERT_FAILURE_STREAK=2, VEO_VENDOR_COOLDOWN=0.05)
    bot = await start_bot(settings)
    await bot.service.guilds.set(GUILD_ID, alert_channel_id=ALERTS)
    apiyi_sim.queued_for = None
    apiyi_sim.fail_next_submit_with(502)
    apiyi_sim.fail_next_submit_with(502)

    def back_alert(request: SimRequest) -> bool:
        content = str((request.json or {}).get("content") or "")
        return request.method == "POST" and "is back" in content

    async with discord_sim.holding(back_alert) as telling:
        job = await submit(bot)
        await asyncio.wait_for(telling.wait(), 10)
        await until(lambda: len(apiyi_sim.submits()) == 3, "the third submit")
        stored = await bot.store.get(job.id)
        assert stored is not None and stored.task_id is not None  # stored before the post
    running = await wait_for_job(bot, job.id, frozenset({JobStatus.RUNNING}))
    assert running.task_id == stored.task_id


# -- spend caps count what the vendor probably billed --------------------------------------


@pytest.mark.parametrize("how", ["uncertain", "deadline"])
async def test_unresolved_jobs_count_against_the_spend_cap_but_refund_the_member(
    start_bot: BotFactory,
    make_settings: SettingsFactory,
    apiyi_sim: ApiyiSimulator,
    discord_sim: DiscordSim,
    how: str,
) -> None:
    """A vendor that times out on submits (but takes them), or never finishes in time,
    may still render and bill: those jobs keep counting, so a server's cap still trips."""
    if how == "uncertain":
        apiyi_sim.delay_submit = 5.0
        settings = apiyi(make_settings, apiyi_sim, VEO_REQUEST_TIMEOUT=0.3)
        timing = None
    else:
        apiyi_sim.queued_for = None
        settings = apiyi(make_settings, apiyi_sim)
        timing = Timing(initial_wait=0.05, poll_interval=0.05, deadline=0.3)
    bot = await start_bot(settings, **({"timing": timing} if timing else {}))
    await bot.service.guilds.set(GUILD_ID, daily_budget_usd=price(bot))
    job = await submit(bot)
    done = await wait_for_job(bot, job.id, timeout=15)
    assert (done.status, done.error_code) == (JobStatus.FAILED, how)
    assert (done.quota_state, done.billing) == (QuotaState.REFUNDED, Billing.POSSIBLY_BILLED)
    assert await bot.store.usage(USER_ID, done.quota_day, GUILD_ID) == 0

    request = GenerationRequest(provider="apiyi", model=FAST, prompt="again")
    with pytest.raises(QuotaRefused, match="spending limit"):
        await bot.service.accept(request, [], origin(user_id=USER_ID + 1))

    admin = Asker(USER_ID + 7, GUILD_ID, manage_guild=True)
    stats = await bot.service.admin.stats(admin, days=7)
    assert stats.total_spend == pytest.approx(price(bot))
    assert stats.possibly_billed == pytest.approx(price(bot))
    shown = stats_embed(stats, days=7).to_dict()
    spend = next(f["value"] for f in shown["fields"] if f["name"] == "Estimated spend")
    assert f"${price(bot):.2f} was possibly billed" in spend


async def test_a_refused_or_failed_render_does_not_count(
    start_bot: BotFactory,
    make_settings: SettingsFactory,
    apiyi_sim: ApiyiSimulator,
    discord_sim: DiscordSim,
) -> None:
    bot = await start_bot(apiyi(make_settings, apiyi_sim))
    apiyi_sim.make_task_fail("the prompt was refused")
    job = await submit(bot)
    done = await wait_for_job(bot, job.id)
    assert done.status is JobStatus.FAILED
    assert (done.quota_state, done.billing) == (QuotaState.REFUNDED, Billing.NOT_BILLED)
    assert await bot.service.spent_today(GUILD_ID) == 0.0


# -- a quota reset gives back exactly what was used ----------------------------------------


async def test_a_reset_while_a_job_runs_does_not_over_grant(
    start_bot: BotFactory,
    make_settings: SettingsFactory,
    apiyi_sim: ApiyiSimulator,
    discord_sim: DiscordSim,
) -> None:
    apiyi_sim.queued_for = None
    bot = await start_bot(apiyi(make_settings, apiyi_sim, VEO_DAILY_QUOTA=2))
    running = await submit(bot, prompt="running")
    held = await wait_for_job(bot, running.id, frozenset({JobStatus.RUNNING}))
    day = held.quota_day
    assert await bot.store.usage(USER_ID, day, GUILD_ID) == 1

    admin = Asker(USER_ID + 7, GUILD_ID, manage_guild=True)
    assert await bot.service.admin.reset_quota(admin, USER_ID) == 1  # an admin gives it back
    assert await bot.store.usage(USER_ID, day, GUILD_ID) == 0
    after = await submit(bot, prompt="after the reset")
    await wait_for_job(bot, after.id, frozenset({JobStatus.RUNNING}))
    assert await bot.store.usage(USER_ID, day, GUILD_ID) == 1

    # The job from before the reset fails: its unit was already given back by the reset,
    # so the refund must not come off the new job's reservation.
    assert held.task_id is not None
    apiyi_sim.set_task_status(held.task_id, "failed")
    failed = await wait_for_job(bot, running.id)
    assert failed.status is JobStatus.FAILED
    assert failed.quota_state is QuotaState.WAIVED
    assert await bot.store.usage(USER_ID, day, GUILD_ID) == 1
    # Nor can an admin refund it a second time.
    refunded = await bot.store.refund(running.id)
    assert refunded is not None and refunded.quota_state is QuotaState.WAIVED
    assert await bot.store.usage(USER_ID, day, GUILD_ID) == 1
