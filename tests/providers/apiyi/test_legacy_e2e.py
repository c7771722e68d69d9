"""apiyi's earlier channel end to end: the real job manager, the real Discord
simulator and the legacy apiyi simulator, configured through the real settings path.

These jobs reach `ApiyiLegacyChannel` through `ApiyiProvider`, which offers the eight
`veo-3.1*` models beside its own and hands them to the legacy channel."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from bot.chat.failures import job_failure_text
from bot.client import VeoBot
from bot.providers.base import Mode
from bot.settings import Settings
from storage import Job, JobStatus, QuotaState
from tests.conftest import BotFactory, wait_for_job
from tests.jobs.test_manager import deliveries, origin, submit, usage
from tests.providers.harness import (
    attached,
    failure_posts,
    posted_video,
    running,
    start_job,
    vendor_env,
)
from tests.providers.kit import JPEG, PNG
from tests.sim.apiyi_legacy_sim import MODELS, ApiyiLegacySimulator
from tests.sim.discord_payloads import USER_ID
from tests.sim.discord_sim import DiscordSim

LEGACY_MODELS = sorted(MODELS)  # the eight names the vendor documents for this channel


# The earlier channel on a running clock (not the adapter tests' stopped one).
sim = running(ApiyiLegacySimulator)


@pytest.fixture
def settings(make_settings: Callable[..., Settings], sim: ApiyiLegacySimulator) -> Settings:
    return make_settings(**vendor_env("APIYI", sim))


async def start(start_bot: BotFactory, settings: Settings) -> VeoBot:
    # timing=None: the schedule comes from VEO_APIYI_* settings, the real path.
    return await start_bot(settings, timing=None)


async def frames_job(
    bot: VeoBot, discord_sim: DiscordSim, model: str, images: list[tuple[str, bytes, str]]
) -> Job:
    """What the cog does for attached frames: the bytes, plus the attachment's signed URL
    (no job message is posted first)."""
    given = [attached(discord_sim, filename, data, mime) for filename, data, mime in images]
    return await start_job(
        bot,
        provider="apiyi",
        model=model,
        prompt="camera slowly zooms in",
        mode=Mode.FIRST_LAST if len(given) == 2 else Mode.FIRST_FRAME,
        images=given,
        announce=False,
    )


async def test_the_eight_models_are_offered_under_apiyi(
    start_bot: BotFactory, settings: Settings
) -> None:
    bot = await start(start_bot, settings)
    models = bot.providers.get("apiyi").models
    for name in LEGACY_MODELS:
        assert models[name].label == f"{name} (apiyi, earlier channel)"
        assert models[name].gives_url


async def test_text_job_is_delivered_with_the_vendors_bytes(
    start_bot: BotFactory, settings: Settings, sim: ApiyiLegacySimulator, discord_sim: DiscordSim
) -> None:
    sim.video_bytes = b"\0\0\0\x20ftypisom" + b"v" * 40_000
    bot = await start(start_bot, settings)
    before = time.time()
    job = await submit(bot, model="veo-3.1-fast", prompt="a kitten in a sunny garden")
    done = await wait_for_job(bot, job.id)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    assert done.quota_state is QuotaState.COMMITTED
    [sent] = sim.submits()
    assert sent.headers["Authorization"] == sim.api_key  # bare key, no "Bearer"
    assert sent.json == {"prompt": "a kitten in a sunny garden", "model": "veo-3.1-fast"}
    assert posted_video(discord_sim, job.id) == sim.video_bytes
    assert done.task_id is not None
    assert done.result_url == sim.file_url(done.task_id)
    assert done.result_url_expires_at is not None
    assert before + 23 * 3600 < done.result_url_expires_at < time.time() + 25 * 3600
    [download] = sim.file_gets()
    assert "Authorization" not in download.headers
    assert await usage(bot) == 1


async def test_too_large_for_the_channel_is_posted_as_the_link(
    start_bot: BotFactory, settings: Settings, sim: ApiyiLegacySimulator, discord_sim: DiscordSim
) -> None:
    sim.video_bytes = b"\0\0\0\x20ftypisom" + b"v" * 5000
    bot = await start(start_bot, settings)
    job = await submit(bot, model="veo-3.1-landscape", where=origin(filesize_limit=1000))
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.quota_state) == (JobStatus.DELIVERED, QuotaState.COMMITTED)
    assert done.task_id is not None
    [post] = deliveries(discord_sim, job.id)
    assert post["attachments"] == []
    content = str(post["content"])
    assert sim.file_url(done.task_id) in content
    assert f"<t:{int(done.result_url_expires_at or 0)}:R>" in content
    assert sim.api_key not in content


async def test_first_frame_job_sends_the_members_image(
    start_bot: BotFactory, settings: Settings, sim: ApiyiLegacySimulator, discord_sim: DiscordSim
) -> None:
    bot = await start(start_bot, settings)
    job = await frames_job(bot, discord_sim, "veo-3.1-fl", [("first.png", PNG, "image/png")])
    done = await wait_for_job(bot, job.id)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    [sent] = sim.submits()
    assert sent.content_type == "multipart/form-data"
    assert sent.form == {"prompt": ["camera slowly zooms in"], "model": ["veo-3.1-fl"]}
    assert done.task_id is not None
    assert [i.data for i in sim.tasks[done.task_id].images] == [PNG]
    assert [i.content_type for i in sim.tasks[done.task_id].images] == ["image/png"]
    assert posted_video(discord_sim, job.id) == sim.video_bytes


async def test_first_and_last_frame_job_sends_both_images_in_order(
    start_bot: BotFactory, settings: Settings, sim: ApiyiLegacySimulator, discord_sim: DiscordSim
) -> None:
    bot = await start(start_bot, settings)
    job = await frames_job(
        bot,
        discord_sim,
        "veo-3.1-landscape-fast-fl",
        [("day.jpg", JPEG, "image/jpeg"), ("night.png", PNG, "image/png")],
    )
    done = await wait_for_job(bot, job.id)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    assert done.task_id is not None
    task = sim.tasks[done.task_id]
    assert task.model == "veo-3.1-landscape-fast-fl"
    assert [i.data for i in task.images] == [JPEG, PNG]
    assert len(deliveries(discord_sim, job.id)) == 1


async def test_vendor_failure_refunds_and_tells_the_member(
    start_bot: BotFactory, settings: Settings, sim: ApiyiLegacySimulator, discord_sim: DiscordSim
) -> None:
    sim.make_task_fail("the prompt was flagged by content review", code="content_policy")
    bot = await start(start_bot, settings)
    job = await submit(bot, model="veo-3.1")
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.quota_state) == (JobStatus.FAILED, QuotaState.REFUNDED)
    assert done.error_code == "content_policy"
    assert "flagged by content review" in job_failure_text(done)
    assert await usage(bot) == 0
    assert deliveries(discord_sim, job.id) == []
    [told] = failure_posts(discord_sim, job.id)
    assert f"<@{USER_ID}>" in told
    assert sim.gets("/content") == []


async def test_quota_exceeded_fails_without_retry_and_refunds(
    start_bot: BotFactory, settings: Settings, sim: ApiyiLegacySimulator
) -> None:
    sim.fail_next_submit_with(
        429, {"error": {"code": "quota_exceeded", "message": "Quota exceeded", "type": "quota"}}
    )
    bot = await start(start_bot, settings)
    job = await submit(bot, model="veo-3.1")
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.quota_state) == (JobStatus.FAILED, QuotaState.REFUNDED)
    assert done.error_code == "quota" and "operator" in job_failure_text(done)
    assert len(sim.submits()) == 1


async def test_429_on_submit_is_retried_then_delivered(
    start_bot: BotFactory, settings: Settings, sim: ApiyiLegacySimulator, discord_sim: DiscordSim
) -> None:
    sim.fail_next_submit_with(
        429,
        {"error": {"code": "rate_limited", "message": "slow down", "type": "x"}},
        retry_after=0.3,
    )
    bot = await start(start_bot, settings)
    job = await submit(bot, model="veo-3.1-fast")
    waiting = await wait_for_job(
        bot, job.id, frozenset({JobStatus.QUEUED}), until=lambda j: j.attempts == 1
    )
    assert waiting.next_poll_at - waiting.updated_at >= 0.3  # Retry-After honoured
    done = await wait_for_job(bot, job.id)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    assert len(sim.submits()) == 2 and len(sim.tasks) == 1
    assert len(deliveries(discord_sim, job.id)) == 1


async def test_malformed_status_body_then_success(
    start_bot: BotFactory, settings: Settings, sim: ApiyiLegacySimulator, discord_sim: DiscordSim
) -> None:
    sim.queue_status_error(200, "<html><body>502 Bad Gateway</body></html>")
    sim.queue_status_error(200, b'{"status": {"nested": true}}')
    bot = await start(start_bot, settings)
    job = await submit(bot, model="veo-3.1-fast")
    done = await wait_for_job(bot, job.id)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    assert not sim.status_errors  # both malformed answers were served
    assert done.task_id is not None
    assert len(sim.gets(done.task_id)) >= 3
    assert len(deliveries(discord_sim, job.id)) == 1


async def test_video_not_ready_on_content_is_waited_out(
    start_bot: BotFactory, settings: Settings, sim: ApiyiLegacySimulator, discord_sim: DiscordSim
) -> None:
    sim.content_not_ready_times = 2
    bot = await start(start_bot, settings)
    job = await submit(bot, model="veo-3.1-fast")
    done = await wait_for_job(bot, job.id)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    assert len(sim.gets("/content")) == 3 and len(sim.file_gets()) == 1
    assert len(deliveries(discord_sim, job.id)) == 1


async def test_restart_while_polling_delivers_exactly_once(
    start_bot: BotFactory, settings: Settings, sim: ApiyiLegacySimulator, discord_sim: DiscordSim
) -> None:
    sim.queued_for = None  # the vendor keeps the task queued until the test moves it
    first = await start(start_bot, settings)
    job = await submit(first, model="veo-3.1-landscape-fast")
    running = await wait_for_job(first, job.id, frozenset({JobStatus.RUNNING}))
    assert running.task_id is not None
    await first.close()
    sim.set_task_status(running.task_id, "completed")

    second = await start(start_bot, settings)
    done = await wait_for_job(second, job.id)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    assert done.quota_state is QuotaState.COMMITTED
    assert len(sim.submits()) == 1
    assert len(deliveries(discord_sim, job.id)) == 1
