"""Migration 2 and the GuildStore on a real SQLite file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import asyncpg
import pytest

from storage import Billing, Database, GuildSettings, GuildStore, JobStore
from storage.migrations import MIGRATIONS, statements
from tests.storage.test_store import DAY, new_job


async def test_a_schema_1_database_is_migrated_to_the_latest_with_its_jobs_intact(
    tmp_path: Path,
) -> None:
    path = tmp_path / "veo.sqlite3"
    with sqlite3.connect(path) as conn:
        for statement in statements(MIGRATIONS[0], "sqlite"):
            conn.execute(statement)
        conn.execute("PRAGMA user_version = 1")
        conn.execute(
            "INSERT INTO jobs (user_id, guild_id, channel_id, request_json, provider, model, "
            "status, next_poll_at, filesize_limit, quota_day, quota_state, created_at, updated_at) "
            "VALUES (7, 10, 20, '{\"prompt\": \"old\"}', 'demo', 'demo-veo', 'delivered', 0, 1, "
            "?, 'committed', 1, 1)",
            (DAY,),
        )
        conn.execute("INSERT INTO quota_usage (user_id, day, used) VALUES (7, ?, 1)", (DAY,))
    conn.close()

    db = await Database.open(path)
    try:
        row = await db.fetchone("PRAGMA user_version")
        assert row is not None and row[0] == len(MIGRATIONS) == 12
        store = JobStore(db)
        job = await store.get(1)
        assert job is not None and job.user_id == 7 and job.request_json == '{"prompt": "old"}'
        assert job.billing is Billing.BILLED  # a delivered job was rendered, so billed
        assert await store.usage(7, DAY, 10) == 1
        guilds = GuildStore(db)
        assert await guilds.get(10) == GuildSettings(10)
        await guilds.set(10, daily_quota=2)
        assert (await guilds.get(10)).daily_quota == 2
        # The old job table still takes new jobs after the migration.
        assert (await store.create(new_job(), daily_limit=5, max_active=5)).id == 2
    finally:
        await db.close()


async def test_settings_round_trip_and_clear(db_target: Path | str) -> None:
    db = await Database.open(db_target)
    try:
        guilds = GuildStore(db, clock=lambda: 100.0)
        saved = await guilds.set(
            1, allowed_channels=[5, 6], banned_words=["a b"], default_provider="demo"
        )
        assert saved.allowed_channels == (5, 6) and saved.banned_words == ("a b",)
        await guilds.set(1, alert_channel_id=9, default_model="demo-veo")
        await guilds.set_member_quota(1, 42, 0)
        got = await guilds.get(1, with_overrides=True)
        assert (got.default_provider, got.default_model, got.alert_channel_id) == (
            "demo",
            "demo-veo",
            9,
        )
        assert got.overrides == {42: 0} and await guilds.member_quota(1, 42) == 0
        assert await guilds.member_quota(2, 42) is None
        assert await guilds.configured_guilds() == [1]
        await guilds.set_member_quota(1, 42, None)
        await guilds.set(1, allowed_channels=[], banned_words=[], alert_channel_id=None)
        cleared = await guilds.get(1)
        assert cleared.allowed_channels == () and cleared.banned_words == ()
        with pytest.raises(ValueError, match="not a guild setting"):
            await guilds.set(1, guild_id=3)
        with pytest.raises((sqlite3.IntegrityError, asyncpg.IntegrityConstraintViolationError)):
            await guilds.set(1, daily_quota=-1)
    finally:
        await db.close()


async def test_reset_usage_gives_back_today_and_refunds_stop_at_zero(
    db_target: Path | str,
) -> None:
    db = await Database.open(db_target)
    try:
        store = JobStore(db)
        job = await store.create(new_job(), daily_limit=1, max_active=5)
        assert await store.reset_usage(1, DAY, 10) == 1
        assert await store.usage(1, DAY, 10) == 0
        await store.request_cancel(job.id)  # its refund finds nothing left to refund
        assert await store.usage(1, DAY, 10) == 0
    finally:
        await db.close()
