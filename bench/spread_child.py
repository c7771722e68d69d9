"""One of the bot processes of the spread part (`bench.spread`): a full VeoBot on a shared
PostgreSQL database, making its share of the jobs and working any job.

`python -m bench.spread_child --database-url URL --sims JSON --first N --jobs K --dir D`

Built as bench.load builds its bot (real settings, `VeoBot(settings, timing_overrides=…)`,
`login`), so it takes its part of the shared work through the bot's own means only: row
locks and leases, LISTEN/NOTIFY, the leader's lock. It says `{"ready": …}` once logged in,
waits for a line on stdin (so the three start making jobs together), makes jobs `N` to
`N + K - 1` (members `10_000 + n`, as bench.load), says `{"created": …}`, and keeps
working until SIGTERM; then closes the bot as `bot.cli.run_until_stopped` does and prints
one JSON line: its CPU and peak RSS, the jobs it made, and what its Tracer saw. A job may be
submitted here and delivered by another process, so only the parent, which has every
child's line, computes the delays.
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

import discord

from bench.common import (
    Tracer,
    bot_settings,
    cpu_seconds,
    free_port,
    log_to,
    proc_status_kb,
    rss_bytes,
)
from bench.load import MIX, VENDORS, create_job
from bench.tally import tally_logs
from bot.client import VeoBot

SHUTDOWN_BOUND = 30.0  # as bot.cli: in-flight calls finish or are cut


def say(payload: dict[str, Any]) -> None:
    print(json.dumps(payload), flush=True)


def render_for(n: int, low: float, high: float) -> float:
    """Job n's render time: spread evenly over [low, high] (the golden ratio's steps, as
    bench.load), so every process's share has the same mix."""
    return low + (high - low) * ((n * 0.6180339887) % 1)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    log_to(folder / "bot.log")
    tally = tally_logs()
    urls: dict[str, str] = json.loads(args.sims)
    discord.http.Route.BASE = urls["discord"]
    extra: dict[str, Any] = {
        "VEO_DATABASE_URL": args.database_url,
        "VEO_DATA_DIR": folder / "data",
        # Checks at the fixed interval: no learned plans (the renders here are nothing
        # like a real model's) and no early checks (below).
        "VEO_LEARN_SCHEDULES": False,
        "VEO_MAX_CONCURRENT_JOBS": args.max_concurrent,
    }
    for p in VENDORS:
        # Raised as bench.load does (not split by shard share: no VEO_SHARD_IDS here), so
        # no job waits in the bot's own queue.
        extra[f"VEO_{p.upper()}_RATE_PER_MINUTE"] = 60_000
        extra[f"VEO_{p.upper()}_MAX_TASKS"] = args.total_jobs
    settings = bot_settings(folder / "unused.sqlite3", urls, web_port=free_port(), **extra)
    overrides: dict[str, dict[str, float]] = {
        p: {
            "initial_wait": args.initial_wait,
            "poll_interval": args.poll_interval,
            "early_checks": 0,
        }
        for p in VENDORS
    }
    bot = VeoBot(settings, timing_overrides=overrides)
    await bot.login("test-token")
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    tracer = Tracer()
    for name in VENDORS:
        tracer.wrap_provider(name, bot.providers.get(name))
    tracer.wrap_publisher(bot.publisher)
    await asyncio.sleep(1.0)  # let start-up work settle
    say({"ready": True, "leading": bot.manager.leader.leading, "rss_idle_bytes": rss_bytes()})
    await asyncio.to_thread(sys.stdin.readline)  # the parent's "go", to all three at once

    cpu0 = cpu_seconds()
    started = time.monotonic()
    created: dict[int, int] = {}  # job id -> status message id
    failed: list[str] = []
    gate = asyncio.Semaphore(args.gate)

    async def one(n: int) -> None:
        provider, model = MIX[n % len(MIX)]
        try:
            async with gate:
                job_id, message_id = await create_job(
                    bot, n, provider, model, render_for(n, args.render_min, args.render_max)
                )
        except Exception as exc:  # reported, not raised: the others still run
            failed.append(f"job {n}: {type(exc).__name__}: {exc}")
            return
        created[job_id] = message_id

    await asyncio.gather(*(one(n) for n in range(args.first, args.first + args.jobs)))
    say({"created": len(created), "seconds": time.monotonic() - started})
    await stop.wait()
    cpu1 = cpu_seconds()
    peak = proc_status_kb("VmHWM") * 1024
    leading = bot.manager.leader.leading
    try:
        await asyncio.wait_for(bot.close(), SHUTDOWN_BOUND)
        closed = True
    except TimeoutError:
        closed = False
    return {
        "cpu_seconds": cpu1 - cpu0,
        "cpu_seconds_whole_life": cpu_seconds(),
        "rss_peak_bytes": peak,
        "created": created,
        "create_failures": failed[:10],
        "create_failed": len(failed),
        "leading_at_end": leading,
        "closed_cleanly": closed,
        "submitted": [[p, t, a, b] for (p, t), (a, b) in tracer.submitted.items()],
        "fetched": [[p, t, a, b] for (p, t), (a, b) in tracer.fetched.items()],
        "delivered": [[j, at, p, t] for j, (at, p, t) in tracer.delivered.items()],
        "told_failed": len(tracer.told_failed),
        "polls": [[p, t, n] for (p, t), n in tracer.polls.items()],
        "poll_times": [[p, t, times] for (p, t), times in tracer.poll_times.items()],
        "logs": tally.summary(),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--sims", required=True, help="the simulator host's URLs, as JSON")
    parser.add_argument("--dir", required=True, help="this process's folder (log, files)")
    parser.add_argument("--first", type=int, required=True)
    parser.add_argument("--jobs", type=int, required=True)
    parser.add_argument("--total-jobs", type=int, required=True)
    parser.add_argument("--initial-wait", type=float, default=10.0)
    parser.add_argument("--poll-interval", type=float, default=25.0)
    parser.add_argument("--render-min", type=float, default=60.0)
    parser.add_argument("--render-max", type=float, default=120.0)
    parser.add_argument("--max-concurrent", type=int, default=2000)
    parser.add_argument("--gate", type=int, default=16, help="jobs being made at once")
    # A bot stuck in a loop would stop its event loop and every timeout on it: a thread
    # dumps every stack to stderr and ends the process instead.
    faulthandler.dump_traceback_later(1500, exit=True)
    say(asyncio.run(main(parser.parse_args())))
