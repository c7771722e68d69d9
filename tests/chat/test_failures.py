"""What a member reads when a job fails, made from the failure's code and parameters when it
is shown: for every ending of the job core's own, the very sentence the core used to store;
the row holds the code and parameters only; a row written before holds its sentence, and
that is what it shows. On a real SQLite file, through the words the job message uses."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from bot.chat.failures import alert_text, failure_text, job_failure_text
from bot.chat.i18n import text
from bot.chat.messages import status_line
from bot.jobs.endings import Step
from bot.providers.codes import ErrorCode, Failure, say
from storage import Database, Job, JobStatus, JobStore
from storage.migrations import MIGRATIONS, statements
from tests.storage.test_store import DAY, new_job

# The sentences the job core stored in `jobs.error_message` before failures were kept as
# codes, verbatim: what members read must not change.
BEFORE = {
    "uncertain": (
        "The video service did not confirm that it accepted the job, so I stopped it rather "
        "than risk making (and charging) it twice. Your quota was refunded; please try again."
    ),
    "interrupted": (
        "The bot restarted while sending this job, and cannot tell whether the video service "
        "received it. It was stopped and your quota was refunded; please try again."
    ),
    "deadline": (
        "The video service did not finish in time, so I stopped waiting. "
        "Your quota was refunded; please try again later."
    ),
    "internal": "Something went wrong inside the bot. Your quota was refunded; please try again.",
    "failed": "The video service could not make this video. Your quota was refunded.",
    "task_lost": (
        "The video service accepted this job, but the bot could not record it, so it cannot "
        "follow it to the end. Your quota was refunded; please try again."
    ),
    "vendor_gone": (
        "The video service has not been answering for a while, so this job was stopped before "
        "it was sent. Your quota was refunded; please try again later."
    ),
    "provider_disabled": (
        "This job's video service is no longer enabled here. Your quota was refunded."
    ),
    "too_large_no_link": (
        "The video is larger than this bot may download, and the video service gives no link "
        "to it. Your quota was refunded."
    ),
}
REASON = (
    "The video service could not make this video: it broke the content rules. You were not charged."
)
SLOW = (
    "The video service sent the video too slowly, so the bot stopped downloading it after "
    "2 minutes."
)

# Each ending as the job core stores it (steps, delivery, loop), and what it showed before.
ENDINGS: dict[str, tuple[Failure, str]] = {
    "uncertain": (Failure(ErrorCode.UNCERTAIN), BEFORE["uncertain"]),
    "task lost": (
        Failure(ErrorCode.UNCERTAIN, {"step": Step.STORE_TASK_ID}),
        BEFORE["task_lost"],
    ),
    "interrupted": (Failure(ErrorCode.INTERRUPTED), BEFORE["interrupted"]),
    "deadline": (Failure(ErrorCode.DEADLINE), BEFORE["deadline"]),
    "internal": (Failure(ErrorCode.INTERNAL_ERROR), BEFORE["internal"]),
    "provider disabled": (Failure(ErrorCode.PROVIDER_DISABLED), BEFORE["provider_disabled"]),
    "provider gone while running": (
        Failure(ErrorCode.PROVIDER_DISABLED, {"step": Step.POLL}),
        BEFORE["internal"],
    ),
    "vendor gone": (Failure(ErrorCode.VENDOR_DOWN), BEFORE["vendor_gone"]),
    "too large without link": (
        Failure(ErrorCode.TOO_LARGE, {"step": Step.DOWNLOAD}),
        BEFORE["too_large_no_link"],
    ),
    "vendor failed without reason": (Failure(ErrorCode.VENDOR_FAILED), BEFORE["failed"]),
    "vendor failed with reason": (
        say("could_not_make", reason="it broke the content rules").failure(
            ErrorCode.CONTENT_POLICY
        ),
        # Said before, then what to change (a content-rule refusal, whoever said it).
        f"{REASON} {text('ending.policy_advice')}",
    ),
    "download failed": (
        say("too_slow", seconds=125.0).failure(ErrorCode.DOWNLOAD_TOO_SLOW, step=Step.DOWNLOAD),
        SLOW + " Your quota was refunded.",
    ),
}


@pytest.fixture
async def store(tmp_path: Path):
    db = await Database.open(tmp_path / "veo.sqlite3")
    yield JobStore(db)
    await db.close()


async def failed_with(store: JobStore, failure: Failure) -> Job:
    """A job ended the way `Endings.fail` ends it, read back from the file."""
    job = await store.create(new_job(), daily_limit=100, max_active=100)
    [claimed] = await store.claim_due("w1", lease_seconds=60, limit=1)
    assert claimed.id == job.id
    await store.finish(
        claimed,
        "w1",
        JobStatus.FAILED,
        refund=True,
        error_code=failure.code,
        error_params=failure.params_json(),
    )
    row = await store.get(job.id)
    assert row is not None
    return row


@pytest.mark.parametrize("ending", list(ENDINGS))
async def test_each_ending_shows_the_sentence_it_showed_before(
    store: JobStore, ending: str
) -> None:
    failure, before = ENDINGS[ending]
    row = await failed_with(store, failure)
    assert job_failure_text(row) == before
    assert status_line(row, time.time()) == f"❌ Failed: {before}"


@pytest.mark.parametrize("ending", list(ENDINGS))
async def test_a_failed_row_holds_the_code_and_params_and_no_sentence(
    store: JobStore, ending: str
) -> None:
    failure, _ = ENDINGS[ending]
    row = await failed_with(store, failure)
    assert row.error_message is None
    assert row.error_code == failure.code
    params = Failure.load_params(row.error_params)
    assert params == dict(failure.params)
    # Every parameter is a token or a figure, except a vendor's own words (`reason`).
    assert all(" " not in str(v) for k, v in params.items() if k != "reason")
    if not failure.params:
        assert row.error_params is None


async def test_a_row_written_before_the_migration_shows_its_own_sentence(
    tmp_path: Path,
) -> None:
    path = tmp_path / "veo.sqlite3"
    with sqlite3.connect(path) as conn:
        for script in MIGRATIONS[:5]:
            for statement in statements(script, "sqlite"):
                conn.execute(statement)
        conn.execute("PRAGMA user_version = 5")
        for code, message in (("deadline", "Old words about a deadline."), ("x", "It broke.")):
            conn.execute(
                "INSERT INTO jobs (user_id, guild_id, channel_id, request_json, provider, model, "
                "status, next_poll_at, filesize_limit, quota_day, quota_state, created_at, "
                "updated_at, finished_at, error_code, error_message) VALUES (7, 10, 20, "
                "'{\"prompt\": \"old\"}', 'demo', 'demo-veo', 'failed', 0, 1, ?, 'refunded', "
                "1, 2, 2, ?, ?)",
                (DAY, code, message),
            )
    conn.close()
    db = await Database.open(path)
    try:
        assert await db.schema_version() == len(MIGRATIONS)
        store = JobStore(db)
        old, other = await store.get(1), await store.get(2)
        assert old is not None and other is not None
        assert old.error_params is None and other.error_params is None
        # The kept sentence wins over today's words for the same code.
        assert job_failure_text(old) == "Old words about a deadline."
        assert status_line(old, time.time()) == "❌ Failed: Old words about a deadline."
        assert job_failure_text(other) == "It broke."
    finally:
        await db.close()


def test_unreadable_or_missing_params_still_give_a_sentence() -> None:
    assert Failure.load_params("{not json") == {}
    assert Failure.load_params('["a"]') == {}
    assert Failure.load_params('{"n": 3, "flag": true, "nested": {}}') == {"n": 3}
    assert failure_text(ErrorCode.DEADLINE, Failure.load_params("{")) == BEFORE["deadline"]
    assert failure_text(None, {}) == "unknown error"
    # A code with no sentence of its own yet reads as a failed render.
    assert failure_text("demo_failure", {}) == BEFORE["failed"]


def test_the_admins_alerts_read_as_before() -> None:
    down = alert_text("down", {"provider": "apiyi", "count": 5, "say": "busy"})
    assert down == (
        "⚠️ **apiyi** seems to be down: 5 requests in a row failed (last: The video service "
        "is busy right now. Please try again in a moment). "
        "Jobs are waiting and will continue when it recovers; nothing is charged for jobs "
        "that fail."
    )
    back = alert_text("recovered", {"provider": "apiyi", "count": 5})
    assert back == (
        "✅ **apiyi** is back: a request succeeded after 5 failed in a row. Waiting jobs continue."
    )
    account = alert_text("account", {"provider": "apixo", "code": "auth", "say": "auth", "job": 12})
    assert account == (
        "⚠️ **apixo** refused this bot's account (auth): The video service refused the bot's "
        "API key; the server operator has been told. Job #12 was refunded. "
        "The operator should check the APIXO_API_KEY and the account's credit."
    )
