"""The job manager end to end: real apiyi and Discord simulators, a real SQLite file,
the real composition root. Assertions are on what the member sees and what was billed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.chat.components import result_custom_id
from bot.chat.failures import job_failure_text
from bot.chat.messages import ready_marker
from bot.client import VeoBot
from bot.jobs.access import Asker
from bot.jobs.days import day_key
from bot.jobs.origin import Origin
from bot.jobs.requests import GenerationRequest
from bot.providers.base import InputImage, Mode
from bot.providers.codes import Failure
from bot.providers.demo import demo_video_path
from storage import Billing, Database, Job, JobStatus, QuotaState
from tests.chat.test_failures import BEFORE
from tests.conftest import BotFactory, wait_for_job
from tests.sim.apiyi_sim import ApiyiSimulator
from tests.sim.discord_payloads import CHANNEL_ID, GUILD_ID, USER_ID
from tests.sim.discord_sim import DiscordSim

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
FAST = "veo-3.1-fast-generate-preview"
OWNER = Asker(USER_ID, GUILD_ID)


def origin(**kw: object) -> Origin:
    base: dict[str, object] = dict(
        user_id=USER_ID,
        guild_id=GUILD_ID,
        channel_id=CHANNEL_ID,
        filesize_limit=10 * 1024 * 1024,
        delivery_mode="channel",
    )
    base.update(kw)
    return Origin(**base)  # type: ignore[arg-type]


async def submit(
    bot: VeoBot,
    *,
    provider: str = "apiyi",
    model: str = FAST,
    prompt: str = "a lighthouse at dusk",
    images: list[InputImage] | None = None,
    where: Origin | None = None,
) -> Job:
    """What the cog does after validation: accept, post the job message, release."""
    images = images or []
    request = GenerationRequest(
        provider=provider,
        model=model,
        prompt=prompt,
        mode=Mode.FIRST_FRAME if images else Mode.TEXT,
        image_count=len(images),
    )
    job = await bot.service.accept(request, images, where or origin())
    channel = bot.get_partial_messageable(CHANNEL_ID, guild_id=GUILD_ID)
    message = await channel.send(bot.publisher.render(job))
    await bot.service.started(job, message.id)
    return job


async def held_job(bot: VeoBot, apiyi_sim: ApiyiSimulator) -> tuple[Job, str]:
    """Submit a job the vendor keeps queued until the test moves it; return it and its task id."""
    apiyi_sim.queued_for = None
    job = await submit(bot)
    running = await wait_for_job(bot, job.id, frozenset({JobStatus.RUNNING}))
    assert running.task_id is not None
    return job, running.task_id


def result_row(job_id: int) -> dict[str, object]:
    """The action row of a delivery post as Discord returns it (the bot's own mark)."""
    button = {"type": 2, "style": 2, "label": "Delete", "custom_id": result_custom_id(job_id)}
    return {"type": 1, "components": [button]}


def deliveries(sim: DiscordSim, job_id: int) -> list[dict[str, object]]:
    return [m for m in sim.messages(CHANNEL_ID) if ready_marker(job_id) in str(m["content"])]


async def usage(bot: VeoBot) -> int:
    return await bot.store.usage(USER_ID, day_key(bot.service.clock()), GUILD_ID)


async def test_demo_job_is_delivered_once_with_the_shipped_mp4(
    start_bot: BotFactory, make_settings, discord_sim: DiscordSim, tmp_path: Path
) -> None:
    bot = await start_bot(make_settings())
    assert bot.providers.names() == ["demo"]
    job = await submit(bot, provider="demo", model="demo-veo")
    done = await wait_for_job(bot, job.id)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    assert done.quota_state is QuotaState.COMMITTED
    [post] = deliveries(discord_sim, job.id)
    assert post["id"] == str(done.delivered_message_id)
    [attachment] = post["attachments"]  # type: ignore[misc]
    assert discord_sim.attachment_bytes(attachment["id"]) == demo_video_path().read_bytes()
    # The reply mentions only the member, and the downloaded file is cleaned up.
    assert post["message_reference"]["message_id"] == str(done.status_message_id)  # type: ignore[index]
    assert not list((tmp_path / "data" / "downloads").glob("*.mp4"))
    status_text = discord_sim.message(done.status_message_id or 0)["content"]
    assert "✅ Delivered" in str(status_text)
    assert await usage(bot) == 1


async def test_apiyi_first_frame_job_through_the_early_400(
    start_bot: BotFactory, apiyi_settings, apiyi_sim: ApiyiSimulator, discord_sim: DiscordSim
) -> None:
    apiyi_sim.content_400_times = 2
    apiyi_sim.video_bytes = b"\0\0\0\x20ftypisom" + b"v" * 50_000
    bot = await start_bot(apiyi_settings)
    image = InputImage(PNG, "image/png", "first.png")
    job = await submit(bot, images=[image])
    done = await wait_for_job(bot, job.id)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    [sent] = apiyi_sim.submits()
    assert list(sent.files) == ["input_reference"]
    assert sent.files["input_reference"][0].data == PNG
    [post] = deliveries(discord_sim, job.id)
    [attachment] = post["attachments"]  # type: ignore[misc]
    assert discord_sim.attachment_bytes(attachment["id"]) == apiyi_sim.video_bytes
    assert len(apiyi_sim.gets("/content")) == 3


async def test_vendor_failure_refunds_and_tells_the_member(
    start_bot: BotFactory, apiyi_settings, apiyi_sim: ApiyiSimulator, discord_sim: DiscordSim
) -> None:
    apiyi_sim.make_task_fail()
    bot = await start_bot(apiyi_settings)
    job = await submit(bot)
    done = await wait_for_job(bot, job.id)
    assert done.status is JobStatus.FAILED
    assert done.quota_state is QuotaState.REFUNDED
    assert await usage(bot) == 0
    assert deliveries(discord_sim, job.id) == []
    told = [
        m for m in discord_sim.messages(CHANNEL_ID) if f"job #{job.id} failed" in str(m["content"])
    ]
    assert len(told) == 1 and f"<@{USER_ID}>" in str(told[0]["content"])


async def test_rejected_submit_refunds_without_retry(
    start_bot: BotFactory, apiyi_settings, apiyi_sim: ApiyiSimulator
) -> None:
    apiyi_sim.fail_next_submit_with(
        400,
        {
            "error": {
                "message": "bad prompt",
                "type": "invalid_request_error",
                "code": "invalid_prompt",
            }
        },
    )
    bot = await start_bot(apiyi_settings)
    job = await submit(bot)
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.quota_state) == (JobStatus.FAILED, QuotaState.REFUNDED)
    assert len(apiyi_sim.submits()) == 1


async def test_429_on_submit_is_retried_after_retry_after(
    start_bot: BotFactory, apiyi_settings, apiyi_sim: ApiyiSimulator
) -> None:
    apiyi_sim.fail_next_submit_with(429, {"error": {"message": "slow down"}}, retry_after=0.3)
    bot = await start_bot(apiyi_settings)
    job = await submit(bot)
    waiting = await wait_for_job(
        bot, job.id, frozenset({JobStatus.QUEUED}), until=lambda j: j.attempts == 1
    )
    assert waiting.next_poll_at - waiting.updated_at >= 0.3  # Retry-After honoured
    done = await wait_for_job(bot, job.id)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    assert len(apiyi_sim.submits()) == 2
    assert done.attempts == 0


async def test_submit_timeout_is_uncertain_never_resubmitted(
    start_bot: BotFactory, make_settings, apiyi_sim: ApiyiSimulator
) -> None:
    apiyi_sim.delay_submit = 2.0
    settings = make_settings(
        APIYI_API_KEY=apiyi_sim.api_key, APIYI_BASE_URL=apiyi_sim.base_url, VEO_REQUEST_TIMEOUT=0.3
    )
    bot = await start_bot(settings)
    job = await submit(bot)
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.error_code) == (JobStatus.FAILED, "uncertain")
    assert (done.error_params, done.error_message) == (None, None)  # the code says it all
    assert job_failure_text(done) == BEFORE["uncertain"]
    assert done.quota_state is QuotaState.REFUNDED
    await asyncio.sleep(0.3)
    assert len(apiyi_sim.submits()) == 1


async def test_too_large_for_discord_without_a_link_fails_and_refunds(
    start_bot: BotFactory, apiyi_settings, apiyi_sim: ApiyiSimulator, discord_sim: DiscordSim
) -> None:
    apiyi_sim.video_bytes = b"\0\0\0\x20ftypisom" + b"v" * 5000
    bot = await start_bot(apiyi_settings)
    job = await submit(bot, where=origin(filesize_limit=1000))
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.error_code) == (JobStatus.FAILED, "too_large")
    assert done.quota_state is QuotaState.REFUNDED
    assert "upload limit" in job_failure_text(done)
    assert deliveries(discord_sim, job.id) == []


async def test_discord_413_falls_back_and_fails_cleanly_without_link(
    start_bot: BotFactory, apiyi_settings, apiyi_sim: ApiyiSimulator, discord_sim: DiscordSim
) -> None:
    """The interaction said 10 MiB, but Discord refuses the file anyway (413)."""
    discord_sim.upload_limit = 1000
    apiyi_sim.video_bytes = b"\0\0\0\x20ftypisom" + b"v" * 5000
    bot = await start_bot(apiyi_settings)
    job = await submit(bot)
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.error_code) == (JobStatus.FAILED, "too_large")
    assert done.quota_state is QuotaState.REFUNDED


async def test_over_the_download_cap_fails_and_leaves_no_file(
    start_bot: BotFactory, make_settings, apiyi_sim: ApiyiSimulator, tmp_path: Path
) -> None:
    apiyi_sim.video_bytes = b"\0\0\0\x20ftypisom" + b"v" * (1024 * 1024 + 10)
    settings = make_settings(
        APIYI_API_KEY=apiyi_sim.api_key, APIYI_BASE_URL=apiyi_sim.base_url, VEO_MAX_DOWNLOAD_MB=1
    )
    bot = await start_bot(settings)
    job = await submit(bot)
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.error_code) == (JobStatus.FAILED, "too_large")
    assert done.error_message is None
    assert Failure.load_params(done.error_params) == {"step": "download"}
    assert job_failure_text(done) == BEFORE["too_large_no_link"]
    assert not list((tmp_path / "data" / "downloads").glob("*"))


async def test_deleted_channel_fails_the_job_and_refunds(
    start_bot: BotFactory, apiyi_settings, apiyi_sim: ApiyiSimulator, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(apiyi_settings)
    job, task_id = await held_job(bot, apiyi_sim)
    discord_sim.delete_channel(CHANNEL_ID)
    apiyi_sim.set_task_status(task_id, "completed")
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.error_code) == (JobStatus.FAILED, "channel_gone")
    assert done.quota_state is QuotaState.REFUNDED


async def test_cancel_before_submit_refunds_at_once(start_bot: BotFactory, apiyi_settings) -> None:
    bot = await start_bot(apiyi_settings)
    request = GenerationRequest(provider="apiyi", model=FAST, prompt="x")
    job = await bot.service.accept(request, [], origin())  # still on hold: not yet submitted
    cancelled = await bot.service.cancel(job.id, OWNER)
    assert (cancelled.status, cancelled.quota_state) == (JobStatus.CANCELLED, QuotaState.REFUNDED)
    assert await usage(bot) == 0


async def test_cancel_after_submit_keeps_the_charge_when_the_vendor_renders(
    start_bot: BotFactory, apiyi_settings, apiyi_sim: ApiyiSimulator, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(apiyi_settings)
    job, task_id = await held_job(bot, apiyi_sim)
    await bot.service.cancel(job.id, OWNER)
    apiyi_sim.set_task_status(task_id, "completed")
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.quota_state) == (JobStatus.CANCELLED, QuotaState.COMMITTED)
    assert deliveries(discord_sim, job.id) == []
    assert apiyi_sim.gets("/content") == []


async def test_cancel_after_submit_refunds_when_the_vendor_fails(
    start_bot: BotFactory, apiyi_settings, apiyi_sim: ApiyiSimulator
) -> None:
    bot = await start_bot(apiyi_settings)
    job, task_id = await held_job(bot, apiyi_sim)
    await bot.service.cancel(job.id, OWNER)
    apiyi_sim.set_task_status(task_id, "failed")
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.quota_state) == (JobStatus.CANCELLED, QuotaState.REFUNDED)


async def test_other_members_cannot_cancel(start_bot: BotFactory, apiyi_settings) -> None:
    from bot.jobs.requests import RequestInvalid

    bot = await start_bot(apiyi_settings)
    job = await submit(bot)
    with pytest.raises(RequestInvalid, match="no job"):
        await bot.service.cancel(job.id, Asker(USER_ID + 1, GUILD_ID))


# -- restarts ---------------------------------------------------------------------------


async def test_restart_mid_poll_resumes_and_delivers_once(
    start_bot: BotFactory, apiyi_settings, apiyi_sim: ApiyiSimulator, discord_sim: DiscordSim
) -> None:
    first = await start_bot(apiyi_settings)
    job, task_id = await held_job(first, apiyi_sim)
    await first.close()
    apiyi_sim.set_task_status(task_id, "completed")

    second = await start_bot(apiyi_settings)
    done = await wait_for_job(second, job.id)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    assert len(apiyi_sim.submits()) == 1
    assert len(deliveries(discord_sim, job.id)) == 1
    assert done.quota_state is QuotaState.COMMITTED


async def test_restart_in_submitting_without_task_id_is_interrupted_not_resubmitted(
    start_bot: BotFactory, apiyi_settings, apiyi_sim: ApiyiSimulator
) -> None:
    first = await start_bot(apiyi_settings)
    request = GenerationRequest(provider="apiyi", model=FAST, prompt="x")
    job = await first.service.accept(request, [], origin())
    await first.close()
    # What a crash between letting the request go and storing the task id leaves behind.
    await_db = await _raw_update(
        apiyi_settings.database,
        job.id,
        status="submitting",
        sent_at=1.0,
        lease_owner="dead",
        lease_until=0,
        next_poll_at=0,
    )
    assert await_db == 1

    second = await start_bot(apiyi_settings)
    done = await wait_for_job(second, job.id)
    assert (done.status, done.error_code) == (JobStatus.FAILED, "interrupted")
    assert done.quota_state is QuotaState.REFUNDED
    assert done.billing is Billing.POSSIBLY_BILLED  # the vendor may have it
    assert apiyi_sim.submits() == []


async def test_restart_in_submitting_before_sending_sends_it_once(
    start_bot: BotFactory, apiyi_settings, apiyi_sim: ApiyiSimulator, discord_sim: DiscordSim
) -> None:
    """A job stopped before its request was let go cannot be at the vendor: it is sent
    after the restart instead of being failed."""
    first = await start_bot(apiyi_settings)
    request = GenerationRequest(provider="apiyi", model=FAST, prompt="x")
    job = await first.service.accept(request, [], origin())
    await first.close()
    await _raw_update(
        apiyi_settings.database,
        job.id,
        status="submitting",
        lease_owner="dead",
        lease_until=0,
        next_poll_at=0,
    )
    second = await start_bot(apiyi_settings)
    done = await wait_for_job(second, job.id)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    assert (done.quota_state, done.billing) == (QuotaState.COMMITTED, Billing.BILLED)
    assert len(apiyi_sim.submits()) == 1
    assert len(deliveries(discord_sim, job.id)) == 1


async def test_restart_in_submitting_with_task_id_resumes_polling(
    start_bot: BotFactory, apiyi_settings, apiyi_sim: ApiyiSimulator, discord_sim: DiscordSim
) -> None:
    first = await start_bot(apiyi_settings)
    job, task_id = await held_job(first, apiyi_sim)
    await first.close()
    await _raw_update(apiyi_settings.database, job.id, status="submitting", next_poll_at=0)
    apiyi_sim.set_task_status(task_id, "completed")
    second = await start_bot(apiyi_settings)
    done = await wait_for_job(second, job.id)
    assert done.status is JobStatus.DELIVERED
    assert len(apiyi_sim.submits()) == 1


async def test_restart_after_posting_before_recording_does_not_post_twice(
    start_bot: BotFactory, make_settings, discord_sim: DiscordSim, tmp_path: Path
) -> None:
    settings = make_settings()
    first = await start_bot(settings)
    request = GenerationRequest(provider="demo", model="demo-veo", prompt="x")
    job = await first.service.accept(request, [], origin())
    await first.close()
    # The post went out, then the process died before the message id was stored.
    posted = discord_sim.add_message(
        CHANNEL_ID,
        content=f"✅ {ready_marker(job.id)}, <@{USER_ID}>!",
        author=discord_sim.bot_user,
        components=[result_row(job.id)],
    )
    video = tmp_path / "downloaded.mp4"
    video.write_bytes(demo_video_path().read_bytes())
    await _raw_update(
        settings.database,
        job.id,
        status="delivering",
        task_id="demo-s-1-x",
        result_path=str(video),
        delivery_started_at=1.0,
        next_poll_at=0,
    )
    second = await start_bot(settings)
    done = await wait_for_job(second, job.id)
    assert done.status is JobStatus.DELIVERED
    assert done.delivered_message_id == int(posted["id"])
    assert len(deliveries(discord_sim, job.id)) == 1
    assert not video.exists()  # the delivered file is cleaned up


async def test_two_managers_on_one_file_never_work_the_same_job(
    start_bot: BotFactory, apiyi_settings, apiyi_sim: ApiyiSimulator, discord_sim: DiscordSim
) -> None:
    first = await start_bot(apiyi_settings)
    second = await start_bot(apiyi_settings)
    jobs = [
        await submit(first, prompt=f"scene {i}", where=origin(user_id=USER_ID + i))
        for i in range(6)
    ]
    second.manager.wake()
    for job in jobs:
        done = await wait_for_job(first, job.id)
        assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    assert len(apiyi_sim.submits()) == 6
    for job in jobs:
        assert len(deliveries(discord_sim, job.id)) == 1


async def _raw_update(target: Path | str, job_id: int, **fields: object) -> int:
    """Write a row the way a crashed process would have left it."""
    sets = ", ".join(f"{k} = :{k}" for k in fields)
    db = await Database.open(target)
    try:
        return await db.execute(
            f"UPDATE jobs SET {sets} WHERE id = :job_id", {**fields, "job_id": job_id}
        )
    finally:
        await db.close()


@pytest.mark.parametrize("why", ["over_interaction_limit", "discord_413"])
async def test_a_video_too_large_to_upload_is_posted_as_its_link(
    start_bot: BotFactory, make_settings, discord_sim: DiscordSim, tmp_path: Path, why: str
) -> None:
    """Vendors that give a URL: the link goes out instead, with its expiry, and is charged."""
    settings = make_settings()
    first = await start_bot(settings)
    request = GenerationRequest(provider="demo", model="demo-veo", prompt="x")
    limit = 1000 if why == "over_interaction_limit" else 10 * 1024 * 1024
    job = await first.service.accept(request, [], origin(filesize_limit=limit))
    await first.close()
    if why == "discord_413":
        discord_sim.upload_limit = 1000
    video = tmp_path / "big.mp4"
    video.write_bytes(b"v" * 5000)
    url = "https://cdn.example.invalid/video.mp4?sig=abc"
    await _raw_update(
        settings.database,
        job.id,
        status="delivering",
        task_id="demo-s-1-x",
        result_path=str(video),
        result_size=5000,
        result_url=url,
        result_url_expires_at=2_000_000_000.0,
        next_poll_at=0,
    )
    second = await start_bot(settings)
    done = await wait_for_job(second, job.id)
    assert (done.status, done.quota_state) == (JobStatus.DELIVERED, QuotaState.COMMITTED)
    [post] = deliveries(discord_sim, job.id)
    assert url in str(post["content"]) and "<t:2000000000:R>" in str(post["content"])
    assert post["attachments"] == []


async def test_malformed_status_bodies_are_waited_out(
    start_bot: BotFactory, apiyi_settings, apiyi_sim: ApiyiSimulator, discord_sim: DiscordSim
) -> None:
    apiyi_sim.queue_status_error(200, "<html><body>Bad gateway</body></html>")
    apiyi_sim.queue_status_error(200, '{"status": ')  # truncated JSON
    bot = await start_bot(apiyi_settings)
    job = await submit(bot)
    done = await wait_for_job(bot, job.id)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    assert len(deliveries(discord_sim, job.id)) == 1


async def test_a_policy_reason_reaches_the_member_in_their_words(
    start_bot: BotFactory, apiyi_settings, apiyi_sim: ApiyiSimulator, discord_sim: DiscordSim
) -> None:
    apiyi_sim.make_task_fail("Content blocked by safety review")
    bot = await start_bot(apiyi_settings)
    job = await submit(bot)
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.quota_state) == (JobStatus.FAILED, QuotaState.REFUNDED)
    # Kept as the vendor's code, the sentence's key and the vendor's words; told when shown.
    params = Failure.load_params(done.error_params)
    assert params == {"say": "could_not_make", "reason": "Content blocked by safety review"}
    assert done.error_message is None and done.error_code
    said = job_failure_text(done)
    assert said == (
        "The video service could not make this video: Content blocked by safety review. "
        "You were not charged."
    )
    shown = str(discord_sim.message(done.status_message_id or 0)["content"])
    assert shown.splitlines()[-1] == f"❌ Failed: {said}"


async def test_a_refused_key_is_told_to_the_servers_alert_channel_once(
    start_bot: BotFactory, apiyi_settings, apiyi_sim: ApiyiSimulator, discord_sim: DiscordSim
) -> None:
    alerts = CHANNEL_ID + 1
    for _ in range(2):
        apiyi_sim.fail_next_submit_with(
            401, {"error": {"message": "bad key", "code": "invalid_api_key"}}
        )
    bot = await start_bot(apiyi_settings.model_copy(update={"max_active_per_user": 5}))
    await bot.service.guilds.set(GUILD_ID, alert_channel_id=alerts)
    first = await submit(bot, prompt="one")
    second = await submit(bot, prompt="two")
    for job in (first, second):
        done = await wait_for_job(bot, job.id)
        assert (done.status, done.quota_state) == (JobStatus.FAILED, QuotaState.REFUNDED)
    [alert] = discord_sim.messages(alerts)  # once an hour per server and vendor, not per job
    assert "**apiyi** refused this bot's account" in str(alert["content"])
    assert "APIYI_API_KEY" in str(alert["content"]) and apiyi_sim.api_key not in str(
        alert["content"]
    )
