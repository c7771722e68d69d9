"""Several bot processes on one PostgreSQL database (here: bots in one test process, each
with its own connections, which is all the database sees of a process): they tell each
other of new work, and exactly one of them runs the duties that must run once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from bot.client import VeoBot
from bot.jobs.quota import QuotaRefused
from bot.jobs.requests import GenerationRequest
from bot.settings import Settings
from storage import JobStatus
from tests.conftest import BotFactory, wait_for_job
from tests.jobs.test_manager import FAST, origin
from tests.postgres import POSTGRES_ONLY, SQLITE_ONLY
from tests.sim.apiyi_sim import ApiyiSimulator
from tests.sim.discord_payloads import GUILD_ID

SettingsFactory = Callable[..., Settings]


async def until_true(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}")
        await asyncio.sleep(0.02)


def leaders(bots: list[VeoBot]) -> list[VeoBot]:
    return [b for b in bots if b.manager.leader.leading]


@POSTGRES_ONLY
async def test_a_job_made_in_one_process_is_started_at_once_by_another(
    start_bot: BotFactory, apiyi_settings: Settings, apiyi_sim: ApiyiSimulator
) -> None:
    """The process that took the command only writes; the other one hears of the job by
    NOTIFY and starts it, instead of at the end of the job's 30-s hold."""
    front = await start_bot(apiyi_settings)
    await front.manager.stop()  # takes commands, works no job
    worker = await start_bot(apiyi_settings)
    request = GenerationRequest(provider="apiyi", model=FAST, prompt="x")
    job = await front.service.accept(request, [], origin())  # held for 30 s
    await asyncio.sleep(0.3)  # the worker has looked, found it held, and sleeps
    await front.service.started(job, None)
    sent = await wait_for_job(
        worker, job.id, frozenset({JobStatus.RUNNING}) | {JobStatus.DELIVERED}
    )
    assert sent.submitted_at is not None and sent.submitted_at - job.created_at < 10
    assert len(apiyi_sim.submits()) == 1


@POSTGRES_ONLY
async def test_one_process_leads_and_another_takes_over_when_it_dies(
    start_bot: BotFactory, make_settings: SettingsFactory
) -> None:
    bots = [await start_bot(make_settings()) for _ in range(3)]
    for bot in bots:
        bot.manager.leader.every = 0.1
    await asyncio.sleep(0.3)
    [leader] = leaders(bots)
    # The leader's process dies: the database drops its connection, and its lock with it.
    pid = leader.db._leading_conn.get_server_pid()  # type: ignore[attr-defined]
    await bots[0].db.fetchone("SELECT pg_terminate_backend(?::int)", (pid,))
    others = [b for b in bots if b is not leader]
    await until_true(lambda: len(leaders(others)) == 1, "another process to lead", timeout=5)
    # The old leader's checks find it no longer holds the lock, and it stays a follower.
    await until_true(lambda: not leader.manager.leader.leading, "the old leader to step down")
    await asyncio.sleep(0.3)
    assert len(leaders(bots)) == 1


@POSTGRES_ONLY
async def test_only_the_leader_shows_waiting_jobs_their_place(
    start_bot: BotFactory, make_settings: SettingsFactory
) -> None:
    bots = [await start_bot(make_settings()) for _ in range(2)]
    [leader] = leaders(bots)
    [follower] = [b for b in bots if b is not leader]
    assert leader.manager.progress._leading() and not follower.manager.progress._leading()


@SQLITE_ONLY
def test_a_process_runs_the_shards_it_is_given(make_settings: SettingsFactory) -> None:
    bot = VeoBot(make_settings(VEO_SHARD_IDS="1,3", VEO_SHARD_COUNT=4))
    assert (bot.shard_ids, bot.shard_count) == ([1, 3], 4)
    alone = VeoBot(make_settings())
    assert (alone.shard_ids, alone.shard_count) == (None, None)  # discord.py decides


@SQLITE_ONLY
def test_shard_settings_that_cannot_work_are_refused(make_settings: SettingsFactory) -> None:
    assert any("VEO_SHARD_COUNT" in p for p in make_settings(VEO_SHARD_IDS="0").problems())
    beyond = make_settings(VEO_SHARD_IDS="0,4", VEO_SHARD_COUNT=4).problems()
    assert any("shard 4" in p for p in beyond)
    assert make_settings(VEO_SHARD_IDS="0,1", VEO_SHARD_COUNT=2).problems() == []


@SQLITE_ONLY
def test_a_process_paces_its_share_of_a_vendors_rate(make_settings: SettingsFactory) -> None:
    """Two processes, one shard each: each paces half the vendor's rate, so together they
    keep to it; the task cap is counted in the database and stays whole."""
    whole = make_settings().vendor_limits()["apixo"]
    half = make_settings(VEO_SHARD_IDS="1", VEO_SHARD_COUNT=2).vendor_limits()["apixo"]
    assert half.rate_per_minute == whole.rate_per_minute / 2 == 5_000
    assert half.max_tasks == whole.max_tasks


@POSTGRES_ONLY
async def test_fifty_commands_from_one_member_across_three_processes_take_exactly_the_quota(
    start_bot: BotFactory, make_settings: SettingsFactory
) -> None:
    settings = make_settings(VEO_DAILY_QUOTA=7, VEO_MAX_ACTIVE_PER_USER=50)
    bots = [await start_bot(settings) for _ in range(3)]
    for bot in bots:
        await bot.manager.stop()  # only the commands: nothing is sent anywhere
    request = GenerationRequest(provider="demo", model="demo-veo", prompt="x")
    results = await asyncio.gather(
        *(bots[i % 3].service.accept(request, [], origin()) for i in range(50)),
        return_exceptions=True,
    )
    accepted = [r for r in results if not isinstance(r, BaseException)]
    assert len(accepted) == 7
    assert all(isinstance(r, QuotaRefused) for r in results if isinstance(r, BaseException))
    assert await bots[0].store.usage(accepted[0].user_id, accepted[0].quota_day, GUILD_ID) == 7
