"""Crash-test harness: the bot runs in a child process (tests/crash/child.py) against the
simulators of the test process, and is killed with SIGKILL; the database file and the
simulators' request logs are what the assertions look at."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from bot.chat.components import result_custom_id
from storage import TERMINAL, Database, Job, JobStore
from tests.conftest import FAST_TIMING
from tests.sim.apiyi_sim import ApiyiSimulator
from tests.sim.discord_payloads import CHANNEL_ID
from tests.sim.discord_sim import DiscordSim

REPO = Path(__file__).resolve().parents[2]
# Prefixes of the settings a child must not inherit from the developer's shell.
OWN_ENV = ("VEO_", "APIYI_", "APIXO_", "VEO3O1_", "YELINAI_", "DISCORD_", "CRASH_")
LEASE = 1.0  # the children's lease: a SIGKILLed child's jobs are free again within 1 s


class Child:
    """One bot process: its stdout protocol (JOB / READY / KILL / LEAD lines) and its log."""

    def __init__(self, proc: asyncio.subprocess.Process, log_path: Path) -> None:
        self.proc = proc
        self.log_path = log_path
        self.job_ids: list[int] = []
        self.owner: str | None = None
        self.killed_at: str | None = None
        self.leads = asyncio.Event()  # it said LEAD: it runs the once-only duties
        self._ready = asyncio.Event()
        self._pump = asyncio.create_task(self._read())

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while raw := await self.proc.stdout.readline():
            word, _, rest = raw.decode().strip().partition(" ")
            if word == "JOB":
                self.job_ids.append(int(rest))
            elif word == "READY":
                self.owner = rest
                self._ready.set()
            elif word == "KILL":
                self.killed_at = rest
            elif word == "LEAD":
                self.leads.set()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _fail(self, what: str) -> AssertionError:
        tail = "\n".join(self.log().splitlines()[-40:])
        return AssertionError(f"child {self.pid}: {what}; log tail:\n{tail}")

    async def ready(self, timeout: float = 30.0) -> Child:
        """Wait for READY; fail (with the child's log) if it exits or takes too long."""
        exited = asyncio.create_task(self.proc.wait())
        ready = asyncio.create_task(self._ready.wait())
        try:
            await asyncio.wait({exited, ready}, timeout=timeout, return_when="FIRST_COMPLETED")
        finally:
            for task in (exited, ready):
                task.cancel()
        if not self._ready.is_set():
            raise self._fail(f"not ready (returncode {self.proc.returncode})")
        return self

    async def kill(self) -> None:
        """SIGKILL: no `finally`, no clean shutdown, no lease released."""
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGKILL)
        await self.died_by_sigkill()

    async def died_by_sigkill(self, timeout: float = 15.0) -> None:
        try:
            async with asyncio.timeout(timeout):
                code = await self.proc.wait()
                await self._pump
        except TimeoutError:
            raise self._fail("still running") from None
        if code != -signal.SIGKILL:
            raise self._fail(f"exited with {code}, not SIGKILL")

    async def close(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGKILL)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(10):
                    await self.proc.wait()
        self._pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._pump


Spawn = Callable[..., Awaitable[Child]]


@pytest.fixture(params=["sqlite", "postgresql"])
def store_kind(request: pytest.FixtureRequest) -> str:
    """Crashes on both engines: a SIGKILLed process loses nothing on either."""
    return str(request.param)


@pytest.fixture
async def spawn(
    tmp_path: Path, db_target: Path | str, discord_sim: DiscordSim, apiyi_sim: ApiyiSimulator
) -> AsyncIterator[Spawn]:
    """Start a bot child on the test's database and simulators; every child still alive
    at the end is SIGKILLed (a test that wants a clean stop sends SIGTERM itself)."""
    children: list[Child] = []
    numbers = itertools.count(1)

    async def start(
        *,
        prompts: Sequence[str] = (),
        kill: str = "",
        lease: float = LEASE,
        settings: dict[str, str] | None = None,
    ) -> Child:
        env = {k: v for k, v in os.environ.items() if not k.startswith(OWN_ENV)}
        env.update(
            {
                "DISCORD_TOKEN": "test-token",
                **(
                    {"VEO_DB_PATH": str(db_target)}
                    if isinstance(db_target, Path)
                    else {"VEO_DATABASE_URL": db_target, "VEO_DATA_DIR": str(tmp_path / "data")}
                ),
                "APIYI_API_KEY": apiyi_sim.api_key,
                "APIYI_BASE_URL": apiyi_sim.base_url,
                "CRASH_DISCORD_BASE": discord_sim.api_base,
                "CRASH_TIMING": json.dumps(dataclasses.asdict(FAST_TIMING)),
                "CRASH_LEASE": str(lease),
                "CRASH_IDLE": "0.1",
                "VEO_LOOP_BATCH_WINDOW": "0",
                "CRASH_HOLD": "1.0",
                "CRASH_JOBS": json.dumps(list(prompts)),
                "CRASH_KILL": kill,
                **(settings or {}),
            }
        )
        log_path = tmp_path / f"child-{next(numbers)}.log"  # taken before any await
        with open(log_path, "wb") as log_file:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.crash.child",
                cwd=REPO,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=log_file,
            )
        child = Child(proc, log_path)
        children.append(child)
        return child

    yield start
    for child in children:
        await child.close()


# -- what the assertions look at ------------------------------------------------------


def _marks(payload: Any, job_id: int) -> bool:
    """A message (or a message request) carries job `job_id`'s delivery mark: the result
    buttons, which only the bot can put on a message."""
    if not isinstance(payload, dict):
        return False
    rows = payload.get("components") or []
    ids = [c.get("custom_id") for row in rows for c in row.get("components", [])]
    return result_custom_id(job_id) in ids


def video_posts(sim: DiscordSim, job_id: int) -> list[Any]:
    """Every message POST (answered or not) that delivers the job's video."""
    return [
        r for r in sim.find_requests("POST", r"/channels/\d+/messages$") if _marks(r.json, job_id)
    ]


def deliveries(sim: DiscordSim, job_id: int) -> list[dict[str, Any]]:
    """The job's video messages as the channel shows them."""
    return [m for m in sim.messages(CHANNEL_ID) if _marks(m, job_id)]


def failure_pings(sim: DiscordSim, job_id: int) -> list[dict[str, Any]]:
    return [m for m in sim.messages(CHANNEL_ID) if f"job #{job_id} failed" in str(m["content"])]


def submits_for(sim: ApiyiSimulator, prompt: str) -> list[Any]:
    return [r for r in sim.submits() if isinstance(r.json, dict) and r.json["prompt"] == prompt]


@contextlib.asynccontextmanager
async def open_store(target: Path | str) -> AsyncIterator[JobStore]:
    """The test's own connection to the children's database (reads only)."""
    db = await Database.open(target)
    try:
        yield JobStore(db)
    finally:
        await db.close()


async def wait_terminal(store: JobStore, job_ids: list[int], timeout: float = 15.0) -> list[Job]:
    """Every job ended (delivered, failed or cancelled), read from the database."""
    deadline = time.monotonic() + timeout
    while True:
        jobs = [await store.get(i) for i in job_ids]
        if all(j is not None and j.status in TERMINAL for j in jobs):
            return [j for j in jobs if j is not None]
        if time.monotonic() > deadline:
            stuck = [(j.id, j.status.value, j.stage) for j in jobs if j is not None]
            raise AssertionError(f"jobs not finished: {stuck}")
        await asyncio.sleep(0.05)


async def until(predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)
