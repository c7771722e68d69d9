"""The retention sweeper on a real SQLite file and real files: one sweep, and the loop."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from bot.jobs.requests import stored_request
from bot.jobs.retention import RetentionSweeper
from storage import Database, JobStore
from storage.retention import RetentionStore
from tests.storage.test_retention import DAYS, T0, Clock, make_job


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "veo.sqlite3")
    yield database
    await database.close()


def video(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42")
    return path


async def purged_at(db: Database, job_id: int) -> float | None:
    row = await db.fetchone("SELECT purged_at FROM jobs WHERE id = ?", (job_id,))
    assert row is not None
    return None if row[0] is None else float(row[0])


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.01)


async def test_sweep_once_purges_and_deletes_the_file(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.jobs.retention")
    clock = Clock(T0)
    store = JobStore(db, clock=clock)
    old_file = video(tmp_path, "old.mp4")
    recent_file = video(tmp_path, "recent.mp4")
    old = await make_job(store, clock, at=T0, result_path=str(old_file))
    recent = await make_job(store, clock, at=T0 + 20 * DAYS, result_path=str(recent_file))
    clock.now = T0 + 31 * DAYS
    sweeper = RetentionSweeper(RetentionStore(db), retention_days=30, clock=clock)

    assert await sweeper.sweep_once() == 1

    assert not old_file.exists()
    assert recent_file.exists()
    assert await purged_at(db, old.id) == clock.now
    assert await purged_at(db, recent.id) is None
    gone = await store.get(old.id)
    assert gone is not None and stored_request(gone).prompt == "" and gone.result_path is None
    assert await store.images(old.id) == []
    assert len(await store.images(recent.id)) == 1
    infos = [r for r in caplog.records if r.name == "bot.jobs.retention" and r.levelname == "INFO"]
    assert len(infos) == 1 and "purged 1 " in infos[0].getMessage()

    caplog.clear()
    assert await sweeper.sweep_once() == 0
    assert not [r for r in caplog.records if r.name == "bot.jobs.retention"]


async def test_missing_file_does_not_break_the_sweep(db: Database, tmp_path: Path) -> None:
    clock = Clock(T0)
    store = JobStore(db, clock=clock)
    present = video(tmp_path, "present.mp4")
    missing = await make_job(store, clock, at=T0, result_path=str(tmp_path / "never.mp4"))
    kept = await make_job(store, clock, at=T0 + 1, result_path=str(present))
    clock.now = T0 + 45 * DAYS
    sweeper = RetentionSweeper(RetentionStore(db), retention_days=30, clock=clock)

    assert await sweeper.sweep_once() == 2

    assert not present.exists()
    for job in (missing, kept):
        assert await purged_at(db, job.id) == clock.now


async def test_file_that_cannot_be_deleted_is_logged_and_skipped(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock(T0)
    store = JobStore(db, clock=clock)
    folder = tmp_path / "a-folder.mp4"
    folder.mkdir()  # unlink() refuses a directory: a real OSError that is not "missing"
    later_file = video(tmp_path, "later.mp4")
    await make_job(store, clock, at=T0, result_path=str(folder))
    await make_job(store, clock, at=T0 + 1, result_path=str(later_file))
    clock.now = T0 + 31 * DAYS

    assert (
        await RetentionSweeper(RetentionStore(db), retention_days=30, clock=clock).sweep_once() == 2
    )

    assert folder.is_dir()
    assert not later_file.exists()
    warnings = [
        r for r in caplog.records if r.name == "bot.jobs.retention" and r.levelname == "WARNING"
    ]
    assert len(warnings) == 1 and str(folder) in warnings[0].getMessage()


async def test_retention_days_sets_the_cutoff(db: Database) -> None:
    clock = Clock(T0)
    store = JobStore(db, clock=clock)
    job = await make_job(store, clock, at=T0)
    clock.now = T0 + 3 * DAYS
    assert (
        await RetentionSweeper(RetentionStore(db), retention_days=7, clock=clock).sweep_once() == 0
    )
    assert (
        await RetentionSweeper(RetentionStore(db), retention_days=2.5, clock=clock).sweep_once()
        == 1
    )
    assert await purged_at(db, job.id) == clock.now


async def test_sweeper_runs_periodically_until_stopped(db: Database, tmp_path: Path) -> None:
    clock = Clock(T0)
    store = JobStore(db, clock=clock)
    first = await make_job(store, clock, at=T0, result_path=str(video(tmp_path, "1.mp4")))
    clock.now = T0 + 31 * DAYS
    sweeper = RetentionSweeper(RetentionStore(db), retention_days=30, clock=clock, interval=0.05)
    sweeper.start()
    sweeper.start()  # a second start() does not add a second loop
    try:
        # The first sweep runs at once.
        await eventually(lambda: _is_purged(db, first.id))
        assert not (tmp_path / "1.mp4").exists()

        # A job that turns old later is purged by a later sweep of the same task.
        second = await make_job(store, clock, at=T0 + 10 * DAYS)
        clock.now = T0 + 41 * DAYS
        await eventually(lambda: _is_purged(db, second.id))
    finally:
        await sweeper.stop()

    # Stopped: a job that becomes old now stays as it is.
    third = await make_job(store, clock, at=T0 + 20 * DAYS)
    clock.now = T0 + 60 * DAYS
    await asyncio.sleep(0.25)
    assert await purged_at(db, third.id) is None
    await sweeper.stop()  # stopping twice is harmless


async def test_sweeper_survives_a_failing_sweep(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock(T0)
    store = JobStore(db, clock=clock)
    job = await make_job(store, clock, at=T0)
    clock.now = T0 + 31 * DAYS
    calls = 0

    def flaky_clock() -> float:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("clock unavailable")
        return clock.now

    sweeper = RetentionSweeper(
        RetentionStore(db), retention_days=30, clock=flaky_clock, interval=0.05
    )
    sweeper.start()
    try:
        await eventually(lambda: _is_purged(db, job.id))
    finally:
        await sweeper.stop()
    errors = [
        r for r in caplog.records if r.name == "bot.jobs.retention" and r.levelname == "ERROR"
    ]
    assert len(errors) == 1 and errors[0].exc_info is not None
    purged = await store.get(job.id)
    assert purged is not None and json.loads(purged.request_json)["prompt"] == ""


async def test_stop_without_start_is_harmless(db: Database) -> None:
    await RetentionSweeper(RetentionStore(db), retention_days=30).stop()


def test_settings_must_be_positive() -> None:
    with pytest.raises(ValueError):
        RetentionSweeper(None, retention_days=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        RetentionSweeper(None, retention_days=30, interval=0)  # type: ignore[arg-type]


async def _is_purged(db: Database, job_id: int) -> bool:
    return await purged_at(db, job_id) is not None
