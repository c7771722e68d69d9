"""`/veo-admin stats` numbers from a real SQLite file, jobs made and settled by JobStore."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.jobs.days import day_key
from storage import Database, Job, JobStatus, JobStore
from storage.stats import DayCount, ModelSpend, day_window, server_stats
from tests.storage.test_store import DAY, new_job

PREV = "2026-11-21"
SINCE, UNTIL = "2026-11-16", DAY
GUILD = 10

FAST = {"provider": "apiyi", "model": "veo-fast", "cost_usd": 0.15}
PRO = {"provider": "apixo", "model": "veo-3.1", "cost_usd": 1.2}
DEMO = {"provider": "demo", "model": "demo-veo", "cost_usd": None}


@pytest.fixture
async def db(db_target: Path | str) -> AsyncIterator[Database]:
    database = await Database.open(db_target)
    yield database
    await database.close()


async def make(
    store: JobStore,
    user_id: int,
    model: dict[str, object],
    status: JobStatus = JobStatus.DELIVERED,
    *,
    day: str = DAY,
    guild_id: int | None = GUILD,
    error_code: str | None = None,
) -> Job:
    """A job created through the store and, unless `status` is queued, settled like the
    manager settles it: delivered commits, failed refunds, cancelled before submit."""
    job = await store.create(
        new_job(user_id, quota_day=day, guild_id=guild_id, **model),
        daily_limit=100,
        max_active=100,
    )
    if status is JobStatus.QUEUED:
        return job
    if status is JobStatus.CANCELLED:
        cancelled = await store.request_cancel(job.id)
        assert cancelled is not None and cancelled.status is JobStatus.CANCELLED
        return cancelled
    if status is JobStatus.DELIVERED:  # the vendor finished the render: billed
        return await store.finish(
            job, None, status, refund=False, delivered_message_id=1, completed_at=1.0
        )
    fields = {"error_code": error_code} if error_code is not None else {}
    return await store.finish(job, None, status, refund=True, **fields)


@pytest.fixture
async def filled(db: Database) -> Database:
    store = JobStore(db)
    # The last day of the window.
    await make(store, 1, FAST)
    await make(store, 1, FAST)
    await make(store, 2, FAST, JobStatus.FAILED, error_code="rejected")
    await make(store, 2, DEMO)  # no documented price: unpriced, not $0
    await make(store, 3, PRO, JobStatus.QUEUED)  # still running: its price may be billed
    await make(store, 3, DEMO, JobStatus.CANCELLED)
    # The day before.
    await make(store, 1, FAST, JobStatus.FAILED, day=PREV)  # no code recorded
    await make(store, 1, FAST, JobStatus.FAILED, day=PREV, error_code="deadline")
    await make(store, 2, FAST, JobStatus.FAILED, day=PREV, error_code="rejected")
    await make(store, 2, PRO, day=PREV)
    # Outside the window, another server, direct messages: none of them count.
    await make(store, 4, PRO, day="2026-11-15")
    await make(store, 4, PRO, day="2026-11-23")
    for _ in range(3):
        await make(store, 5, PRO, guild_id=99)
    await make(store, 5, PRO, guild_id=None)
    return db


async def test_jobs_per_day_newest_first(filled: Database) -> None:
    stats = await server_stats(filled, GUILD, since_day=SINCE, until_day=UNTIL)
    assert stats.days == [
        DayCount(day=DAY, total=6, delivered=3, failed=1, cancelled=1, active=1),
        DayCount(day=PREV, total=4, delivered=1, failed=3, cancelled=0, active=0),
    ]
    assert (stats.first_day, stats.last_day) == (SINCE, UNTIL)
    assert stats.total_jobs == 10
    assert not stats.is_empty


async def test_failures_by_reason_most_first(filled: Database) -> None:
    stats = await server_stats(filled, GUILD, since_day=SINCE, until_day=UNTIL)
    assert stats.failures == [("rejected", 2), ("deadline", 1), ("unknown", 1)]


async def test_spend_per_model_with_unpriced_apart(filled: Database) -> None:
    stats = await server_stats(filled, GUILD, since_day=SINCE, until_day=UNTIL)
    assert stats.spend == [
        ModelSpend("apixo", "veo-3.1", jobs=2, dollars=pytest.approx(2.4), unpriced_jobs=0),
        # Four refunded failures of the six count $0: 2 delivered x $0.15.
        ModelSpend("apiyi", "veo-fast", jobs=6, dollars=pytest.approx(0.3), unpriced_jobs=0),
        # The delivered demo job has no price; the cancelled one was not billed ($0).
        ModelSpend("demo", "demo-veo", jobs=2, dollars=0.0, unpriced_jobs=1),
    ]
    assert stats.total_spend == pytest.approx(2.7)
    assert stats.unpriced_jobs == 1


async def test_top_users_by_jobs_then_dollars(filled: Database) -> None:
    stats = await server_stats(filled, GUILD, since_day=SINCE, until_day=UNTIL)
    assert [(u, n) for u, n, _ in stats.top_users] == [(2, 4), (1, 4), (3, 2)]
    assert [d for _, _, d in stats.top_users] == pytest.approx([1.2, 0.3, 1.2])


async def test_top_users_keeps_five(db: Database) -> None:
    store = JobStore(db)
    for user_id in range(1, 8):
        for _ in range(user_id):
            await make(store, user_id, FAST)
    stats = await server_stats(db, GUILD, since_day=DAY, until_day=DAY)
    assert [u for u, _, _ in stats.top_users] == [7, 6, 5, 4, 3]
    assert stats.top_users[0][1:] == (7, pytest.approx(7 * 0.15))
    everyone = await server_stats(db, GUILD, since_day=DAY, until_day=DAY, top=10)
    assert len(everyone.top_users) == 7


async def test_window_bounds_are_inclusive(filled: Database) -> None:
    one_day = await server_stats(filled, GUILD, since_day=PREV, until_day=PREV)
    assert [d.day for d in one_day.days] == [PREV]
    wide = await server_stats(filled, GUILD, since_day="2026-11-15", until_day="2026-11-23")
    assert [d.day for d in wide.days] == ["2026-11-23", DAY, PREV, "2026-11-15"]


async def test_other_server_sees_only_its_jobs(filled: Database) -> None:
    stats = await server_stats(filled, 99, since_day=SINCE, until_day=UNTIL)
    assert stats.days == [DayCount(DAY, total=3, delivered=3, failed=0, cancelled=0, active=0)]
    assert stats.top_users == [(5, 3, pytest.approx(3.6))]


async def test_empty_window(filled: Database) -> None:
    stats = await server_stats(filled, GUILD, since_day="2025-01-01", until_day="2025-01-07")
    assert stats.is_empty
    assert (stats.days, stats.failures, stats.spend, stats.top_users) == ([], [], [], [])
    assert stats.total_spend == 0.0 and stats.total_jobs == 0


@pytest.mark.parametrize(
    ("since", "until"),
    [("2026-11-1", DAY), (DAY, "2026/11/22"), ("", DAY), (DAY, PREV), ("2026-02-30", DAY)],
)
async def test_bad_days_are_refused(db: Database, since: str, until: str) -> None:
    with pytest.raises(ValueError):
        await server_stats(db, GUILD, since_day=since, until_day=until)


def _at(iso: str) -> float:
    return dt.datetime.fromisoformat(iso).replace(tzinfo=dt.UTC).timestamp()


def test_day_window_ends_today_in_utc() -> None:
    late = _at("2026-11-22T23:59:59")
    assert day_window(late) == ("2026-11-16", "2026-11-22")
    assert day_window(late, 1) == ("2026-11-22", "2026-11-22")
    assert day_window(_at("2026-03-01T00:00:00"), 90) == ("2025-12-02", "2026-03-01")
    for now in (late, _at("2026-11-23T00:00:00"), _at("2024-02-29T12:00:00")):
        assert day_window(now, 1) == (day_key(now), day_key(now))


@pytest.mark.parametrize("days", [0, -1, 91])
def test_day_window_refuses_out_of_range(days: int) -> None:
    with pytest.raises(ValueError):
        day_window(0.0, days)
