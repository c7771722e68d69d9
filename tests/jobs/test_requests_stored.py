"""The request as a job row keeps it: every shape written so far reads back typed, and a
request moved to another model is checked against that model's limits only."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.jobs.requests import (
    Draft,
    GenerationRequest,
    RequestInvalid,
    fit,
    prompt_limit,
    stored_request,
    validate,
)
from bot.providers.base import Mode
from bot.providers.demo import DemoProvider
from bot.providers.registry import ProviderRegistry
from storage import Database, Job, JobStatus, JobStore, NewJob
from storage.retention import purge_finished


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[JobStore]:
    db = await Database.open(tmp_path / "veo.sqlite3")
    yield JobStore(db)
    await db.close()


async def row(store: JobStore, request_json: str, *, purge: bool = False) -> Job:
    """A delivered job written with `request_json`; with `purge`, swept by the real
    retention sweep (which empties the words, or stores `{}` for what it cannot read)."""
    created = await store.create(
        NewJob(
            user_id=1,
            guild_id=10,
            channel_id=20,
            request_json=request_json,
            provider="demo",
            model="demo-veo",
            filesize_limit=10 * 1024 * 1024,
            quota_day="2026-01-01",
        ),
        daily_limit=5,
        max_active=5,
    )
    job = await store.finish(
        created, None, JobStatus.DELIVERED, refund=False, delivered_message_id=99
    )
    if purge:
        now = time.time() + 10
        report = await purge_finished(store.db, older_than=now, now=now)
        assert report.purged == 1
    fresh = await store.get(job.id)
    assert fresh is not None
    return fresh


def demo() -> ProviderRegistry:
    return ProviderRegistry({"demo": DemoProvider()}, "demo")


async def test_a_request_reads_back_as_it_was_accepted(store: JobStore) -> None:
    accepted = validate(
        Draft(prompt="a fox", negative_prompt="blur", seed=7, aspect_ratio="9:16"),
        demo(),
        max_prompt=2000,
    )
    assert stored_request(await row(store, accepted.model_dump_json())) == accepted


async def test_rows_of_the_first_release_still_read(store: JobStore) -> None:
    # Written before `enhance_prompt` existed: the same keys, one fewer.
    first = {
        "provider": "demo",
        "model": "demo-veo",
        "prompt": "a fox",
        "mode": "first_frame",
        "aspect_ratio": None,
        "duration": 8,
        "resolution": None,
        "negative_prompt": None,
        "seed": None,
        "image_count": 1,
    }
    request = stored_request(await row(store, json.dumps(first)))
    assert (request.mode, request.duration, request.enhance_prompt) == (Mode.FIRST_FRAME, 8, None)


async def test_purged_rows_keep_their_settings_without_the_words(store: JobStore) -> None:
    kept = {"provider": "demo", "model": "demo-veo", "prompt": "a fox", "negative_prompt": "x"}
    purged = await row(store, json.dumps({**kept, "duration": 8}), purge=True)
    request = stored_request(purged)
    assert (request.prompt, request.negative_prompt, request.duration) == ("", None, 8)
    # A request the sweep could not read is kept as `{}`: the row's columns fill in.
    unreadable = stored_request(await row(store, "a fox {", purge=True))
    assert (unreadable.provider, unreadable.model, unreadable.prompt) == ("demo", "demo-veo", "")


async def test_only_a_purged_row_may_have_no_words(store: JobStore) -> None:
    with pytest.raises(ValidationError):
        stored_request(
            await row(store, json.dumps({"provider": "demo", "model": "m", "prompt": ""}))
        )
    with pytest.raises(ValidationError):
        GenerationRequest(provider="demo", model="demo-veo", prompt="")


def test_one_prompt_limit_the_setting_or_the_models_own() -> None:
    spec = demo().model("demo", "demo-veo")
    assert spec is not None and spec.max_prompt == 2000
    assert prompt_limit(spec, 500) == 500
    assert prompt_limit(spec, 5000) == 2000
    assert prompt_limit(dataclasses.replace(spec, max_prompt=None), 5000) == 5000


def test_a_request_moved_to_another_model_meets_that_models_limit() -> None:
    spec = demo().model("demo", "demo-veo")
    assert spec is not None
    long = GenerationRequest(provider="elsewhere", model="big", prompt="x" * 2001)
    moved = long.model_copy(update={"provider": "demo", "model": "demo-veo"})
    assert moved.model_dump(exclude={"provider", "model"}) == long.model_dump(
        exclude={"provider", "model"}
    )
    with pytest.raises(RequestInvalid, match="limit is 2,000"):
        fit(moved, spec, max_prompt=5000)
    fit(moved.model_copy(update={"prompt": "x" * 2000}), spec, max_prompt=5000)
