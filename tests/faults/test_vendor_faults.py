"""Vendor faults at submit, status poll and result download, through the real job manager
against the apiyi simulator (the current channel), a real SQLite file and the Discord
simulator. Each test asserts what the member got, what was billed, how often the vendor
was called, and the backoff the manager wrote to the database (never wall-clock time).

The rule under test: retryable failures are retried with capped exponential backoff and
jitter, Retry-After honoured; a submit is only sent again when the vendor provably did not
take it (429, 5xx, connection refused); after the request went out (timeout, reset, an
unreadable 2xx) the job ends "uncertain" and is refunded.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

import bot.providers.adapter as adapter
from bot.chat.failures import job_failure_text
from bot.providers.base import Timing
from bot.settings import Settings
from storage import JobStatus, QuotaState
from tests.conftest import BotFactory, wait_for_job
from tests.faults import (
    SLACK,
    FaultyApiyi,
    apiyi_settings,
    failure_notes,
    fast_forward,
    jittered,
    put_back,
)
from tests.jobs.test_manager import deliveries, submit, usage
from tests.net import free_port
from tests.sim.apiyi_sim import default_video
from tests.sim.discord_sim import DiscordSim

SUBMIT_BASE = 2.0  # the manager's submit backoff base
FETCH_BASE = 4.0  # ... and its download backoff base
MAX_SUBMIT_ATTEMPTS = 5
MAX_FETCH_ATTEMPTS = 8


@pytest.fixture
async def sim() -> AsyncIterator[FaultyApiyi]:
    s = FaultyApiyi(queued_for=0.05, running_for=0.05)
    await s.start()
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
def settings(make_settings: Callable[..., Settings], sim: FaultyApiyi) -> Settings:
    return apiyi_settings(make_settings, sim)


def posted_bytes(discord_sim: DiscordSim, job_id: int) -> bytes:
    [post] = deliveries(discord_sim, job_id)
    [attachment] = post["attachments"]  # type: ignore[misc]
    return discord_sim.attachment_bytes(attachment["id"])


# -- submit -----------------------------------------------------------------------------


async def test_submit_429_burst_waits_out_each_retry_after_and_makes_one_task(
    start_bot: BotFactory, settings: Settings, sim: FaultyApiyi, discord_sim: DiscordSim
) -> None:
    for _ in range(3):
        sim.fail_next_submit_with(429, retry_after=7)
    bot = await start_bot(settings)
    job = await submit(bot)
    for attempt in (1, 2, 3):
        waiting, delay = await put_back(bot, job.id, JobStatus.QUEUED, attempt)
        # Retry-After wins over the shorter backoff; a longer jittered backoff may win.
        assert 7.0 - SLACK <= delay <= max(7.0, jittered(SUBMIT_BASE, attempt)[1]) + 0.05
        assert waiting.stage == "waiting for the video service"
        # A 429 means "too often", not "down": it never counts towards an outage.
        assert bot.health.failures("apiyi") == 0
        await fast_forward(bot, job.id)
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.quota_state) == (JobStatus.DELIVERED, QuotaState.COMMITTED)
    assert len(sim.submits()) == 4 and len(sim.tasks) == 1  # one task, one bill
    assert len(deliveries(discord_sim, job.id)) == 1


async def test_submit_429_without_retry_after_backs_off_exponentially_with_jitter(
    start_bot: BotFactory, settings: Settings, sim: FaultyApiyi
) -> None:
    for _ in range(3):
        sim.fail_next_submit_with(429)
    bot = await start_bot(settings)
    job = await submit(bot)
    delays = []
    for attempt in (1, 2, 3):
        _, delay = await put_back(bot, job.id, JobStatus.QUEUED, attempt)
        low, high = jittered(SUBMIT_BASE, attempt)
        assert low - SLACK <= delay <= high + 0.05, (attempt, delay)
        delays.append(delay)
        await fast_forward(bot, job.id)
    assert delays[0] < delays[2]  # it grows
    done = await wait_for_job(bot, job.id)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    assert len(sim.submits()) == 4 and len(sim.tasks) == 1


async def test_submit_5xx_streak_is_retried_and_sent_once_successfully(
    start_bot: BotFactory, settings: Settings, sim: FaultyApiyi, discord_sim: DiscordSim
) -> None:
    sim.fail_next_submit_with(502, "<html><body><h1>502 Bad Gateway</h1></body></html>")
    sim.fail_next_submit_with(500)
    sim.fail_next_submit_with(503, "Service Unavailable", retry_after=9)
    bot = await start_bot(settings)
    job = await submit(bot)
    for attempt in (1, 2, 3):
        _, delay = await put_back(bot, job.id, JobStatus.QUEUED, attempt)
        low, high = jittered(SUBMIT_BASE, attempt)
        if attempt == 3:
            low = 9.0  # the 503's Retry-After
        assert low - SLACK <= delay <= max(high, low) + 0.05, (attempt, delay)
        await fast_forward(bot, job.id)
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.quota_state) == (JobStatus.DELIVERED, QuotaState.COMMITTED)
    assert len(sim.submits()) == 4 and len(sim.tasks) == 1
    assert len(deliveries(discord_sim, job.id)) == 1


async def test_submit_5xx_that_never_ends_fails_and_refunds_after_the_last_attempt(
    start_bot: BotFactory, settings: Settings, sim: FaultyApiyi, discord_sim: DiscordSim
) -> None:
    for _ in range(20):
        sim.fail_next_submit_with(503)
    bot = await start_bot(settings)
    job = await submit(bot)
    for attempt in range(1, MAX_SUBMIT_ATTEMPTS):
        await put_back(bot, job.id, JobStatus.QUEUED, attempt)
        await fast_forward(bot, job.id)
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.quota_state) == (JobStatus.FAILED, QuotaState.REFUNDED)
    assert done.error_code == "server_error"
    assert len(sim.submits()) == MAX_SUBMIT_ATTEMPTS and sim.tasks == {}
    assert await usage(bot) == 0
    [note] = failure_notes(discord_sim, job.id)
    assert "trouble" in note and "<html" not in note


async def test_submit_connection_refused_is_retried_and_sent_once(
    start_bot: BotFactory, make_settings: Callable[..., Settings], discord_sim: DiscordSim
) -> None:
    """Nothing listens at the vendor's address at first: the request never left."""
    vendor = FaultyApiyi(queued_for=0.05, running_for=0.05)
    vendor.fixed_port(free_port())
    try:
        bot = await start_bot(apiyi_settings(make_settings, vendor))
        job = await submit(bot)
        _, delay = await put_back(bot, job.id, JobStatus.QUEUED, 1)
        low, high = jittered(SUBMIT_BASE, 1)
        assert low - SLACK <= delay <= high + 0.05
        await vendor.start()  # the vendor is back
        await fast_forward(bot, job.id)
        done = await wait_for_job(bot, job.id)
        assert (done.status, done.quota_state) == (JobStatus.DELIVERED, QuotaState.COMMITTED)
        assert len(vendor.submits()) == 1 and len(vendor.tasks) == 1
        assert len(deliveries(discord_sim, job.id)) == 1
    finally:
        await vendor.close()


async def test_submit_connection_cut_after_sending_is_uncertain_and_never_resent(
    start_bot: BotFactory, settings: Settings, sim: FaultyApiyi, discord_sim: DiscordSim
) -> None:
    """The vendor read the request and the connection broke: it may have queued (and will
    bill) the task, so sending it again could make and bill it twice."""
    sim.drop_submits = 1
    bot = await start_bot(settings)
    job = await submit(bot)
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.error_code) == (JobStatus.FAILED, "uncertain")
    assert done.quota_state is QuotaState.REFUNDED
    assert "refunded" in job_failure_text(done)
    await asyncio.sleep(0.3)
    assert len(sim.submits()) == 1
    assert len(failure_notes(discord_sim, job.id)) == 1


@pytest.mark.parametrize(
    "body",
    [
        "<html><body>Welcome to nginx!</body></html>",
        '{"id": "task_0000000000000001", "status": "que',  # truncated JSON
        b"",
    ],
    ids=["html", "truncated_json", "empty"],
)
async def test_submit_unreadable_2xx_is_uncertain_and_never_resent(
    start_bot: BotFactory, settings: Settings, sim: FaultyApiyi, body: str | bytes
) -> None:
    """A 2xx may have queued a paid task even when its body is unreadable."""
    sim.script_next_submit(200, body)
    bot = await start_bot(settings)
    job = await submit(bot)
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.error_code) == (JobStatus.FAILED, "uncertain")
    assert done.quota_state is QuotaState.REFUNDED
    await asyncio.sleep(0.2)
    assert len(sim.submits()) == 1


# -- status poll ------------------------------------------------------------------------


async def test_status_429_burst_waits_out_each_retry_after(
    start_bot: BotFactory, settings: Settings, sim: FaultyApiyi, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(settings)
    for _ in range(3):
        sim.queue_status_error(429, retry_after=5)
    job = await submit(bot)
    for attempt in (1, 2, 3):
        _, delay = await put_back(bot, job.id, JobStatus.RUNNING, attempt)
        assert 5.0 - SLACK <= delay <= 5.0 + 0.05, (attempt, delay)
        assert bot.health.failures("apiyi") == 0
        await fast_forward(bot, job.id)
    done = await wait_for_job(bot, job.id)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    assert len(sim.submits()) == 1
    assert len(deliveries(discord_sim, job.id)) == 1


async def test_status_429_without_retry_after_backs_off_up_to_the_cap(
    start_bot: BotFactory, settings: Settings, sim: FaultyApiyi
) -> None:
    interval = 8.0  # base 8 s: the cap (60 s) is reached at the fourth retry
    bot = await start_bot(
        settings, timing=Timing(initial_wait=0.05, poll_interval=interval, deadline=3600)
    )
    for _ in range(6):
        sim.queue_status_error(429)
    job = await submit(bot)
    for attempt in range(1, 7):
        _, delay = await put_back(bot, job.id, JobStatus.RUNNING, attempt)
        low, high = jittered(interval, attempt)
        assert low - SLACK <= delay <= high + 0.05, (attempt, delay)
        if attempt >= 4:
            assert delay <= 60.0 + 0.05  # capped at 60 s, jitter included
        await fast_forward(bot, job.id)
    done = await wait_for_job(bot, job.id)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)


async def test_status_5xx_that_never_ends_stops_at_the_deadline_without_a_tight_loop(
    start_bot: BotFactory, settings: Settings, sim: FaultyApiyi, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(
        settings, timing=Timing(initial_wait=0.05, poll_interval=0.05, deadline=1.0)
    )
    for _ in range(500):
        sim.queue_status_error(503, "<html>Service Unavailable</html>")
    job = await submit(bot)
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.error_code) == (JobStatus.FAILED, "deadline")
    assert done.quota_state is QuotaState.REFUNDED
    # Backoff 0.05, 0.1, 0.2, 0.4, 0.8 s (± 25 %) inside a 1-s deadline: a handful of
    # polls, where a tight loop would have made hundreds.
    polls = len(sim.gets(f"/v1/videos/{done.task_id}"))
    assert 3 <= polls <= 8, polls
    assert len(failure_notes(discord_sim, job.id)) == 1


async def test_status_timeout_is_retried(
    start_bot: BotFactory, make_settings: Callable[..., Settings], sim: FaultyApiyi
) -> None:
    bot = await start_bot(apiyi_settings(make_settings, sim, VEO_REQUEST_TIMEOUT=0.3))
    sim.delay_status = 5.0  # the vendor sits on status checks
    job = await submit(bot)
    await wait_for_job(bot, job.id, frozenset({JobStatus.RUNNING}), until=lambda j: j.attempts >= 1)
    sim.delay_status = 0.0
    done = await wait_for_job(bot, job.id)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    assert len(sim.submits()) == 1


async def test_status_connection_cut_is_retried(
    start_bot: BotFactory, settings: Settings, sim: FaultyApiyi
) -> None:
    bot = await start_bot(settings)
    sim.drop_statuses = 3  # aiohttp may retry a GET on a fresh connection once itself
    job = await submit(bot)
    done = await wait_for_job(bot, job.id)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    assert sim.drop_statuses == 0 and len(sim.submits()) == 1


async def test_status_connection_refused_is_retried_until_the_vendor_is_back(
    start_bot: BotFactory, make_settings: Callable[..., Settings], discord_sim: DiscordSim
) -> None:
    vendor = FaultyApiyi(queued_for=None, running_for=None)  # holds the task till told
    vendor.fixed_port(free_port())
    await vendor.start()
    try:
        bot = await start_bot(apiyi_settings(make_settings, vendor))
        job = await submit(bot)
        running = await wait_for_job(bot, job.id, frozenset({JobStatus.RUNNING}))
        assert running.task_id is not None
        await vendor.close()  # gone: connections are refused
        await wait_for_job(
            bot, job.id, frozenset({JobStatus.RUNNING}), until=lambda j: j.attempts >= 2
        )
        await vendor.start()
        vendor.set_task_status(running.task_id, "completed")
        done = await wait_for_job(bot, job.id)
        assert (done.status, done.quota_state) == (JobStatus.DELIVERED, QuotaState.COMMITTED)
        assert len(vendor.submits()) == 1
        assert len(deliveries(discord_sim, job.id)) == 1
    finally:
        await vendor.close()


async def test_status_error_pages_and_broken_bodies_are_waited_out(
    start_bot: BotFactory, settings: Settings, sim: FaultyApiyi, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(settings)
    sim.queue_status_error(502, "<html><body><h1>502 Bad Gateway</h1></body></html>")
    sim.queue_status_error(200, "<!DOCTYPE html><html><body>maintenance</body></html>")
    sim.queue_status_error(200, '{"id": "task_1", "status": "in_pro')  # truncated JSON
    sim.queue_status_error(200, b"")  # empty body
    job = await submit(bot)
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.quota_state) == (JobStatus.DELIVERED, QuotaState.COMMITTED)
    assert not sim.status_errors  # every broken answer was met
    assert len(sim.submits()) == 1
    assert posted_bytes(discord_sim, job.id) == sim.video_bytes


# -- result download --------------------------------------------------------------------


async def test_download_429_waits_out_retry_after(
    start_bot: BotFactory, settings: Settings, sim: FaultyApiyi, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(settings)
    sim.queue_content_error(429, retry_after=9)
    sim.queue_content_error(429, retry_after=9)
    job = await submit(bot)
    for attempt in (1, 2):
        _, delay = await put_back(bot, job.id, JobStatus.DOWNLOADING, attempt)
        assert 9.0 - SLACK <= delay <= max(9.0, jittered(FETCH_BASE, attempt)[1]) + 0.05, (
            attempt,
            delay,
        )
        await fast_forward(bot, job.id)
    done = await wait_for_job(bot, job.id)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    assert len(sim.gets("/content")) == 3
    assert posted_bytes(discord_sim, job.id) == sim.video_bytes


async def test_download_429_and_5xx_streak_back_off_then_deliver(
    start_bot: BotFactory, settings: Settings, sim: FaultyApiyi, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(settings)
    sim.queue_content_error(429)  # without Retry-After: the same backoff
    for _ in range(2):
        sim.queue_content_error(503, "<html>Service Unavailable</html>")
    job = await submit(bot)
    for attempt in (1, 2, 3):
        _, delay = await put_back(bot, job.id, JobStatus.DOWNLOADING, attempt)
        low, high = jittered(FETCH_BASE, attempt)
        assert low - SLACK <= delay <= high + 0.05, (attempt, delay)
        await fast_forward(bot, job.id)
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.quota_state) == (JobStatus.DELIVERED, QuotaState.COMMITTED)
    assert len(sim.gets("/content")) == 4
    assert posted_bytes(discord_sim, job.id) == sim.video_bytes


async def test_download_that_keeps_failing_fails_and_refunds_after_the_last_attempt(
    start_bot: BotFactory,
    settings: Settings,
    sim: FaultyApiyi,
    discord_sim: DiscordSim,
    tmp_path: Path,
) -> None:
    bot = await start_bot(settings)
    for _ in range(20):
        sim.queue_content_error(500)
    job = await submit(bot)
    for attempt in range(1, MAX_FETCH_ATTEMPTS):
        _, delay = await put_back(bot, job.id, JobStatus.DOWNLOADING, attempt)
        assert delay <= 60.0 + 0.05  # the cap holds, jitter included
        await fast_forward(bot, job.id)
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.quota_state) == (JobStatus.FAILED, QuotaState.REFUNDED)
    assert done.error_code == "server_error"
    assert len(sim.gets("/content")) == MAX_FETCH_ATTEMPTS
    assert await usage(bot) == 0
    assert len(failure_notes(discord_sim, job.id)) == 1
    assert not list((tmp_path / "data" / "downloads").glob("*"))


async def test_download_with_no_answer_past_the_read_timeout_is_retried(
    start_bot: BotFactory,
    settings: Settings,
    sim: FaultyApiyi,
    discord_sim: DiscordSim,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # VEO_REQUEST_TIMEOUT does not bound downloads (their read timeout is the adapter's
    # 120-s default, with no setting): shorten that default for this test.
    monkeypatch.setattr(adapter, "DOWNLOAD_READ_TIMEOUT", 0.3)
    bot = await start_bot(settings)
    sim.delay_files = 5.0
    job = await submit(bot)
    _, delay = await put_back(bot, job.id, JobStatus.DOWNLOADING, 1)
    low, high = jittered(FETCH_BASE, 1)
    assert low - SLACK <= delay <= high + 0.05
    sim.delay_files = 0.0
    await fast_forward(bot, job.id)
    done = await wait_for_job(bot, job.id)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    assert posted_bytes(discord_sim, job.id) == sim.video_bytes


async def test_download_cut_mid_body_is_retried_and_the_posted_video_is_whole(
    start_bot: BotFactory,
    settings: Settings,
    sim: FaultyApiyi,
    discord_sim: DiscordSim,
    tmp_path: Path,
) -> None:
    sim.video_bytes = default_video(60_000)
    sim.break_content_after = 20_000
    bot = await start_bot(settings)
    job = await submit(bot)
    await put_back(bot, job.id, JobStatus.DOWNLOADING, 1)
    assert not list((tmp_path / "data" / "downloads").glob("*"))  # no partial file kept
    sim.break_content_after = None
    await fast_forward(bot, job.id)
    done = await wait_for_job(bot, job.id)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    assert posted_bytes(discord_sim, job.id) == sim.video_bytes


@pytest.mark.parametrize(
    "body",
    [
        "<html><head><title>403 Forbidden</title></head><body>AccessDenied</body></html>",
        '{"error": {"message": "upstream',  # truncated JSON
        {"url": "https://cdn.example.invalid/video.mp4"},
    ],
    ids=["html", "truncated_json", "json"],
)
async def test_download_answered_with_a_page_is_never_posted_as_the_video(
    start_bot: BotFactory,
    settings: Settings,
    sim: FaultyApiyi,
    discord_sim: DiscordSim,
    body: object,
) -> None:
    bot = await start_bot(settings)
    sim.queue_content_error(200, body)  # type: ignore[arg-type]
    job = await submit(bot)
    _, delay = await put_back(bot, job.id, JobStatus.DOWNLOADING, 1)
    low, high = jittered(FETCH_BASE, 1)
    assert low - SLACK <= delay <= high + 0.05
    await fast_forward(bot, job.id)
    done = await wait_for_job(bot, job.id)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    assert posted_bytes(discord_sim, job.id) == sim.video_bytes


async def test_download_with_an_empty_body_is_not_posted_as_a_video(
    start_bot: BotFactory,
    settings: Settings,
    sim: FaultyApiyi,
    discord_sim: DiscordSim,
) -> None:
    """A 200 `video/mp4` with no bytes is no video: the member must not be charged for an
    empty file (it is retried like any bad answer, and refunded if it never changes)."""
    sim.video_bytes = b""
    bot = await start_bot(settings)
    job = await submit(bot)
    for attempt in range(1, MAX_FETCH_ATTEMPTS):
        current = await wait_for_job(
            bot,
            job.id,
            frozenset(JobStatus) - {JobStatus.QUEUED, JobStatus.SUBMITTING, JobStatus.RUNNING},
            until=lambda j, n=attempt: (
                (j.attempts == n and j.lease_owner is None) or not j.is_active
            ),
        )
        if not current.is_active:
            break
        await fast_forward(bot, job.id)
    done = await wait_for_job(bot, job.id)
    assert done.status is not JobStatus.DELIVERED, "an empty file was posted as the video"
    assert done.quota_state is QuotaState.REFUNDED
    assert deliveries(discord_sim, job.id) == []


async def test_download_over_the_cap_without_content_length_fails_refunds_and_keeps_nothing(
    start_bot: BotFactory,
    make_settings: Callable[..., Settings],
    sim: FaultyApiyi,
    discord_sim: DiscordSim,
    tmp_path: Path,
) -> None:
    """Chunked: the size is only known while reading; the cap still stops it (apiyi gives
    no link, so there is nothing to post instead)."""
    sim.video_bytes = default_video(1024 * 1024 + 10)
    sim.send_content_length = False
    bot = await start_bot(apiyi_settings(make_settings, sim, VEO_MAX_DOWNLOAD_MB=1))
    job = await submit(bot)
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.error_code) == (JobStatus.FAILED, "too_large")
    assert done.quota_state is QuotaState.REFUNDED
    assert len(sim.gets("/content")) == 1  # not retried: it will not get smaller
    assert deliveries(discord_sim, job.id) == []
    assert not list((tmp_path / "data" / "downloads").glob("*"))
