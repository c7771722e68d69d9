"""The job core's own endings, end to end: a job left the way a crash, a restart or a
vendor's outage leaves it is ended by the real manager; its row keeps the code and the
parameters only, and the member reads, on the job message and in the failure ping, the
sentence the core used to store. A failure from before the change is told in its own
words. Real Discord simulator, real SQLite file, the real composition root."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable

from bot.client import VeoBot
from bot.jobs.requests import GenerationRequest
from bot.jobs.retry import MAX_UNEXPECTED_ERRORS
from bot.providers.codes import Failure
from bot.settings import Settings
from storage import Job, JobStatus, QuotaState
from tests.chat.test_failures import BEFORE
from tests.conftest import BotFactory, wait_for_job
from tests.jobs.test_manager import _raw_update, origin
from tests.jobs.test_two_bots import pings
from tests.postgres import SQLITE_ONLY
from tests.sim.discord_payloads import CHANNEL_ID, GUILD_ID, USER_ID
from tests.sim.discord_sim import DiscordSim

SettingsFactory = Callable[..., Settings]
LATER = 1e12  # not due until the test says so


async def parked(bot: VeoBot, settings: Settings, **row: object) -> int:
    """A demo job with its public message, which this bot will not work on, left the way
    `row` says; due at once unless `row` says otherwise."""
    await bot.manager.stop()
    request = GenerationRequest(provider="demo", model="demo-veo", prompt="a quiet harbour")
    job = await bot.service.accept(request, [], origin())
    channel = bot.get_partial_messageable(CHANNEL_ID, guild_id=GUILD_ID)
    message = await channel.send(bot.publisher.render(job))
    await bot.store.release_hold(job.id, status_message_id=message.id)
    fields = {"lease_owner": None, "lease_until": None, "next_poll_at": 0, **row}
    assert await _raw_update(settings.database, job.id, **fields) == 1
    return job.id


async def told(bot: VeoBot, sim: DiscordSim, job_id: int) -> tuple[Job, str, str]:
    """The ended job, its message's last line and its failure ping, once both are out."""
    done = await wait_for_job(bot, job_id)
    assert (done.status, done.quota_state) == (JobStatus.FAILED, QuotaState.REFUNDED)
    deadline = time.monotonic() + 10
    while not pings(sim, job_id):
        assert time.monotonic() < deadline, "no failure ping"
        await asyncio.sleep(0.02)
    [ping] = pings(sim, job_id)
    assert done.status_message_id is not None
    shown = str(sim.message(done.status_message_id)["content"]).splitlines()[-1]
    return done, shown, str((ping.json or {}).get("content"))


def assert_stored(done: Job, code: str, params: dict[str, str]) -> None:
    """Kept as a code and its parameters, with no sentence."""
    assert done.error_code == code
    assert done.error_message is None
    assert Failure.load_params(done.error_params) == params


async def test_a_retired_vendor_and_a_restart_mid_submit_end_in_their_old_words(
    start_bot: BotFactory, make_settings: SettingsFactory, discord_sim: DiscordSim
) -> None:
    settings = make_settings(VEO_MAX_ACTIVE_PER_USER=5, VEO_DAILY_QUOTA=10)
    setup = await start_bot(settings)
    cases = [
        # A queued job whose vendor is no longer configured.
        ("provider_disabled", {}, BEFORE["provider_disabled"], {"provider": "retired"}),
        # A running job whose vendor is gone: the bot's own trouble, to the member.
        (
            "provider_disabled",
            {"step": "poll"},
            BEFORE["internal"],
            {"provider": "retired", "status": "running", "task_id": "t-1", "sent_at": 1.0},
        ),
        # Sent, then the process died before it learned the task id.
        ("interrupted", {}, BEFORE["interrupted"], {"status": "submitting", "sent_at": 1.0}),
        # Sent and followed, past its deadline.
        (
            "deadline",
            {},
            BEFORE["deadline"],
            {"status": "running", "task_id": "t-2", "sent_at": 1.0, "deadline_at": 1.0},
        ),
    ]
    ids = [await parked(setup, settings, **row) for *_, row in cases]
    worker = await start_bot(settings)
    for job_id, (code, params, before, _) in zip(ids, cases, strict=True):
        done, shown, ping = await told(worker, discord_sim, job_id)
        assert_stored(done, code, params)
        assert shown == f"❌ Failed: {before}"
        assert ping == f"<@{USER_ID}> job #{job_id} failed: {before}"


async def test_a_vendor_down_too_long_ends_in_its_old_words(
    start_bot: BotFactory, make_settings: SettingsFactory, discord_sim: DiscordSim
) -> None:
    settings = make_settings()
    setup = await start_bot(settings)
    job_id = await parked(setup, settings, created_at=1.0, next_poll_at=LATER)
    worker = await start_bot(settings)
    for _ in range(worker.manager.health.streak):
        worker.manager.health.failed("demo")
    assert not worker.manager.health.is_healthy("demo")
    assert await _raw_update(settings.database, job_id, next_poll_at=0) == 1
    worker.manager.wake()
    done, shown, ping = await told(worker, discord_sim, job_id)
    assert_stored(done, "vendor_down", {})
    assert shown == f"❌ Failed: {BEFORE['vendor_gone']}"
    assert ping.endswith(f"failed: {BEFORE['vendor_gone']}")


@SQLITE_ONLY
async def test_an_error_inside_the_bot_ends_in_its_old_words(
    start_bot: BotFactory, make_settings: SettingsFactory, discord_sim: DiscordSim
) -> None:
    settings = make_settings()
    setup = await start_bot(settings)
    job_id = await parked(setup, settings, attempts=MAX_UNEXPECTED_ERRORS - 1)
    # The database refuses to record the submit (as a full disk would): the step raises.
    with sqlite3.connect(settings.database) as conn:
        conn.execute(
            "CREATE TRIGGER test_refuse_submitting BEFORE UPDATE OF status ON jobs "
            "WHEN NEW.status = 'submitting' BEGIN SELECT RAISE(ABORT, 'disk is full'); END"
        )
    conn.close()
    worker = await start_bot(settings)
    done, shown, ping = await told(worker, discord_sim, job_id)
    assert_stored(done, "internal_error", {})
    assert shown == f"❌ Failed: {BEFORE['internal']}"
    assert ping.endswith(f"failed: {BEFORE['internal']}")


@SQLITE_ONLY
async def test_a_failure_stored_before_the_change_is_told_in_its_own_words(
    start_bot: BotFactory, make_settings: SettingsFactory, discord_sim: DiscordSim
) -> None:
    """A job that failed under the previous schema, in a process that died before telling
    its member: the upgraded bot tells it with the sentence the row kept."""
    settings = make_settings()
    setup = await start_bot(settings)
    job_id = await parked(setup, settings, next_poll_at=LATER)
    await setup.close()
    with sqlite3.connect(settings.database) as conn:
        # Back to schema 5: undo migrations 11 to 6.
        for table in ("job_frames", "member_settings", "alerts_sent", "render_times"):
            conn.execute(f"DROP TABLE {table}")
        conn.execute("ALTER TABLE guild_settings DROP COLUMN animate_own_only")
        dropped = ("locale", "frame_at", "parent_job_id", "parent_link", "spoiler", "dm_copy")
        dropped += ("ping",)
        for column in (*dropped, "checked_at", "poked_at", "error_params"):
            conn.execute(f"ALTER TABLE jobs DROP COLUMN {column}")
        conn.execute("PRAGMA user_version = 5")
        conn.execute(
            "UPDATE jobs SET status = 'failed', quota_state = 'refunded', error_code = ?, "
            "error_message = ?, finished_at = ?, told_at = NULL WHERE id = ?",
            ("generation_failed", "The old bot's own words.", time.time() - 60, job_id),
        )
    conn.close()
    worker = await start_bot(settings)
    done, shown, ping = await told(worker, discord_sim, job_id)
    assert done.error_params is None and done.error_message == "The old bot's own words."
    assert shown == "❌ Failed: The old bot's own words."
    assert ping == f"<@{USER_ID}> job #{job_id} failed: The old bot's own words."
