"""Faults of a vendor's result URL (apixo hands out plain CDN links), through the real job
manager against the apixo simulator: a link that 404s for a while or for good, that
trickles, that stalls past the read timeout, whose host refuses connections, that answers
with an error page, or that holds a video over VEO_MAX_DOWNLOAD_MB without saying so."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

import bot.providers.adapter as adapter
from bot.settings import Settings
from storage import JobStatus, QuotaState
from tests.conftest import BotFactory, wait_for_job
from tests.faults import (
    SLACK,
    UNPACED,
    FaultyApixo,
    LateFileServer,
    failure_notes,
    fast_forward,
    jittered,
    put_back,
)
from tests.jobs.test_manager import deliveries, usage
from tests.net import free_port
from tests.providers.apixo.test_e2e import posted_video, submit
from tests.sim.apixo_sim import default_video
from tests.sim.discord_sim import DiscordSim

POLL = 1.0  # a 404'd link is asked again after min(4 s, 2 polls) = 2 s
FETCH_BASE = 4.0
MAX_FETCH_ATTEMPTS = 8


@pytest.fixture
async def sim() -> AsyncIterator[FaultyApixo]:
    s = FaultyApixo(queued_for=0.0, running_for=0.0)  # done at the first poll
    await s.start()
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
def make(make_settings: Callable[..., Settings], sim: FaultyApixo) -> Callable[..., Settings]:
    def settings(**extra: object) -> Settings:
        return make_settings(
            APIXO_API_KEY=sim.api_key,
            APIXO_BASE_URL=sim.base_url,
            VEO_APIXO_INITIAL_WAIT=0.05,
            VEO_APIXO_POLL_INTERVAL=POLL,
            VEO_APIXO_RATE_PER_MINUTE=UNPACED,
            **extra,
        )

    return settings


async def test_a_link_that_404s_for_a_while_is_asked_again_until_the_file_is_there(
    start_bot: BotFactory, make: Callable[..., Settings], sim: FaultyApixo, discord_sim: DiscordSim
) -> None:
    for _ in range(3):
        sim.queue_file_error(404, "Not Found")
    bot = await start_bot(make())
    job = await submit(bot)
    for attempt in (1, 2, 3):
        _, delay = await put_back(bot, job.id, JobStatus.DOWNLOADING, attempt)
        # CDN lag: a short fixed wait (2 polls, at most 4 s), not a growing backoff.
        assert 2 * POLL - SLACK <= delay <= 2 * POLL + 0.05, (attempt, delay)
        assert bot.health.failures("apixo") == 0  # not an outage either
        await fast_forward(bot, job.id)
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.quota_state) == (JobStatus.DELIVERED, QuotaState.COMMITTED)
    assert len(sim.file_gets()) == 4 and len(sim.submits()) == 1
    assert posted_video(discord_sim, job.id) == sim.video_bytes


async def test_a_link_that_404s_for_good_fails_and_refunds_after_the_last_attempt(
    start_bot: BotFactory, make: Callable[..., Settings], sim: FaultyApixo, discord_sim: DiscordSim
) -> None:
    for _ in range(20):
        sim.queue_file_error(404, "Not Found")
    bot = await start_bot(make())
    job = await submit(bot)
    for attempt in range(1, MAX_FETCH_ATTEMPTS):
        await put_back(bot, job.id, JobStatus.DOWNLOADING, attempt)
        await fast_forward(bot, job.id)
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.quota_state) == (JobStatus.FAILED, QuotaState.REFUNDED)
    assert done.error_code == "not_ready"
    assert len(sim.file_gets()) == MAX_FETCH_ATTEMPTS
    assert await usage(bot) == 0
    assert len(failure_notes(discord_sim, job.id)) == 1


async def test_a_slow_trickle_within_the_read_timeout_is_delivered(
    start_bot: BotFactory, make: Callable[..., Settings], sim: FaultyApixo, discord_sim: DiscordSim
) -> None:
    """Downloads bound the silence between reads, not the total: a body that takes three
    times VEO_REQUEST_TIMEOUT to arrive, a piece at a time, is fine."""
    sim.video_bytes = default_video(30 * 1024)
    sim.chunk_delay = 0.03  # 30 pieces of 1 KB: about 0.9 s in all
    bot = await start_bot(make(VEO_REQUEST_TIMEOUT=0.3))
    job = await submit(bot)
    started = time.monotonic()
    done = await wait_for_job(bot, job.id)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    assert done.attempts == 0 and len(sim.file_gets()) == 1  # one download, never retried
    assert time.monotonic() - started > 0.3  # it did trickle past the request timeout
    assert posted_video(discord_sim, job.id) == sim.video_bytes


async def test_a_link_that_stalls_past_the_read_timeout_is_dropped_and_fetched_again(
    start_bot: BotFactory,
    make: Callable[..., Settings],
    sim: FaultyApixo,
    discord_sim: DiscordSim,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # The read timeout has no setting (the adapter's default is 120 s): shorten it here.
    monkeypatch.setattr(adapter, "DOWNLOAD_READ_TIMEOUT", 0.3)
    sim.video_bytes = default_video(20 * 1024)
    sim.chunk_delay = 5.0  # one piece, then silence
    bot = await start_bot(make())
    job = await submit(bot)
    _, delay = await put_back(bot, job.id, JobStatus.DOWNLOADING, 1)
    low, high = jittered(FETCH_BASE, 1)
    assert low - SLACK <= delay <= high + 0.05
    assert not list((tmp_path / "data" / "downloads").glob("*"))  # the partial file is gone
    sim.chunk_delay = 0.0
    await fast_forward(bot, job.id)
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.quota_state) == (JobStatus.DELIVERED, QuotaState.COMMITTED)
    assert len(sim.file_gets()) == 2
    assert posted_video(discord_sim, job.id) == sim.video_bytes


async def test_a_link_whose_host_refuses_connections_is_fetched_again_later(
    start_bot: BotFactory, make: Callable[..., Settings], sim: FaultyApixo, discord_sim: DiscordSim
) -> None:
    cdn = LateFileServer(free_port())
    sim.queue_status_error(
        200,
        {
            "code": 200,
            "message": "success",
            "data": {
                "taskId": "apx_000000000001",
                "state": "success",
                "resultJson": json.dumps({"resultUrls": [cdn.url]}),
                "completeTime": int(time.time() * 1000),
            },
        },
    )
    bot = await start_bot(make())
    try:
        job = await submit(bot)
        _, delay = await put_back(bot, job.id, JobStatus.DOWNLOADING, 1)
        low, high = jittered(FETCH_BASE, 1)
        assert low - SLACK <= delay <= high + 0.05
        await cdn.start()
        await fast_forward(bot, job.id)
        done = await wait_for_job(bot, job.id)
        assert (done.status, done.quota_state) == (JobStatus.DELIVERED, QuotaState.COMMITTED)
        assert done.result_url == cdn.url and cdn.gets == 1
        assert posted_video(discord_sim, job.id) == cdn.video
    finally:
        await cdn.close()


async def test_an_error_page_behind_the_link_is_never_posted_as_the_video(
    start_bot: BotFactory, make: Callable[..., Settings], sim: FaultyApixo, discord_sim: DiscordSim
) -> None:
    sim.queue_file_error(200, "<?xml version='1.0'?><Error><Code>AccessDenied</Code></Error>")
    sim.queue_file_error(502, "<html><body>502 Bad Gateway</body></html>")
    bot = await start_bot(make())
    job = await submit(bot)
    for attempt in (1, 2):
        _, delay = await put_back(bot, job.id, JobStatus.DOWNLOADING, attempt)
        low, high = jittered(FETCH_BASE, attempt)
        assert low - SLACK <= delay <= high + 0.05, (attempt, delay)
        await fast_forward(bot, job.id)
    done = await wait_for_job(bot, job.id)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    assert posted_video(discord_sim, job.id) == sim.video_bytes


@pytest.mark.parametrize("content_length", [True, False], ids=["content_length", "chunked"])
async def test_a_video_over_the_download_cap_is_posted_as_its_link(
    start_bot: BotFactory,
    make: Callable[..., Settings],
    sim: FaultyApixo,
    discord_sim: DiscordSim,
    tmp_path: Path,
    content_length: bool,
) -> None:
    sim.video_bytes = default_video(1024 * 1024 + 10)
    sim.send_content_length = content_length
    bot = await start_bot(make(VEO_MAX_DOWNLOAD_MB=1))
    job = await submit(bot)
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.quota_state) == (JobStatus.DELIVERED, QuotaState.COMMITTED)
    assert done.task_id is not None
    [post] = deliveries(discord_sim, job.id)
    assert sim.file_url(done.task_id) in str(post["content"]) and post["attachments"] == []
    assert len(sim.file_gets()) == 1  # stopped at the cap, not fetched again
    assert not list((tmp_path / "data" / "downloads").glob("*"))
