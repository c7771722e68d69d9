"""Three bot processes on one PostgreSQL database: each job is sent once and posted once
whichever process takes it, a SIGKILLed process's jobs are finished by the others, and
when the process that leads is killed another takes over its duties."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.crash.conftest import (
    Spawn,
    until,
)
from tests.crash.test_two_processes import (
    PROMPTS,
    TWO_AT_A_TIME,
    each_ended_once,
    submitted_by,
)
from tests.postgres import POSTGRES_ONLY
from tests.sim.apiyi_sim import ApiyiSimulator
from tests.sim.discord_sim import DiscordSim

QUICK_LEADER = {**TWO_AT_A_TIME, "CRASH_LEADER_EVERY": "0.2"}


@POSTGRES_ONLY
async def test_three_processes_one_killed_mid_queue_each_job_sent_and_posted_once(
    spawn: Spawn, db_target: Path | str, apiyi_sim: ApiyiSimulator, discord_sim: DiscordSim
) -> None:
    apiyi_sim.queued_for = apiyi_sim.running_for = 0.3
    apiyi_sim.delay_submit = 0.1
    children = await asyncio.gather(
        spawn(prompts=PROMPTS, settings=TWO_AT_A_TIME),
        spawn(settings=TWO_AT_A_TIME),
        spawn(settings=TWO_AT_A_TIME),
    )
    await asyncio.gather(*(c.ready() for c in children))
    maker, *others = children
    await until(lambda: len(apiyi_sim.tasks) >= 3, "half the jobs to be accepted")
    await maker.kill()
    await each_ended_once(db_target, maker, apiyi_sim, discord_sim)
    sent = [submitted_by(c) for c in children]
    assert sum(len(s) for s in sent) == len(set().union(*sent))  # no job sent by two
    assert all(c.proc.returncode is None for c in others)


@POSTGRES_ONLY
async def test_when_the_leading_process_is_killed_another_leads_within_seconds(
    spawn: Spawn, db_target: Path | str
) -> None:
    children = await asyncio.gather(*(spawn(settings=QUICK_LEADER) for _ in range(3)))
    await asyncio.gather(*(c.ready() for c in children))
    await until(lambda: sum(c.leads.is_set() for c in children) == 1, "one process to lead", 10)
    [leader] = [c for c in children if c.leads.is_set()]
    killed_at = time.monotonic()
    await leader.kill()
    others = [c for c in children if c is not leader]
    await until(lambda: any(c.leads.is_set() for c in others), "another process to lead", 10)
    took = time.monotonic() - killed_at
    await asyncio.sleep(0.5)
    assert sum(c.leads.is_set() for c in others) == 1  # one, not both
    assert took < 5.0, f"took over after {took:.1f} s"
