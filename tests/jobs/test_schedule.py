"""Each job's check plan: early checks, the documented schedule, and the schedule learned
from a model's recent renders, with its fallbacks and the operator's overrides. The
samples go through a real SQLite store, written the way a finished render writes them."""

from __future__ import annotations

import dataclasses
import random
import statistics
import time
from pathlib import Path

import aiohttp
import pytest

from bot.jobs.schedule import (
    MIN_SAMPLES,
    Distribution,
    Plan,
    Schedules,
    documented_plan,
    learn,
)
from bot.providers.base import Timing
from bot.providers.registry import build_providers
from bot.settings import Settings
from storage import Database, JobStore
from storage.render_times import RenderKey, RenderTime

APIYI = Timing(initial_wait=60, poll_interval=5, deadline=900)


def checks(plan: Plan, until: float) -> list[float]:
    out, at = [], 0.0
    while True:
        at = plan.next_check(at)
        if at > until:
            return out
        out.append(round(at, 3))


def normal_renders(n: int, mean: float = 60.0, sd: float = 10.0, seed: int = 7) -> list[float]:
    rnd = random.Random(seed)
    return [max(1.0, rnd.gauss(mean, sd)) for _ in range(n)]


def seen(plan: Plan, render: float) -> RenderTime:
    """The sample a job polled on `plan` records for a render of `render` seconds."""
    low, at = 0.0, plan.next_check(0.0)
    while at < render:
        low, at = at, plan.next_check(at)
    return RenderTime(low, at, 0.0)


def learned_from(renders: list[float], timing: Timing = APIYI) -> list[RenderTime]:
    return [seen(documented_plan(timing), r) for r in renders]


def test_the_documented_plan_checks_early_then_keeps_to_the_schedule() -> None:
    assert checks(documented_plan(APIYI), 75) == [5, 15, 30, 60, 65, 70, 75]
    assert checks(documented_plan(APIYI, early=0), 75) == [60, 65, 70, 75]
    # Early checks after the first regular one would only repeat it.
    fast = Timing(initial_wait=20, poll_interval=5, deadline=900)
    assert checks(documented_plan(fast), 30) == [5, 15, 20, 25, 30]


def test_too_few_samples_fall_back_to_the_documented_schedule() -> None:
    samples = learned_from(normal_renders(MIN_SAMPLES - 1))
    assert learn(samples, APIYI) is None
    assert learn(learned_from(normal_renders(MIN_SAMPLES)), APIYI) is not None


def test_a_learned_plan_checks_densely_where_renders_end_within_the_checks_budget() -> None:
    samples = [RenderTime(r, r, 0.0) for r in normal_renders(40)]
    plan = learn(samples, APIYI)
    assert plan is not None and plan.learned
    assert 35 < plan.first < 50  # near the fastest renders, well before the 60-s wait
    assert plan.gap < APIYI.poll_interval and plan.tail_gap == APIYI.poll_interval
    assert plan.early and all(o < plan.first - plan.gap for o in plan.early)
    fresh = normal_renders(400, seed=99)
    delays = sorted(plan.next_check(r - 1e-9) - r if r > plan.first else plan.first - r
                    for r in fresh)  # fmt: skip
    assert statistics.median(delays) <= 2.0
    assert delays[int(0.95 * len(delays))] <= 5.0
    mean_checks = statistics.mean(plan.checks_until(r) for r in fresh)
    loop = statistics.mean(max(1, -(-r // 5)) for r in fresh)  # every 5 s from the submit
    assert mean_checks <= loop


def test_censored_samples_are_spread_over_the_gap_they_were_seen_in() -> None:
    # Forty renders each known only to end between 30 and 60 s: as likely early as late.
    dist = Distribution([RenderTime(30, 60, 0.0)] * 40)
    assert dist.quantile(0.5) == pytest.approx(45, abs=0.01)
    assert dist.cdf(40) == pytest.approx(1 / 3)


def test_a_shift_in_the_vendors_behaviour_falls_back_until_it_is_learned_again() -> None:
    earlier = [RenderTime(r, r, 0.0) for r in normal_renders(40)]
    # Three of the last ten renders took twice as long: more than a fifth, a shift.
    slow = [RenderTime(120 + i, 120 + i, 0.0) for i in range(3)]
    usual = [RenderTime(r, r, 0.0) for r in normal_renders(7, seed=3)]
    assert learn([*earlier, *usual, *slow], APIYI) is None
    # Two are within what any vendor does now and then.
    assert learn([*earlier, *usual, RenderTime(61, 61, 0), *slow[:2]], APIYI) is not None
    # Once the slower renders are the usual, the schedule is learned from them.
    later = [RenderTime(r, r, 0.0) for r in normal_renders(60, mean=120, seed=5)]
    relearned = learn([*earlier, *slow, *later], APIYI)
    assert relearned is not None and relearned.first > 80


def test_the_operators_overrides_replace_what_they_name_and_only_that() -> None:
    samples = [RenderTime(r, r, 0.0) for r in normal_renders(40)]
    learned = learn(samples, APIYI)
    assert learned is not None
    waited = learn(samples, APIYI, {"initial_wait": 50})
    assert waited is not None and waited.first == 50 and waited.dense_until == learned.dense_until
    paced = learn(samples, APIYI, {"poll_interval": 4})
    assert paced is not None and paced.gap == paced.tail_gap == 4
    assert paced.first == learned.first
    quiet = learn(samples, APIYI, {"early_checks": 0})
    assert quiet is not None and quiet.early == () and quiet.first == learned.first


async def test_samples_are_read_from_the_store_and_learning_can_be_turned_off(
    tmp_path: Path,
) -> None:
    """Samples another process stored are read at start; `VEO_LEARN_SCHEDULES=false`
    keeps every job on the documented schedule and shows no learned times."""
    db = await Database.open(tmp_path / "veo.sqlite3")
    settings = Settings(_env_file=None, DISCORD_TOKEN="t")  # type: ignore[call-arg]
    async with aiohttp.ClientSession() as session:
        providers = build_providers(settings, session)
        try:
            store = JobStore(db)
            key = RenderKey("demo", "demo-veo", "", 0)
            for render in normal_renders(MIN_SAMPLES + 5):
                await db.execute(
                    "INSERT INTO render_times (provider, model, resolution, duration, low, "
                    "high, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (*dataclasses.astuple(key), render, render, time.time()),
                )
            schedules = Schedules(providers, {}, store=store)
            await schedules.load()
            typical = schedules.typical("demo", "demo-veo")
            assert typical is not None and 50 < typical.median < typical.p90 < 90
            assert typical.samples == MIN_SAMPLES + 5
            off = Schedules(providers, {}, store=store, learning=False)
            await off.load()
            assert off.typical("demo", "demo-veo") is None
        finally:
            await providers.close()
            await db.close()


def test_the_next_check_is_always_later_than_now_despite_rounding() -> None:
    """Found by the benchmark: floor division landed on the very time asked about, so
    the job would be checked again at once, and counting its checks never ended."""
    plan = Plan(early=(), first=45.3, gap=4.5, dense_until=85.3, tail_gap=5.0)
    assert plan.next_check(515.8) == pytest.approx(520.8)
    rnd = random.Random(3)
    for _ in range(20_000):
        plan = Plan(
            early=(5.0,),
            first=round(rnd.uniform(1, 100), 1),
            gap=rnd.choice([1.0, 1.5, 2.5, 4.5]),
            dense_until=round(rnd.uniform(1, 200), 1),
            tail_gap=rnd.choice([5.0, 0.05]),
        )
        elapsed = round(rnd.uniform(0, 600), 1)
        assert plan.next_check(elapsed) > elapsed
