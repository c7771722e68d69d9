"""Vendor limits and outages: pacing, the task cap, the circuit breaker and fallback."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from bot.jobs.health import VendorHealth
from bot.jobs.pacing import TokenBucket
from bot.jobs.requests import GenerationRequest, RequestInvalid
from bot.providers.base import Mode
from bot.settings import DEFAULT_MAX_TASKS, Settings, limits_for
from storage import JobStatus
from tests.conftest import BotFactory, wait_for_job
from tests.jobs.test_manager import origin
from tests.sim.apiyi_sim import ApiyiSimulator
from tests.sim.discord_sim import DiscordSim

FAST = "veo-3.1-fast-generate-preview"


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_streak_marks_a_vendor_down_until_the_cooldown_or_an_answer() -> None:
    time = FakeTime()
    health = VendorHealth(streak=3, cooldown=60, clock=time.clock)
    assert [health.failed("apiyi") for _ in range(2)] == [1, 2]
    assert health.is_healthy("apiyi")
    health.failed("apiyi")
    assert not health.is_healthy("apiyi") and health.retry_in("apiyi") == 60
    assert health.is_healthy("apixo")  # one vendor's outage is its own
    time.now = 59.0
    assert not health.is_healthy("apiyi")
    time.now = 60.0
    assert health.is_healthy("apiyi")  # cooled down: new jobs may try again
    health.failed("apiyi")
    assert not health.is_healthy("apiyi")  # ...and one more failure closes it again
    assert health.ok("apiyi") == 4 and health.is_healthy("apiyi") and health.failures("apiyi") == 0


async def test_the_bucket_spaces_calls_to_the_rate_after_a_burst() -> None:
    time = FakeTime()
    bucket = TokenBucket(rate=2.0, burst=2.0, clock=time.clock, sleep=time.sleep)
    for _ in range(6):
        await bucket.acquire()
    # Two at once, then one every half second.
    assert time.now == pytest.approx(2.0)
    assert all(s == pytest.approx(0.5) for s in time.slept) and len(time.slept) == 4


async def test_concurrent_waiters_never_exceed_the_rate() -> None:
    time = FakeTime()
    bucket = TokenBucket(rate=10.0, burst=1.0, clock=time.clock, sleep=time.sleep)
    done: list[float] = []

    async def call() -> None:
        await bucket.acquire()
        done.append(time.now)

    await asyncio.gather(*(call() for _ in range(20)))
    assert len(done) == 20
    assert time.now == pytest.approx(1.9)  # 1 at once, then 19 spaced by 0.1 s


def test_documented_limits_are_the_defaults_and_the_operator_wins() -> None:
    assert limits_for("apixo").rate_per_minute == 10_000 and limits_for("apixo").max_tasks == 1000
    assert limits_for("veo3o1").max_tasks == DEFAULT_MAX_TASKS
    assert limits_for("apixo", max_tasks=3).max_tasks == 3
    settings = Settings(_env_file=None, VEO_APIYI_MAX_TASKS=2, VEO_APIYI_RATE_PER_MINUTE=30)  # type: ignore[call-arg]
    assert settings.vendor_limits()["apiyi"].max_tasks == 2
    assert settings.vendor_limits()["apiyi"].rate_per_minute == 30


def request(provider: str = "apiyi", model: str = FAST) -> GenerationRequest:
    return GenerationRequest(provider=provider, model=model, prompt="a fox", mode=Mode.TEXT)


ORIGIN = origin()


async def test_a_vendor_that_is_down_is_refused_or_routed_to_the_fallback(
    start_bot: BotFactory,
    make_settings: Callable[..., Settings],
    apiyi_sim: ApiyiSimulator,
    discord_sim: DiscordSim,
) -> None:
    settings = make_settings(
        APIYI_API_KEY=apiyi_sim.api_key,
        APIYI_BASE_URL=apiyi_sim.base_url,
        VEO_DEMO=True,
        VEO_ALERT_FAILURE_STREAK=3,
        VEO_MAX_ACTIVE_PER_USER=5,
    )
    bot = await start_bot(settings)
    for _ in range(200):
        apiyi_sim.queue_status_error(502)
    first = await bot.service.accept(request(), [], ORIGIN)
    await bot.service.started(first, None)
    for _ in range(500):
        if not bot.health.is_healthy("apiyi"):
            break
        await asyncio.sleep(0.02)
    assert not bot.health.is_healthy("apiyi")
    # No fallback configured: refused before anything is charged.
    with pytest.raises(RequestInvalid, match="is not answering right now") as refused:
        await bot.service.accept(request(), [], ORIGIN)
    assert "Nothing was charged" in str(refused.value)
    assert len(apiyi_sim.submits()) == 1
    # With a fallback order, the request goes to the next vendor that can do it.
    bot.settings.provider_fallback = ["apixo", "demo"]  # apixo is not enabled: skipped
    routed = await bot.service.accept(request(), [], ORIGIN)
    assert (routed.provider, routed.model) == ("demo", "demo-veo")
    await bot.service.started(routed, None)
    # The vendor answers again: the outage ends and apiyi takes new jobs.
    apiyi_sim.status_errors.clear()
    done = await wait_for_job(bot, first.id)
    assert done.status is JobStatus.DELIVERED
    assert bot.health.is_healthy("apiyi")
    again = await bot.service.accept(request(), [], ORIGIN)
    assert again.provider == "apiyi"


async def test_the_task_cap_keeps_later_jobs_queued_until_a_slot_frees(
    start_bot: BotFactory,
    make_settings: Callable[..., Settings],
    apiyi_sim: ApiyiSimulator,
    discord_sim: DiscordSim,
) -> None:
    apiyi_sim.running_for = 0.4
    settings = make_settings(
        APIYI_API_KEY=apiyi_sim.api_key,
        APIYI_BASE_URL=apiyi_sim.base_url,
        VEO_APIYI_MAX_TASKS=1,
        VEO_MAX_ACTIVE_PER_USER=5,
    )
    bot = await start_bot(settings)
    jobs = []
    for _ in range(3):
        job = await bot.service.accept(request(), [], ORIGIN)
        await bot.service.started(job, None)
        jobs.append(job)
    waited = False
    for _ in range(200):
        second = await bot.store.get(jobs[1].id)
        assert second is not None
        waited = waited or second.stage == "waiting for a free slot at the video service"
        if not second.is_active:
            break
        await asyncio.sleep(0.02)
    done = [await wait_for_job(bot, job.id) for job in jobs]
    assert all(d.status is JobStatus.DELIVERED for d in done)
    assert waited
    # One task at the vendor at a time: each was sent after the one before it finished.
    for before, after in zip(done, done[1:], strict=False):
        assert before.completed_at is not None and after.submitted_at is not None
        assert after.submitted_at >= before.completed_at
