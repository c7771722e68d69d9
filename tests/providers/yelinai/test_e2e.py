"""yelinai end to end: the real job manager, a real SQLite file, the Discord simulator and
the yelinai simulator, configured through the real settings path. Assertions are on what
the member sees, what was billed, and what reached the vendor (the image bytes it fetched)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from bot.chat.failures import job_failure_text
from bot.client import VeoBot
from bot.providers.base import InputImage, Mode
from bot.settings import Settings
from storage import Job, JobStatus, QuotaState
from tests.conftest import BotFactory, wait_for_job
from tests.jobs.test_manager import deliveries, origin, usage
from tests.providers.harness import attached, failure_posts, running, start_job, vendor_env
from tests.providers.kit import JPEG, PNG
from tests.sim.discord_payloads import CHANNEL_ID, USER_ID
from tests.sim.discord_sim import DiscordSim, SimRequest
from tests.sim.yelinai_sim import YelinaiSimulator

VIDEO = b"\0\0\0\x20ftypisom" + b"y" * 40_000


yelinai_sim = running(YelinaiSimulator, api_key="yl-bot-test-key", video_bytes=VIDEO)


@pytest.fixture
def settings(make_settings: Callable[..., Settings], yelinai_sim: YelinaiSimulator) -> Settings:
    """The operator's path: key, base URL and a fast schedule from the environment."""
    return make_settings(**vendor_env("YELINAI", yelinai_sim))


async def run(
    bot: VeoBot,
    *,
    model: str = "veo3",
    prompt: str = "a cat walking in the rainy night",
    **options: Any,
) -> Job:
    """A yelinai job, started as the cog starts one (`options`: those of `start_job`)."""
    return await start_job(bot, provider="yelinai", model=model, prompt=prompt, **options)


async def test_settings_enable_yelinai(start_bot: BotFactory, settings: Settings) -> None:
    bot = await start_bot(settings)
    assert bot.providers.names() == ["yelinai"]
    assert list(bot.providers.get("yelinai").models) == [
        "veo3",
        "veo3-fast",
        "veo3-pro",
        "veo3-pro-frames",
    ]


async def test_text_job_is_delivered_with_the_vendors_bytes(
    start_bot: BotFactory,
    settings: Settings,
    yelinai_sim: YelinaiSimulator,
    discord_sim: DiscordSim,
) -> None:
    bot = await start_bot(settings)
    job = await run(bot, model="veo3-fast", enhance_prompt=True)
    done = await wait_for_job(bot, job.id)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    assert done.quota_state is QuotaState.COMMITTED
    [sent] = yelinai_sim.submits()
    assert sent.json == {
        "prompt": "a cat walking in the rainy night",
        "model": "veo3-fast",
        "enhance_prompt": True,
    }
    assert done.task_id is not None and done.task_id.startswith("veo3-fast:")
    [post] = deliveries(discord_sim, job.id)
    [attachment] = post["attachments"]  # type: ignore[misc]
    assert discord_sim.attachment_bytes(attachment["id"]) == VIDEO
    # The CDN link is remembered (gives_url), fetched without the API key.
    assert done.result_url == yelinai_sim.video_url(done.task_id)
    [download] = yelinai_sim.file_gets()
    assert "Authorization" not in download.headers
    assert await usage(bot) == 1


async def test_too_large_for_the_upload_limit_posts_the_link(
    start_bot: BotFactory,
    settings: Settings,
    yelinai_sim: YelinaiSimulator,
    discord_sim: DiscordSim,
) -> None:
    bot = await start_bot(settings)
    job = await run(bot, where=origin(filesize_limit=1000))
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.quota_state) == (JobStatus.DELIVERED, QuotaState.COMMITTED)
    assert done.task_id is not None
    [post] = deliveries(discord_sim, job.id)
    assert yelinai_sim.video_url(done.task_id) in str(post["content"])
    assert post["attachments"] == []


async def test_over_the_download_cap_posts_the_link_without_a_file(
    start_bot: BotFactory,
    make_settings: Callable[..., Settings],
    yelinai_sim: YelinaiSimulator,
    discord_sim: DiscordSim,
    tmp_path: Any,
) -> None:
    yelinai_sim.video_bytes = b"\0\0\0\x20ftypisom" + b"v" * (1024 * 1024 + 10)
    settings = make_settings(**vendor_env("YELINAI", yelinai_sim), VEO_MAX_DOWNLOAD_MB=1)
    bot = await start_bot(settings)
    job = await run(bot)
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.quota_state) == (JobStatus.DELIVERED, QuotaState.COMMITTED)
    assert done.task_id is not None
    [post] = deliveries(discord_sim, job.id)
    assert yelinai_sim.video_url(done.task_id) in str(post["content"])
    assert not list((tmp_path / "data" / "downloads").glob("*"))


async def test_reference_images_reach_the_vendor(
    start_bot: BotFactory,
    settings: Settings,
    yelinai_sim: YelinaiSimulator,
    discord_sim: DiscordSim,
) -> None:
    bot = await start_bot(settings)
    images = [
        attached(discord_sim, "cat.png", PNG, "image/png"),
        attached(discord_sim, "mouse.jpg", JPEG, "image/jpeg"),
    ]
    job = await run(bot, model="veo3-pro", mode=Mode.REFERENCE, images=images)
    done = await wait_for_job(bot, job.id)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    [sent] = yelinai_sim.submits()
    assert sent.json["images"] == [i.url for i in images]
    assert done.task_id is not None
    task = yelinai_sim.tasks[done.task_id]
    assert task.images == [PNG, JPEG]  # the vendor really fetched the member's images
    assert len(deliveries(discord_sim, job.id)) == 1


async def test_first_frame_image_reaches_the_vendor(
    start_bot: BotFactory,
    settings: Settings,
    yelinai_sim: YelinaiSimulator,
    discord_sim: DiscordSim,
) -> None:
    bot = await start_bot(settings)
    image = attached(discord_sim, "start.jpg", JPEG, "image/jpeg")
    job = await run(bot, model="veo3-pro-frames", mode=Mode.FIRST_FRAME, images=[image])
    done = await wait_for_job(bot, job.id)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    [sent] = yelinai_sim.submits()
    assert sent.json == {
        "prompt": "a cat walking in the rainy night",
        "model": "veo3-pro-frames",
        "images": [image.url],
    }
    assert done.task_id is not None
    assert yelinai_sim.tasks[done.task_id].images == [JPEG]


async def test_expired_image_url_fails_and_refunds(
    start_bot: BotFactory,
    settings: Settings,
    yelinai_sim: YelinaiSimulator,
    discord_sim: DiscordSim,
) -> None:
    attachment = discord_sim.add_attachment("gone.png", PNG, "image/png", expired=True)
    image = InputImage(PNG, "image/png", "gone.png", url=attachment["url"])
    bot = await start_bot(settings)
    job = await run(bot, mode=Mode.REFERENCE, images=[image])
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.quota_state) == (JobStatus.FAILED, QuotaState.REFUNDED)
    assert done.error_code == "IMAGE_DOWNLOAD_FAILED"
    assert "could not download or use your image" in job_failure_text(done)
    [told] = failure_posts(discord_sim, job.id)
    assert "http" not in told.split("failed:", 1)[1]  # no signed URL shown to the member
    assert deliveries(discord_sim, job.id) == []


async def test_policy_failure_refunds_and_tells_the_member(
    start_bot: BotFactory,
    settings: Settings,
    yelinai_sim: YelinaiSimulator,
    discord_sim: DiscordSim,
) -> None:
    yelinai_sim.make_task_fail("Prompt violates the content safety policy", code="CONTENT_POLICY")
    bot = await start_bot(settings)
    job = await run(bot)
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.quota_state) == (JobStatus.FAILED, QuotaState.REFUNDED)
    assert done.error_code == "CONTENT_POLICY"
    assert await usage(bot) == 0
    assert deliveries(discord_sim, job.id) == []
    [told] = failure_posts(discord_sim, job.id)
    assert f"<@{USER_ID}>" in told
    assert "content rules" in told and "content safety policy" in told
    assert "Your quota was refunded." in told


async def test_quota_exceeded_fails_once_without_retry(
    start_bot: BotFactory,
    settings: Settings,
    yelinai_sim: YelinaiSimulator,
    discord_sim: DiscordSim,
) -> None:
    yelinai_sim.fail_next_submit_with(
        400,
        {
            "success": False,
            "message": "Quota exceeded",
            "error_code": "QUOTA_EXCEEDED",
            "details": {"field": "quota", "reason": "Contact to increase quota"},
        },
    )
    bot = await start_bot(settings)
    job = await run(bot)
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.error_code) == (JobStatus.FAILED, "quota")
    assert done.quota_state is QuotaState.REFUNDED
    assert "operator" in job_failure_text(done)
    await asyncio.sleep(0.2)
    assert len(yelinai_sim.submits()) == 1


async def test_429_on_submit_then_success(
    start_bot: BotFactory, settings: Settings, yelinai_sim: YelinaiSimulator
) -> None:
    yelinai_sim.fail_next_submit_with(
        429, {"success": False, "message": "Too many requests"}, retry_after=0.3
    )
    bot = await start_bot(settings)
    job = await run(bot)
    waiting = await wait_for_job(
        bot, job.id, frozenset({JobStatus.QUEUED}), until=lambda j: j.attempts == 1
    )
    assert waiting.next_poll_at - waiting.updated_at >= 0.3  # Retry-After honoured
    done = await wait_for_job(bot, job.id)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    assert len(yelinai_sim.submits()) == 2


async def test_malformed_status_body_then_success(
    start_bot: BotFactory,
    settings: Settings,
    yelinai_sim: YelinaiSimulator,
    discord_sim: DiscordSim,
) -> None:
    yelinai_sim.queue_status_error(200, "<html>upstream glitch</html>")
    yelinai_sim.queue_status_error(200, {"success": True, "data": {"status": ["?"]}})
    bot = await start_bot(settings)
    job = await run(bot)
    done = await wait_for_job(bot, job.id)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    assert not yelinai_sim.status_errors  # both bad answers were served and survived
    assert len(yelinai_sim.status_gets()) >= 3
    assert len(deliveries(discord_sim, job.id)) == 1


async def test_restart_while_polling_delivers_once(
    start_bot: BotFactory,
    settings: Settings,
    yelinai_sim: YelinaiSimulator,
    discord_sim: DiscordSim,
) -> None:
    yelinai_sim.queued_for = None  # the vendor holds the task until the test moves it
    first = await start_bot(settings)
    job = await run(first)
    running = await wait_for_job(first, job.id, frozenset({JobStatus.RUNNING}))
    assert running.task_id is not None and ":" in running.task_id
    await first.close()
    yelinai_sim.set_task_status(running.task_id, "completed")

    second = await start_bot(settings)
    done = await wait_for_job(second, job.id)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    assert done.quota_state is QuotaState.COMMITTED
    assert len(yelinai_sim.submits()) == 1
    assert len(deliveries(discord_sim, job.id)) == 1
    # Every poll, before and after the restart, used the same correctly quoted id.
    assert {r.path for r in yelinai_sim.status_gets()} == {
        f"/veo/v1/api/video/status/{running.task_id}"
    }


async def test_a_link_delivery_is_recognised_after_a_restart(
    start_bot: BotFactory, settings, yelinai_sim, discord_sim: DiscordSim
) -> None:
    """A video too large for the channel is posted as a link; that post carries the same
    mark. The first bot hangs mid-post (as good as dead to the others); a second one on
    the same file, once the 120-s production lease has run out, finds the post and does not post again."""

    def link_post(request: SimRequest) -> bool:
        content = str((request.json or {}).get("content") or "")
        return request.method == "POST" and "here is a link" in content

    # Only the first bot's post hangs.
    async with discord_sim.holding(link_post, first_only=True) as posted:
        hung = await start_bot(settings)
        job = await run(hung, where=origin(filesize_limit=1000))
        await asyncio.wait_for(posted.wait(), 10)
        [made] = [
            m for m in discord_sim.messages(CHANNEL_ID) if "here is a link" in str(m["content"])
        ]
        restarted = await start_bot(settings, clock=lambda: time.time() + 130)
        done = await wait_for_job(restarted, job.id, timeout=15)
    assert done.status is JobStatus.DELIVERED
    assert done.delivered_message_id == int(made["id"])
    links = [m for m in discord_sim.messages(CHANNEL_ID) if "here is a link" in str(m["content"])]
    assert len(links) == 1
