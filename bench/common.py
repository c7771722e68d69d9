"""Shared pieces of the benchmark: settings for a bot pointed at the simulators, the
instrumentation wrapped around the real objects, a stand-in publisher, process figures,
and the simulator host started as a separate process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import resource
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.providers.codes import Param
from bot.settings import Settings
from storage import Database, Job, JobStatus

REPO = Path(__file__).resolve().parent.parent
SIM_KEYS = {
    "apiyi": "sk-sim-key",
    "apixo": "apixo-sim-key",
    "veo3o1": "veo3o1-sim-key",
    "yelinai": "yl-sim-key",
}


# -- statistics ---------------------------------------------------------------------------


def percentile(values: Iterable[float], q: float) -> float:
    """The q-th percentile (0-100), linear between the closest ranks."""
    data = sorted(values)
    if not data:
        return math.nan
    pos = (len(data) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


# -- process figures ----------------------------------------------------------------------


def proc_status_kb(field_name: str) -> int:
    """A `kB` figure of /proc/self/status (VmRSS, VmHWM...)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    raise KeyError(field_name)


def rss_bytes() -> int:
    """The resident set size now (from statm: cheaper than parsing status)."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def cpu_seconds() -> float:
    """User + system CPU of this process, all threads (aiosqlite runs on its own)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cpu_by_thread() -> dict[str, float]:
    """CPU seconds of each live thread of this process, by Python thread name (the event
    loop is MainThread; aiosqlite runs every statement on a thread of its own)."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        name = names.get(int(tid), f"thread-{tid}")
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def log_to(path: Path, level: int = logging.INFO) -> None:
    """The bot logs as in production (INFO), to a file, so the table stays readable."""
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("discord").setLevel(logging.WARNING)


# -- a bot pointed at the simulators -------------------------------------------------------


def bot_settings(
    db_path: Path, urls: dict[str, str], *, web_port: int | None = None, **extra: Any
) -> Settings:
    """Settings for every vendor whose simulator is in `urls`, through the real settings
    path (the same names an operator sets)."""
    values: dict[str, Any] = {
        "DISCORD_TOKEN": "test-token",
        "VEO_DB_PATH": db_path,
        # The simulators live on 127.0.0.1, including the URLs they hand out.
        "VEO_ALLOW_PRIVATE_URLS": True,
    }
    for name, key in SIM_KEYS.items():
        if name in urls:
            values[f"{name.upper()}_API_KEY"] = key
            values[f"{name.upper()}_BASE_URL"] = urls[name]
    if web_port is not None:
        values["VEO_HTTP_PORT"] = web_port
        values["VEO_PUBLIC_URL"] = f"http://127.0.0.1:{web_port}"
    values.update(extra)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class Tracer:
    """What the real objects did, timed on time.monotonic(): status calls per task, each
    download's start and end, when each job was handed to the publisher (its video, or
    its failure to be shown)."""

    polls: Counter[tuple[str, str]] = field(default_factory=Counter)
    poll_times: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    submitted: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    fetched: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    delivered: dict[int, tuple[float, str, str]] = field(default_factory=dict)
    told_failed: dict[int, tuple[float, str, str]] = field(default_factory=dict)

    def wrap_provider(self, name: str, provider: Any) -> None:
        submit, status, fetch = provider.submit, provider.status, provider.fetch

        async def timed_submit(request: Any) -> str:
            start = time.monotonic()
            task_id: str = await submit(request)
            self.submitted[(name, task_id)] = (start, time.monotonic())
            return task_id

        async def counted_status(task_id: str, model: str) -> Any:
            self.polls[(name, task_id)] += 1
            self.poll_times.setdefault((name, task_id), []).append(time.monotonic())
            return await status(task_id, model)

        async def timed_fetch(task_id: str, *args: Any, **kwargs: Any) -> Any:
            start = time.monotonic()
            try:
                return await fetch(task_id, *args, **kwargs)
            finally:
                self.fetched[(name, task_id)] = (start, time.monotonic())

        provider.submit = timed_submit
        provider.status = counted_status
        provider.fetch = timed_fetch

    def wrap_publisher(self, publisher: Any) -> None:
        deliver, job_updated = publisher.deliver, publisher.job_updated

        async def timed_deliver(job: Job, *, resumed: bool) -> int:
            self.delivered.setdefault(
                job.id, (time.monotonic(), job.provider, str(job.task_id or ""))
            )
            message_id: int = await deliver(job, resumed=resumed)
            return message_id

        async def timed_update(job: Job, *, position: int | None = None) -> None:
            if job.status is JobStatus.FAILED:
                self.told_failed.setdefault(
                    job.id, (time.monotonic(), job.provider, str(job.task_id or ""))
                )
            await job_updated(job, position=position)

        publisher.deliver = timed_deliver
        publisher.job_updated = timed_update

    def fetch_seconds(self, provider: str, task_id: str) -> float:
        start, end = self.fetched.get((provider, task_id), (0.0, 0.0))
        return end - start


class WriteCounter:
    """Counts the store's write transactions (every write goes through
    `Database.transaction`, one BEGIN IMMEDIATE ... COMMIT each)."""

    def __init__(self, db: Database) -> None:
        self.count = 0
        original = db.transaction

        def counting() -> Any:
            self.count += 1
            return original()

        db.transaction = counting  # type: ignore[method-assign]


async def total_changes(db: Database) -> int:
    """Rows inserted, updated or deleted on this connection since it opened."""
    return await db.total_changes()


class StandInPublisher:
    """A Discord sender that posts nothing: `deliver` records the call and answers a fake
    message id (the Publisher protocol of bot/publishing.py)."""

    def __init__(self) -> None:
        self.delivered: dict[int, tuple[float, int | None]] = {}
        self._next_id = 9_000_000_000

    async def job_updated(self, job: Job, *, position: int | None = None) -> None:
        return None

    async def operator_alert(
        self, job: Job, params: Mapping[str, Param], *, kind: str = "account"
    ) -> bool:
        return False

    async def deliver(self, job: Job, *, resumed: bool) -> int:
        size = None
        if job.result_path and os.path.exists(job.result_path):
            size = os.path.getsize(job.result_path)
        self.delivered[job.id] = (time.monotonic(), size)
        self._next_id += 1
        return self._next_id

    async def close(self) -> None:
        return None


# -- the simulator host, as its own process ------------------------------------------------


class SimHost:
    """`python -m bench.simhost` with some simulators, as a process of its own, so their
    CPU and memory stay out of the measured process. Stopped by closing its stdin, after
    which `cpu_seconds` holds the CPU it used, and with `report`, `report` what only the
    simulators know (`bench.simhost`)."""

    def __init__(self, names: Iterable[str], *, report: bool = False) -> None:
        self.names = list(names)
        self.urls: dict[str, str] = {}
        self.cpu_seconds: float | None = None
        self.report: dict[str, Any] = {}
        self._report = report
        self._proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> SimHost:
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.simhost",
            *self.names,
            *(["--report"] if self._report else []),
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self._proc.stdout is not None
        line = await asyncio.wait_for(self._proc.stdout.readline(), 60)
        if not line:
            await self.__aexit__()
            raise RuntimeError("the simulator host did not start")
        self.urls = json.loads(line)
        return self

    async def __aexit__(self, *exc: object) -> None:
        proc = self._proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        proc.stdin.close()
        try:
            tail = await asyncio.wait_for(proc.stdout.read(), 15)
            await asyncio.wait_for(proc.wait(), 5)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            return
        for line in tail.decode().splitlines():
            with contextlib.suppress(ValueError, KeyError, TypeError):
                last = json.loads(line)
                self.cpu_seconds = float(last["cpu_seconds"])
                self.report = last


def run_child(
    module: str,
    args: list[str],
    timeout: float,
    *,
    cwd: Path = REPO,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run `python -m module args` in a fresh process; its last stdout line is JSON."""
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    if done.returncode != 0 or not lines:
        raise RuntimeError(
            f"{module} failed ({done.returncode}): {done.stderr.strip()[-2000:] or done.stdout}"
        )
    result: dict[str, Any] = json.loads(lines[-1])
    return result
