"""Hostile input through `/veo generate`, end to end against the Discord and apiyi
simulators: a decompression bomb, a damaged image, a prompt of only control characters and
too many images are refused in one sentence with nothing spent; a prompt that says
`@everyone` is echoed as typed but pings nobody except the member, from the job message to
the finished video."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bot.client import VeoBot
from bot.settings import Settings
from storage import JobStatus
from tests.cogs.test_generate import generate, job_count, reply_text, used
from tests.conftest import BotFactory, wait_for_job
from tests.media.test_input_hardening import jpeg, png
from tests.sim.apiyi_sim import ApiyiSimulator
from tests.sim.discord_payloads import CHANNEL_ID, PERMS_NO_SEND, USER_ID
from tests.sim.discord_sim import DiscordSim


async def assert_nothing_spent(bot: VeoBot, apiyi_sim: ApiyiSimulator, sim: DiscordSim) -> None:
    assert await job_count(bot) == 0
    assert await used(bot) == 0
    assert apiyi_sim.submits() == []
    assert sim.messages(CHANNEL_ID) == []


async def test_a_decompression_bomb_is_refused_before_anything_is_spent(
    start_bot: BotFactory,
    apiyi_settings: Settings,
    apiyi_sim: ApiyiSimulator,
    discord_sim: DiscordSim,
) -> None:
    bot = await start_bot(apiyi_settings)
    bomb = png(100_000, 100_000)  # 10 gigapixels declared in 67 bytes
    attachment = discord_sim.add_attachment("cute-cat.png", bomb, "image/png")
    iid = await generate(bot, discord_sim, prompt="the cat waves", image=attachment)
    assert reply_text(discord_sim, iid) == (
        "⚠️ `image` is 100000×100000 pixels; the largest accepted is 16384 pixels per side and "
        "64 megapixels in all. Please make it smaller and attach it again."
    )
    await assert_nothing_spent(bot, apiyi_sim, discord_sim)


async def test_a_damaged_image_is_refused_before_anything_is_spent(
    start_bot: BotFactory,
    apiyi_settings: Settings,
    apiyi_sim: ApiyiSimulator,
    discord_sim: DiscordSim,
) -> None:
    bot = await start_bot(apiyi_settings)
    cut = discord_sim.add_attachment("photo.jpg", jpeg(1920, 1080)[:30], "image/jpeg")
    iid = await generate(bot, discord_sim, prompt="the city at night", image=cut)
    assert reply_text(discord_sim, iid) == (
        "⚠️ `image` (photo.jpg) could not be read as an image: the JPEG file is damaged or "
        "incomplete. Please save it again and attach it."
    )
    await assert_nothing_spent(bot, apiyi_sim, discord_sim)


async def test_a_real_image_of_a_sensible_size_still_goes_through(
    start_bot: BotFactory,
    apiyi_settings: Settings,
    apiyi_sim: ApiyiSimulator,
    discord_sim: DiscordSim,
) -> None:
    bot = await start_bot(apiyi_settings)
    photo = png(1280, 720)
    attachment = discord_sim.add_attachment("photo.png", photo, "image/png")
    await generate(bot, discord_sim, prompt="the sea moves", image=attachment)
    done = await wait_for_job(bot, 1)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    [sent] = apiyi_sim.submits()
    assert [f.data for f in sent.files["input_reference"]] == [photo]


@pytest.mark.parametrize(
    "prompt",
    ["\x00\x07\x1b\x7f", "\u200b\u202e\u2066\ufeff", "\r\n\t \x00\u200b\u3164\r\n"],
)
async def test_a_prompt_of_only_control_characters_is_empty(
    start_bot: BotFactory,
    apiyi_settings: Settings,
    apiyi_sim: ApiyiSimulator,
    discord_sim: DiscordSim,
    prompt: str,
) -> None:
    bot = await start_bot(apiyi_settings)
    iid = await generate(bot, discord_sim, prompt=prompt)
    assert reply_text(discord_sim, iid) == "⚠️ The prompt is empty: describe the video you want."
    await assert_nothing_spent(bot, apiyi_sim, discord_sim)


async def test_control_characters_are_not_sent_or_echoed(
    start_bot: BotFactory,
    apiyi_settings: Settings,
    apiyi_sim: ApiyiSimulator,
    discord_sim: DiscordSim,
) -> None:
    bot = await start_bot(apiyi_settings)
    await generate(bot, discord_sim, prompt="a \u202egreen\u202c fox\x00\r\nin the\u200b snow")
    done = await wait_for_job(bot, 1)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    [sent] = apiyi_sim.submits()
    prompt = sent.json["prompt"] if sent.json is not None else sent.form["prompt"][0]
    assert prompt == "a green fox\nin the snow"
    posted = [
        str(m["content"]) + "".join(str(e.get("description")) for e in m.get("embeds", []))
        for m in discord_sim.messages(CHANNEL_ID)
    ]
    assert any("a green fox" in text for text in posted)
    assert not any(ch in text for text in posted for ch in "\u202e\u202c\u200b\x00\r")


async def test_more_images_than_the_model_takes_are_refused_without_downloading(
    start_bot: BotFactory,
    apiyi_settings: Settings,
    apiyi_sim: ApiyiSimulator,
    discord_sim: DiscordSim,
) -> None:
    bot = await start_bot(apiyi_settings)
    one = discord_sim.add_attachment("a.png", png(64, 64), "image/png")
    two = discord_sim.add_attachment("b.png", png(64, 64), "image/png")
    iid = await generate(bot, discord_sim, prompt="these two", image=one, image2=two)
    assert reply_text(discord_sim, iid) == (
        "⚠️ **Veo 3.1 Fast** cannot use reference images; it can do: text only, first frame."
    )
    assert discord_sim.find_requests("GET", "/attachments/") == []
    await assert_nothing_spent(bot, apiyi_sim, discord_sim)


def _pings(payload: dict[str, Any]) -> tuple[list[str], list[int], list[str]]:
    """What a message payload may ping: (parse, users, roles)."""
    mentions = payload.get("allowed_mentions")
    assert mentions is not None, f"no allowed_mentions on {payload.get('content')!r}"
    users = [int(u) for u in mentions.get("users", [])]
    return list(mentions.get("parse", [])), users, list(mentions.get("roles", []))


@pytest.mark.parametrize("followups", [False, True], ids=["channel", "followup"])
async def test_everyone_in_the_prompt_pings_nobody_but_the_member_until_the_video(
    start_bot: BotFactory,
    make_settings: Callable[..., Settings],
    discord_sim: DiscordSim,
    followups: bool,
) -> None:
    """Every message the bot sends or edits for the job — the public job message, its
    progress edits, the finished video (in the channel, or as followups where the bot may
    not post) — carries allowed_mentions that can reach the member alone."""
    bot = await start_bot(make_settings())
    prompt = "@everyone @here <@999> <@&123> a fox in the snow"
    extra = {"app_permissions": PERMS_NO_SEND} if followups else {}
    await generate(bot, discord_sim, prompt=prompt, **extra)
    done = await wait_for_job(bot, 1)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)

    sent = [
        r
        for r in discord_sim.find_requests("*", "")
        if r.method in ("POST", "PATCH") and isinstance(r.json, dict) and "content" in r.json
    ]
    echoes = [r for r in sent if prompt in str(r.json["content"])]
    assert echoes, "the prompt is echoed as typed"
    assert any("veo-job-1.mp4" in [f.filename for f in r.files] for r in sent)
    for request in sent:
        parse, users, roles = _pings(request.json)
        assert parse == [] and roles == [], (request.method, request.path, parse, roles)
        assert set(users) <= {USER_ID}, (request.method, request.path, users)
