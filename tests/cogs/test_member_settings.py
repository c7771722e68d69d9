"""`/veo settings` and `/veo forget`, driven through discord.py's real dispatch from raw
payloads against the Discord, demo and apiyi simulators.

A member's settings are theirs in every server, come after what they type and before
the server's default, and never make a server's limits give way; the toggles shape the
delivery post; `/veo forget` deletes what the member typed and uploaded, and nothing else.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.chat import i18n, messages
from bot.client import VeoBot
from bot.jobs.days import day_key
from bot.jobs.requests import stored_request
from storage import JobStatus, MemberSettings
from tests.cogs.test_admin import FAST, QUALITY, admin
from tests.cogs.test_buttons import dispatch, result_post
from tests.cogs.test_generate import PNG, reply_text, run
from tests.conftest import BotFactory, wait_for_job
from tests.sim.discord_payloads import (
    CHANNEL_ID,
    GUILD_ID,
    PERMS_FULL,
    PERMS_NO_SEND,
    USER_ID,
    component_click,
    slash_command,
)
from tests.sim.discord_sim import FLAG_EPHEMERAL, DiscordSim, SimRequest

GUILD_B, CHANNEL_B = GUILD_ID + 1, CHANNEL_ID + 50
OTHER = USER_ID + 4
DEMO = "demo/demo-veo"
NOT_HERE = "is not available here"
SELECTS = ["veo:set:model", "veo:set:aspect", "veo:set:length", "veo:set:size"]
TOGGLES = ["veo:set:flag:dm_copy", "veo:set:flag:spoiler", "veo:set:flag:ping"]


WHERE = ("user_id", "guild_id", "channel_id", "app_permissions")


async def veo(bot: VeoBot, sim: DiscordSim, sub: str, **kw: Any) -> int:
    """Run `/veo <sub>` (who and where in `WHERE`, the rest are its options); return the
    interaction id."""
    where = {k: kw.pop(k) for k in WHERE if k in kw}
    return await run(bot, sim, slash_command(name="veo", subcommand=sub, options=kw, **where))


async def open_panel(bot: VeoBot, sim: DiscordSim) -> dict[str, Any]:
    """`/veo settings`: checks the answer is private, returns the panel message."""
    record = sim.interaction(await veo(bot, sim, "settings"))
    [answer] = record.callbacks
    assert answer["type"] == 4 and answer["data"]["flags"] & FLAG_EPHEMERAL
    assert record.original_message_id is not None
    return sim.message(record.original_message_id)


async def choose(
    bot: VeoBot, sim: DiscordSim, panel: dict[str, Any], what: str, value: str
) -> dict[str, Any]:
    """Pick `value` in the panel's `what` menu; return the panel as edited."""
    click = component_click(f"veo:set:{what}", panel, component_type=3, values=[value])
    record = await dispatch(bot, sim, click)
    assert record.callbacks[0]["type"] == 7, record.callbacks  # the panel itself is redrawn
    return sim.message(panel["id"])


async def toggle(bot: VeoBot, sim: DiscordSim, panel: dict[str, Any], flag: str) -> None:
    """Click one of the panel's toggles; the panel is redrawn in place."""
    record = await dispatch(bot, sim, component_click(f"veo:set:flag:{flag}", panel))
    assert record.callbacks[0]["type"] == 7


def components(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for row in message.get("components", []) for c in row["components"]]


def picked(message: dict[str, Any], custom_id: str) -> list[str]:
    """The values a menu shows as chosen (what the panel says is saved)."""
    [menu] = [c for c in components(message) if c["custom_id"] == custom_id]
    return [o["value"] for o in menu["options"] if o.get("default")]


def delivery(sim: DiscordSim, job_id: int) -> SimRequest:
    """The recorded request that posted job `job_id`'s video (files and allowed_mentions)."""
    posts = sim.find_requests("POST", rf"^/channels/{CHANNEL_ID}/messages$")
    [request] = [r for r in posts if messages.ready_marker(job_id) in r.json["content"]]
    return request


async def set_defaults(bot: VeoBot, **changes: object) -> None:
    await bot.service.preferences.change(USER_ID, **changes)


async def test_the_panel_saves_each_choice_and_still_works_after_a_restart(
    start_bot: BotFactory, make_settings: Any, discord_sim: DiscordSim
) -> None:
    """Each menu saves at once and the panel shows what is saved; its controls are
    DynamicItems, so a panel left open across a restart keeps working."""
    settings = make_settings()
    first = await start_bot(settings)
    panel = await open_panel(first, discord_sim)
    assert [c["custom_id"] for c in components(panel)] == SELECTS + TOGGLES
    assert [c["type"] for c in components(panel)] == [3, 3, 3, 3, 2, 2, 2]
    assert "Model: **server's default**" in panel["content"]
    models = next(c for c in components(panel) if c["custom_id"] == "veo:set:model")
    assert [o["value"] for o in models["options"]] == ["-", DEMO]

    panel = await choose(first, discord_sim, panel, "model", DEMO)
    panel = await choose(first, discord_sim, panel, "aspect", "9:16")
    panel = await choose(first, discord_sim, panel, "length", "6")
    saved = MemberSettings(provider="demo", model="demo-veo", aspect_ratio="9:16", duration=6)
    assert await first.service.preferences.get(USER_ID) == saved
    assert "Model: **Demo clip — demo** · Aspect: **9:16** · Length: **6 s**" in panel["content"]
    assert picked(panel, "veo:set:model") == [DEMO] and picked(panel, "veo:set:length") == ["6"]
    await first.close()

    second = await start_bot(settings)
    panel = await choose(second, discord_sim, panel, "size", "720p")
    panel = await choose(second, discord_sim, panel, "aspect", "-")  # back to no preference
    saved = MemberSettings(provider="demo", model="demo-veo", duration=6, resolution="720p")
    assert await second.stores.members.get(USER_ID) == saved
    assert "Aspect: **server's default**" in panel["content"]
    assert "Resolution: **720p**" in panel["content"]
    assert picked(panel, "veo:set:aspect") == ["-"]


async def test_defaults_fill_only_what_the_member_did_not_type(
    start_bot: BotFactory, apiyi_settings: Any, discord_sim: DiscordSim
) -> None:
    """Typed options come first, then the member's settings, then the bot's default
    (apiyi Fast here: the demo model can only have come from the settings)."""
    bot = await start_bot(
        apiyi_settings.model_copy(update={"demo": True, "max_active_per_user": 5})
    )
    await set_defaults(bot, provider="demo", model="demo-veo", aspect_ratio="9:16", duration=6)

    iid = await veo(bot, discord_sim, "generate", prompt="a lighthouse")
    assert "Using your defaults: Demo clip · 9:16 · 6 s" in reply_text(discord_sim, iid)
    job = await wait_for_job(bot, 1)
    request = stored_request(job)
    assert (job.model, request.aspect_ratio, request.duration) == ("demo-veo", "9:16", 6)

    iid = await veo(bot, discord_sim, "generate", prompt="a lighthouse", aspect_ratio="16:9")
    text = reply_text(discord_sim, iid)
    assert "Using your defaults: Demo clip · 6 s" in text and "9:16" not in text
    request = stored_request(await wait_for_job(bot, 2))
    assert (request.aspect_ratio, request.duration) == ("16:9", 6)

    # A typed model wins over the default one; the defaults it takes still apply.
    iid = await veo(bot, discord_sim, "generate", prompt="a lighthouse", model=f"apiyi/{FAST}")
    assert "Using your defaults: 9:16 · 6 s" in reply_text(discord_sim, iid)
    job = await wait_for_job(bot, 3)
    assert (job.provider, job.model) == ("apiyi", FAST)
    assert stored_request(job).aspect_ratio == "9:16"


async def test_a_servers_limits_win_and_the_member_is_told_once_per_server(
    start_bot: BotFactory, apiyi_settings: Any, discord_sim: DiscordSim
) -> None:
    """A default model a server does not allow is skipped for the server's default, said
    once in each server (and again after choosing a new default); never a refusal."""
    bot = await start_bot(
        apiyi_settings.model_copy(
            update={"demo": True, "max_active_per_user": 9, "daily_quota": 20}
        )
    )
    await admin(bot, discord_sim, "models", allowed=f"apiyi/{QUALITY}")  # server A
    await bot.stores.guilds.set(GUILD_B, allowed_models=["apiyi"])
    await set_defaults(bot, provider="demo", model="demo-veo", aspect_ratio="9:16")

    async def ask(guild_id: int = GUILD_ID, channel_id: int = CHANNEL_ID) -> str:
        iid = await veo(
            bot, discord_sim, "generate", prompt="a fox", guild_id=guild_id, channel_id=channel_id
        )
        text = reply_text(discord_sim, iid)
        assert "Queued as" in text, text  # a setting never refuses anything
        return text

    first = await ask()
    assert f"Your default model, Demo clip, {NOT_HERE}" in first
    assert "Using your defaults: 9:16" in first  # Veo 3.1 takes the aspect: it stays
    job = await bot.store.get(1)
    assert job is not None and (job.provider, job.model) == ("apiyi", QUALITY)
    assert stored_request(job).aspect_ratio == "9:16"
    assert NOT_HERE not in await ask()

    in_b = await ask(GUILD_B, CHANNEL_B)
    assert NOT_HERE in in_b
    job = await bot.store.get(3)
    assert job is not None and (job.guild_id, job.provider, job.model) == (GUILD_B, "apiyi", FAST)
    assert NOT_HERE not in await ask(GUILD_B, CHANNEL_B)

    # Choosing a default model again is worth one more mention where it is not allowed.
    await set_defaults(bot, provider="demo", model="demo-veo")
    assert NOT_HERE in await ask()
    assert NOT_HERE not in await ask()


async def test_settings_belong_to_the_member_in_every_server(
    start_bot: BotFactory, make_settings: Any, discord_sim: DiscordSim
) -> None:
    """Set from a panel in server A, the defaults apply in server B as well."""
    bot = await start_bot(make_settings(VEO_MAX_ACTIVE_PER_USER=5))
    panel = await open_panel(bot, discord_sim)
    await choose(bot, discord_sim, panel, "aspect", "9:16")
    await choose(bot, discord_sim, panel, "length", "4")
    iid = await veo(
        bot, discord_sim, "generate", prompt="a kite", guild_id=GUILD_B, channel_id=CHANNEL_B
    )
    assert "Using your defaults: 9:16 · 4 s" in reply_text(discord_sim, iid)
    job = await wait_for_job(bot, 1)
    assert job.guild_id == GUILD_B and job.status is JobStatus.DELIVERED
    request = stored_request(job)
    assert (request.aspect_ratio, request.duration) == ("9:16", 4)
    # Another member is untouched by them.
    iid = await veo(bot, discord_sim, "generate", prompt="a kite", user_id=OTHER)
    assert "Using your defaults" not in reply_text(discord_sim, iid)
    assert stored_request(await wait_for_job(bot, 2)).aspect_ratio is None


async def test_spoiler_and_ping_toggles_shape_the_delivery_post(
    start_bot: BotFactory, make_settings: Any, discord_sim: DiscordSim
) -> None:
    """Spoiler on: the file is SPOILER_…; ping off: the post mentions nobody. Off/on
    again: a plain file and exactly the member. The job message pings nobody."""
    bot = await start_bot(make_settings(VEO_MAX_ACTIVE_PER_USER=5))
    panel = await open_panel(bot, discord_sim)
    await toggle(bot, discord_sim, panel, "spoiler")
    await toggle(bot, discord_sim, panel, "ping")
    assert await bot.service.preferences.get(USER_ID) == MemberSettings(spoiler=True, ping=False)
    shown = {c["custom_id"]: c for c in components(discord_sim.message(panel["id"]))}
    assert shown["veo:set:flag:spoiler"]["style"] == 3  # success: it is on
    assert shown["veo:set:flag:ping"]["style"] == 2

    await veo(bot, discord_sim, "generate", prompt="a secret")
    job = await wait_for_job(bot, 1)
    assert job.status is JobStatus.DELIVERED and (job.spoiler, job.ping) == (True, False)
    posted = delivery(discord_sim, 1)
    assert [f.filename for f in posted.files] == ["SPOILER_veo-job-1.mp4"]
    assert posted.json["allowed_mentions"] == {"parse": []}  # nobody
    [attachment] = result_post(discord_sim, 1)["attachments"]
    assert attachment["filename"] == "SPOILER_veo-job-1.mp4"

    await toggle(bot, discord_sim, panel, "spoiler")
    await toggle(bot, discord_sim, panel, "ping")
    await veo(bot, discord_sim, "generate", prompt="no secret")
    await wait_for_job(bot, 2)
    posted = delivery(discord_sim, 2)
    assert [f.filename for f in posted.files] == ["veo-job-2.mp4"]
    assert posted.json["allowed_mentions"] == {"parse": [], "users": [USER_ID]}
    posts = discord_sim.find_requests("POST", rf"^/channels/{CHANNEL_ID}/messages$")
    announced = [r.json["allowed_mentions"] for r in posts if "**Job #" in r.json["content"]]
    assert announced == [{"parse": []}] * 2


@pytest.mark.parametrize("perms", [PERMS_FULL, PERMS_NO_SEND], ids=["channel", "followup"])
async def test_dm_copy_sends_the_video_to_the_members_dms(
    start_bot: BotFactory, make_settings: Any, discord_sim: DiscordSim, perms: int
) -> None:
    """dm_copy on: the video (small enough for a DM) also goes to the member's DMs,
    however it is posted (in the channel, or as a followup where the bot may not post)."""
    bot = await start_bot(make_settings())
    await toggle(bot, discord_sim, await open_panel(bot, discord_sim), "dm_copy")
    await veo(bot, discord_sim, "generate", prompt="a card", app_permissions=perms)
    job = await wait_for_job(bot, 1)
    assert job.dm_copy and job.status is JobStatus.DELIVERED
    [copy] = discord_sim.dm_messages(USER_ID)
    assert str(copy["content"]).startswith("Your video of job #1 is ready: https://discord.com/")
    assert [a["filename"] for a in copy["attachments"]] == ["veo-job-1.mp4"]


async def test_closed_dms_never_block_the_delivery(
    start_bot: BotFactory, make_settings: Any, discord_sim: DiscordSim
) -> None:
    """A member who does not accept DMs still gets the video in the channel."""
    discord_sim.closed_dms.add(USER_ID)
    bot = await start_bot(make_settings())
    await set_defaults(bot, dm_copy=True)
    await veo(bot, discord_sim, "generate", prompt="a postcard")
    job = await wait_for_job(bot, 1)
    assert job.status is JobStatus.DELIVERED and job.delivered_message_id is not None
    assert discord_sim.dm_messages(USER_ID) == []


async def test_forget_asks_first_and_deletes_only_the_members_words(
    start_bot: BotFactory, make_settings: Any, discord_sim: DiscordSim
) -> None:
    """Only the member's own click deletes; their settings, prompts, images and video
    paths go, job rows and quota usage stay, another member's prompts stay, Retry says why."""
    bot = await start_bot(make_settings(VEO_MAX_ACTIVE_PER_USER=5))
    await set_defaults(bot, aspect_ratio="9:16", spoiler=True)
    image = discord_sim.add_attachment("cat.png", PNG, "image/png")
    await veo(bot, discord_sim, "generate", prompt="my secret garden", image=image)
    await veo(bot, discord_sim, "generate", prompt="my second secret")
    await veo(bot, discord_sim, "generate", prompt="their own words", user_id=OTHER)
    jobs = [await wait_for_job(bot, n) for n in (1, 2, 3)]
    assert all(j.status is JobStatus.DELIVERED and j.result_path for j in jobs)
    assert len(await bot.store.images(1)) == 1
    today = day_key(bot.service.clock())
    assert await bot.store.usage(USER_ID, today, GUILD_ID) == 2

    record = discord_sim.interaction(await veo(bot, discord_sim, "forget"))
    [answer] = record.callbacks
    assert answer["data"]["flags"] & FLAG_EPHEMERAL
    assert answer["data"]["content"] == i18n.text("settings.forget_question")
    question = discord_sim.message(record.original_message_id or 0)
    assert [c["custom_id"] for c in components(question)] == [f"veo:forget-yes:{USER_ID}"]

    refused = await dispatch(
        bot, discord_sim, component_click(f"veo:forget-yes:{USER_ID}", question, user_id=OTHER)
    )
    [answer] = refused.callbacks
    assert answer["data"]["content"] == "This button belongs to someone else."
    assert answer["data"]["flags"] & FLAG_EPHEMERAL
    assert (await bot.service.preferences.get(USER_ID)).spoiler
    assert stored_request(await wait_for_job(bot, 1)).prompt == "my secret garden"

    done = await dispatch(bot, discord_sim, component_click(f"veo:forget-yes:{USER_ID}", question))
    assert done.callbacks[0]["type"] == 7
    assert discord_sim.message(question["id"])["content"] == messages.forgotten(2, None)
    assert await bot.service.preferences.get(USER_ID) == MemberSettings()
    for n in (1, 2):
        job = await bot.store.get(n)
        assert job is not None and job.purged_at is not None and job.result_path is None
        assert stored_request(job).prompt == ""
    assert await bot.store.images(1) == []
    assert await bot.store.usage(USER_ID, today, GUILD_ID) == 2  # the ledger is untouched
    theirs = await bot.store.get(3)
    assert theirs is not None and theirs.purged_at is None
    assert stored_request(theirs).prompt == "their own words"

    retry = await dispatch(
        bot, discord_sim, component_click("veo:retry:2", result_post(discord_sim, 2))
    )
    await discord_sim.wait_for_request("PATCH", rf"^/webhooks/\d+/{retry.token}/messages/")
    assert "prompt and images are no longer kept" in reply_text(discord_sim, retry.id)
    assert await bot.store.get(4) is None


async def test_a_refused_command_does_not_use_up_the_one_mention(
    start_bot: BotFactory, apiyi_settings: Any, discord_sim: DiscordSim
) -> None:
    """The member must see the note once: a command refused for its own reasons (here an
    empty prompt) shows only the refusal, so the next one must still say it."""
    bot = await start_bot(apiyi_settings.model_copy(update={"demo": True}))
    await admin(bot, discord_sim, "models", allowed=f"apiyi/{QUALITY}")
    await set_defaults(bot, provider="demo", model="demo-veo")
    refused = reply_text(discord_sim, await veo(bot, discord_sim, "generate", prompt="   "))
    assert "prompt is empty" in refused and NOT_HERE not in refused
    queued = reply_text(discord_sim, await veo(bot, discord_sim, "generate", prompt="a fox"))
    assert "Queued as" in queued and NOT_HERE in queued


async def test_a_retired_default_model_does_not_block_other_settings(
    start_bot: BotFactory, apiyi_settings: Any, make_settings: Any, discord_sim: DiscordSim
) -> None:
    """The bot drops a vendor (restarted without its key): a member whose default model
    was that vendor's can still turn spoilers on."""
    first = await start_bot(apiyi_settings)
    await first.service.preferences.change(USER_ID, provider="apiyi", model=FAST)
    await first.close()
    bot = await start_bot(make_settings())  # the same database, the demo vendor only
    panel = await open_panel(bot, discord_sim)
    record = await dispatch(bot, discord_sim, component_click("veo:set:flag:spoiler", panel))
    assert record.callbacks[0]["type"] == 7, record.callbacks[0]["data"].get("content")
    assert (await bot.service.preferences.get(USER_ID)).spoiler
