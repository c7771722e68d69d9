"""Acknowledgement time, added delay and polls per job, in real seconds.

One real VeoBot (composition root, discord.py client logged in to the Discord simulator,
DiscordPublisher, JobManager, the four vendor adapters, JobStore on a SQLite file, the web
server taking apixo's callbacks), with every simulator in the same process and event
loop, so the moments "the simulator completed the task" and "the bot handed the video to
its publisher" are read on one clock. Jobs are asked for the way members ask: raw
`/veo generate` interactions handed to discord.py's gateway parser.

Beside the bot, the vendors' own sample loops run against the same simulators: seed 001's
(poll at once, then every 8 s; on `completed` wait 4 s, then download) and seed 002's
(wait 90 s, then poll every 5 s; download the result URL).
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import discord

from bench.common import Tracer, bot_settings, free_port, log_to, percentile
from bench.reference import APIYI_MODEL, apixo_sample, apiyi_sample, ref_summary
from bench.schedules import EARLY_AT
from bench.sims import (
    NO_CALLBACK,
    AckTimedDiscordSim,
    BenchApixo,
    BenchApiyi,
    BenchVeo3o1,
    BenchYelinai,
    PerTaskClock,
)
from bot.client import VeoBot
from bot.jobs.requests import stored_request
from bot.providers.base import Timing
from tests.sim.discord_payloads import slash_command

APIXO_MODEL = "veo-3.1-fast"
# The acknowledgement jobs use apixo's other model: their 0.1-s renders would otherwise be
# what a job core that learns schedules from recent renders learns for the measured one.
ACK_MODEL = "veo-3.1-quality"
# The model measured for each vendor (its schedule is the model's own).
MODELS = {
    "apiyi": APIYI_MODEL,
    "apixo": APIXO_MODEL,
    "veo3o1": "veo3o1-veo-3.1",
    "yelinai": "veo3",
}
GOLDEN = 0.6180339887


@dataclass
class Group:
    """Jobs of one schedule: `renders` are the simulated render times, in seconds."""

    key: str
    provider: str
    model: str
    renders: list[float]
    callbacks: bool = False
    timing: Timing | None = None  # filled from the model's real schedule


@dataclass
class Plan:
    quick: bool
    acks: int
    per_group: int
    wait_scale: float  # 1.0: the vendors' real initial waits
    span: float  # renders last from 1 s to 1 + span s past the initial wait
    groups: list[Group] = field(default_factory=list)
    ref_apixo_wait: float = 90.0


def spread(n: int, low: float, high: float, phase: float = 0.0) -> list[float]:
    """n values over [low, high], in golden-ratio order."""
    return [round(low + (high - low) * ((i * GOLDEN + phase) % 1), 2) for i in range(n)]


def stratified(n: int, timing: Timing, span: float, shift: float = 0.0) -> list[float]:
    """n render times from 1 to 1 + `span` s past the initial wait. Where a render ends
    within the poll interval (its phase) is what decides the delay, and in real use it is
    uniform: the phases here are evenly spaced over the interval (one per job, shifted
    per group), and the number of whole intervals varies from job to job."""
    interval = timing.poll_interval
    cycles = max(1, int(span // interval))
    renders = []
    for i in range(n):
        phase = ((i + 0.5) / n * interval + shift) % interval
        whole = (i * 5) % cycles
        renders.append(round(timing.initial_wait + 1 + phase + whole * interval, 2))
    return renders


def make_plan(quick: bool) -> Plan:
    plan = Plan(
        quick=quick,
        acks=50 if quick else 200,
        per_group=5 if quick else 12,
        wait_scale=0.1 if quick else 1.0,
        span=10.0 if quick else 30.0,
    )
    plan.ref_apixo_wait = 90.0 * plan.wait_scale
    return plan


def fill_groups(plan: Plan, bot: VeoBot, overrides: dict[str, dict[str, float]]) -> None:
    """One group per polling schedule (rendering a little longer than its initial wait,
    by 1-31 s, spread so completions fall all over the 5-s poll phase), and apixo with
    callbacks (renders from half its 90-s wait to 31 s past it)."""
    n, span = plan.per_group, plan.span
    for index, (provider, model) in enumerate(MODELS.items()):
        timing = real_timing(bot, provider, model, overrides)
        renders = stratified(n, timing, span, shift=0.37 * index)
        plan.groups.append(Group(provider, provider, model, renders, timing=timing))
    timing = real_timing(bot, "apixo", APIXO_MODEL, overrides)
    low, high = 0.5 * timing.initial_wait, timing.initial_wait + 1 + span
    plan.groups.append(
        Group("apixo-callback", "apixo", APIXO_MODEL, spread(n, low, high, 0.45), True, timing)
    )


def real_timing(
    bot: VeoBot, provider: str, model: str, overrides: dict[str, dict[str, float]]
) -> Timing:
    spec = bot.providers.model(provider, model)
    assert spec is not None, (provider, model)
    timing = spec.timing_for(None)
    return dataclasses.replace(timing, **overrides.get(provider, {}))


# -- the vendors' own loops ----------------------------------------------------------------


# -- driving the bot -----------------------------------------------------------------------

sent_at: dict[int, float] = {}  # interaction id -> when it was handed to discord.py


async def dispatch(bot: VeoBot, sim: AckTimedDiscordSim, user_id: int, **options: Any) -> int:
    """Hand one raw `/veo generate` to discord.py as the gateway would; its id."""
    payload = sim.register_interaction(
        slash_command(name="veo", subcommand="generate", options=options, user_id=user_id)
    )
    interaction_id = int(payload["id"])
    sent_at[interaction_id] = time.monotonic()
    bot._connection.parse_interaction_create(payload)  # type: ignore[arg-type]
    return interaction_id


async def wait_acked(sim: AckTimedDiscordSim, ids: list[int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while any(i not in sim.acked_at for i in ids) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)


async def wait_jobs_done(bot: VeoBot, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await bot.store.unfinished() == 0 and not bot.manager._in_hand:
            return
        await asyncio.sleep(0.1)


def ideal_polls(
    t: float, wait: float, interval: float, *, callback: bool = False, early: tuple[float, ...] = ()
) -> int:
    """Polls a loop keeping exactly to the schedule needs for a task done `t` s after the
    submit: the `early` checks that come before `wait`, the first regular one at `wait`,
    then every `interval`, until one finds it done. With a callback, those that fall
    before `t`, plus the check the callback prompts."""
    early = tuple(at for at in early if at < wait)
    if callback:
        before = 0 if t <= wait else math.ceil((t - wait) / interval)
        return sum(1 for at in early if at < t) + before + 1
    for n, at in enumerate(early, 1):
        if at >= t:
            return n
    return len(early) + 1 + max(0, math.ceil((t - wait) / interval))


async def run(quick: bool) -> dict[str, Any]:
    plan = make_plan(quick)
    with tempfile.TemporaryDirectory(prefix="veo-bench-lat-") as tmp:
        log_to(Path(tmp) / "bot.log")
        sims: dict[str, Any] = {
            "apiyi": BenchApiyi(),
            "apixo": BenchApixo(),
            "veo3o1": BenchVeo3o1(),
            "yelinai": BenchYelinai(),
        }
        discord_sim = AckTimedDiscordSim()
        await discord_sim.start()
        for sim in sims.values():
            await sim.start()
        saved_base = discord.http.Route.BASE
        discord.http.Route.BASE = discord_sim.api_base
        bot: VeoBot | None = None
        try:
            urls = {name: sim.base_url for name, sim in sims.items()}
            settings = bot_settings(
                Path(tmp) / "veo.sqlite3",
                urls,
                web_port=free_port(),
            )
            bot = VeoBot(settings)
            await bot.login("test-token")
            overrides: dict[str, dict[str, float]] = {}
            if plan.wait_scale != 1.0:  # --quick: every initial wait scaled down alike
                for name, model in MODELS.items():
                    wait = real_timing(bot, name, model, {}).initial_wait
                    overrides[name] = {"initial_wait": round(wait * plan.wait_scale, 2)}
                bot.manager.timing_overrides.update(overrides)
            tracer = Tracer()
            for name in sims:
                tracer.wrap_provider(name, bot.providers.get(name))
            tracer.wrap_publisher(bot.publisher)
            fill_groups(plan, bot, overrides)
            ack_started = time.monotonic()
            acks = await ack_phase(bot, discord_sim, plan)
            ack_seconds = time.monotonic() - ack_started
            result = await lag_phase(bot, discord_sim, sims, tracer, plan)
            result["ack_ms"] = acks
            result["ack_phase_seconds"] = ack_seconds
            result["initial_wait_scale"] = plan.wait_scale
        finally:
            if bot is not None:
                await bot.close()
            for sim in sims.values():
                await sim.close()
            await discord_sim.close()
            discord.http.Route.BASE = saved_base
    return result


async def ack_phase(bot: VeoBot, sim: AckTimedDiscordSim, plan: Plan) -> list[float]:
    """`/veo generate`, 4 at once every 0.2 s, while the jobs the earlier ones made are
    submitted, called back, downloaded and posted (apixo: its renders here take 0.1 s and
    its callback skips the initial wait, so the jobs are done before the next phase)."""
    ids: list[int] = []
    for n in range(plan.acks):
        ids.append(
            await dispatch(
                bot, sim, 50_000 + n, prompt=f"ack test {n}", provider="apixo", model=ACK_MODEL
            )
        )
        if n % 4 == 3:
            await asyncio.sleep(0.2)
    await wait_acked(sim, ids, 30)
    acks = [1000 * (sim.acked_at[i] - sent_at[i]) for i in ids if i in sim.acked_at]
    await wait_jobs_done(bot, 60)
    return acks


async def lag_phase(
    bot: VeoBot,
    discord_sim: AckTimedDiscordSim,
    sims: dict[str, Any],
    tracer: Tracer,
    plan: Plan,
) -> dict[str, Any]:
    started = time.monotonic()
    user = 70_000
    for group in plan.groups:
        for render in group.renders:
            user += 1
            tag = "" if group.callbacks or group.provider != "apixo" else f" {NO_CALLBACK}"
            await dispatch(
                bot,
                discord_sim,
                user,
                prompt=f"lag {group.key} {user}{tag} [render={render}]",
                provider=group.provider,
                model=group.model,
            )
            await asyncio.sleep(0.05)
    apiyi_renders = next(g.renders for g in plan.groups if g.key == "apiyi")
    apixo_renders = next(g.renders for g in plan.groups if g.key == "apixo")
    async with aiohttp.ClientSession() as session:
        refs = await asyncio.gather(
            asyncio.gather(
                *(apiyi_sample(session, sims["apiyi"], f"ref [render={r}]") for r in apiyi_renders)
            ),
            asyncio.gather(
                *(
                    apixo_sample(session, sims["apixo"], f"ref [render={r}]", plan.ref_apixo_wait)
                    for r in apixo_renders
                )
            ),
            wait_jobs_done(bot, max(max(g.renders) for g in plan.groups) + 90),
        )
    ref_apiyi, ref_apixo = refs[0], refs[1]

    rows = [
        (j.id, j.provider, j.task_id, j.status.value, stored_request(j).prompt)
        for j in await bot.store.every_job(user_id_from=70000)
    ]
    out: dict[str, Any] = {"groups": {}, "lag_phase_seconds": time.monotonic() - started}
    by_key = {g.key: g for g in plan.groups}
    for group in plan.groups:
        out["groups"][group.key] = {
            "provider": group.provider,
            "model": group.model,
            "callbacks": group.callbacks,
            "initial_wait": group.timing.initial_wait if group.timing else None,
            "poll_interval": group.timing.poll_interval if group.timing else None,
            "renders": group.renders,
            "delays": [],
            "polls": [],
            "ideal": [],
            "failed": 0,
        }
    for job_id, provider, task_id, status, prompt in rows:
        key = prompt.split()[1]
        group = by_key[key]
        entry = out["groups"][key]
        sim: PerTaskClock = sims[provider]
        done = sim.done_at(task_id) if task_id else None
        handed = tracer.delivered.get(job_id)
        if status != "delivered" or done is None or handed is None:
            entry["failed"] += 1
            continue
        entry["delays"].append(handed[0] - done - tracer.fetch_seconds(provider, task_id))
        submitted = tracer.submitted[(provider, task_id)][1]
        assert group.timing is not None
        entry["polls"].append(tracer.polls[(provider, task_id)])
        entry["ideal"].append(
            ideal_polls(
                done - submitted,
                group.timing.initial_wait,
                group.timing.poll_interval,
                callback=group.callbacks,
                early=EARLY_AT,
            )
        )
    out["reference"] = {
        "apiyi": ref_summary(sims["apiyi"], ref_apiyi, lambda t: math.ceil(t / 8) + 1),
        "apixo": ref_summary(
            sims["apixo"],
            ref_apixo,
            lambda t: ideal_polls(t, plan.ref_apixo_wait, 5.0),
        ),
    }
    out["reference"]["apixo"]["initial_wait"] = plan.ref_apixo_wait
    return out


def summarize(values: list[float]) -> dict[str, float]:
    return {"p50": percentile(values, 50), "p95": percentile(values, 95), "n": len(values)}
