"""Answers in seconds, end to end: the real composition root, the apiyi simulator on its
documented schedule (first check 60 s after the submit), a real SQLite file. A refusal is
told at the first early check, not a minute later; the member's message says when the
vendor took the job; finished renders teach the schedule."""

from __future__ import annotations

import dataclasses
import time

from bot.client import VeoBot
from bot.jobs.schedule import MIN_SAMPLES, render_time
from bot.settings import Settings
from storage import Job, JobStatus, QuotaState
from storage.render_times import RenderKey, RenderTime
from tests.conftest import BotFactory, wait_for_job
from tests.jobs.test_failure_words import SettingsFactory
from tests.jobs.test_manager import submit, usage
from tests.sim.apiyi_sim import ApiyiSimulator
from tests.sim.discord_payloads import CHANNEL_ID
from tests.sim.discord_sim import DiscordSim


def apiyi(make_settings: SettingsFactory, sim: ApiyiSimulator, **more: object) -> Settings:
    return make_settings(APIYI_API_KEY=sim.api_key, APIYI_BASE_URL=sim.base_url, **more)


async def test_a_refusal_is_told_at_the_first_early_check_not_at_the_documented_wait(
    start_bot: BotFactory,
    make_settings: SettingsFactory,
    apiyi_sim: ApiyiSimulator,
    discord_sim: DiscordSim,
) -> None:
    apiyi_sim.make_task_fail("Your prompt was refused by the content policy.")
    bot = await start_bot(apiyi(make_settings, apiyi_sim), timing=None)  # documented: 60 s
    job = await submit(bot)
    running = await wait_for_job(bot, job.id, frozenset({JobStatus.RUNNING}), until=released)
    assert running.submitted_at is not None
    assert running.next_poll_at - running.submitted_at == 5.0  # the first early check
    done = await wait_for_job(bot, job.id, timeout=15)
    assert done.status is JobStatus.FAILED and done.quota_state is QuotaState.REFUNDED
    assert done.finished_at is not None and done.finished_at - running.submitted_at < 10
    assert await usage(bot) == 0
    told = [m for m in discord_sim.messages(CHANNEL_ID) if f"job #{job.id} failed" in m["content"]]
    assert len(told) == 1


async def test_early_checks_can_be_turned_off_per_vendor(
    start_bot: BotFactory, make_settings: SettingsFactory, apiyi_sim: ApiyiSimulator
) -> None:
    settings = apiyi(make_settings, apiyi_sim, VEO_APIYI_EARLY_CHECKS=0)
    bot = await start_bot(settings, timing=None)
    job = await submit(bot)
    running = await wait_for_job(bot, job.id, frozenset({JobStatus.RUNNING}), until=released)
    assert running.submitted_at is not None
    assert running.next_poll_at - running.submitted_at == 60.0


async def test_the_job_message_says_when_the_vendor_took_the_job(
    start_bot: BotFactory,
    make_settings: SettingsFactory,
    apiyi_sim: ApiyiSimulator,
    discord_sim: DiscordSim,
) -> None:
    apiyi_sim.queued_for = None  # the vendor keeps it queued: working on it, not done
    bot = await start_bot(apiyi(make_settings, apiyi_sim))
    job = await submit(bot)
    seen = await wait_for_job(
        bot, job.id, frozenset({JobStatus.RUNNING}), until=lambda j: j.checked_at is not None
    )
    assert seen.stage == "queued"
    shown = bot.publisher.render(seen)
    assert "accepted by APIYI" in shown and "waiting for it to accept" not in shown
    # The same job before any check had seen it at the vendor.
    unseen = bot.publisher.render(dataclasses.replace(seen, stage="submitted"))
    assert "📨 Sent to APIYI, waiting for it to accept" in unseen and "accepted by" not in unseen


async def learn(bot: VeoBot, jobs: int) -> None:
    for _ in range(jobs):
        job = await submit(bot, provider="demo", model="demo-veo")
        done = await wait_for_job(bot, job.id)
        assert done.status is JobStatus.DELIVERED


async def test_finished_renders_teach_the_schedule_and_the_estimates(
    start_bot: BotFactory, make_settings: SettingsFactory
) -> None:
    bot = await start_bot(make_settings(VEO_DAILY_QUOTA=100))
    schedules = bot.manager.crew.schedules
    await learn(bot, MIN_SAMPLES)
    samples = await bot.store.render_times(RenderKey("demo", "demo-veo", "", 0), limit=100)
    assert len(samples) == MIN_SAMPLES
    # Each render is bounded by the checks around it: the demo renders take 0.2 s.
    assert all(0 <= s.low <= 0.2 + 0.05 <= s.high + 0.05 and s.high < 2 for s in samples)
    typical = schedules.typical("demo", "demo-veo")
    assert typical is not None and 0.1 < typical.median < 1.0
    job = await submit(bot, provider="demo", model="demo-veo")
    plan = await schedules.plan(job)
    assert plan.learned
    shown = bot.publisher.render(await wait_for_job(bot, job.id))
    assert shown.startswith(f"🎬 **Job #{job.id}**")
    assert time.time() - job.created_at < 10


async def test_with_learning_off_every_job_keeps_the_documented_schedule(
    start_bot: BotFactory, make_settings: SettingsFactory
) -> None:
    bot = await start_bot(make_settings(VEO_LEARN_SCHEDULES=False, VEO_DAILY_QUOTA=100))
    await learn(bot, MIN_SAMPLES)
    schedules = bot.manager.crew.schedules
    assert schedules.typical("demo", "demo-veo") is None
    job = await submit(bot, provider="demo", model="demo-veo")
    assert not (await schedules.plan(job)).learned


async def test_a_render_seen_only_after_a_long_gap_teaches_nothing(
    start_bot: BotFactory, make_settings: SettingsFactory
) -> None:
    """A bot stopped for ten minutes (or backing off from a failing vendor) sees a render
    done long after it was: that gap says nothing about the vendor, so it is not kept."""
    bot = await start_bot(make_settings())
    job = await submit(bot, provider="demo", model="demo-veo")
    row = await wait_for_job(bot, job.id)
    assert row.submitted_at is not None
    start = row.submitted_at
    seen = dataclasses.replace(row, checked_at=start + 10, poked_at=None)
    assert render_time(seen, start + 12, widest=5) == RenderTime(10, 12, start + 12)
    assert render_time(seen, start + 610, widest=5) is None
    # A callback dates it exactly, however late the check that followed.
    called = dataclasses.replace(seen, poked_at=start + 11)
    assert render_time(called, start + 610, widest=5) == RenderTime(11, 11, start + 610)


async def test_a_late_check_skips_what_is_under_half_a_step_away_at_any_clock_reading(
    start_bot: BotFactory, make_settings: SettingsFactory
) -> None:
    """Found by a test that hung: on the clock's scale (1.8e9 s) a 0.05-s step could
    round away, and the catching-up loop never ended. The next check is at least half a
    step ahead, and always comes."""
    bot = await start_bot(make_settings())
    schedules = bot.manager.crew.schedules
    job = await submit(bot, provider="demo", model="demo-veo")
    row = await wait_for_job(bot, job.id)
    plan = await schedules.plan(row)
    assert row.submitted_at is not None and plan.gap == 0.05
    for late in range(400):
        now = row.submitted_at + 0.2 + late * 0.0137
        at = await schedules.next_check_at(row, now)
        assert now + plan.gap / 2 <= at + 1e-6 and at - now <= 1.5 * plan.gap + 1e-6


def released(job: Job) -> bool:
    """The submit's last write has landed: the task id is stored in one write, and the job
    is given back with its first check in the next (a look between the two sees neither)."""
    return job.lease_owner is None
