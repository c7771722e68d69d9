"""The store on a real SQLite file: migrations, quota atomicity, leases."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import pytest

from storage import Database, JobStatus, JobStore, NewJob, OverQuota, QuotaState, TooManyActive
from storage.jobs import LeaseLost
from storage.migrations import MIGRATIONS
from storage.models import StoredImage

DAY = "2026-11-22"


def new_job(user_id: int = 1, **kw: object) -> NewJob:
    base: dict[str, object] = dict(
        user_id=user_id,
        guild_id=10,
        channel_id=20,
        request_json='{"prompt": "a cat"}',
        provider="demo",
        model="demo-veo",
        filesize_limit=10 * 1024 * 1024,
        quota_day=DAY,
    )
    base.update(kw)
    return NewJob(**base)  # type: ignore[arg-type]


@pytest.fixture
async def db(db_target: Path | str):
    database = await Database.open(db_target)
    yield database
    await database.close()


async def test_migrations_set_user_version_and_wal(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "sub" / "veo.sqlite3")
    assert (tmp_path / "sub").is_dir()
    row = await db.fetchone("PRAGMA user_version")
    assert row is not None and row[0] == len(MIGRATIONS)
    mode = await db.fetchone("PRAGMA journal_mode")
    assert mode is not None and mode[0] == "wal"
    await db.close()


async def test_reopen_does_not_rerun_migrations(db_target: Path | str) -> None:
    path = db_target
    first = await Database.open(path)
    store = JobStore(first)
    await store.create(new_job(), daily_limit=5, max_active=5)
    await first.close()
    second = await Database.open(path)
    try:
        assert await JobStore(second).get(1) is not None
    finally:
        await second.close()


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "veo.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(RuntimeError, match="newer than this veo-bot"):
        await Database.open(path)


async def test_create_reserves_quota_and_stores_images(db: Database) -> None:
    store = JobStore(db)
    images = [StoredImage("a.png", "image/png", b"\x89PNG\r\n\x1a\nxx")]
    job = await store.create(new_job(), images, daily_limit=3, max_active=3)
    assert job.status is JobStatus.QUEUED
    assert job.quota_state is QuotaState.RESERVED
    assert await store.usage(1, DAY, 10) == 1
    assert await store.images(job.id) == images


async def test_over_quota_creates_nothing(db: Database) -> None:
    store = JobStore(db)
    for _ in range(2):
        await store.create(new_job(), daily_limit=2, max_active=10)
    with pytest.raises(OverQuota):
        await store.create(new_job(), daily_limit=2, max_active=10)
    rows = await db.fetchall("SELECT id FROM jobs")
    assert len(rows) == 2
    assert await store.usage(1, DAY, 10) == 2


async def test_zero_quota_refuses_first_job(db: Database) -> None:
    with pytest.raises(OverQuota):
        await JobStore(db).create(new_job(), daily_limit=0, max_active=10)
    assert await JobStore(db).usage(1, DAY) == 0


async def test_active_cap_is_checked_before_quota(db: Database) -> None:
    store = JobStore(db)
    await store.create(new_job(), daily_limit=10, max_active=1)
    with pytest.raises(TooManyActive):
        await store.create(new_job(), daily_limit=10, max_active=1)
    assert await store.usage(1, DAY, 10) == 1


async def test_quota_race_fifty_concurrent_reservations(db: Database) -> None:
    store = JobStore(db)
    results = await asyncio.gather(
        *(store.create(new_job(), daily_limit=3, max_active=100) for _ in range(50)),
        return_exceptions=True,
    )
    ok = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, OverQuota)]
    assert len(ok) == 3
    assert len(refused) == 47
    assert await store.usage(1, DAY, 10) == 3


async def test_quota_race_across_two_connections(db_target: Path | str) -> None:
    """Two processes' worth of writers on one file still never pass the limit."""
    a, b = await Database.open(db_target), await Database.open(db_target)
    try:
        stores = [JobStore(a), JobStore(b)]
        results = await asyncio.gather(
            *(stores[i % 2].create(new_job(), daily_limit=3, max_active=100) for i in range(50)),
            return_exceptions=True,
        )
        assert sum(not isinstance(r, BaseException) for r in results) == 3
        assert all(isinstance(r, OverQuota) for r in results if isinstance(r, BaseException))
    finally:
        await a.close()
        await b.close()


async def test_refund_goes_to_the_charged_day_once(db: Database) -> None:
    store = JobStore(db)
    job = await store.create(new_job(quota_day="2026-11-21"), daily_limit=3, max_active=3)
    await store.create(new_job(quota_day=DAY), daily_limit=3, max_active=3)
    [claimed] = await store.claim_due("w1", lease_seconds=60, limit=1)
    assert claimed.id == job.id
    failed = await store.finish(claimed, "w1", JobStatus.FAILED, refund=True, error_code="x")
    assert failed.quota_state is QuotaState.REFUNDED
    assert await store.usage(1, "2026-11-21", 10) == 0
    assert await store.usage(1, DAY, 10) == 1
    # Settling twice changes nothing.
    await store.finish(failed, None, JobStatus.FAILED, refund=True)
    assert await store.usage(1, "2026-11-21", 10) == 0
    assert await store.usage(1, DAY, 10) == 1


async def test_delivered_commits_quota(db: Database) -> None:
    store = JobStore(db)
    job = await store.create(new_job(), daily_limit=3, max_active=3)
    [job] = await store.claim_due("w1", lease_seconds=60, limit=1)
    done = await store.finish(job, "w1", JobStatus.DELIVERED, refund=False, delivered_message_id=5)
    assert done.quota_state is QuotaState.COMMITTED
    assert done.lease_owner is None
    assert await store.usage(1, DAY, 10) == 1


async def test_a_leased_job_is_not_claimed_twice(db: Database) -> None:
    store = JobStore(db)
    await store.create(new_job(), daily_limit=3, max_active=3)
    first = await store.claim_due("w1", lease_seconds=60, limit=10)
    second = await store.claim_due("w2", lease_seconds=60, limit=10)
    assert [j.id for j in first] == [1]
    assert second == []
    with pytest.raises(LeaseLost):
        await store.update(first[0], "w2", stage="stolen")


async def test_an_expired_lease_is_taken_over(db_target: Path | str) -> None:
    now = [1000.0]
    db = await Database.open(db_target)
    try:
        store = JobStore(db, clock=lambda: now[0])
        await store.create(new_job(), daily_limit=3, max_active=3)
        [job] = await store.claim_due("w1", lease_seconds=60, limit=1)
        now[0] += 61
        [taken] = await store.claim_due("w2", lease_seconds=60, limit=1)
        assert taken.lease_owner == "w2"
        with pytest.raises(LeaseLost):
            await store.update(job, "w1", stage="late")
    finally:
        await db.close()


async def test_hold_keeps_a_new_job_from_the_manager_until_released(db: Database) -> None:
    store = JobStore(db)
    job = await store.create(new_job(), daily_limit=3, max_active=3, hold_seconds=30)
    assert await store.claim_due("w1", lease_seconds=60, limit=10) == []
    await store.release_hold(job.id, status_message_id=777)
    [claimed] = await store.claim_due("w1", lease_seconds=60, limit=10)
    assert claimed.status_message_id == 777


async def test_update_refuses_unknown_columns(db: Database) -> None:
    store = JobStore(db)
    await store.create(new_job(), daily_limit=3, max_active=3)
    [job] = await store.claim_due("w1", lease_seconds=60, limit=1)
    with pytest.raises(ValueError):
        await store.update(job, "w1", user_id=2)


async def test_a_cancelled_writer_leaves_no_transaction_open(db: Database) -> None:
    """Shutdown cancels tasks mid-write; the shared connection must stay usable."""
    store = JobStore(db)
    for _ in range(20):
        task = asyncio.create_task(store.create(new_job(), daily_limit=100, max_active=100))
        await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    job = await store.create(new_job(), daily_limit=100, max_active=100)
    assert job.id >= 1
    row = await db.fetchone("SELECT COUNT(*) FROM jobs")
    assert row is not None and await store.usage(1, DAY, 10) == row[0]


async def test_a_failure_is_stored_as_its_code_and_params_and_no_sentence(db: Database) -> None:
    """Migration 6: `error_params` beside `error_code`; `error_message` is no longer
    written (rows from before keep theirs)."""
    store = JobStore(db)
    await store.create(new_job(), daily_limit=3, max_active=3)
    [claimed] = await store.claim_due("w1", lease_seconds=60, limit=1)
    with pytest.raises(ValueError, match="error_message"):
        await store.update(claimed, "w1", error_message="It broke.")
    failed = await store.finish(
        claimed,
        "w1",
        JobStatus.FAILED,
        refund=True,
        error_code="too_large",
        error_params='{"step": "download"}',
    )
    assert (failed.error_code, failed.error_params) == ("too_large", '{"step": "download"}')
    assert failed.error_message is None


async def test_processes_opening_a_new_file_together_all_start(tmp_path: Path) -> None:
    """Turning a new file to WAL needs the file to itself, and SQLite answers "database is
    locked" at once, without waiting out busy_timeout, to whoever loses that race; so two
    processes started together on a fresh data directory could see one of them die."""
    for attempt in range(25):
        path = tmp_path / f"veo-{attempt}.sqlite3"
        opened = await asyncio.gather(*(Database.open(path) for _ in range(4)))
        for db in opened:
            mode = await db.fetchone("PRAGMA journal_mode")
            assert mode is not None and mode[0] == "wal"
            await db.close()


async def test_processes_taking_a_vendors_last_places_together_keep_to_its_cap(
    db_target: Path | str,
) -> None:
    """Three stores on their own connections (three processes, as far as the database
    knows), twelve jobs, a vendor that takes four at once: exactly four are let through."""
    dbs = [await Database.open(db_target) for _ in range(3)]
    try:
        stores = [JobStore(d) for d in dbs]
        for _ in range(12):
            await stores[0].create(new_job(), daily_limit=100, max_active=100)
        jobs = await stores[0].claim_due("w", lease_seconds=60, limit=12)
        taken = await asyncio.gather(
            *(stores[i % 3].start_submit(job, "w", cap=4) for i, job in enumerate(jobs))
        )
        assert sum(t is not None for t in taken) == 4
        rows = await dbs[0].fetchall("SELECT COUNT(*) FROM jobs WHERE status = 'submitting'")
        assert int(rows[0][0]) == 4
    finally:
        for d in dbs:
            await d.close()


async def test_due_jobs_are_taken_round_the_servers(db: Database) -> None:
    """A server with many jobs due does not keep another server's (or a direct message's)
    jobs behind them: each claim takes every server's next job in turn."""
    store = JobStore(db)
    busy = [
        await store.create(new_job(guild_id=10), daily_limit=99, max_active=99) for _ in range(6)
    ]
    quiet = [
        await store.create(new_job(user_id=2, guild_id=11), daily_limit=99, max_active=99)
        for _ in range(2)
    ]
    direct = await store.create(new_job(user_id=3, guild_id=None), daily_limit=99, max_active=99)
    first = await store.claim_due("w", lease_seconds=60, limit=3)
    assert {j.id for j in first} == {busy[0].id, quiet[0].id, direct.id}
    second = await store.claim_due("w", lease_seconds=60, limit=3)
    assert {j.id for j in second} == {busy[1].id, quiet[1].id, busy[2].id}


async def test_batches_taking_several_vendors_places_never_deadlock(
    db_target: Path | str, caplog: pytest.LogCaptureFixture
) -> None:
    """Two processes' group commits each move jobs of two vendors to `submitting`, in
    opposite orders. Each vendor's place is an advisory lock held to the commit; taken as
    the writes came, the two batches would each hold one the other waits for (PostgreSQL
    then aborts one). The batch takes them all first, in one order."""
    caplog.set_level(logging.INFO, logger="storage.group_commit")
    dbs = [await Database.open(db_target) for _ in range(2)]
    try:
        stores = [JobStore(d) for d in dbs]
        for round_ in range(10):
            for provider in ("demo", "apiyi", "demo", "apiyi"):
                await stores[0].create(new_job(provider=provider), daily_limit=99, max_active=99)
            jobs = await stores[0].claim_due(f"w{round_}", lease_seconds=60, limit=4)
            by = {p: [j for j in jobs if j.provider == p] for p in ("demo", "apiyi")}
            firsts = [by["demo"][0], by["apiyi"][0]]
            seconds = [by["apiyi"][1], by["demo"][1]]
            taken = await asyncio.gather(
                *(stores[0].start_submit(j, f"w{round_}", cap=99) for j in firsts),
                *(stores[1].start_submit(j, f"w{round_}", cap=99) for j in seconds),
            )
            assert all(t is not None for t in taken)
    finally:
        for d in dbs:
            await d.close()
    assert "run again" not in caplog.text  # no batch was rolled back and run again
