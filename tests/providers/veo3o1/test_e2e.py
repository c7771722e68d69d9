"""veo3o1 through the real job manager: real veo3o1 and Discord simulators, a real SQLite
file, the real composition root, the schedule set through the real settings path.
Assertions are on what the member sees, what reached the vendor, and what was billed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bot.chat.failures import job_failure_text
from bot.providers.base import InputImage
from bot.providers.veo3o1.catalog import MODEL
from bot.settings import Settings
from storage import JobStatus, QuotaState
from tests.conftest import BotFactory, wait_for_job
from tests.jobs.test_manager import deliveries, origin, submit, usage
from tests.providers.harness import attached, failure_posts, posted_video, running, vendor_env
from tests.providers.kit import PNG
from tests.sim.discord_payloads import USER_ID
from tests.sim.discord_sim import DiscordSim
from tests.sim.veo3o1_sim import Veo3o1Simulator

VIDEO = b"\0\0\0\x20ftypisom" + b"v" * 50_000


veo_sim = running(Veo3o1Simulator)


@pytest.fixture
def settings(make_settings: Callable[..., Settings], veo_sim: Veo3o1Simulator) -> Settings:
    return make_settings(**vendor_env("VEO3O1", veo_sim))


async def run(bot: Any, **kw: Any) -> Any:
    return await submit(bot, provider="veo3o1", model=MODEL, **kw)


async def test_text_job_is_delivered_with_the_vendors_bytes(
    start_bot: BotFactory, settings: Settings, veo_sim: Veo3o1Simulator, discord_sim: DiscordSim
) -> None:
    veo_sim.video_bytes = VIDEO
    bot = await start_bot(settings)
    assert bot.providers.names() == ["veo3o1"]
    job = await run(bot)
    done = await wait_for_job(bot, job.id)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    assert done.quota_state is QuotaState.COMMITTED
    [sent] = veo_sim.submits()
    assert sent.json == {"generationType": "text_to_video", "prompt": "a lighthouse at dusk"}
    assert veo_sim.upload_requests() == []
    assert posted_video(discord_sim, job.id) == VIDEO
    assert done.task_id is not None and done.result_url == veo_sim.video_url(done.task_id)
    assert await usage(bot) == 1


async def test_too_large_for_the_channel_is_posted_as_the_vendors_link(
    start_bot: BotFactory, settings: Settings, veo_sim: Veo3o1Simulator, discord_sim: DiscordSim
) -> None:
    veo_sim.video_bytes = b"\0\0\0\x20ftypisom" + b"v" * 5000
    bot = await start_bot(settings)
    job = await run(bot, where=origin(filesize_limit=1000))
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.quota_state) == (JobStatus.DELIVERED, QuotaState.COMMITTED)
    assert done.task_id is not None
    [post] = deliveries(discord_sim, job.id)
    assert post["attachments"] == []
    assert veo_sim.video_url(done.task_id) in str(post["content"])


async def test_first_frame_job_uploads_the_members_image(
    start_bot: BotFactory, settings: Settings, veo_sim: Veo3o1Simulator, discord_sim: DiscordSim
) -> None:
    image = attached(discord_sim, "first.png", PNG)
    bot = await start_bot(settings)
    job = await run(bot, images=[image])
    done = await wait_for_job(bot, job.id)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    [upload] = veo_sim.upload_requests()
    assert [f.data for f in upload.files["file"]] == [PNG]
    [stored] = veo_sim.uploads.values()
    [sent] = veo_sim.submits()
    assert sent.json["generationType"] == "image_to_video"
    assert (sent.json["imageUrl"], sent.json["imageKey"]) == (stored.url, stored.key)
    # The Discord URL never went to the vendor: its bytes went up, and came back intact.
    assert image.url not in str(sent.json)
    assert done.task_id is not None and veo_sim.tasks[done.task_id].images == [PNG]
    assert len(deliveries(discord_sim, job.id)) == 1


async def test_policy_failure_refunds_and_tells_the_member(
    start_bot: BotFactory, settings: Settings, veo_sim: Veo3o1Simulator, discord_sim: DiscordSim
) -> None:
    veo_sim.make_task_fail(errorMessage="Content policy violation: prompt rejected")
    bot = await start_bot(settings)
    job = await run(bot)
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.quota_state) == (JobStatus.FAILED, QuotaState.REFUNDED)
    assert done.error_code == "content_policy"
    assert "content rules" in job_failure_text(done)
    assert await usage(bot) == 0
    assert deliveries(discord_sim, job.id) == []
    [told] = failure_posts(discord_sim, job.id)
    assert f"<@{USER_ID}>" in told
    assert veo_sim.downloads() == []


@pytest.mark.parametrize("http_200", [False, True])
async def test_rate_limit_on_submit_then_success(
    start_bot: BotFactory,
    settings: Settings,
    veo_sim: Veo3o1Simulator,
    discord_sim: DiscordSim,
    http_200: bool,
) -> None:
    body = {"code": 1003, "msg": "Rate limit exceeded", "data": None}
    veo_sim.fail_next_submit_with(200 if http_200 else 429, body, retry_after=0.3)
    bot = await start_bot(settings)
    job = await run(bot)
    waiting = await wait_for_job(
        bot, job.id, frozenset({JobStatus.QUEUED}), until=lambda j: j.attempts == 1
    )
    assert waiting.next_poll_at - waiting.updated_at >= 0.3  # Retry-After honoured
    done = await wait_for_job(bot, job.id)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    assert len(veo_sim.submits()) == 2 and len(veo_sim.tasks) == 1
    assert len(deliveries(discord_sim, job.id)) == 1


async def test_upload_failure_is_retried_not_uncertain(
    start_bot: BotFactory, settings: Settings, veo_sim: Veo3o1Simulator, discord_sim: DiscordSim
) -> None:
    veo_sim.fail_next_upload_with(503, "<html>Service Unavailable</html>")
    bot = await start_bot(settings)
    job = await run(bot, images=[InputImage(PNG, "image/png", "first.png")])
    done = await wait_for_job(bot, job.id)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    assert len(veo_sim.upload_requests()) == 2 and len(veo_sim.submits()) == 1
    assert len(deliveries(discord_sim, job.id)) == 1


async def test_out_of_credits_fails_refunds_and_blames_the_operator(
    start_bot: BotFactory, settings: Settings, veo_sim: Veo3o1Simulator, discord_sim: DiscordSim
) -> None:
    veo_sim.fail_next_submit_with(
        200, {"code": 1001, "msg": "Insufficient credits", "data": {"required": 2, "current": 0}}
    )
    bot = await start_bot(settings)
    job = await run(bot)
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.quota_state) == (JobStatus.FAILED, QuotaState.REFUNDED)
    assert done.error_code == "insufficient_credits"
    assert "operator" in job_failure_text(done) and "credits" in job_failure_text(done)
    assert len(veo_sim.submits()) == 1
    assert len(failure_posts(discord_sim, job.id)) == 1


async def test_malformed_status_body_then_success(
    start_bot: BotFactory, settings: Settings, veo_sim: Veo3o1Simulator, discord_sim: DiscordSim
) -> None:
    veo_sim.queue_status_error(200, "<html>upstream hiccup</html>")
    veo_sim.queue_status_error(200, {"code": 0, "msg": "Success", "data": {"status": None}})
    bot = await start_bot(settings)
    job = await run(bot)
    done = await wait_for_job(bot, job.id)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    assert len(veo_sim.status_requests()) >= 3
    assert len(deliveries(discord_sim, job.id)) == 1


async def test_real_progress_and_time_left_reach_the_job(
    start_bot: BotFactory, settings: Settings, veo_sim: Veo3o1Simulator, discord_sim: DiscordSim
) -> None:
    veo_sim.queued_for = None
    bot = await start_bot(settings)
    job = await run(bot)
    running = await wait_for_job(bot, job.id, frozenset({JobStatus.RUNNING}))
    assert running.task_id is not None
    veo_sim.set_task_status(running.task_id, "processing", progress=37, estimated_time=40)
    seen = await wait_for_job(
        bot, job.id, frozenset({JobStatus.RUNNING}), until=lambda j: j.progress == 37
    )
    assert seen.stage == "generating, about 40 s left"
    # What the job message says (Discord edits are throttled by the publisher, not here).
    assert "Generating — 37%" in bot.publisher.render(seen)
    veo_sim.set_task_status(running.task_id, "processing", progress=0, estimated_time=125)
    seen = await wait_for_job(
        bot, job.id, frozenset({JobStatus.RUNNING}), until=lambda j: j.progress == 0
    )
    assert "generating, about 2 min left" in bot.publisher.render(seen)
    veo_sim.set_task_status(running.task_id, "completed")
    done = await wait_for_job(bot, job.id)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)


async def test_restart_while_polling_delivers_once(
    start_bot: BotFactory, settings: Settings, veo_sim: Veo3o1Simulator, discord_sim: DiscordSim
) -> None:
    veo_sim.queued_for = None
    first = await start_bot(settings)
    job = await run(first)
    running = await wait_for_job(first, job.id, frozenset({JobStatus.RUNNING}))
    assert running.task_id is not None
    await first.close()
    polled = len(veo_sim.status_requests())
    veo_sim.set_task_status(running.task_id, "completed")

    second = await start_bot(settings)
    done = await wait_for_job(second, job.id)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    assert len(veo_sim.submits()) == 1
    assert len(veo_sim.status_requests()) > polled
    assert len(deliveries(discord_sim, job.id)) == 1
    assert done.quota_state is QuotaState.COMMITTED
