"""The admin log on a real SQLite file: entries are read one server at a time, newest
first, and the retention sweep forgets old ones."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.jobs.retention import DAY_SECONDS, RetentionSweeper
from storage import Database
from storage.audit import AuditStore
from storage.retention import RetentionStore


@pytest.fixture
async def db(db_target: Path | str) -> AsyncIterator[Database]:
    database = await Database.open(db_target)
    yield database
    await database.close()


async def test_entries_belong_to_their_server(db: Database) -> None:
    now = [1000.0]
    audit = AuditStore(db, clock=lambda: now[0])
    await audit.record(10, 1, "settings", detail="daily_quota=3")
    now[0] += 1
    await audit.record(11, 2, "refund", target_id=5, job_id=7)
    now[0] += 1
    await audit.record(10, 1, "quota_reset", target_id=5, detail="2")
    mine = await audit.recent(10)
    assert [(e.action, e.created_at) for e in mine] == [
        ("quota_reset", 1002.0),
        ("settings", 1000.0),
    ]
    assert [e.guild_id for e in mine] == [10, 10]
    [theirs] = await audit.recent(11)
    assert (theirs.actor_id, theirs.target_id, theirs.job_id) == (2, 5, 7)
    assert await audit.recent(12) == []
    assert len(await audit.recent(10, limit=1)) == 1


async def test_the_retention_sweep_forgets_old_entries(db: Database) -> None:
    old = AuditStore(db, clock=lambda: 1000.0)
    await old.record(10, 1, "settings")
    recent = AuditStore(db, clock=lambda: 1000.0 + 40 * DAY_SECONDS)
    await recent.record(10, 1, "settings", detail="kept")
    sweeper = RetentionSweeper(
        RetentionStore(db), retention_days=30, clock=lambda: 1000.0 + 41 * DAY_SECONDS
    )
    await sweeper.sweep_once()
    assert [e.detail for e in await recent.recent(10)] == ["kept"]
