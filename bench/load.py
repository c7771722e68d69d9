"""1,000 jobs in flight at once: `python -m bench.load --jobs 1000`.

A fresh process holding only the bot: the real VeoBot composition (settings, discord.py
client logged in, DiscordPublisher, JobManager, the four vendor adapters, JobStore on a
SQLite file, the web server taking apixo's callbacks). Its Discord is the Discord
simulator and its vendors are the vendor simulators, all in a separate process, so their
CPU and memory stay out of the figures.

`--database-url postgresql://…` runs the same on PostgreSQL (`VEO_DATABASE_URL`, files in
`VEO_DATA_DIR`), everything else identical. The database's work is then done by the
server's processes, not the bot's, so their CPU over the run is read as well (`bench.pg`),
and rows changed come from the server's statistics, read after the bot has closed (a
backend flushes its counts when it exits; an idle one may hold them ~10 s).

Compressed, and said so in the output: every vendor's initial wait is cut to a few
seconds and renders last tens of seconds instead of one to three minutes, so 1,000 jobs
are all at the vendors at once within a minute; the poll interval stays the vendors' 5 s;
the per-vendor request rate and task caps are raised so nothing waits in the bot's queue.
Jobs are created as `/veo generate` does after parsing the command (validate, reserve
quota, post the job message, release it to the manager).
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import discord

from bench.common import (
    SimHost,
    Tracer,
    WriteCounter,
    bot_settings,
    cpu_by_thread,
    cpu_seconds,
    free_port,
    log_to,
    percentile,
    proc_status_kb,
    rss_bytes,
    total_changes,
)
from bench.pg import ServerCpu, postmaster_pid
from bench.tally import tally_logs
from bot.client import VeoBot
from bot.jobs.origin import Origin
from bot.jobs.requests import Draft
from storage import Database

GUILD_ID = 1_100_000_000_000_000_100  # the Discord simulator's default guild
CHANNEL_ID = 1_100_000_000_000_000_200
MIX = [
    ("apiyi", "veo-3.1-fast-generate-preview"),
    ("apixo", "veo-3.1-fast"),
    ("veo3o1", "veo3o1-veo-3.1"),
    ("yelinai", "veo3-fast"),
]
VENDORS = [p for p, _ in MIX]


async def create_job(
    bot: VeoBot, n: int, provider: str, model: str, render: float
) -> tuple[int, int]:
    """What `/veo generate` does after the command is parsed and acknowledged: the job's
    id and its status message's (member `10_000 + n`: a job per member)."""
    request, _ = await bot.service.validate(
        Draft(prompt=f"load job {n} [render={render:.2f}]", provider=provider, model=model),
        GUILD_ID,
    )
    where = Origin(
        user_id=10_000 + n,
        guild_id=GUILD_ID,
        channel_id=CHANNEL_ID,
        filesize_limit=10 * 1024 * 1024,
        delivery_mode="channel",
    )
    job = await bot.service.accept(request, [], where)
    channel = bot.get_partial_messageable(CHANNEL_ID, guild_id=GUILD_ID)
    message = await channel.send(bot.publisher.render(job), view=bot.publisher.view(job))
    await bot.service.started(job, message.id)
    return job.id, message.id


async def main(args: argparse.Namespace) -> dict[str, Any]:
    n_jobs: int = args.jobs
    with tempfile.TemporaryDirectory(prefix="veo-bench-load-") as tmp:
        log_to(Path(tmp) / "bot.log")
        tally = tally_logs()
        async with SimHost(["discord", *VENDORS]) as host:
            urls = host.urls
            discord.http.Route.BASE = urls["discord"]
            limits: dict[str, Any] = {}
            for p in VENDORS:
                limits[f"VEO_{p.upper()}_RATE_PER_MINUTE"] = 60_000
                limits[f"VEO_{p.upper()}_MAX_TASKS"] = n_jobs
            url: str | None = args.database_url
            changes_before = 0
            if url:
                limits["VEO_DATABASE_URL"] = url
                limits["VEO_DATA_DIR"] = Path(tmp) / "data"
                # Migrated (if it was not) and closed first, so the count starts clean.
                await changes_on(url)
                await asyncio.sleep(1.5)
                changes_before = await changes_on(url)
            settings = bot_settings(Path(tmp) / "veo.sqlite3", urls, web_port=free_port(), **limits)
            overrides = {p: {"initial_wait": args.initial_wait} for p in VENDORS}
            bot = VeoBot(settings, timing_overrides=overrides)
            await bot.login("test-token")
            try:
                result = await drive(bot, n_jobs, args)
            finally:
                await bot.close()
            if url:
                # The bot's backends have exited, and flushed their counts on the way out.
                await asyncio.sleep(1.5)
                changed = await changes_on(url) - changes_before
                result["rows_changed_per_job"] = changed / n_jobs
    # The simulators' own CPU over the run: near one core means they, not the bot, set the pace.
    result["sim_cpu_seconds"] = host.cpu_seconds
    result["database"] = "postgresql" if url else "sqlite"
    result["logs"] = tally.summary()
    return result


async def changes_on(url: str) -> int:
    """Rows inserted, updated or deleted in the database at `url`, by every process, as
    the server's statistics have them now."""
    db = await Database.open(url)
    try:
        return await db.total_changes()
    finally:
        await db.close()


async def drive(bot: VeoBot, n_jobs: int, args: argparse.Namespace) -> dict[str, Any]:
    tracer = Tracer()
    for name in VENDORS:
        tracer.wrap_provider(name, bot.providers.get(name))
    tracer.wrap_publisher(bot.publisher)
    await asyncio.sleep(1.0)  # let start-up work settle
    rss_idle = rss_bytes()
    writes = WriteCounter(bot.db)
    on_postgres = bot.settings.uses_postgresql
    # On PostgreSQL rows changed are counted around the bot's whole life instead (see above).
    changes_before = 0 if on_postgres else await total_changes(bot.db)
    server = ServerCpu(await postmaster_pid(bot.db)) if on_postgres else None
    samples: list[tuple[float, float]] = []
    threads: list[tuple[float, dict[str, float]]] = []
    stop = asyncio.Event()

    async def sample() -> None:
        while not stop.is_set():
            samples.append((time.time(), cpu_seconds()))
            threads.append((time.time(), cpu_by_thread()))
            await asyncio.sleep(0.25)

    sampler = asyncio.create_task(sample())
    wall0, cpu0 = time.time(), cpu_seconds()
    server0 = server.seconds() if server is not None else 0.0
    renders: dict[int, float] = {}
    gate = asyncio.Semaphore(16)

    async def one(n: int) -> None:
        provider, model = MIX[n % len(MIX)]
        render = args.render_min + (args.render_max - args.render_min) * ((n * 0.6180339887) % 1)
        async with gate:
            job_id, _ = await create_job(bot, n, provider, model, render)
        renders[job_id] = render

    await asyncio.gather(*(one(n) for n in range(n_jobs)))
    created = time.time() - wall0
    deadline = time.monotonic() + args.render_max + 120
    while True:
        if (await bot.store.unfinished() == 0 and not bot.manager._in_hand) or (
            time.monotonic() > deadline
        ):
            break
        await asyncio.sleep(0.5)
    wall1, cpu1 = time.time(), cpu_seconds()
    server_cpu = server.seconds() - server0 if server is not None else None
    stop.set()
    await sampler
    samples.append((wall1, cpu1))
    writes_done = writes.count
    changes = 0 if on_postgres else await total_changes(bot.db) - changes_before
    peak_rss = proc_status_kb("VmHWM") * 1024

    rows = [
        (j.id, j.status.value, j.submitted_at, j.completed_at) for j in await bot.store.every_job()
    ]
    statuses: dict[str, int] = {}
    events: list[tuple[float, int]] = []
    for _job_id, status, submitted_at, completed_at in rows:
        statuses[status] = statuses.get(status, 0) + 1
        if submitted_at is not None:
            events.append((float(submitted_at), 1))
            events.append((float(completed_at) if completed_at else wall1, -1))
    events.sort()
    in_flight, peak, full_from, full_to = 0, 0, None, None
    threshold = int(0.95 * n_jobs)
    for at, step in events:
        in_flight += step
        peak = max(peak, in_flight)
        if in_flight >= threshold and full_from is None:
            full_from = at
        if in_flight < threshold and full_from is not None and full_to is None:
            full_to = at
    steady_cores = None
    steady_threads: dict[str, float] = {}
    if full_from is not None and full_to is not None and full_to - full_from > 2:
        steady_cores = (cpu_at(samples, full_to) - cpu_at(samples, full_from)) / (
            full_to - full_from
        )
        # Which threads spent it (the event loop, or SQLite's thread), by nearest sample.
        t0, first = min(threads, key=lambda s: abs(s[0] - full_from))
        t1, last = min(threads, key=lambda s: abs(s[0] - full_to))
        if t1 > t0:
            steady_threads = {
                name: round((cpu - first.get(name, 0.0)) / (t1 - t0), 3)
                for name, cpu in last.items()
                if cpu - first.get(name, 0.0) > 0
            }

    # The added delay at this load (approximate: the task started during the submit call).
    delays = []
    for job_id, (handed, provider, task_id) in tracer.delivered.items():
        sub = tracer.submitted.get((provider, task_id))
        if sub is None or job_id not in renders:
            continue
        done = (sub[0] + sub[1]) / 2 + renders[job_id]
        delays.append(handed - done - tracer.fetch_seconds(provider, task_id))
    polls = [tracer.polls[k] for k in tracer.submitted]
    per_minute = {v: peak_per_minute(tracer, v) for v in VENDORS}
    # Gaps between a job's polls, for the vendors that poll at the fixed 5 s (veo3o1's
    # polls follow its time estimate): a gap well over 5 s means the bot fell behind.
    gaps = [
        b - a
        for (provider, _), times in tracer.poll_times.items()
        if provider != "veo3o1"
        for a, b in zip(times, times[1:], strict=False)
    ]
    return {
        "jobs": n_jobs,
        "statuses": statuses,
        "peak_in_flight": peak,
        "create_seconds": created,
        "wall_seconds": wall1 - wall0,
        "cpu_seconds": cpu1 - cpu0,
        "cpu_ms_per_job": 1000 * (cpu1 - cpu0) / n_jobs,
        "cores_whole_run": (cpu1 - cpu0) / (wall1 - wall0),
        "cores_steady": steady_cores,
        "cores_steady_by_thread": steady_threads,
        "steady_seconds": (full_to - full_from) if full_from and full_to else None,
        "rss_idle_bytes": rss_idle,
        "rss_peak_bytes": peak_rss,
        "write_transactions": writes_done,
        "writes_per_job": writes_done / n_jobs,
        "rows_changed_per_job": changes / n_jobs,
        "server_cpu_seconds": server_cpu,
        "server_cpu_how": server.how if server is not None else None,
        "server_cpu_ms_per_job": None if server_cpu is None else 1000 * server_cpu / n_jobs,
        "polls_per_job": sum(polls) / len(polls) if polls else None,
        "polls_worst": max(polls) if polls else None,
        "checks_per_minute_peak": per_minute,
        "poll_gap_p50": percentile(gaps, 50),
        "poll_gap_p95": percentile(gaps, 95),
        "delay_p50": percentile(delays, 50),
        "delay_p95": percentile(delays, 95),
        "initial_wait": args.initial_wait,
        "render_min": args.render_min,
        "render_max": args.render_max,
    }


def peak_per_minute(tracer: Tracer, vendor: str) -> int:
    """The most status checks made of one vendor within any 60 s (a sliding window over
    the counted calls), to hold against a per-minute limit the vendor documents."""
    times = sorted(t for (p, _), ts in tracer.poll_times.items() if p == vendor for t in ts)
    peak, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= 60.0:
            start += 1
        peak = max(peak, end - start + 1)
    return peak


def cpu_at(samples: list[tuple[float, float]], at: float) -> float:
    """CPU seconds at wall time `at`, interpolated between samples."""
    before = max((s for s in samples if s[0] <= at), default=samples[0])
    after = min((s for s in samples if s[0] >= at), default=samples[-1])
    if after[0] == before[0]:
        return before[1]
    share = (at - before[0]) / (after[0] - before[0])
    return before[1] + share * (after[1] - before[1])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--initial-wait", type=float, default=5.0)
    parser.add_argument("--render-min", type=float, default=30.0)
    parser.add_argument("--render-max", type=float, default=60.0)
    parser.add_argument(
        "--database-url", help="postgresql://… to run on that database instead of SQLite"
    )
    # A bot stuck in a loop would stop the event loop and every timeout on it: a thread
    # dumps every stack to stderr and ends the process instead (the parent waits 600 s).
    faulthandler.dump_traceback_later(540, exit=True)
    print(json.dumps(asyncio.run(main(parser.parse_args()))), flush=True)
