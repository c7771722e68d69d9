"""Answers in seconds: the new schedule (early checks, learned schedules) against today's
fixed one, side by side, in real seconds.

`python -m bench.schedules [--quick]`, a process of its own (the last stdout line is the
JSON of every figure). Two real VeoBots through their composition root, each with its own SQLite file and web
server (apixo's callbacks), sharing the vendor and Discord simulators and the event loop,
so "the vendor finished (or failed)" and "the bot handed it to its publisher" are read on
one clock for both:

- "new": the defaults (early checks after the submit, schedules learned from recent
  renders);
- "fixed": `VEO_LEARN_SCHEDULES=false` and `VEO_<P>_EARLY_CHECKS=0` for every vendor, i.e.
  today's documented schedule (first check at the model's initial wait, then every 5 s).

Every job is asked for the way members ask (a raw `/veo generate` handed to discord.py's
gateway parser), the same jobs to both bots, at the same moment. Groups, told apart by the
prompt's second word:

- `fail-<vendor>`: the vendor reports the task failed 3 s after the submit (`[fail=3]`);
  measured to the publisher being handed the failed job (what the member is shown);
- `fast-<vendor>`: renders of 12 s, much faster than any documented initial wait;
- `train-<key>` then `learn-<key>`: 30 renders drawn from N(60 s, 10 s) so the new bot
  learns the model, then a measured wave of 30 more from the same distribution.

The vendors' rate and task caps are raised (as in the load run) so the bot's own pacing
adds nothing to what is measured here.
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import itertools
import json
import math
import random
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord

from bench.common import Tracer, bot_settings, free_port, log_to
from bench.sims import NO_CALLBACK, VENDOR_SIMS, AckTimedDiscordSim
from bot.client import VeoBot
from bot.jobs.requests import stored_request
from bot.jobs.schedule import EARLY_CHECKS
from bot.providers.base import Timing
from tests.sim.discord_payloads import slash_command

VENDORS = ("apiyi", "apixo", "veo3o1", "yelinai")
# The model of each vendor for the failure and fast-render groups. apiyi and apixo use
# another model than their learned group, so 12-s renders never enter what is learned.
SHORT_MODELS = {
    "apiyi": "veo-3.1-generate-preview",
    "apixo": "veo-3.1-fast",
    "veo3o1": "veo3o1-veo-3.1",
    "yelinai": "veo3",
}
# Learned groups: key -> (vendor, model). apixo is polled ([poll]): its 90-s initial wait is
# longer than these renders, the case a learned schedule changes most.
LEARNED = {
    "apiyi": ("apiyi", "veo-3.1-fast-generate-preview"),
    "apixo": ("apixo", "veo-3.1-quality"),
}
EARLY_AT = EARLY_CHECKS  # the early checks, seconds after the submit
FAIL_AFTER = 3.0
FAST_RENDER = 12.0
LEARN_MEAN, LEARN_SD, LEARN_N = 60.0, 10.0, 30
USER_BASE = 200_000
USERS = itertools.count(USER_BASE)


@dataclass
class Group:
    key: str  # the prompt's second word
    kind: str  # fail, fast, train, learn
    provider: str
    model: str
    values: list[float]  # seconds: to the failure, or the render
    callbacks: bool = False  # apixo: False adds [poll]

    def prompt(self, n: int) -> str:
        tag = "fail" if self.kind == "fail" else "render"
        poll = f" {NO_CALLBACK}" if self.provider == "apixo" and not self.callbacks else ""
        return f"sched {self.key} {n}{poll} [{tag}={self.values[n]:g}]"


@dataclass
class Side:
    """One bot and what it did."""

    name: str
    bot: VeoBot
    tracer: Tracer = field(default_factory=Tracer)
    early_checks: int = len(EARLY_AT)


def normal_sample(n: int, offset: float, seed: int) -> list[float]:
    """n render times from N(60, 10): the distribution's quantiles at (i + offset) / n,
    shuffled (seeded), so every run draws the same set in the same order."""
    dist = statistics.NormalDist(LEARN_MEAN, LEARN_SD)
    values = [round(dist.inv_cdf((i + offset) / n), 2) for i in range(n)]
    random.Random(seed).shuffle(values)
    return values


def make_groups(quick: bool) -> tuple[list[Group], list[Group]]:
    """The first wave (failures, fast renders, the training renders) and the measured
    wave of the learned groups."""
    n = 4 if quick else 8
    first: list[Group] = []
    for p in VENDORS:
        first.append(Group(f"fail-{p}", "fail", p, SHORT_MODELS[p], [FAIL_AFTER] * n))
    first.append(
        Group("fail-apixo-callback", "fail", "apixo", SHORT_MODELS["apixo"], [FAIL_AFTER] * n, True)
    )
    for p in VENDORS:
        first.append(Group(f"fast-{p}", "fast", p, SHORT_MODELS[p], [FAST_RENDER] * n))
    second: list[Group] = []
    for i, (key, (p, model)) in enumerate(LEARNED.items()):
        first.append(Group(f"train-{key}", "train", p, model, normal_sample(LEARN_N, 0.25, i)))
        second.append(
            Group(f"learn-{key}", "learn", p, model, normal_sample(LEARN_N, 0.75, 100 + i))
        )
    return first, second


def side_settings(name: str, tmp: Path, urls: dict[str, str]) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    for p in VENDORS:
        if p != "apixo":  # apixo's documented limits are already far above this run
            extra[f"VEO_{p.upper()}_RATE_PER_MINUTE"] = 6_000
            extra[f"VEO_{p.upper()}_MAX_TASKS"] = 500
    if name == "fixed":
        extra["VEO_LEARN_SCHEDULES"] = False
        extra.update({f"VEO_{p.upper()}_EARLY_CHECKS": 0 for p in VENDORS})
    # A folder each: downloads and served files sit beside the database, named by job id.
    (tmp / name).mkdir()
    return {"db_path": tmp / name / "veo.sqlite3", "urls": urls, "extra": extra}


async def dispatch(bot: VeoBot, sim: AckTimedDiscordSim, user_id: int, **options: Any) -> None:
    """Hand one raw `/veo generate` to discord.py as the gateway would."""
    payload = sim.register_interaction(
        slash_command(name="veo", subcommand="generate", options=options, user_id=user_id)
    )
    bot._connection.parse_interaction_create(payload)  # type: ignore[arg-type]


async def send_wave(sides: list[Side], sim: AckTimedDiscordSim, groups: list[Group]) -> None:
    """Every job of `groups` to every bot, the same job to each at the same moment,
    groups interleaved so none is sent all before another."""
    jobs = [(g, n) for g in groups for n in range(len(g.values))]
    jobs.sort(key=lambda gn: (gn[1], gn[0].key))
    for group, n in jobs:
        user = next(USERS)  # one job per member: no member quota or job cap in the way
        for side in sides:
            await dispatch(
                side.bot,
                sim,
                user,
                prompt=group.prompt(n),
                provider=group.provider,
                model=group.model,
            )
        await asyncio.sleep(0.02)


async def all_done(sides: list[Side], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = [s for s in sides if await s.bot.store.unfinished() > 0 or s.bot.manager._in_hand]
        if not busy:
            return True
        await asyncio.sleep(0.2)
    return False


async def run(quick: bool, keep: bool = False) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="veo-bench-sched-"))
    # Said first: a run ended by the watchdog leaves the folder, with the bots' log.
    kept = "kept" if keep else "removed at the end"
    print(f"the bots' files and log: {tmp} ({kept})", file=sys.stderr, flush=True)
    try:
        return await measure(tmp, quick)
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)


async def measure(tmp: Path, quick: bool) -> dict[str, Any]:
    log_to(tmp / "bot.log")
    sims: dict[str, Any] = {p: VENDOR_SIMS[p]() for p in VENDORS}
    discord_sim = AckTimedDiscordSim()
    await discord_sim.start()
    for sim in sims.values():
        await sim.start()
    saved_base = discord.http.Route.BASE
    discord.http.Route.BASE = discord_sim.api_base
    sides: list[Side] = []
    try:
        urls = {p: sim.base_url for p, sim in sims.items()}
        for side_name in ("new", "fixed"):
            s = side_settings(side_name, tmp, urls)
            settings = bot_settings(s["db_path"], s["urls"], web_port=free_port(), **s["extra"])
            bot = VeoBot(settings)
            await bot.login("test-token")
            side = Side(side_name, bot, early_checks=0 if side_name == "fixed" else 3)
            for p in VENDORS:
                side.tracer.wrap_provider(p, bot.providers.get(p))
            side.tracer.wrap_publisher(bot.publisher)
            sides.append(side)
        first, second = make_groups(quick)
        started = time.monotonic()
        await send_wave(sides, discord_sim, first)
        first_ok = await all_done(sides, 300)
        first_seconds = time.monotonic() - started
        await send_wave(sides, discord_sim, second)
        second_ok = await all_done(sides, 300)
        result: dict[str, Any] = {
            "quick": quick,
            "wave_seconds": [first_seconds, time.monotonic() - started - first_seconds],
            "all_done": first_ok and second_ok,
            "sides": {},
        }
        for side in sides:
            result["sides"][side.name] = await collect(side, sims, first + second)
    finally:
        for side in sides:
            await side.bot.close()
        for sim in sims.values():
            await sim.close()
        await discord_sim.close()
        discord.http.Route.BASE = saved_base
    return result


def documented_checks(done: float, timing: Timing, early: tuple[float, ...]) -> int:
    """Checks a loop keeping exactly to a schedule needs for a task done `done` s after the
    submit: the early ones, then at the initial wait and every interval after, until one
    finds it done."""
    checks = 0
    for at in early:
        if at >= timing.initial_wait:
            break
        checks += 1
        if at >= done:
            return checks
    return checks + 1 + max(0, math.ceil((done - timing.initial_wait) / timing.poll_interval))


async def collect(side: Side, sims: dict[str, Any], groups: list[Group]) -> dict[str, Any]:
    """Per group: the delays (failure told, or video handed over, after the vendor's
    moment), status checks per job and what the reference loops would have needed."""
    bot, tracer = side.bot, side.tracer
    early = EARLY_AT[: side.early_checks]
    out: dict[str, Any] = {}
    for g in groups:
        spec = bot.providers.model(g.provider, g.model)
        assert spec is not None, (g.provider, g.model)
        timing = spec.timing_for(None)
        out[g.key] = {
            "kind": g.kind,
            "provider": g.provider,
            "model": g.model,
            "callbacks": g.callbacks,
            "initial_wait": timing.initial_wait,
            "values": g.values,
            "delays": [],
            "checks": [],
            "loop5": [],
            "documented": [],
            "early_seen": 0,  # jobs with a status check well before the initial wait
            "wrong": [],  # jobs that did not end as planned: (status, error code)
        }
    by_key = {g.key: g for g in groups}
    for job in await bot.store.every_job(user_id_from=USER_BASE):
        key = stored_request(job).prompt.split()[1]
        entry, group = out[key], by_key[key]
        task_id = job.task_id or ""
        sim = sims[job.provider]
        expect = "failed" if group.kind == "fail" else "delivered"
        handed = (tracer.told_failed if group.kind == "fail" else tracer.delivered).get(job.id)
        moment = sim.failed_at(task_id) if group.kind == "fail" else sim.done_at(task_id)
        sub = tracer.submitted.get((job.provider, task_id))
        if job.status.value != expect or handed is None or moment is None or sub is None:
            entry["wrong"].append((job.status.value, job.error_code))
            continue
        fetch = 0.0 if group.kind == "fail" else tracer.fetch_seconds(job.provider, task_id)
        entry["delays"].append(handed[0] - moment - fetch)
        checks = tracer.poll_times.get((job.provider, task_id), [])
        entry["checks"].append(len(checks))
        if checks and checks[0] - sub[1] < 0.8 * entry["initial_wait"]:
            entry["early_seen"] += 1
        took = moment - sub[1]
        entry["loop5"].append(max(1, math.ceil(took / 5.0)))
        timing = Timing(entry["initial_wait"], 5.0, 0.0)
        entry["documented"].append(documented_checks(took, timing, ()))
        entry.setdefault("documented_early", []).append(documented_checks(took, timing, early))
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.schedules")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--limit", type=float, default=420.0, help="seconds before giving up (stack dumped)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the bots' files and log")
    cli = parser.parse_args()
    # A job core stuck in a loop would stop the event loop and every timeout on it: a
    # thread dumps every stack to stderr and ends the process instead.
    faulthandler.dump_traceback_later(cli.limit, exit=True)
    print(json.dumps(asyncio.run(run(cli.quick, cli.keep))), flush=True)
