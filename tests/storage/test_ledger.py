"""The quota ledger of migration 3: member + server + day, weighted units, spend caps."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from storage import (
    Billing,
    Database,
    JobStatus,
    JobStore,
    OverBudget,
    OverQuota,
    QuotaState,
    SpendCaps,
)
from storage.migrations import MIGRATIONS, statements
from tests.storage.test_store import DAY, new_job


@pytest.fixture
async def store(db_target: Path | str):
    db = await Database.open(db_target)
    yield JobStore(db, clock=lambda: 1000.0)
    await db.close()


async def finish(store: JobStore, status: JobStatus, *, refund: bool) -> None:
    """Settle the one due job as the manager would; a delivered one was rendered (billed)."""
    [job] = await store.claim_due("w", lease_seconds=60, limit=1)
    fields = {"completed_at": 1.0} if status is JobStatus.DELIVERED else {}
    await store.finish(job, "w", status, refund=refund, **fields)


async def test_each_server_has_its_own_ledger(store: JobStore) -> None:
    await store.create(new_job(guild_id=10), daily_limit=1, max_active=10)
    await store.create(new_job(guild_id=11), daily_limit=1, max_active=10)
    await store.create(new_job(guild_id=None), daily_limit=1, max_active=10)
    with pytest.raises(OverQuota):
        await store.create(new_job(guild_id=10), daily_limit=1, max_active=10)
    assert [await store.usage(1, DAY, g) for g in (10, 11, None)] == [1, 1, 1]


async def test_weighted_units_are_reserved_and_refunded_whole(store: JobStore) -> None:
    await store.create(new_job(quota_units=3), daily_limit=4, max_active=10)
    with pytest.raises(OverQuota):
        await store.create(new_job(quota_units=2), daily_limit=4, max_active=10)
    with pytest.raises(OverQuota):  # more than the whole limit, even on an empty day
        await store.create(new_job(user_id=2, quota_units=5), daily_limit=4, max_active=10)
    assert await store.usage(1, DAY, 10) == 3 and await store.usage(2, DAY, 10) == 0
    await finish(store, JobStatus.FAILED, refund=True)
    assert await store.usage(1, DAY, 10) == 0


async def test_concurrent_weighted_reservations_never_pass_the_limit(store: JobStore) -> None:
    results = await asyncio.gather(
        *(store.create(new_job(quota_units=2), daily_limit=7, max_active=100) for _ in range(20)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 3
    assert await store.usage(1, DAY, 10) == 6


async def test_exempt_jobs_reserve_nothing(store: JobStore) -> None:
    for _ in range(3):
        await store.create(new_job(quota_units=0), daily_limit=0, max_active=10)
    assert await store.usage(1, DAY, 10) == 0


async def test_spend_caps_per_server_and_for_the_bot(store: JobStore) -> None:
    caps = SpendCaps(server=1.0, bot=1.5)
    await store.create(new_job(cost_usd=0.6), daily_limit=9, max_active=9, caps=caps)
    with pytest.raises(OverBudget) as refused:
        await store.create(new_job(cost_usd=0.6), daily_limit=9, max_active=9, caps=caps)
    assert refused.value.scope == "server" and refused.value.spent == pytest.approx(0.6)
    await store.create(new_job(guild_id=11, cost_usd=0.6), daily_limit=9, max_active=9, caps=caps)
    with pytest.raises(OverBudget) as refused:
        await store.create(
            new_job(guild_id=12, cost_usd=0.6), daily_limit=9, max_active=9, caps=caps
        )
    assert refused.value.scope == "bot"
    # Nothing was charged for the refused jobs.
    assert await store.usage(1, DAY, 10) == 1 and await store.usage(1, DAY, 12) == 0
    assert await store.spend(DAY) == pytest.approx(1.2)
    assert await store.spend(DAY, 10) == pytest.approx(0.6)


async def test_a_job_the_vendor_did_not_bill_frees_its_spend(store: JobStore) -> None:
    caps = SpendCaps(server=0.5)
    await store.create(new_job(cost_usd=0.3), daily_limit=9, max_active=9, caps=caps)
    with pytest.raises(OverBudget):
        await store.create(new_job(cost_usd=0.3), daily_limit=9, max_active=9, caps=caps)
    await finish(store, JobStatus.FAILED, refund=True)
    assert await store.spend(DAY, 10) == 0
    await store.create(new_job(cost_usd=0.3), daily_limit=9, max_active=9, caps=caps)


async def test_an_admin_refund_gives_units_back_but_keeps_the_spend(store: JobStore) -> None:
    job = await store.create(new_job(quota_units=2, cost_usd=1.2), daily_limit=9, max_active=9)
    assert (await store.refund(job.id)) == job  # still running: unchanged
    await finish(store, JobStatus.DELIVERED, refund=False)
    refunded = await store.refund(job.id)
    assert refunded is not None and refunded.quota_state is QuotaState.REFUNDED
    assert await store.usage(1, DAY, 10) == 0
    assert await store.spend(DAY, 10) == pytest.approx(1.2)  # the vendor billed it
    again = await store.refund(job.id)
    assert again is not None and again.quota_state is QuotaState.REFUNDED
    assert await store.usage(1, DAY, 10) == 0
    assert await store.refund(999) is None


async def test_migration_3_rebuilds_the_ledger_from_charged_jobs(tmp_path: Path) -> None:
    path = tmp_path / "veo.sqlite3"
    with sqlite3.connect(path) as conn:
        for script in MIGRATIONS[:2]:
            for statement in statements(script, "sqlite"):
                conn.execute(statement)
        conn.execute("PRAGMA user_version = 2")
        rows = [
            (10, "committed"),
            (10, "reserved"),
            (10, "refunded"),  # gave its unit back: not counted
            (11, "committed"),
            (None, "committed"),
        ]
        for guild, state in rows:
            conn.execute(
                "INSERT INTO jobs (user_id, guild_id, channel_id, request_json, provider, model, "
                "status, next_poll_at, filesize_limit, quota_day, quota_state, created_at, "
                "updated_at) VALUES (7, ?, 20, '{}', 'demo', 'demo-veo', 'delivered', 0, 1, ?, "
                "?, 1, 1)",
                (guild, DAY, state),
            )
        conn.execute("INSERT INTO quota_usage (user_id, day, used) VALUES (7, ?, 4)", (DAY,))
    conn.close()
    db = await Database.open(path)
    try:
        store = JobStore(db)
        assert [await store.usage(7, DAY, g) for g in (10, 11, None)] == [2, 1, 1]
        job = await store.get(1)
        assert job is not None and job.quota_units == 1 and job.cost_usd is None
        assert job.purged_at is None
    finally:
        await db.close()


async def test_a_render_the_vendor_finished_keeps_its_spend_even_when_refunded(
    store: JobStore,
) -> None:
    await store.create(new_job(cost_usd=0.3), daily_limit=9, max_active=9)
    [job] = await store.claim_due("w", lease_seconds=60, limit=1)
    job = await store.update(job, "w", status=JobStatus.DOWNLOADING, completed_at=1000.0)
    # The member got nothing (say, the download failed): refunded, but the vendor billed.
    await store.finish(job, "w", JobStatus.FAILED, refund=True)
    assert await store.usage(1, DAY, 10) == 0
    assert await store.spend(DAY, 10) == pytest.approx(0.3)


async def test_migration_5_keeps_every_days_spend_and_knows_what_was_sent(
    tmp_path: Path,
) -> None:
    """Before migration 5 a job the vendor did not bill had its cost zeroed; after it,
    the same jobs are `not_billed` and the spend of the day reads as before."""
    path = tmp_path / "veo.sqlite3"
    with sqlite3.connect(path) as conn:
        for script in MIGRATIONS[:4]:
            for statement in statements(script, "sqlite"):
                conn.execute(statement)
        conn.execute("PRAGMA user_version = 4")
        rows = [
            # status, cost, completed_at, task_id
            ("delivered", 0.3, 5.0, "t1"),  # rendered and posted
            ("failed", 0.0, None, "t2"),  # refunded, zeroed: not billed
            ("failed", 0.3, 5.0, "t3"),  # rendered, the post failed: billed
            ("cancelled", 0.3, None, "t4"),  # cancelled, the vendor finished: kept, billed
            ("queued", 0.3, None, None),  # still waiting: a reservation
            ("submitting", 0.3, None, None),  # cut off mid-submit: may have been sent
        ]
        for status, cost, completed, task in rows:
            conn.execute(
                "INSERT INTO jobs (user_id, guild_id, channel_id, request_json, provider, model, "
                "status, next_poll_at, filesize_limit, quota_day, quota_state, created_at, "
                "updated_at, cost_usd, completed_at, task_id) VALUES (7, 10, 20, '{}', 'demo', "
                "'demo-veo', ?, 0, 1, ?, 'committed', 1, 2, ?, ?, ?)",
                (status, DAY, cost, completed, task),
            )
        before = conn.execute("SELECT SUM(cost_usd) FROM jobs").fetchone()[0]
    conn.close()
    db = await Database.open(path)
    try:
        store = JobStore(db)
        jobs = [await store.get(i) for i in range(1, 7)]
        assert [j.billing for j in jobs if j is not None] == [
            Billing.BILLED,
            Billing.NOT_BILLED,
            Billing.BILLED,
            Billing.BILLED,
            Billing.PENDING,
            Billing.PENDING,
        ]
        assert await store.spend(DAY, 10) == pytest.approx(before)
        submitting = jobs[5]
        assert submitting is not None and submitting.sent_at is not None
        assert jobs[4] is not None and jobs[4].sent_at is None
    finally:
        await db.close()
