"""Two bot processes on one SQLite file: leases keep them off each other's jobs, and a
job held by a process that was SIGKILLed is taken over once its lease runs out."""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import time
from pathlib import Path

import pytest

from storage import JobStatus, QuotaState
from tests.crash.conftest import (
    Child,
    Spawn,
    deliveries,
    failure_pings,
    open_store,
    submits_for,
    until,
    video_posts,
    wait_terminal,
)
from tests.postgres import SQLITE_ONLY
from tests.sim.apiyi_sim import ApiyiSimulator
from tests.sim.discord_payloads import GUILD_ID, USER_ID
from tests.sim.discord_sim import DiscordSim
from tests.sim.vendor_base import default_video

PROMPTS = [f"scene {i}: a lighthouse at dusk" for i in range(6)]
TWO_AT_A_TIME = {"VEO_MAX_CONCURRENT_JOBS": "2"}


def submitted_by(child: Child) -> set[int]:
    """The jobs this process sent to the vendor, from its own log."""
    return {int(m) for m in re.findall(r"job (\d+): submitted to apiyi", child.log())}


async def test_two_processes_share_the_queue_and_submit_each_job_once(
    spawn: Spawn, db_target: Path | str, apiyi_sim: ApiyiSimulator, discord_sim: DiscordSim
) -> None:
    apiyi_sim.queued_for = apiyi_sim.running_for = 0.15
    idle = await (await spawn(settings=TWO_AT_A_TIME)).ready()
    maker = await (await spawn(prompts=PROMPTS, settings=TWO_AT_A_TIME)).ready()
    async with open_store(db_target) as store:
        jobs = await wait_terminal(store, maker.job_ids)
        for job, prompt in zip(jobs, PROMPTS, strict=True):
            assert job.status is JobStatus.DELIVERED, (job.id, job.error_code)
            assert len(submits_for(apiyi_sim, prompt)) == 1
            assert len(video_posts(discord_sim, job.id)) == 1
            assert await store.usage(job.user_id, job.quota_day, GUILD_ID) == 1
    assert len(apiyi_sim.submits()) == 6
    mine, theirs = submitted_by(maker), submitted_by(idle)
    # (Which process takes which job depends on timing; on a loaded machine one may take
    # them all. The guarantee is that no job is taken by both.)
    assert mine | theirs == set(maker.job_ids) and not mine & theirs


async def test_a_job_held_by_a_killed_process_is_taken_over_after_its_lease(
    spawn: Spawn, db_target: Path | str, apiyi_sim: ApiyiSimulator, discord_sim: DiscordSim
) -> None:
    apiyi_sim.video_bytes = default_video(64 * 1024)
    apiyi_sim.stall_video_after = 32 * 1024  # the first download hangs half-way
    children = await asyncio.gather(spawn(prompts=["a lighthouse at dusk"]), spawn())
    await asyncio.gather(*(child.ready() for child in children))
    await asyncio.wait_for(apiyi_sim.video_stalled.wait(), 10)
    [job_id] = children[0].job_ids
    async with open_store(db_target) as store:
        # The other process leaves the job alone while its holder renews the lease.
        await asyncio.sleep(0.5)
        job = await store.get(job_id)
        assert job is not None and job.status is JobStatus.DOWNLOADING
        [holder] = [c for c in children if c.owner == job.lease_owner]
        [other] = [c for c in children if c is not holder]
        assert len(apiyi_sim.gets("/content")) == 1

        await holder.kill()
        killed = await store.get(job_id)
        assert killed is not None and killed.lease_owner == holder.owner
        assert killed.lease_until is not None and killed.lease_until > time.time() - 1
        apiyi_sim.release_video.set()

        [done] = await wait_terminal(store, [job_id])
        assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
        assert done.finished_at is not None and done.finished_at >= killed.lease_until
        assert done.quota_state is QuotaState.COMMITTED
        assert await store.usage(USER_ID, done.quota_day, GUILD_ID) == 1
    assert f"job {job_id}: delivered as message" in other.log()
    assert len(apiyi_sim.submits()) == 1
    assert len(apiyi_sim.gets("/content")) == 2
    [shown] = deliveries(discord_sim, job_id)
    [attachment] = shown["attachments"]
    assert discord_sim.attachment_bytes(attachment["id"]) == apiyi_sim.video_bytes


async def test_killing_one_of_two_processes_mid_queue_loses_and_duplicates_nothing(
    spawn: Spawn, db_target: Path | str, apiyi_sim: ApiyiSimulator, discord_sim: DiscordSim
) -> None:
    """Kill one process while six jobs are spread over both, some possibly mid-submit:
    whatever each job was doing, it ends delivered once or failed and refunded, and was
    sent at most once. Only a job cut off mid-submit may fail, and the victim works on
    at most two at a time, so at least four are delivered."""
    apiyi_sim.queued_for = apiyi_sim.running_for = 0.3
    apiyi_sim.delay_submit = 0.1
    survivor, victim = await asyncio.gather(
        spawn(settings=TWO_AT_A_TIME), spawn(prompts=PROMPTS, settings=TWO_AT_A_TIME)
    )
    await asyncio.gather(survivor.ready(), victim.ready())
    await until(lambda: len(apiyi_sim.tasks) >= 3, "half the jobs to be accepted")
    await victim.kill()
    await each_ended_once(db_target, victim, apiyi_sim, discord_sim)
    assert survivor.proc.returncode is None


async def each_ended_once(
    db_target: Path | str, victim: Child, apiyi_sim: ApiyiSimulator, discord_sim: DiscordSim
) -> None:
    """Every job the killed process made ends delivered once (quota committed) or failed
    once (refunded, told once), was sent at most once, and at least four were delivered:
    the victim works on at most two at a time, and only a job cut off mid-submit may fail."""
    async with open_store(db_target) as store:
        jobs = await wait_terminal(store, victim.job_ids)
        assert sum(j.status is JobStatus.DELIVERED for j in jobs) >= 4
        for job, prompt in zip(jobs, PROMPTS, strict=True):
            assert len(submits_for(apiyi_sim, prompt)) <= 1
            usage = await store.usage(job.user_id, job.quota_day, GUILD_ID)
            if job.status is JobStatus.DELIVERED:
                assert len(video_posts(discord_sim, job.id)) == 1
                assert (job.quota_state, usage) == (QuotaState.COMMITTED, 1)
            else:
                assert job.status is JobStatus.FAILED and job.error_code, job
                assert video_posts(discord_sim, job.id) == []
                assert (job.quota_state, usage) == (QuotaState.REFUNDED, 0)
                assert len(failure_pings(discord_sim, job.id)) == 1


def has_open(pid: int, path: Path) -> bool:
    """Whether process `pid` has `path` open (Linux /proc)."""
    fds = Path(f"/proc/{pid}/fd")
    try:
        return any(os.readlink(fd) == str(path) for fd in fds.iterdir())
    except OSError:  # the process or one of its fds went away meanwhile
        return False


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs Linux /proc")
@SQLITE_ONLY
async def test_two_processes_starting_together_on_a_new_file_both_start(
    spawn: Spawn, db_target: Path
) -> None:
    db_path = db_target
    db_path.parent.mkdir(parents=True)
    # A third connection holds the write lock so that both processes line up behind it
    # at the same point of their start, as two services started together can.
    gate = sqlite3.connect(db_path, isolation_level=None)
    try:
        gate.execute("PRAGMA journal_mode = WAL")
        gate.execute("BEGIN IMMEDIATE")
        children = [await spawn(), await spawn()]
        await until(
            lambda: all(has_open(c.pid, db_path) for c in children), "both to open the file", 15
        )
        await asyncio.sleep(0.3)  # both are now waiting to migrate
    finally:
        gate.close()  # rolls back: the file is still at schema 0
    for child in children:
        await child.ready()
