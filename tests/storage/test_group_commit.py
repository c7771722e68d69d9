"""Group commit on a real SQLite file: the job manager's writes share transactions, and
each caller still gets its own outcome, only after the COMMIT that holds its write."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from storage import Database, Job, JobStatus, JobStore, QuotaState
from storage.jobs import LeaseLost
from storage.leases import GiveBackWatch
from storage.sql import Conn
from storage.sqlite import SqliteDatabase
from tests.storage.test_store import DAY, new_job


class CountingDatabase(SqliteDatabase):
    """The real database, counting its write transactions (BEGIN IMMEDIATE ... COMMIT)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.transactions = 0

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Conn]:
        self.transactions += 1
        async with super().transaction() as conn:
            yield conn


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[CountingDatabase]:
    database = await CountingDatabase.open_file(tmp_path / "veo.sqlite3")
    yield database
    await database.close()


async def held_jobs(store: JobStore, count: int, owner: str = "w1") -> list[Job]:
    for _ in range(count):
        await store.create(new_job(), daily_limit=100, max_active=100)
    jobs = await store.claim_due(owner, lease_seconds=60, limit=count)
    assert len(jobs) == count
    return jobs


def committed(db: Database, job_id: int) -> sqlite3.Row:
    """The job's row as another connection sees it: only what was committed."""
    with sqlite3.connect(db.path) as other:
        other.row_factory = sqlite3.Row
        row = other.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
    assert row is not None
    return row


async def test_concurrent_releases_of_two_jobs_commit_in_one_transaction(
    db: CountingDatabase,
) -> None:
    store = JobStore(db)
    a, b = await held_jobs(store, 2)
    before = db.transactions
    due = time.time() + 30
    first, second = await asyncio.gather(
        store.release(a, "w1", next_poll_at=due, stage="first"),
        store.release(b, "w1", next_poll_at=due, stage="second"),
    )
    assert db.transactions - before == 1
    assert (first.stage, second.stage) == ("first", "second")
    # Returned only once committed: another connection sees both.
    for job, stage in ((a, "first"), (b, "second")):
        row = committed(db, job.id)
        assert row["lease_owner"] is None and row["stage"] == stage


async def test_a_release_by_a_non_owner_fails_alone(db: CountingDatabase) -> None:
    store = JobStore(db)
    mine, theirs = await held_jobs(store, 2)
    before = db.transactions
    results = await asyncio.gather(
        store.release(mine, "w1", next_poll_at=time.time(), stage="given back"),
        store.release(theirs, "intruder", next_poll_at=time.time(), stage="stolen"),
        return_exceptions=True,
    )
    assert isinstance(results[0], Job) and results[0].lease_owner is None
    assert isinstance(results[1], LeaseLost)
    assert db.transactions - before == 1
    assert committed(db, mine.id)["stage"] == "given back"
    row = committed(db, theirs.id)
    assert row["lease_owner"] == "w1" and row["stage"] != "stolen"


async def test_an_end_that_fails_after_refunding_is_undone_and_the_rest_commits(
    db: CountingDatabase,
) -> None:
    """`finish` refunds before its guarded UPDATE: when that UPDATE finds the job not ours,
    the refund must go too, while a write sharing its batch is kept."""
    store = JobStore(db)
    mine, theirs = await held_jobs(store, 2)
    assert await store.usage(1, DAY, 10) == 2
    results = await asyncio.gather(
        store.finish(theirs, "intruder", JobStatus.FAILED, refund=True, error_code="x"),
        store.release(mine, "w1", next_poll_at=time.time(), stage="kept"),
        return_exceptions=True,
    )
    assert isinstance(results[0], LeaseLost)
    assert isinstance(results[1], Job)
    assert await store.usage(1, DAY, 10) == 2  # no refund without the end it came with
    row = committed(db, theirs.id)
    assert row["status"] == JobStatus.QUEUED.value
    assert row["quota_state"] == QuotaState.RESERVED.value
    assert committed(db, mine.id)["stage"] == "kept"


async def test_a_batch_that_cannot_begin_fails_every_caller_and_writes_nothing(
    db: CountingDatabase,
) -> None:
    store = JobStore(db)
    a, b = await held_jobs(store, 2)
    await db.fetchone("PRAGMA busy_timeout = 100")
    blocker = sqlite3.connect(db.path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        results = await asyncio.gather(
            store.release(a, "w1", next_poll_at=time.time(), stage="lost"),
            store.update(b, "w1", stage="lost"),
            return_exceptions=True,
        )
        assert all(isinstance(r, sqlite3.OperationalError) for r in results), results
        assert all("locked" in str(r) for r in results)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    for job in (a, b):
        row = committed(db, job.id)
        assert row["lease_owner"] == "w1" and row["stage"] != "lost"
    # The queue goes on once the lock is free.
    released = await store.release(a, "w1", next_poll_at=time.time(), stage="later")
    assert released.stage == "later" and committed(db, a.id)["stage"] == "later"


async def test_a_batch_whose_commit_fails_fails_every_caller_and_writes_nothing(
    db: CountingDatabase,
) -> None:
    store = JobStore(db)
    [job] = await held_jobs(store, 1)

    async def dangling_image(conn: Conn) -> None:
        # Checked at COMMIT: the whole shared transaction is refused there.
        await conn.execute("PRAGMA defer_foreign_keys = ON")
        await conn.execute(
            "INSERT INTO job_images (job_id, position, filename, mime, data) "
            "VALUES (9999, 0, 'x.png', 'image/png', x'00')"
        )

    results = await asyncio.gather(
        store.release(job, "w1", next_poll_at=time.time(), stage="lost"),
        db.batched(dangling_image),
        return_exceptions=True,
    )
    assert all(isinstance(r, sqlite3.IntegrityError) for r in results), results
    row = committed(db, job.id)
    assert row["lease_owner"] == "w1" and row["stage"] != "lost"
    assert await db.fetchone("SELECT 1 FROM job_images") is None


async def test_a_claim_runs_after_the_writes_of_its_batch(db: CountingDatabase) -> None:
    """Queued first, the claim still runs last: it finds the job the release made due."""
    store = JobStore(db)
    [job] = await held_jobs(store, 1)
    before = db.transactions
    claimed, _ = await asyncio.gather(
        store.claim_due("w2", lease_seconds=60, limit=1),
        store.release(job, "w1", next_poll_at=time.time() - 1),
    )
    assert [j.id for j in claimed] == [job.id] and claimed[0].lease_owner == "w2"
    assert db.transactions - before == 1


async def test_a_give_back_frees_its_place_for_a_claim_in_the_same_transaction(
    db: CountingDatabase,
) -> None:
    store = JobStore(db)
    [held] = await held_jobs(store, 1)
    waiting = await store.create(new_job(), daily_limit=100, max_active=100)
    queued: list[int] = []
    freed: list[int] = []
    store.watch_give_backs("w1", GiveBackWatch(queued=queued.append, done=freed.append))
    before = db.transactions
    release = asyncio.ensure_future(
        store.release(held, "w1", next_poll_at=time.time() + 60, stage="waiting")
    )
    await asyncio.sleep(0)
    assert queued == [held.id] and freed == []  # told at once, before it runs
    # One place, taken by `held` until its give-back runs.
    claimed = await store.claim_due("w1", lease_seconds=60, limit=lambda: len(freed))
    await release
    assert [j.id for j in claimed] == [waiting.id]
    assert freed == [held.id]
    assert db.transactions - before == 1
    store.watch_give_backs("w1", None)
    await store.release(claimed[0], "w1", next_poll_at=time.time())
    assert freed == [held.id]


async def test_jobs_taking_a_vendor_place_in_one_batch_see_each_other(
    db: CountingDatabase,
) -> None:
    """Two jobs move to `submitting` in the same group commit with one place left: the
    second write runs after the first in that transaction and sees its row."""
    store = JobStore(db)
    a, b = await held_jobs(store, 2)
    before = db.transactions
    results = await asyncio.gather(
        store.start_submit(a, "w1", cap=1), store.start_submit(b, "w1", cap=1)
    )
    assert db.transactions - before == 1
    assert sorted(r is None for r in results) == [False, True]


async def test_lone_writes_are_not_held_back_and_crowds_share_transactions(
    tmp_path: Path,
) -> None:
    db = await CountingDatabase.open_file(tmp_path / "veo.sqlite3", commit_linger=0.5)
    try:
        store = JobStore(db)
        jobs = await held_jobs(store, 20)
        started = time.monotonic()
        for n in range(5):
            await store.update(jobs[0], "w1", progress=n)
        # Nor after a pair (a release and the claim refilling its place come so).
        await asyncio.gather(*(store.update(j, "w1", progress=5) for j in jobs[:2]))
        await store.update(jobs[0], "w1", progress=6)
        assert time.monotonic() - started < 0.5  # a lone writer never waits for company
        before = db.transactions

        async def three_writes(job: Job) -> None:
            for n in range(3):
                await store.update(job, "w1", progress=10 + n)

        started = time.monotonic()
        await asyncio.gather(*(three_writes(j) for j in jobs))
        assert db.transactions - before <= 4  # 60 writes, three rounds of 20
        # Twenty writes make a full batch: none waits for the linger to run out.
        assert time.monotonic() - started < 0.5
        assert all(committed(db, j.id)["progress"] == 12 for j in jobs)
    finally:
        await db.close()


async def test_a_write_cancelled_before_its_batch_is_left_out(tmp_path: Path) -> None:
    db = await CountingDatabase.open_file(tmp_path / "veo.sqlite3", commit_linger=0.3)
    try:
        store = JobStore(db)
        a, b, c, d = await held_jobs(store, 4)
        await asyncio.gather(  # a crowd: the next batch lingers
            *(store.update(j, "w1", stage="crowd") for j in (a, b, c))
        )
        cancelled = asyncio.create_task(store.update(d, "w1", stage="never"))
        await asyncio.sleep(0.05)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        await store.update(a, "w1", stage="after")
        assert committed(db, d.id)["stage"] != "never"
        assert committed(db, a.id)["stage"] == "after"
    finally:
        await db.close()


async def test_closing_commits_what_is_queued_and_refuses_more(tmp_path: Path) -> None:
    path = tmp_path / "veo.sqlite3"
    db = await Database.open(path, commit_linger=0.3)
    store = JobStore(db)
    a, b, c, d = await held_jobs(store, 4)
    await asyncio.gather(*(store.update(j, "w1", stage="crowd") for j in (a, b, c)))
    pending = asyncio.create_task(store.update(d, "w1", stage="kept"))
    await asyncio.sleep(0)
    await db.close()
    assert (await pending).stage == "kept"
    with pytest.raises(RuntimeError, match="closed"):
        await store.update(a, "w1", stage="too late")
    reopened = await Database.open(path)
    try:
        row = await reopened.fetchone("SELECT stage FROM jobs WHERE id = ?", (d.id,))
        assert row is not None and row[0] == "kept"
    finally:
        await reopened.close()
