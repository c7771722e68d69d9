"""Shared fixtures: real simulators on 127.0.0.1, a real SQLite file or PostgreSQL database, a real
logged-in bot."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import discord
import pytest

from bot.client import VeoBot
from bot.providers.base import Timing
from bot.settings import Settings
from storage import TERMINAL, Job, JobStatus
from tests.postgres import PostgresServer, fresh_database
from tests.sim.apiyi_sim import ApiyiSimulator
from tests.sim.discord_sim import DiscordSim

# Schedules small enough that a whole job runs in well under a second.
FAST_TIMING = Timing(initial_wait=0.05, poll_interval=0.05, deadline=20)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain client session for adapter tests (the bot's own is built in setup_hook)."""
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def discord_sim(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[DiscordSim]:
    async with DiscordSim() as sim:
        monkeypatch.setattr(discord.http.Route, "BASE", sim.api_base)
        yield sim


@pytest.fixture
async def apiyi_sim() -> AsyncIterator[ApiyiSimulator]:
    sim = ApiyiSimulator(queued_for=0.05, running_for=0.05)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.close()


@pytest.fixture
def store_kind() -> str:
    """The engine under a test's store. SQLite here; the folders whose tests must hold on
    both engines (storage, the job manager, crashes) override it with both."""
    return "sqlite"


@pytest.fixture
async def db_target(
    store_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Path | str]:
    """What `Database.open` is given: a SQLite file, or a fresh PostgreSQL database."""
    if store_kind == "sqlite":
        yield tmp_path / "data" / "veo.sqlite3"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    yield await fresh_database(server)


@pytest.fixture
def make_settings(tmp_path: Path, db_target: Path | str) -> Callable[..., Settings]:
    where = (
        {"VEO_DB_PATH": db_target}
        if isinstance(db_target, Path)
        else {"VEO_DATABASE_URL": db_target, "VEO_DATA_DIR": tmp_path / "data"}
    )

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "DISCORD_TOKEN": "test-token",
            **where,
            "VEO_DEMO_DELAY": 0.2,
            "VEO_DEMO_POLL_INTERVAL": 0.05,
            # The simulators live on 127.0.0.1, including the URLs they hand out.
            "VEO_ALLOW_PRIVATE_URLS": True,
            # Tests poll every 50 ms; the production batching of claims would slow them.
            "VEO_LOOP_BATCH_WINDOW": 0,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return make


@pytest.fixture
def apiyi_settings(make_settings: Callable[..., Settings], apiyi_sim: ApiyiSimulator) -> Settings:
    return make_settings(APIYI_API_KEY=apiyi_sim.api_key, APIYI_BASE_URL=apiyi_sim.base_url)


BotFactory = Callable[..., Awaitable[VeoBot]]


@pytest.fixture
async def start_bot(discord_sim: DiscordSim) -> AsyncIterator[BotFactory]:
    """Start VeoBot through its real composition root (login → setup_hook), no gateway."""
    bots: list[VeoBot] = []

    async def start(
        settings: Settings,
        timing: Timing | None = FAST_TIMING,
        clock: Callable[[], float] = time.time,
    ) -> VeoBot:
        overrides = {"apiyi": dataclasses.asdict(timing)} if timing is not None else None
        bot = VeoBot(settings, timing_overrides=overrides, clock=clock)
        await bot.login("test-token")
        bots.append(bot)
        return bot

    yield start
    for bot in bots:
        await bot.close()


async def wait_for_job(
    bot: VeoBot,
    job_id: int,
    statuses: frozenset[JobStatus] = TERMINAL,
    timeout: float = 10.0,
    until: Callable[[Job], bool] = lambda _job: True,
) -> Job:
    deadline = time.monotonic() + timeout
    while True:
        job = await bot.store.get(job_id)
        if job is None:  # a button's callback may still be creating it
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} was never created")
            await asyncio.sleep(0.02)
            continue
        # A job's task posts its news to Discord after writing its new state: wait for the
        # task to end too, so tests see what the member saw.
        settled = job.status not in TERMINAL or job.id not in bot.manager._in_hand
        if job.status in statuses and until(job) and settled:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(
                f"job {job_id} stuck in {job.status} ({job.stage}, {job.error_code})"
            )
        await asyncio.sleep(0.02)


# One throwaway PostgreSQL server for the whole session: a cluster takes about a second to start.


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """No skip when PostgreSQL is missing: PostgresServer raises, so CI fails and says why."""
    with PostgresServer() as server:
        yield server
