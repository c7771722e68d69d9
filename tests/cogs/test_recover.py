"""Recover and continue: the buttons of a failed job (Try again, Edit prompt) and the
Continue button under a video, clicked through discord.py's own dispatch against the
Discord and vendor simulators, after a restart and from another server too."""

from __future__ import annotations

from typing import Any

import pytest

from bot.jobs.requests import stored_request
from bot.providers.base import Mode
from storage import JobStatus
from tests.cogs.test_buttons import (
    buttons,
    click,
    dispatch,
    job_message,
    labels,
    result_post,
)
from tests.cogs.test_generate import generate
from tests.cogs.test_quota_races import modal_submit
from tests.conftest import BotFactory, wait_for_job
from tests.sim.apiyi_sim import ApiyiSimulator
from tests.sim.discord_payloads import CHANNEL_ID, GUILD_ID, USER_ID
from tests.sim.discord_sim import FLAG_EPHEMERAL, DiscordSim

GUILD_B, CHANNEL_B = GUILD_ID + 1, CHANNEL_ID + 50
MANAGE_GUILD = 1 << 5


def failure_ping(sim: DiscordSim, job_id: int) -> dict[str, Any]:
    return next(
        m
        for m in sim.messages(CHANNEL_ID)
        if str(m["content"]).startswith(f"<@{USER_ID}> job #{job_id} failed")
    )


async def test_a_failed_job_offers_try_again_and_edit_prompt_even_after_a_restart(
    start_bot: BotFactory, apiyi_settings, apiyi_sim: ApiyiSimulator, discord_sim: DiscordSim
) -> None:
    settings = apiyi_settings.model_copy(update={"max_active_per_user": 5})
    first = await start_bot(settings)
    apiyi_sim.make_task_fail(reason="the render broke")
    await generate(first, discord_sim, prompt="a red kite")
    failed = await wait_for_job(first, 1)
    assert failed.status is JobStatus.FAILED
    for message in (job_message(discord_sim, 1), failure_ping(discord_sim, 1)):
        assert buttons(message) == ["veo:retry:1", "veo:remix:1"]
        assert labels(message) == ["Try again", "Edit prompt"]
    await first.close()

    second = await start_bot(settings)
    await click(second, discord_sim, "veo:retry:1", failure_ping(discord_sim, 1))
    again = await wait_for_job(second, 2)
    assert again.status is JobStatus.DELIVERED and again.parent_job_id == 1
    assert stored_request(again).prompt == "a red kite"
    assert "· from [#1](<" in job_message(discord_sim, 2)["content"]

    record = await click(second, discord_sim, "veo:remix:1", job_message(discord_sim, 1))
    [modal] = record.callbacks
    assert modal["type"] == 9  # the form, with the failed prompt to edit
    await dispatch(
        second,
        discord_sim,
        modal_submit(discord_sim, modal, "a blue kite", job_message(discord_sim, 1)),
    )
    edited = await wait_for_job(second, 3)
    assert edited.status is JobStatus.DELIVERED and edited.parent_job_id == 1
    assert stored_request(edited).prompt == "a blue kite"


async def test_another_servers_admin_cannot_retry_a_failed_job(
    start_bot: BotFactory, apiyi_settings, apiyi_sim: ApiyiSimulator, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(apiyi_settings)
    apiyi_sim.make_task_fail()
    await generate(bot, discord_sim, prompt="a red kite")
    await wait_for_job(bot, 1)
    for custom_id in ("veo:retry:1", "veo:remix:1"):
        record = await click(
            bot,
            discord_sim,
            custom_id,
            job_message(discord_sim, 1),
            user_id=USER_ID + 9,
            guild_id=GUILD_B,
            channel_id=CHANNEL_B,
            member_permissions=(1 << 50) - 1,  # every permission, in the other server
        )
        [answer] = record.callbacks
        assert answer["data"]["flags"] & FLAG_EPHEMERAL
        assert answer["data"]["content"] == "⚠️ You have no job #1."
    assert await bot.store.get(2) is None


async def test_continue_starts_a_first_frame_job_from_the_last_frame(
    start_bot: BotFactory, make_settings, discord_sim: DiscordSim
) -> None:
    settings = make_settings(VEO_MAX_ACTIVE_PER_USER=5)
    first = await start_bot(settings)
    await generate(first, discord_sim, prompt="a paper boat", aspect_ratio="9:16")
    done = await wait_for_job(first, 1)
    assert done.frame_at is not None
    frame = await first.store.frame(1)
    assert frame is not None and frame.mime == "image/jpeg" and frame.data[:2] == b"\xff\xd8"
    post = result_post(discord_sim, 1)
    assert buttons(post) == ["veo:retry:1", "veo:remix:1", "veo:continue:1", "veo:delete:1"]
    assert "Continue (uses 1)" in labels(post)
    await first.close()

    second = await start_bot(settings)
    record = await click(second, discord_sim, "veo:continue:1", post)
    [modal] = record.callbacks
    assert modal["type"] == 9 and modal["data"]["title"] == "Continue job #1 (uses 1)"
    await dispatch(second, discord_sim, modal_submit(discord_sim, modal, "the boat sails on", post))
    follow = await wait_for_job(second, 2)
    assert follow.status is JobStatus.DELIVERED and follow.parent_job_id == 1
    request = stored_request(follow)
    assert (request.prompt, request.mode, request.aspect_ratio) == (
        "the boat sails on",
        Mode.FIRST_FRAME,
        "9:16",
    )
    [image] = await second.store.images(2)
    assert image.data == frame.data  # the first frame is the video's last


async def test_without_ffmpeg_there_is_no_continue_button(
    start_bot: BotFactory, make_settings, discord_sim: DiscordSim, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.media.frames._ffmpeg_exe", lambda: None)
    bot = await start_bot(make_settings())
    await generate(bot, discord_sim, prompt="a paper boat")
    done = await wait_for_job(bot, 1)
    assert done.status is JobStatus.DELIVERED and done.frame_at is None
    assert "veo:continue:1" not in buttons(result_post(discord_sim, 1))


async def test_a_continue_of_a_forgotten_job_is_refused_before_the_form(
    start_bot: BotFactory, make_settings, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(make_settings())
    await generate(bot, discord_sim, prompt="a paper boat")
    await wait_for_job(bot, 1)
    assert await bot.service.preferences.forget(USER_ID) == 1
    assert await bot.store.frame(1) is None  # the frame goes with the prompt and images
    for custom_id in ("veo:continue:1", "veo:remix:1"):
        record = await click(bot, discord_sim, custom_id, result_post(discord_sim, 1))
        [answer] = record.callbacks
        assert answer["type"] == 4 and answer["data"]["flags"] & FLAG_EPHEMERAL
        assert "no longer kept" in answer["data"]["content"]
