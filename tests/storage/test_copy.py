"""`veo-bot migrate-db`: a SQLite file filled by the real stores, copied into a real
PostgreSQL database, must arrive whole, keep taking new rows, and never be copied twice."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from bot.migrate import migrate
from bot.settings import Settings
from storage import (
    TABLES,
    CopyError,
    Database,
    JobStatus,
    Stores,
    TargetNotEmpty,
    copy_database,
)
from storage.copy import IDENTITY_TABLES, KEYS
from storage.models import MemberSettings, StoredImage
from storage.render_times import RenderKey, RenderTime
from tests.net import free_port
from tests.postgres import PostgresServer, fresh_database
from tests.storage.test_store import new_job

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "s3cret-pw"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def fill(path: Path) -> None:
    """Some of everything, written the way the bot writes it."""
    clock = Clock()
    db = await Database.open(path)
    try:
        stores = Stores.over(db, clock=clock)
        jobs = stores.jobs
        images = [
            StoredImage("a.png", "image/png", bytes(range(256)) * 8, None),
            StoredImage("b.jpg", "image/jpeg", b"\x00\xff" * 10, "https://cdn.example/b.jpg"),
        ]
        await jobs.create(new_job(7, cost_usd=0.4), images, daily_limit=9, max_active=9)
        await jobs.create(new_job(8, guild_id=None), images[:1], daily_limit=9, max_active=9)
        await jobs.create(
            new_job(7, request_json='{"prompt": "ünïcode ✓"}'), daily_limit=9, max_active=9
        )
        for status, seconds in ((JobStatus.DELIVERED, 41.5), (JobStatus.FAILED, 60.0)):
            [held] = await jobs.claim_due("w", lease_seconds=60, limit=1)
            key = RenderKey("demo", "demo-veo", "720p", 8)
            sample = RenderTime(seconds - 5, seconds, clock.now)
            done = await jobs.complete(held, "w", key, sample, completed_at=clock.now)
            await jobs.finish(done, "w", status, refund=status is JobStatus.FAILED)
        await stores.guilds.set(
            10,
            daily_quota=3,
            allowed_channels=[20, 21],
            banned_words=["spoiler"],
            model_weights={"demo/demo-veo": 2},
            daily_budget_usd=2.5,
        )
        await stores.guilds.set(11, default_provider="demo")
        await stores.guilds.set_member_quota(10, 7, 4)
        await stores.guilds.set_member_quota(10, 8, 0)
        await stores.audit.record(10, 1, "settings", detail="daily_quota=3")
        await stores.audit.record(10, 1, "member_quota", target_id=7, job_id=1, detail="4")
        # The newest entry is the oldest by date, so the retention sweep drops it: SQLite
        # has given out id 3 all the same, and PostgreSQL must not give it again.
        clock.now -= 10_000
        await stores.audit.record(10, 1, "reset", target_id=8)
        assert await stores.retention.forget_audit(created_before=clock.now + 1) == 1
        assert await stores.guilds.claim_alert(10, "apiyi", "down", every=3600)
        await jobs.keep_frame(1, "image/jpeg", b"\xff\xd8 a last frame \xff\xd9")
        await stores.members.save(
            7,
            MemberSettings(
                provider="demo", model="demo-veo", duration=8, spoiler=True, told=frozenset({10})
            ),
        )
    finally:
        await db.close()


@asynccontextmanager
async def filled_and_empty(
    tmp_path: Path, server: PostgresServer
) -> AsyncIterator[tuple[Database, Database]]:
    """A filled SQLite file and an empty PostgreSQL database, both open."""
    path = tmp_path / "veo.sqlite3"
    await fill(path)
    source = await Database.open(path)
    target = await Database.open(await fresh_database(server))
    try:
        yield source, target
    finally:
        await target.close()
        await source.close()


async def rows_of(db: Database, table: str) -> list[dict[str, Any]]:
    rows = [{k: r[k] for k in r.keys()} for r in await db.fetchall(f"SELECT * FROM {table}")]
    return sorted(rows, key=lambda row: tuple(row[k] for k in KEYS[table]))


async def every_row(db: Database) -> dict[str, list[dict[str, Any]]]:
    return {table: await rows_of(db, table) for table in TABLES}


async def test_tables_names_every_table_of_the_schema(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "veo.sqlite3")
    try:
        rows = await db.fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    finally:
        await db.close()
    assert sorted(TABLES) == sorted(str(r[0]) for r in rows)
    assert len(set(TABLES)) == len(TABLES) and set(KEYS) == set(TABLES)
    assert TABLES.index("jobs") < TABLES.index("job_images")
    assert set(IDENTITY_TABLES) <= set(TABLES)


async def test_copy_keeps_every_row_and_new_ids_go_past_the_copied(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    async with filled_and_empty(tmp_path, postgres_server) as (source, target):
        before = await every_row(source)
        assert all(before[t] for t in TABLES), "the fill must put a row in every table"
        told: list[tuple[str, int]] = []
        # One row a page: every table, composite keys included, is read page by page.
        copied = await copy_database(
            source, target, batch=1, progress=lambda t, n: told.append((t, n))
        )
        assert copied == {t: len(before[t]) for t in TABLES}
        assert list(copied) == list(TABLES)
        assert told == [(t, n) for t in TABLES for n in range(1, copied[t] + 1)]
        assert await every_row(target) == before
        assert isinstance(before["job_images"][0]["data"], bytes)

        with pytest.raises(TargetNotEmpty, match="already holds 3 rows in jobs") as refused:
            await copy_database(source, target)
        assert (refused.value.table, refused.value.rows) == ("jobs", 3)
        assert await every_row(target) == before

        on_target = Stores.over(target)
        job = await on_target.jobs.create(new_job(9), daily_limit=9, max_active=9)
        assert job.id == max(r["id"] for r in before["jobs"]) + 1
        await on_target.audit.record(10, 1, "settings")
        [entry] = await on_target.audit.recent(10, limit=1)
        assert entry.id == 4  # past id 3, given out on SQLite and since deleted
        [held] = await on_target.jobs.claim_due("w", lease_seconds=60, limit=1)
        sample = RenderTime(1.0, 2.0, 0.0)
        await on_target.jobs.complete(held, "w", RenderKey("demo", "demo-veo", "", 0), sample)
        ids = [r["id"] for r in await rows_of(target, "render_times")]
        assert ids == [1, 2, 3]
    assert (
        await every_row_of_file(tmp_path / "veo.sqlite3") == before
    )  # the source is left as it was


async def every_row_of_file(path: Path) -> dict[str, list[dict[str, Any]]]:
    db = await Database.open(path)
    try:
        return await every_row(db)
    finally:
        await db.close()


async def test_copy_refuses_the_wrong_engines(tmp_path: Path) -> None:
    one = await Database.open(tmp_path / "one.sqlite3")
    two = await Database.open(tmp_path / "two.sqlite3")
    try:
        with pytest.raises(CopyError, match="from a SQLite file into PostgreSQL"):
            await copy_database(one, two)
    finally:
        await one.close()
        await two.close()


def with_password(url: str) -> str:
    return url.replace("postgres@", f"postgres:{PASSWORD}@", 1)


async def test_migrate_copies_and_tells_the_next_step(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    path = tmp_path / "veo.sqlite3"
    await fill(path)
    bare = await fresh_database(postgres_server)
    url = with_password(bare)  # the test server trusts every connection: any password works
    settings = Settings(_env_file=None, VEO_DB_PATH=path)  # type: ignore[call-arg]
    out, err = io.StringIO(), io.StringIO()
    assert await migrate(settings, url, out, err) == 0, err.getvalue()
    lines = out.getvalue().splitlines()
    assert lines[:-1] == [
        "jobs: 3 rows",
        "job_images: 3 rows",
        "job_frames: 1 row",
        "quota_ledger: 2 rows",
        "guild_settings: 2 rows",
        "member_overrides: 2 rows",
        "audit_log: 2 rows",
        "render_times: 2 rows",
        "alerts_sent: 1 row",
        "member_settings: 1 row",
    ]
    assert lines[-1] == (
        f"Done. Next: set VEO_DATABASE_URL={bare} (put the password back in) and restart the "
        f"bot; the SQLite file {path} is left untouched as a backup."
    )
    assert err.getvalue() == ""

    out, err = io.StringIO(), io.StringIO()
    assert await migrate(settings, url, out, err) == 1
    assert out.getvalue() == ""
    assert err.getvalue().startswith("The target database already holds 3 rows in jobs")
    assert len(err.getvalue().splitlines()) == 1
    assert PASSWORD not in err.getvalue()


async def test_migrate_says_why_it_cannot(tmp_path: Path) -> None:
    path = tmp_path / "veo.sqlite3"
    await fill(path)
    settings = Settings(_env_file=None, VEO_DB_PATH=path)  # type: ignore[call-arg]
    nowhere = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{free_port()}/veo"
    cases: list[tuple[Settings, str, int, str]] = [
        (settings, nowhere, 1, "Cannot open the PostgreSQL database postgresql://postgres@"),
        (settings, "sqlite:///elsewhere.sqlite3", 2, "--to must be a PostgreSQL URL"),
        (settings, "postgresql://u:p@host:port/db", 2, "--to must be a PostgreSQL URL"),
        (
            Settings(_env_file=None, VEO_DATABASE_URL=nowhere),  # type: ignore[call-arg]
            nowhere,
            2,
            "The bot already uses PostgreSQL",
        ),
        (
            Settings(_env_file=None, VEO_DB_PATH=tmp_path / "none.sqlite3"),  # type: ignore[call-arg]
            nowhere,
            1,
            "There is no SQLite file at",
        ),
    ]
    for given, url, status, start in cases:
        out, err = io.StringIO(), io.StringIO()
        assert await migrate(given, url, out, err) == status, err.getvalue()
        assert err.getvalue().startswith(start), err.getvalue()
        assert len(err.getvalue().splitlines()) == 1 and out.getvalue() == ""
        assert PASSWORD not in err.getvalue()
    assert not (tmp_path / "none.sqlite3").exists()


@pytest.mark.parametrize("args", [[], ["--to"], ["--to="], ["--from", "x"], ["--to", "a", "b"]])
def test_migrate_db_without_a_target_is_bad_usage(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["migrate-db", *args])
    assert stopped.value.code == 2
    captured = capsys.readouterr()
    assert "veo-bot migrate-db --to" in captured.err and captured.out == ""


def test_usage_names_migrate_db(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--help"])
    assert "veo-bot migrate-db --to" in capsys.readouterr().out


async def test_the_command_line_copies(tmp_path: Path, postgres_server: PostgresServer) -> None:
    path = tmp_path / "data" / "veo.sqlite3"
    await fill(path)
    bare = await fresh_database(postgres_server)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("VEO_", "APIYI_", "APIXO_", "VEO3O1_", "YELINAI_", "DISCORD_"))
    }
    env.update(PYTHONPATH=str(ROOT), VEO_DB_PATH=str(path))
    result = subprocess.run(
        [sys.executable, "-m", "bot", "migrate-db", "--to", with_password(bare)],
        cwd=tmp_path,  # no stray .env
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "jobs: 3 rows" and result.stderr == ""
    assert PASSWORD not in result.stdout
    target = await Database.open(bare)
    try:
        assert len(await rows_of(target, "job_images")) == 3
    finally:
        await target.close()


async def test_a_refused_row_leaves_the_target_empty(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    async with filled_and_empty(tmp_path, postgres_server) as (source, target):
        # SQLite keeps a NUL in text, PostgreSQL refuses it: the last table fails to copy
        # after every other one was written, and none of them may be kept.
        await source.execute("UPDATE render_times SET model = 'demo' || char(0) WHERE id = 1")
        with pytest.raises(CopyError, match="PostgreSQL refused a row of render_times"):
            await copy_database(source, target)
        assert all(rows == [] for rows in (await every_row(target)).values())
