"""5,000 jobs in flight across three bot processes on one PostgreSQL: the `spread` part.

Three `bench.spread_child` processes, each a full VeoBot on the same database, make a third
of the jobs each (distinct members, one server) and work any job: a job made by one may be
submitted by a second and delivered by the third. The simulators run in one more process
(`SimHost`, which reports when each task completed and how many videos were posted per
job). The part waits until the database says no job is active, then stops the bots with
SIGTERM, as an operator's would be, and merges what they saw: a job's delay needs when the
vendor finished it (the simulators say) and when it was handed to a publisher, and its
checks may have been made by all three processes.

Compressed, and said so: an initial wait of 10 s and renders of 60-180 s (real: 30-90 s
waits, ~1-3 min renders), so every job is at a vendor at once once all are made (~20 s);
status checks every 25 s instead of 5 (5,000 jobs checked every 5 s would be 1,000 checks a
second, more than this 2-core machine can run beside the three bots, the server and the
simulators; 25 s keeps it at ~200 a second, the load part's rate); no learned plans or
early checks, so the checks follow the fixed interval; vendor rate and task caps raised
(apixo's simulator's too) so nothing waits in a queue. Renders of 60-120 s were tried
first: ~83 videos finishing a second on top of the checks saturated the machine (bots,
server and simulators ~1.8 cores of 2) and a found video took ~9 s to reach the publisher
(p50; 1 s at 60-180 s), so the delay said more about the machine than the bots.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import REPO, SimHost, percentile
from bench.load import VENDORS
from bench.pg import ServerCpu, server_cpu
from storage import Database, JobStore

PROCESSES = 3


def sizes(quick: bool) -> dict[str, Any]:
    """The part's numbers: 5,000 jobs (quick: 1,500 with shorter renders)."""
    if quick:
        return {
            "jobs": 1500,
            "initial_wait": 10.0,
            "render_min": 40.0,
            "render_max": 80.0,
            "poll_interval": 25.0,
        }
    return {
        "jobs": 5000,
        "initial_wait": 10.0,
        "render_min": 60.0,
        "render_max": 180.0,
        "poll_interval": 25.0,
    }


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class Child:
    """One bot process, spoken to by lines: its stdout carries JSON, its stderr goes to a
    file (shown when it fails)."""

    def __init__(self, index: int, folder: Path) -> None:
        self.index = index
        self.folder = folder
        self.proc: asyncio.subprocess.Process | None = None
        self.lines: list[dict[str, Any]] = []

    async def start(self, args: list[str]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / "stderr", "wb") as err:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench.spread_child",
                *args,
                "--dir",
                str(self.folder),
                cwd=REPO,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=err,
                limit=1 << 28,
            )

    async def line(self, timeout: float) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        raw = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not raw:
            await self.proc.wait()
            raise RuntimeError(
                f"bot process {self.index} ended ({self.proc.returncode}): " + self.stderr_tail()
            )
        data: dict[str, Any] = json.loads(raw)
        self.lines.append(data)
        return data

    def go(self) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(b"go\n")

    def stderr_tail(self) -> str:
        with contextlib.suppress(OSError):
            return (self.folder / "stderr").read_text(errors="replace")[-2000:]
        return ""

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            await self.proc.wait()


async def run(url: str, quick: bool, *, keep: bool = False) -> dict[str, Any]:
    """The part's figures; with `keep`, the bots' folders (logs, stderr) are left in place
    and named in the result."""
    size = sizes(quick)
    n_jobs = size["jobs"]
    db = await Database.open(url)
    store = JobStore(db)
    server = await server_cpu(url)
    with tempfile.TemporaryDirectory(prefix="veo-bench-spread-") as scratch:
        tmp = tempfile.mkdtemp(prefix="veo-bench-spread-logs-") if keep else scratch
        async with SimHost(["discord", *VENDORS], report=True) as host:
            children = [Child(i, Path(tmp) / f"bot{i}") for i in range(PROCESSES)]
            try:
                result = await drive(children, host, store, server, url, size)
            finally:
                for child in children:
                    await child.stop()
        result["sim_cpu_seconds"] = host.cpu_seconds
        result.update(merge(result, host.report, n_jobs))
    await db.close()
    result.update(size)
    result["server_cpu_how"] = server.how
    result["kept"] = tmp if keep else None
    return result


async def drive(
    children: list[Child],
    host: SimHost,
    store: JobStore,
    server: ServerCpu,
    url: str,
    size: dict[str, Any],
) -> dict[str, Any]:
    n_jobs = size["jobs"]
    share = -(-n_jobs // len(children))
    for child in children:
        first = child.index * share
        await child.start(
            [
                "--database-url",
                url,
                "--sims",
                json.dumps(host.urls),
                "--first",
                str(first),
                "--jobs",
                str(max(0, min(share, n_jobs - first))),
                "--total-jobs",
                str(n_jobs),
                "--initial-wait",
                str(size["initial_wait"]),
                "--poll-interval",
                str(size["poll_interval"]),
                "--render-min",
                str(size["render_min"]),
                "--render-max",
                str(size["render_max"]),
            ]
        )
    ready = [await child.line(180) for child in children]
    say(f"[spread] {len(children)} bots logged in; making {n_jobs:,} jobs")
    wall0, mono0, server0 = time.time(), time.monotonic(), server.seconds()
    for child in children:
        child.go()
    made = [await child.line(600) for child in children]
    say(f"[spread] jobs made in {max(m['seconds'] for m in made):.0f} s; waiting for the ends")
    deadline = time.monotonic() + size["render_max"] + 600
    while await store.unfinished() > 0 and time.monotonic() < deadline:
        for child in children:
            assert child.proc is not None
            if child.proc.returncode is not None:
                raise RuntimeError(f"bot process {child.index} died: {child.stderr_tail()}")
        await asyncio.sleep(1.0)
    timed_out = await store.unfinished() > 0
    wall1, mono1, server1 = time.time(), time.monotonic(), server.seconds()
    for child in children:
        assert child.proc is not None
        child.proc.send_signal(signal.SIGTERM)
    finals = [await child.line(120) for child in children]
    for child in children:
        assert child.proc is not None
        await asyncio.wait_for(child.proc.wait(), 60)
    rows = [
        (j.id, j.status.value, j.submitted_at, j.completed_at, j.delivered_message_id)
        for j in await store.every_job()
    ]
    return {
        "ready": ready,
        "made": made,
        "children": finals,
        "rows": rows,
        "timed_out": timed_out,
        "wall_seconds": wall1 - wall0,
        "mono_window": [mono0, mono1],
        "server_cpu_seconds": server1 - server0,
    }


def merge(run: dict[str, Any], sims: dict[str, Any], n_jobs: int) -> dict[str, Any]:
    """One figure set from the three bots' lines, the database's rows and the simulators'
    report (the bulky raw parts are dropped once used)."""
    children = run.pop("children")
    rows = run.pop("rows")
    statuses: dict[str, int] = {}
    for _id, status, *_ in rows:
        statuses[status] = statuses.get(status, 0) + 1
    with_message = sum(1 for r in rows if r[1] == "delivered" and r[4] is not None)

    submitted: dict[tuple[str, str], tuple[float, float]] = {}
    fetched: dict[tuple[str, str], float] = {}
    handed: dict[int, list[tuple[float, str, str, int]]] = {}
    polls: dict[tuple[str, str], int] = {}
    made_by: dict[int, int] = {}
    for i, c in enumerate(children):
        for job_id in c["created"]:
            made_by[int(job_id)] = i
        for p, t, a, b in c["submitted"]:
            submitted[(p, t)] = (a, b)
        for p, t, a, b in c["fetched"]:
            fetched[(p, t)] = fetched.get((p, t), 0.0) + (b - a)
        for job_id, at, p, t in c["delivered"]:
            handed.setdefault(int(job_id), []).append((at, p, t, i))
        for p, t, n in c["polls"]:
            polls[(p, t)] = polls.get((p, t), 0) + n
    checks: dict[tuple[str, str], list[float]] = {}
    for c in children:
        for p, t, at in c["poll_times"]:
            checks.setdefault((p, t), []).extend(at)
    for at in checks.values():
        at.sort()
    done_at: dict[str, dict[str, float | None]] = sims.get("done_at", {})
    delays: dict[str, list[float]] = {}
    seen_after: list[float] = []  # vendor done -> the first check after it (polled vendors)
    handed_after: list[float] = []  # that check -> handed to the publisher, less the download
    samples: list[list[float]] = []  # per polled job: done (s from go), both of the above
    base = run["mono_window"][0]
    for handovers in handed.values():
        at, p, t, _ = min(handovers)
        done = done_at.get(p, {}).get(t)
        if done is None:
            continue
        delays.setdefault(p, []).append(at - done - fetched.get((p, t), 0.0))
        seen = next((x for x in checks.get((p, t), []) if x >= done), None)
        if seen is not None and p != "apixo":
            seen_after.append(seen - done)
            handed_after.append(at - seen - fetched.get((p, t), 0.0))
            samples.append([round(done - base, 3), round(seen - done, 3), round(at - seen, 3)])
    # The time between a job's checks (veo3o1's follow its time estimate, not the interval).
    gaps = [
        b - a
        for (p, _), at in checks.items()
        if p != "veo3o1"
        for a, b in zip(at, at[1:], strict=False)
    ]
    posts = {int(k): v for k, v in sims.get("video_posts", {}).items()}
    made = set(made_by)
    times = sorted(x for at in checks.values() for x in at)
    per_child = [
        {
            "cpu_seconds": c["cpu_seconds"],
            "rss_peak_bytes": c["rss_peak_bytes"],
            "created": len(c["created"]),
            "submitted": len(c["submitted"]),
            "delivered": len(c["delivered"]),
            "checks": sum(len(at) for _, _, at in c["poll_times"]),
            "leading_at_end": c["leading_at_end"],
            "closed_cleanly": c["closed_cleanly"],
            "create_failed": c["create_failed"],
            "create_failures": c["create_failures"],
            "logs": c["logs"],
        }
        for c in children
    ]
    polled = [d for p, ds in delays.items() if p != "apixo" for d in ds]
    bots_cpu = sum(c["cpu_seconds"] for c in children)
    return {
        "processes": per_child,
        "statuses": statuses,
        "delivered_with_message_id": with_message,
        "peak_in_flight": peak_in_flight(rows),
        "posted_once": sum(1 for j in made if posts.get(j) == 1),
        "posted_never": sum(1 for j in made if posts.get(j, 0) == 0),
        "posted_twice_or_more": sorted(j for j in made if posts.get(j, 0) > 1),
        "posts_of_unknown_jobs": sum(v for j, v in posts.items() if j not in made),
        "handed_by_two": sorted(j for j, h in handed.items() if len({x[3] for x in h}) > 1),
        "delivered_elsewhere": sum(
            1 for j, h in handed.items() if made_by.get(j) is not None and h[0][3] != made_by[j]
        ),
        "delay_p50": percentile(polled, 50),
        "delay_p95": percentile(polled, 95),
        "delay_n": len(polled),
        "delay_by_vendor": {
            p: [percentile(ds, 50), percentile(ds, 95), len(ds)] for p, ds in delays.items()
        },
        "delay_all_p50": percentile([d for ds in delays.values() for d in ds], 50),
        "delay_all_p95": percentile([d for ds in delays.values() for d in ds], 95),
        "seen_after": [percentile(seen_after, 50), percentile(seen_after, 95)],
        "handed_after": [percentile(handed_after, 50), percentile(handed_after, 95)],
        "check_gap": [percentile(gaps, 50), percentile(gaps, 95)],
        "delay_samples": sorted(samples),
        "checks_per_job": sum(polls.values()) / len(submitted) if submitted else None,
        "checks_peak_per_second": peak_in_window(times, 1.0),
        "checks_peak_per_10s": peak_in_window(times, 10.0) / 10.0,
        "checks_total": len(times),
        "bots_cpu_seconds": bots_cpu,
        "cpu_ms_per_job": 1000 * bots_cpu / n_jobs,
        "cpu_ms_per_job_with_server": 1000 * (bots_cpu + run["server_cpu_seconds"]) / n_jobs,
        "server_cpu_ms_per_job": 1000 * run["server_cpu_seconds"] / n_jobs,
        "create_seconds": max(m["seconds"] for m in run["made"]),
        "leaders_at_start": sum(1 for r in run["ready"] if r["leading"]),
    }


def peak_in_window(times: list[float], width: float) -> int:
    """The most events within any `width` seconds (a sliding window over sorted times)."""
    peak, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= width:
            start += 1
        peak = max(peak, end - start + 1)
    return peak


def peak_in_flight(rows: list[tuple[Any, ...]]) -> int:
    """The most jobs submitted and not yet seen complete at once (from the job rows)."""
    events: list[tuple[float, int]] = []
    last = max((float(r[3]) for r in rows if r[3] is not None), default=0.0)
    for _id, _status, submitted_at, completed_at, _message in rows:
        if submitted_at is not None:
            events.append((float(submitted_at), 1))
            events.append((float(completed_at) if completed_at else last, -1))
    events.sort()
    in_flight = peak = 0
    for _at, step in events:
        in_flight += step
        peak = max(peak, in_flight)
    return peak
