"""Jobs whose prompt the retention sweep deleted say so wherever a prompt is shown, instead
of an empty quote. The rows come from a real SQLite file, purged the way the sweep does."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.chat import listings, messages
from bot.jobs.requests import stored_request
from storage import Database, Job, JobStore
from tests.jobs.test_requests_stored import row

NOTE = "(prompt deleted after the retention period)"
PROMPT = "a lighthouse at dusk, waves crashing"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[JobStore]:
    db = await Database.open(tmp_path / "veo.sqlite3")
    yield JobStore(db)
    await db.close()


async def finished_job(store: JobStore, *, purge: bool) -> Job:
    """A delivered job; with `purge`, swept by the real retention sweep (prompt "", negative
    prompt null, purged_at set)."""
    request = {"prompt": PROMPT, "negative_prompt": "blur", "provider": "demo", "duration": 8}
    return await row(store, json.dumps(request), purge=purge)


def every_prompt_view(job: Job) -> dict[str, str]:
    embed = messages.result_embed(job, None, "Demo clip", time.time())
    return {
        # As it read while the job ran (once delivered it collapses to a pointer).
        "job_message": messages.job_message(
            dataclasses.replace(job, delivered_message_id=None), "Demo clip", time.time()
        ),
        "job_details": listings.job_details(job, "Demo clip", time.time()),
        "job_choice_label": listings.job_choice_label(job),
        "history_line": listings.history_line(job),
        "result_embed": embed.description or "",
    }


async def test_a_purged_prompt_is_named_not_left_blank(store: JobStore) -> None:
    job = await finished_job(store, purge=True)
    assert job.purged_at is not None and stored_request(job).prompt == ""
    for where, text in every_prompt_view(job).items():
        assert NOTE in text, where
        assert PROMPT not in text, where
    assert "Avoid:" not in listings.job_details(job, "Demo clip", time.time())
    assert listings.job_choice_label(job) == f"#{job.id} · delivered · {NOTE}"


async def test_a_kept_prompt_is_shown_as_before(store: JobStore) -> None:
    job = await finished_job(store, purge=False)
    assert job.purged_at is None
    for where, text in every_prompt_view(job).items():
        assert PROMPT in text, where
        assert NOTE not in text, where
