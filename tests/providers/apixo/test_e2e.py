"""apixo through the real job manager: the apixo and Discord simulators, a real SQLite file,
the real composition root, the schedule set through the real settings path."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.chat.failures import job_failure_text
from bot.client import VeoBot
from bot.providers.apixo.catalog import FAST, QUALITY, URL_LIFETIME
from bot.providers.base import InputImage, Mode
from bot.settings import Settings
from storage import Job, JobStatus, QuotaState
from tests.conftest import BotFactory, wait_for_job
from tests.jobs.test_manager import deliveries, origin, usage
from tests.providers.harness import (
    attached,
    failure_posts,
    posted_video,
    running,
    start_job,
    vendor_env,
)
from tests.providers.kit import JPEG, PNG
from tests.sim.apixo_sim import ApixoSimulator
from tests.sim.discord_payloads import USER_ID
from tests.sim.discord_sim import DiscordSim

apixo_sim = running(ApixoSimulator)


@pytest.fixture
def settings(make_settings: Callable[..., Settings], apixo_sim: ApixoSimulator) -> Settings:
    return make_settings(**vendor_env("APIXO", apixo_sim))


async def submit(
    bot: VeoBot,
    *,
    model: str = FAST,
    mode: Mode = Mode.TEXT,
    images: list[InputImage] | None = None,
    aspect_ratio: str | None = None,
    filesize_limit: int = 10 * 1024 * 1024,
) -> Job:
    """An apixo job, started as the cog starts one."""
    return await start_job(
        bot,
        provider="apixo",
        model=model,
        mode=mode,
        images=images or [],
        aspect_ratio=aspect_ratio,
        where=origin(filesize_limit=filesize_limit),
    )


async def test_text_job_is_delivered_with_the_vendor_bytes(
    start_bot: BotFactory, settings: Settings, apixo_sim: ApixoSimulator, discord_sim: DiscordSim
) -> None:
    apixo_sim.video_bytes = b"\0\0\0\x20ftypisom" + b"v" * 40_000
    bot = await start_bot(settings)
    assert bot.providers.names() == ["apixo"]
    job = await submit(bot)
    done = await wait_for_job(bot, job.id)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    assert done.quota_state is QuotaState.COMMITTED
    assert posted_video(discord_sim, job.id) == apixo_sim.video_bytes
    [sent] = apixo_sim.submits()
    assert sent.json["request_type"] == "async"  # no public address: polling only
    assert sent.json["input"]["generationType"] == "TEXT_2_VIDEO"
    assert sent.json["input"]["mode"] == "fast"
    assert done.task_id is not None and done.result_url == apixo_sim.file_url(done.task_id)
    assert done.result_url_expires_at is not None
    assert done.result_url_expires_at <= time.time() + URL_LIFETIME
    assert await usage(bot) == 1


async def test_too_large_to_upload_is_posted_as_the_link(
    start_bot: BotFactory, settings: Settings, apixo_sim: ApixoSimulator, discord_sim: DiscordSim
) -> None:
    apixo_sim.video_bytes = b"\0\0\0\x20ftypisom" + b"v" * 5000
    bot = await start_bot(settings)
    job = await submit(bot, filesize_limit=1000)
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.quota_state) == (JobStatus.DELIVERED, QuotaState.COMMITTED)
    assert done.task_id is not None
    [post] = deliveries(discord_sim, job.id)
    assert apixo_sim.file_url(done.task_id) in str(post["content"])
    assert post["attachments"] == []


async def test_over_the_download_cap_is_posted_as_the_link(
    start_bot: BotFactory,
    make_settings: Callable[..., Settings],
    apixo_sim: ApixoSimulator,
    discord_sim: DiscordSim,
    tmp_path: Path,
) -> None:
    """ResultTooLarge carries the vendor's link, so the member still gets the video."""
    apixo_sim.video_bytes = b"\0\0\0\x20ftypisom" + b"v" * (1024 * 1024 + 10)
    settings = make_settings(**vendor_env("APIXO", apixo_sim), VEO_MAX_DOWNLOAD_MB=1)
    bot = await start_bot(settings)
    job = await submit(bot)
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.quota_state) == (JobStatus.DELIVERED, QuotaState.COMMITTED)
    assert done.task_id is not None
    [post] = deliveries(discord_sim, job.id)
    assert apixo_sim.file_url(done.task_id) in str(post["content"])
    assert not list((tmp_path / "data" / "downloads").glob("*"))


@pytest.mark.parametrize(
    ("model", "mode", "count", "kind"),
    [
        (FAST, Mode.FIRST_FRAME, 1, "FIRST_AND_LAST_FRAMES_2_VIDEO"),
        (QUALITY, Mode.FIRST_LAST, 2, "FIRST_AND_LAST_FRAMES_2_VIDEO"),
        (FAST, Mode.REFERENCE, 3, "REFERENCE_2_VIDEO"),
    ],
)
async def test_image_jobs_reach_the_vendor_as_urls(
    start_bot: BotFactory,
    settings: Settings,
    apixo_sim: ApixoSimulator,
    discord_sim: DiscordSim,
    model: str,
    mode: Mode,
    count: int,
    kind: str,
) -> None:
    datas = [PNG + bytes([i]) if i % 2 == 0 else JPEG + bytes([i]) for i in range(count)]
    images = [attached(discord_sim, f"img{i}.png", d) for i, d in enumerate(datas)]
    bot = await start_bot(settings)
    job = await submit(bot, model=model, mode=mode, images=images)
    done = await wait_for_job(bot, job.id)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    [sent] = apixo_sim.submits()
    assert sent.json["input"]["generationType"] == kind
    assert sent.json["input"]["mode"] == ("quality" if model == QUALITY else "fast")
    assert sent.json["input"]["image_urls"] == [i.url for i in images]
    assert done.task_id is not None
    assert apixo_sim.tasks[done.task_id].images == datas  # the member's bytes reached it
    assert posted_video(discord_sim, job.id) == apixo_sim.video_bytes


async def test_reference_in_portrait_is_refused_before_sending(
    start_bot: BotFactory, settings: Settings, apixo_sim: ApixoSimulator, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(settings)
    image = attached(discord_sim, "ref.png", PNG)
    job = await submit(bot, mode=Mode.REFERENCE, images=[image], aspect_ratio="9:16")
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.quota_state) == (JobStatus.FAILED, QuotaState.REFUNDED)
    assert "16:9" in job_failure_text(done)
    assert apixo_sim.submits() == []


async def test_policy_failure_refunds_and_tells_the_member(
    start_bot: BotFactory, settings: Settings, apixo_sim: ApixoSimulator, discord_sim: DiscordSim
) -> None:
    apixo_sim.make_task_fail("CONTENT_VIOLATION", "Content violates usage policy")
    bot = await start_bot(settings)
    job = await submit(bot)
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.quota_state) == (JobStatus.FAILED, QuotaState.REFUNDED)
    assert done.error_code == "CONTENT_VIOLATION"
    assert await usage(bot) == 0
    assert deliveries(discord_sim, job.id) == []
    told = failure_posts(discord_sim, job.id)
    assert len(told) == 1
    assert f"<@{USER_ID}>" in told[0]
    assert "content review" in told[0]


async def test_out_of_credit_blames_the_operator_account(
    start_bot: BotFactory, settings: Settings, apixo_sim: ApixoSimulator
) -> None:
    apixo_sim.make_task_fail("INSUFFICIENT_CREDITS")
    bot = await start_bot(settings)
    job = await submit(bot)
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.quota_state) == (JobStatus.FAILED, QuotaState.REFUNDED)
    assert "operator" in job_failure_text(done)


async def test_429_on_submit_then_success(
    start_bot: BotFactory, settings: Settings, apixo_sim: ApixoSimulator
) -> None:
    apixo_sim.fail_next_submit_with(429, retry_after=0.3)
    bot = await start_bot(settings)
    job = await submit(bot)
    waiting = await wait_for_job(
        bot, job.id, frozenset({JobStatus.QUEUED}), until=lambda j: j.attempts == 1
    )
    assert waiting.next_poll_at - waiting.updated_at >= 0.3  # Retry-After honoured
    done = await wait_for_job(bot, job.id)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    assert len(apixo_sim.submits()) == 2


async def test_malformed_status_body_then_success(
    start_bot: BotFactory, settings: Settings, apixo_sim: ApixoSimulator
) -> None:
    apixo_sim.queue_status_error(200, "<html><body>oops</body></html>")
    apixo_sim.queue_status_error(200, {"code": 200, "message": "success", "data": {}})
    bot = await start_bot(settings)
    job = await submit(bot)
    done = await wait_for_job(bot, job.id)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    assert len(apixo_sim.status_polls()) >= 3
    assert len(apixo_sim.submits()) == 1


async def test_restart_while_polling_delivers_once(
    start_bot: BotFactory, settings: Settings, apixo_sim: ApixoSimulator, discord_sim: DiscordSim
) -> None:
    apixo_sim.queued_for = None  # the vendor holds the task until we move it
    first = await start_bot(settings)
    job = await submit(first)
    running = await wait_for_job(first, job.id, frozenset({JobStatus.RUNNING}))
    assert running.task_id is not None
    await first.close()
    apixo_sim.set_task_status(running.task_id, "success")
    second = await start_bot(settings)
    done = await wait_for_job(second, job.id)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    assert len(deliveries(discord_sim, job.id)) == 1
    assert posted_video(discord_sim, job.id) == apixo_sim.video_bytes
    assert len(apixo_sim.submits()) == 1
    assert len(apixo_sim.file_gets()) == 1
