"""A veo-bot process for the crash tests: the real bot stack, run until SIGKILLed.

`python -m tests.crash.child` (cwd = the repository). Settings come from the environment
exactly as in production (`VEO_DB_PATH` or `VEO_DATABASE_URL`, `APIYI_API_KEY`, `APIYI_BASE_URL`, `VEO_*`);
the harness adds:

- `CRASH_DISCORD_BASE`: `discord.http.Route.BASE` (the test's Discord simulator).
- `CRASH_TIMING`: JSON of apiyi schedule overrides (`VeoBot(timing_overrides=...)`).
- `CRASH_LEASE` / `CRASH_IDLE`: the job manager's lease and idle wait, in seconds (not
  settings in production; short here so a dead process's jobs are taken over quickly).
- `CRASH_HOLD`: `bot.jobs.service.CREATION_HOLD`, the wait before a job whose public message
  was never posted is picked up anyway.
- `CRASH_JOBS`: JSON list of prompts; one job each (user `USER_ID + i`) is created
  through the real service, its job message posted, then released to the manager.
- `CRASH_KILL`: a kill point inside the process (`KILL_POINTS`); the process SIGKILLs
  itself there. Points the test can see on the simulators are killed from outside.

Prints `JOB <id>` for each job created, `READY <manager owner>` once up, and `KILL
<point>` just before killing itself. SIGTERM closes the bot cleanly.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from typing import Any

import discord

import bot.client
import bot.jobs.service
from bot.chat.publisher import DiscordPublisher
from bot.cli import run_until_stopped
from bot.client import VeoBot
from bot.jobs.loop import JobManager
from bot.jobs.origin import Origin
from bot.jobs.requests import GenerationRequest
from bot.settings import Settings
from storage import Job, JobStatus, JobStore
from tests.sim.discord_payloads import CHANNEL_ID, GUILD_ID, USER_ID

FAST = "veo-3.1-fast-generate-preview"

KILL_POINTS = frozenset(
    {
        "after_reserve",  # quota reserved (job row written), job message never posted
        "before_submitting",  # job claimed, quota reserved, `submitting` not yet persisted
        "after_submitting",  # `submitting` persisted, the submit request not yet sent
        "before_task_id",  # the vendor answered the submit, its task id not yet stored
        "before_post",  # video downloaded and delivery recorded, nothing posted yet
        "after_failing",  # the job was failed and refunded, the member not yet told
    }
)


def die(point: str) -> None:
    print(f"KILL {point}", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


def install_kill_point(point: str) -> None:
    """Fault injection, in this harness only: die at `point` of the real code path."""
    if not point or point == "after_reserve":
        return  # after_reserve is in `create_jobs`
    if point not in KILL_POINTS:
        raise SystemExit(f"unknown CRASH_KILL {point!r}")
    if point == "before_post":

        async def deliver(self: DiscordPublisher, job: Job, *, resumed: bool) -> int:
            die(point)
            raise AssertionError("unreachable")

        DiscordPublisher.deliver = deliver  # type: ignore[method-assign]
        return
    if point == "after_failing":
        real_finish = JobStore.finish

        async def finish(self: JobStore, job: Job, *args: Any, **kwargs: Any) -> Job:
            finished = await real_finish(self, job, *args, **kwargs)
            if finished.status is JobStatus.FAILED:
                die(point)
            return finished

        JobStore.finish = finish  # type: ignore[method-assign]
        return

    if point in ("before_submitting", "after_submitting"):
        real_start = JobStore.start_submit

        async def start_submit(self: JobStore, job: Job, owner: str, **kw: Any) -> Job | None:
            if point == "before_submitting":
                die(point)
            started = await real_start(self, job, owner, **kw)
            die(point)
            return started

        JobStore.start_submit = start_submit  # type: ignore[method-assign]
        return

    real_update = JobStore.update

    async def update(self: JobStore, job: Job, owner: str, **fields: Any) -> Job:
        if point == "before_task_id" and "task_id" in fields:
            die(point)
        return await real_update(self, job, owner, **fields)

    JobStore.update = update  # type: ignore[method-assign]


def configure_manager(lease: float, idle: float) -> None:
    """The composition root builds JobManager with its defaults; give it the harness's."""

    class HarnessManager(JobManager):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("lease_seconds", lease)
            kwargs.setdefault("idle_wait", idle)
            super().__init__(*args, **kwargs)
            # The test sees which process leads, and how soon another takes over.
            self.leader.every = float(os.environ.get("CRASH_LEADER_EVERY", "5"))
            self.leader.on_lead(lambda: print("LEAD", flush=True))

    bot.client.JobManager = HarnessManager  # type: ignore[misc]


async def create_jobs(veo: VeoBot, prompts: list[str], kill: str) -> None:
    """What the generate command does after validation: accept, post, release."""
    channel = veo.get_partial_messageable(CHANNEL_ID, guild_id=GUILD_ID)
    for i, prompt in enumerate(prompts):
        request = GenerationRequest(provider="apiyi", model=FAST, prompt=prompt)
        where = Origin(
            user_id=USER_ID + i,
            guild_id=GUILD_ID,
            channel_id=CHANNEL_ID,
            filesize_limit=10 * 1024 * 1024,
            delivery_mode="channel",
        )
        job = await veo.service.accept(request, [], where)
        print(f"JOB {job.id}", flush=True)
        if kill == "after_reserve":
            die(kill)
        message = await channel.send(veo.publisher.render(job))
        await veo.service.started(job, message.id)


async def main() -> None:
    env = os.environ
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format=f"%(asctime)s [{os.getpid()}] %(levelname)s %(name)s: %(message)s",
    )
    discord.http.Route.BASE = env["CRASH_DISCORD_BASE"]
    kill = env.get("CRASH_KILL", "")
    install_kill_point(kill)
    configure_manager(float(env.get("CRASH_LEASE", "1.0")), float(env.get("CRASH_IDLE", "0.2")))
    bot.jobs.service.CREATION_HOLD = float(env.get("CRASH_HOLD", "1.0"))  # type: ignore[misc]
    timing = json.loads(env.get("CRASH_TIMING", "{}"))
    veo = VeoBot(Settings(_env_file=None), timing_overrides={"apiyi": timing} if timing else None)  # type: ignore[call-arg]
    # SIGTERM/SIGINT stop it the way the real bot stops (bot.cli.run_until_stopped).
    await veo.login("test-token")
    await create_jobs(veo, json.loads(env.get("CRASH_JOBS", "[]")), kill)
    print(f"READY {veo.manager.owner}", flush=True)
    await run_until_stopped(veo, asyncio.Event().wait())


if __name__ == "__main__":
    asyncio.run(main())
