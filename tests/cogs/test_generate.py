"""`/veo generate` and `/veo quota` driven through discord.py's own tree and objects,
from raw interaction payloads, against the Discord and apiyi simulators.
Assertions are on what the member would see, and on what was (not) spent."""

from __future__ import annotations

import time
from typing import Any

import discord
import pytest

from bot.chat.messages import ready_marker
from bot.client import VeoBot
from bot.jobs.days import day_key
from bot.jobs.schedule import MIN_SAMPLES
from storage import JobStatus
from tests.conftest import BotFactory, wait_for_job
from tests.media.test_input_hardening import png
from tests.sim.apiyi_sim import ApiyiSimulator
from tests.sim.discord_payloads import (
    CHANNEL_ID,
    GUILD_ID,
    PERMS_NO_SEND,
    USER_ID,
    autocomplete,
    slash_command,
)
from tests.sim.discord_sim import FLAG_EPHEMERAL, DiscordSim

PNG = png(64, 64)  # a real header: check_image reads the pixel size
FAST = "veo-3.1-fast-generate-preview"


async def run(bot: VeoBot, sim: DiscordSim, payload: dict[str, Any]) -> int:
    """Dispatch one interaction the way discord.py does; return its id."""
    interaction = discord.Interaction(data=sim.register_interaction(payload), state=bot._connection)
    await bot.tree._call(interaction)
    return interaction.id


async def generate(bot: VeoBot, sim: DiscordSim, **options: object) -> int:
    extra = {
        k: options.pop(k)
        for k in ("app_permissions", "attachment_size_limit", "locale", "guild_locale")
        if k in options
    }
    return await run(
        bot, sim, slash_command(name="veo", subcommand="generate", options=options, **extra)
    )  # type: ignore[arg-type]


def reply_text(sim: DiscordSim, interaction_id: int) -> str:
    """What the member sees in the private answer to their command."""
    record = sim.interaction(interaction_id)
    assert record.original_message_id is not None
    return str(sim.message(record.original_message_id)["content"])


async def job_count(bot: VeoBot) -> int:
    row = await bot.db.fetchone("SELECT COUNT(*) FROM jobs")
    assert row is not None
    return int(row[0])


async def used(bot: VeoBot) -> int:
    return await bot.store.usage(USER_ID, day_key(bot.service.clock()), GUILD_ID)


async def test_generate_with_demo_end_to_end(
    start_bot: BotFactory, make_settings, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(make_settings())
    iid = await generate(bot, discord_sim, prompt="a red fox in the snow")

    record = discord_sim.interaction(iid)
    assert (
        record.callback_type == 5 and record.callback_flags & FLAG_EPHEMERAL
    )  # ephemeral defer first
    [job_message] = [m for m in discord_sim.messages(CHANNEL_ID) if "Job #1" in str(m["content"])]
    assert f"<@{USER_ID}>" in str(job_message["content"])
    assert "a red fox in the snow" in str(job_message["content"])
    text = reply_text(discord_sim, iid)
    assert "job #1" in text and "/channels/" in text and str(job_message["id"]) in text

    done = await wait_for_job(bot, 1)
    assert done.status is JobStatus.DELIVERED
    [video] = [m for m in discord_sim.messages(CHANNEL_ID) if ready_marker(1) in str(m["content"])]
    assert video["attachments"]
    assert await used(bot) == 1


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"prompt": "   "}, "prompt is empty"),
        ({"prompt": "x" * 2500}, "limit is 2,000"),
        ({"prompt": "a cat", "resolution": "1080p", "duration": 4}, "8 s videos at 1080p"),
        ({"prompt": "a cat", "model": "veo-99"}, "not a model"),
        ({"prompt": "a cat", "seed": 5, "provider": "nope"}, "not available here"),
    ],
)
async def test_bad_requests_are_refused_politely_and_cost_nothing(
    start_bot: BotFactory,
    apiyi_settings,
    apiyi_sim: ApiyiSimulator,
    discord_sim: DiscordSim,
    options: dict[str, object],
    words: str,
) -> None:
    bot = await start_bot(apiyi_settings)
    iid = await generate(bot, discord_sim, **options)
    assert words in reply_text(discord_sim, iid)
    assert await job_count(bot) == 0
    assert await used(bot) == 0
    assert apiyi_sim.submits() == []
    assert discord_sim.messages(CHANNEL_ID) == []


async def test_an_attachment_that_lies_about_its_type_is_refused(
    start_bot: BotFactory, apiyi_settings, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(apiyi_settings)
    fake = discord_sim.add_attachment("cat.png", b"<html>not an image</html>", "image/png")
    iid = await generate(bot, discord_sim, prompt="animate it", image=fake)
    assert "is not an image" in reply_text(discord_sim, iid)
    assert await job_count(bot) == 0 and await used(bot) == 0


async def test_an_oversize_image_is_refused_without_downloading_it(
    start_bot: BotFactory, apiyi_settings, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(apiyi_settings)
    big = discord_sim.add_attachment("big.png", PNG + b"\0" * (10 * 1024 * 1024), "image/png")
    iid = await generate(bot, discord_sim, prompt="animate it", image=big)
    assert "larger than 10 MB" in reply_text(discord_sim, iid)
    assert discord_sim.find_requests("GET", "/attachments/") == []
    assert await job_count(bot) == 0


async def test_an_expired_attachment_gets_a_clear_message(
    start_bot: BotFactory, apiyi_settings, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(apiyi_settings)
    gone = discord_sim.add_attachment("cat.png", PNG, "image/png", expired=True)
    iid = await generate(bot, discord_sim, prompt="animate it", image=gone)
    assert "could not download `image`" in reply_text(discord_sim, iid)
    assert await job_count(bot) == 0


async def test_an_image_becomes_the_first_frame_sent_as_multipart(
    start_bot: BotFactory, apiyi_settings, apiyi_sim: ApiyiSimulator, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(apiyi_settings)
    cat = discord_sim.add_attachment("cat.jpg", PNG, "image/jpeg")  # the bytes say PNG
    await generate(bot, discord_sim, prompt="the cat jumps", image=cat, aspect_ratio="9:16")
    done = await wait_for_job(bot, 1)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    [sent] = apiyi_sim.submits()
    [ref] = sent.files["input_reference"]
    assert (ref.data, ref.content_type) == (PNG, "image/png")


async def test_over_quota_says_when_it_resets_and_creates_nothing(
    start_bot: BotFactory, make_settings, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(make_settings(VEO_DAILY_QUOTA=1, VEO_MAX_ACTIVE_PER_USER=5))
    await generate(bot, discord_sim, prompt="one")
    iid = await generate(bot, discord_sim, prompt="two")
    text = reply_text(discord_sim, iid)
    assert "used all 1 of today's videos" in text and "<t:" in text
    assert await job_count(bot) == 1


async def test_too_many_active_jobs_is_refused(
    start_bot: BotFactory, apiyi_settings, apiyi_sim: ApiyiSimulator, discord_sim: DiscordSim
) -> None:
    apiyi_sim.queued_for = None
    bot = await start_bot(apiyi_settings)
    for prompt in ("one", "two"):
        await generate(bot, discord_sim, prompt=prompt)
    iid = await generate(bot, discord_sim, prompt="three")
    assert "already have 2 jobs in progress" in reply_text(discord_sim, iid)
    assert await job_count(bot) == 2 and await used(bot) == 2


async def test_without_permission_to_post_it_uses_followups(
    start_bot: BotFactory, make_settings, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(make_settings())
    iid = await generate(bot, discord_sim, prompt="quiet fox", app_permissions=PERMS_NO_SEND)
    assert (
        "I lack **Send Messages**, **Attach Files**, **Embed Links** in this channel"
        in reply_text(discord_sim, iid)
    )
    assert discord_sim.find_requests("POST", f"^/channels/{CHANNEL_ID}/messages$") == []
    done = await wait_for_job(bot, 1)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    record = discord_sim.interaction(iid)
    texts = [str(discord_sim.message(i)["content"]) for i in record.followup_ids]
    assert any("Job #1" in t for t in texts)
    assert any(ready_marker(1) in t for t in texts)


async def test_the_echoed_prompt_cannot_ping_everyone(
    start_bot: BotFactory, make_settings, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(make_settings())
    await generate(bot, discord_sim, prompt="@everyone look <@&123> at this")
    [post] = discord_sim.find_requests("POST", f"^/channels/{CHANNEL_ID}/messages$")
    assert post.json is not None
    mentions = post.json["allowed_mentions"]
    # The job message pings nobody, not even the member who just ran the command: they
    # are pinged once, when the video is ready.
    assert mentions["parse"] == [] and mentions.get("roles", []) == []
    assert mentions.get("users", []) == []


async def test_the_upload_limit_comes_from_the_interaction(
    start_bot: BotFactory, make_settings, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(make_settings())
    await generate(bot, discord_sim, prompt="tiny", attachment_size_limit=1000)
    done = await wait_for_job(bot, 1)
    assert done.filesize_limit == 1000
    assert (done.status, done.error_code) == (JobStatus.FAILED, "too_large")
    assert await used(bot) == 0


async def test_quota_command_shows_usage_and_active_jobs(
    start_bot: BotFactory, apiyi_settings, apiyi_sim: ApiyiSimulator, discord_sim: DiscordSim
) -> None:
    apiyi_sim.queued_for = None
    bot = await start_bot(apiyi_settings)
    await generate(bot, discord_sim, prompt="one")
    iid = await run(bot, discord_sim, slash_command(name="veo", subcommand="quota"))
    record = discord_sim.interaction(iid)
    assert record.callback_type == 4 and record.callback_flags & FLAG_EPHEMERAL
    text = str(record.callbacks[0]["data"]["content"])
    assert "used **1** of **5**" in text and "**4** left" in text
    assert "**#1**" in text


async def test_model_autocomplete_offers_models_by_name(
    start_bot: BotFactory, apiyi_settings, discord_sim: DiscordSim
) -> None:
    settings = apiyi_settings.model_copy(update={"demo": True})
    bot = await start_bot(settings)
    iid = await run(
        bot,
        discord_sim,
        autocomplete(
            name="veo",
            subcommand="generate",
            focused="model",
            options={"prompt": "x", "model": "fast-generate"},
        ),
    )
    [callback] = discord_sim.interaction(iid).callbacks
    assert callback["type"] == 8
    values = [c["value"] for c in callback["data"]["choices"]]
    assert values == [f"apiyi/{FAST}"]


async def test_commands_sync_to_configured_guilds(
    start_bot: BotFactory, make_settings, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(make_settings(VEO_GUILD_IDS="42,43"))
    await bot.sync_commands()
    for guild in (42, 43):
        veo = next(c for c in discord_sim.commands[guild] if c["name"] == "veo")
        subcommands = {o["name"] for o in veo["options"]}
        assert {"generate", "quota"} <= subcommands


async def test_models_command_lists_every_enabled_model(
    start_bot: BotFactory, apiyi_settings, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(apiyi_settings.model_copy(update={"demo": True}))
    iid = await run(bot, discord_sim, slash_command(name="veo", subcommand="models"))
    [callback] = discord_sim.interaction(iid).callbacks
    assert callback["data"]["flags"] & FLAG_EPHEMERAL
    fields = [f for e in callback["data"]["embeds"] for f in e["fields"]]
    names = {f["name"] for f in fields}
    expected = {f"{spec.label} — {p.name}" for p in bot.providers for spec in p.models.values()}
    assert names == expected
    fast = next(f for f in fields if f"`{FAST}`" in f["value"])
    assert "first frame" in fast["value"] and "$0.30" in fast["value"]


async def test_models_command_shows_how_long_renders_took_lately(
    start_bot: BotFactory, apiyi_settings, discord_sim: DiscordSim
) -> None:
    """Once a model has enough finished renders on record, `/veo models` says how long
    they took; a model without them says nothing rather than guess."""
    bot = await start_bot(apiyi_settings)
    now = time.time()
    for n in range(MIN_SAMPLES + 4):  # 62..85 s
        await bot.db.execute(
            "INSERT INTO render_times (provider, model, resolution, duration, low, high, "
            "finished_at) VALUES ('apiyi', ?, '720p', 8, ?, ?, ?)",
            (FAST, 62.0 + n, 62.0 + n, now - n),
        )
    await bot.manager.crew.schedules.load()
    iid = await run(bot, discord_sim, slash_command(name="veo", subcommand="models"))
    [callback] = discord_sim.interaction(iid).callbacks
    fields = [f for e in callback["data"]["embeds"] for f in e["fields"]]
    fast = next(f for f in fields if f"`{FAST}`" in f["value"])
    assert "Renders lately: usually 1m 13s, 9 of 10 within 1m 23s (the last 24)." in fast["value"]
    others = [f for f in fields if f is not fast]
    assert others and not any("Renders lately" in f["value"] for f in others)


async def test_enhance_prompt_is_refused_where_the_model_lacks_it(
    start_bot: BotFactory, apiyi_settings, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(apiyi_settings)
    iid = await generate(bot, discord_sim, prompt="a cat", enhance_prompt=True)
    assert "cannot enhance prompts" in reply_text(discord_sim, iid)
    assert await job_count(bot) == 0


async def _suggest(bot: VeoBot, sim: DiscordSim, focused: str, **options: object) -> list[object]:
    iid = await run(
        bot,
        sim,
        autocomplete(
            name="veo", subcommand="generate", focused=focused, options={"prompt": "x", **options}
        ),
    )
    [callback] = sim.interaction(iid).callbacks
    return [c["value"] for c in callback["data"]["choices"]]


async def test_option_suggestions_follow_the_chosen_model(
    start_bot: BotFactory, apiyi_settings, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(apiyi_settings)
    assert await _suggest(bot, discord_sim, "duration", duration="") == [4, 6, 8]
    assert await _suggest(bot, discord_sim, "duration", duration="", resolution="4k") == [8]
    assert await _suggest(bot, discord_sim, "resolution", resolution="", duration=4) == ["720p"]
    landscape = {"model": "veo-3.1-landscape-fl", "aspect_ratio": ""}
    assert await _suggest(bot, discord_sim, "aspect_ratio", **landscape) == ["16:9"]
    assert await _suggest(bot, discord_sim, "mode", mode="", model="veo-3.1-fl") == [
        "first_frame",
        "first_last",
    ]
    assert await _suggest(bot, discord_sim, "mode", mode="") == ["first_frame"]


async def test_a_refused_channel_post_falls_back_to_followups(
    start_bot: BotFactory, make_settings, discord_sim: DiscordSim
) -> None:
    """The permissions said yes, Discord said 403 (a channel override): still delivered."""
    discord_sim.forbid_channel(CHANNEL_ID)
    bot = await start_bot(make_settings())
    iid = await generate(bot, discord_sim, prompt="a shy fox")
    assert "I can't post in this channel" in reply_text(discord_sim, iid)
    done = await wait_for_job(bot, 1)
    assert (done.status, done.delivery_mode) == (JobStatus.DELIVERED, "followup")
    texts = [
        str(discord_sim.message(i)["content"]) for i in discord_sim.interaction(iid).followup_ids
    ]
    assert any(ready_marker(1) in t for t in texts)
