"""The retention purge on a real SQLite file: what is forgotten, and what is kept."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from storage import Database, Job, JobStatus, JobStore, QuotaState
from storage.models import StoredImage
from storage.retention import purge_finished
from tests.storage.test_store import DAY, new_job

T0 = 1_800_000_000.0
DAYS = 86400.0
RETENTION = 30 * DAYS
REQUEST = {
    "prompt": "a cat on a skateboard",
    "negative_prompt": "blurry",
    "provider": "demo",
    "model": "demo-veo",
    "duration": 8,
    "aspect_ratio": "16:9",
}
IMAGE = StoredImage("cat.png", "image/png", b"\x89PNG\r\n\x1a\ncat", "https://cdn/cat.png")


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def db(db_target: Path | str) -> AsyncIterator[Database]:
    database = await Database.open(db_target)
    yield database
    await database.close()


async def make_job(
    store: JobStore,
    clock: Clock,
    *,
    at: float,
    status: JobStatus | None = JobStatus.DELIVERED,
    result_path: str | None = None,
    images: int = 1,
    callback_token: str | None = None,
) -> Job:
    """A job created and (unless status is None) finished at `at`, with a prompt, images
    and an interaction token. Create any job meant to stay active last: the claim below
    takes the earliest due job."""
    clock.now = at
    job = await store.create(
        new_job(request_json=json.dumps(REQUEST), interaction_token="itok", interaction_app_id=7),
        [IMAGE] * images,
        daily_limit=1000,
        max_active=1000,
    )
    if status is None:
        return job
    if status is JobStatus.CANCELLED:
        cancelled = await store.request_cancel(job.id)
        assert cancelled is not None and cancelled.status is JobStatus.CANCELLED
        return cancelled
    [claimed] = await store.claim_due("w1", lease_seconds=60, limit=1)
    assert claimed.id == job.id
    if callback_token is not None:
        claimed = await store.update(claimed, "w1", callback_token=callback_token)
    return await store.finish(
        claimed,
        "w1",
        status,
        refund=status is not JobStatus.DELIVERED,
        result_path=result_path,
        delivered_message_id=555 if status is JobStatus.DELIVERED else None,
    )


async def row(db: Database, job_id: int) -> dict[str, Any]:
    found = await db.fetchone("SELECT * FROM jobs WHERE id = ?", (job_id,))
    assert found is not None
    return dict(found)


async def image_count(db: Database, job_id: int) -> int:
    found = await db.fetchone("SELECT COUNT(*) FROM job_images WHERE job_id = ?", (job_id,))
    assert found is not None
    return int(found[0])


async def test_old_finished_job_is_purged_but_keeps_its_row(db: Database, tmp_path: Path) -> None:
    clock = Clock(T0)
    store = JobStore(db, clock=clock)
    video = tmp_path / "job.mp4"
    video.write_bytes(b"mp4")
    job = await make_job(
        store, clock, at=T0, result_path=str(video), images=2, callback_token="cb-1"
    )
    before = await row(db, job.id)
    assert before["callback_token"] == "cb-1" and before["interaction_token"] == "itok"
    assert await image_count(db, job.id) == 2

    now = T0 + 31 * DAYS
    report = await purge_finished(db, older_than=now - RETENTION, now=now)

    assert report.purged == 1
    assert report.result_paths == (str(video),)
    assert video.exists()  # unlinking is the caller's job
    after = await row(db, job.id)
    request = json.loads(after["request_json"])
    assert request["prompt"] == ""
    assert "negative_prompt" in request and request["negative_prompt"] is None
    assert {k: v for k, v in request.items() if "prompt" not in k} == {
        k: v for k, v in REQUEST.items() if "prompt" not in k
    }
    assert await image_count(db, job.id) == 0
    assert await store.images(job.id) == []
    assert after["interaction_token"] is None
    assert after["callback_token"] is None
    assert after["result_path"] is None
    assert after["purged_at"] == now
    assert after["updated_at"] == now
    changed = {"request_json", "interaction_token", "callback_token", "result_path"}
    changed |= {"purged_at", "updated_at"}
    assert {k: v for k, v in after.items() if k not in changed} == {
        k: v for k, v in before.items() if k not in changed
    }
    purged = await store.get(job.id)
    assert purged is not None
    assert purged.status is JobStatus.DELIVERED
    assert purged.model == "demo-veo" and purged.provider == "demo"
    assert purged.quota_state is QuotaState.COMMITTED
    assert purged.delivered_message_id == 555
    assert purged.purged_at == now


async def test_every_terminal_status_is_purged(db: Database) -> None:
    clock = Clock(T0)
    store = JobStore(db, clock=clock)
    jobs = [
        await make_job(store, clock, at=T0, status=status)
        for status in (JobStatus.DELIVERED, JobStatus.FAILED, JobStatus.CANCELLED)
    ]
    now = T0 + 40 * DAYS
    report = await purge_finished(db, older_than=now - RETENTION, now=now)
    assert report.purged == 3
    assert report.result_paths == ()
    for job in jobs:
        after = await row(db, job.id)
        assert after["status"] == job.status.value
        assert after["purged_at"] == now
        assert json.loads(after["request_json"])["prompt"] == ""
        assert await image_count(db, job.id) == 0


async def test_recent_and_active_jobs_are_untouched(db: Database, tmp_path: Path) -> None:
    clock = Clock(T0)
    store = JobStore(db, clock=clock)
    now = T0 + 100 * DAYS
    cutoff = now - RETENTION
    old = await make_job(store, clock, at=T0, result_path=str(tmp_path / "old.mp4"))
    recent = await make_job(store, clock, at=now - 29 * DAYS, result_path=str(tmp_path / "r.mp4"))
    on_the_line = await make_job(store, clock, at=cutoff, status=JobStatus.FAILED)
    # Created 100 days ago and still running (e.g. a vendor that never answers).
    active = await make_job(store, clock, at=T0, status=None)
    [held] = await store.claim_due("w2", lease_seconds=60, limit=1)
    assert held.id == active.id
    kept = [recent, on_the_line, active]
    before = {j.id: await row(db, j.id) for j in kept}
    images_before = {j.id: await store.images(j.id) for j in kept}

    report = await purge_finished(db, older_than=cutoff, now=now)

    assert report.purged == 1
    assert report.result_paths == (str(tmp_path / "old.mp4"),)
    assert (await row(db, old.id))["purged_at"] == now
    for job in kept:
        assert await row(db, job.id) == before[job.id]
        assert await store.images(job.id) == images_before[job.id] == [IMAGE]
    assert (await row(db, active.id))["status"] == JobStatus.QUEUED.value


async def test_second_sweep_is_a_no_op(db: Database, tmp_path: Path) -> None:
    clock = Clock(T0)
    store = JobStore(db, clock=clock)
    job = await make_job(store, clock, at=T0, result_path=str(tmp_path / "a.mp4"))
    first_now = T0 + 31 * DAYS
    first = await purge_finished(db, older_than=first_now - RETENTION, now=first_now)
    assert first.purged == 1
    after_first = await row(db, job.id)

    later = first_now + 10 * DAYS
    second = await purge_finished(db, older_than=later - RETENTION, now=later)

    assert second.purged == 0
    assert second.result_paths == ()
    assert await row(db, job.id) == after_first
    assert after_first["purged_at"] == first_now


async def test_backlog_is_purged_in_batches(db: Database, tmp_path: Path) -> None:
    clock = Clock(T0)
    store = JobStore(db, clock=clock)
    paths = [str(tmp_path / f"{i}.mp4") for i in range(7)]
    jobs = [await make_job(store, clock, at=T0 + i, result_path=p) for i, p in enumerate(paths)]
    now = T0 + 60 * DAYS
    report = await purge_finished(db, older_than=now - RETENTION, now=now, batch=3)
    assert report.purged == 7
    assert sorted(report.result_paths) == sorted(paths)
    for job in jobs:
        assert (await row(db, job.id))["purged_at"] == now
    left = await db.fetchone("SELECT COUNT(*) FROM job_images")
    assert left is not None and left[0] == 0


async def test_batch_must_be_positive(db: Database) -> None:
    with pytest.raises(ValueError):
        await purge_finished(db, older_than=T0, now=T0, batch=0)


async def test_unreadable_request_is_dropped_not_kept(db: Database) -> None:
    clock = Clock(T0)
    store = JobStore(db, clock=clock)
    broken = await make_job(store, clock, at=T0)
    listed = await make_job(store, clock, at=T0 + 1)
    await db.execute("UPDATE jobs SET request_json = ? WHERE id = ?", ("a cat {", broken.id))
    await db.execute("UPDATE jobs SET request_json = ? WHERE id = ?", ('["a cat"]', listed.id))
    now = T0 + 31 * DAYS
    report = await purge_finished(db, older_than=now - RETENTION, now=now)
    assert report.purged == 2
    assert (await row(db, broken.id))["request_json"] == "{}"
    assert (await row(db, listed.id))["request_json"] == "{}"


async def test_request_without_negative_prompt_gets_null(db: Database) -> None:
    clock = Clock(T0)
    store = JobStore(db, clock=clock)
    job = await make_job(store, clock, at=T0)
    await db.execute(
        "UPDATE jobs SET request_json = ? WHERE id = ?",
        (json.dumps({"prompt": "x", "model": "demo-veo"}), job.id),
    )
    now = T0 + 31 * DAYS
    await purge_finished(db, older_than=now - RETENTION, now=now)
    got = json.loads((await row(db, job.id))["request_json"])
    assert got == {"prompt": "", "model": "demo-veo", "negative_prompt": None}
    assert (await row(db, job.id))["quota_day"] == DAY


async def test_status_decides_not_only_finished_at(db: Database) -> None:
    """A job still active is never purged, even if its row carries an old finished_at."""
    clock = Clock(T0)
    store = JobStore(db, clock=clock)
    active = await make_job(store, clock, at=T0, status=None)
    await db.execute("UPDATE jobs SET finished_at = ? WHERE id = ?", (T0, active.id))
    before = await row(db, active.id)
    now = T0 + 31 * DAYS
    report = await purge_finished(db, older_than=now - RETENTION, now=now)
    assert report.purged == 0
    assert await row(db, active.id) == before
    assert await image_count(db, active.id) == 1
