"""A download that trickles past its total time budget, through the real bot: the job ends
while the vendor is still sending, the member is told what happened, no partial file is
left, and the member gets the vendor's link where there is one, else their quota back.

The budget is made small by setting the defaults of `download_budget`; the trickle alone
would take at least 12 s, and the test gives the job 6 s to end: a job that ends at all
was stopped by the budget, not by the end of the body.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.chat.failures import job_failure_text
from bot.providers.download import download_budget
from bot.settings import Settings
from storage import JobStatus, QuotaState
from tests.conftest import BotFactory, wait_for_job
from tests.faults import FaultyApixo, FaultyApiyi, apixo_settings, apiyi_settings, failure_notes
from tests.jobs.test_manager import deliveries, submit, usage
from tests.providers.apixo import test_e2e as test_vendor_apixo
from tests.sim.discord_sim import DiscordSim
from tests.sim.vendor_base import default_video

TRICKLE = default_video(48 * 1024)  # 48 pieces of 1 KB...
PIECE_DELAY = 0.25  # ...this far apart: at least 12 s in all
GUARD = 6.0  # how long the job may take to end


@pytest.fixture(autouse=True)
def small_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    # 0.3 s + 1 MiB (VEO_MAX_DOWNLOAD_MB=1) at 8 MiB/s: 0.425 s.
    monkeypatch.setitem(download_budget.__kwdefaults__, "base", 0.3)
    monkeypatch.setitem(download_budget.__kwdefaults__, "slowest_rate", 8 * 1024 * 1024)


@pytest.fixture
async def apiyi() -> AsyncIterator[FaultyApiyi]:
    sim = FaultyApiyi(queued_for=0.0, running_for=0.0)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.close()


@pytest.fixture
async def apixo() -> AsyncIterator[FaultyApixo]:
    sim = FaultyApixo(queued_for=0.0, running_for=0.0)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.close()


async def test_a_trickle_without_a_link_fails_the_job_says_why_and_refunds(
    start_bot: BotFactory,
    make_settings: Callable[..., Settings],
    apiyi: FaultyApiyi,
    discord_sim: DiscordSim,
    tmp_path: Path,
) -> None:
    apiyi.video_bytes, apiyi.chunk_delay = TRICKLE, PIECE_DELAY
    bot = await start_bot(apiyi_settings(make_settings, apiyi, VEO_MAX_DOWNLOAD_MB=1))
    job = await submit(bot)
    done = await wait_for_job(bot, job.id, timeout=GUARD)
    assert (done.status, done.quota_state) == (JobStatus.FAILED, QuotaState.REFUNDED)
    assert done.error_code == "download_too_slow"
    assert job_failure_text(done) == (
        "The video service sent the video too slowly, so the bot stopped downloading it "
        "after 1 second. Your quota was refunded."
    )
    [note] = failure_notes(discord_sim, job.id)
    assert "sent the video too slowly" in note and "Your quota was refunded." in note
    assert deliveries(discord_sim, job.id) == []
    assert len(apiyi.gets("/content")) == 1  # not fetched again: it would be as slow
    assert await usage(bot) == 0
    assert not list((tmp_path / "data" / "downloads").glob("*"))


async def test_a_trickle_with_a_vendor_link_posts_the_link_and_says_why(
    start_bot: BotFactory,
    make_settings: Callable[..., Settings],
    apixo: FaultyApixo,
    discord_sim: DiscordSim,
    tmp_path: Path,
) -> None:
    apixo.video_bytes, apixo.chunk_delay = TRICKLE, PIECE_DELAY
    bot = await start_bot(apixo_settings(make_settings, apixo, VEO_MAX_DOWNLOAD_MB=1))
    job = await test_vendor_apixo.submit(bot)
    done = await wait_for_job(bot, job.id, timeout=GUARD)
    assert (done.status, done.quota_state) == (JobStatus.DELIVERED, QuotaState.COMMITTED)
    assert done.task_id is not None
    [post] = deliveries(discord_sim, job.id)
    content = str(post["content"])
    assert post["attachments"] == []
    assert apixo.file_url(done.task_id) in content
    assert "sent the video too slowly for the bot to download it" in content
    assert "larger than this channel's upload limit" not in content  # it was not
    assert len(apixo.file_gets()) == 1
    assert await usage(bot) == 1
    assert not list((tmp_path / "data" / "downloads").glob("*"))
