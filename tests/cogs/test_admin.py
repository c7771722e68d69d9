"""`/veo-admin` and the server rules it sets, driven from raw interaction payloads
against the Discord simulator. Assertions are on what the admin and the member see,
and on what was (not) spent."""

from __future__ import annotations

from typing import Any

from bot.chat.i18n import text
from bot.client import VeoBot
from bot.jobs.days import day_key
from storage import JobStatus
from tests.cogs.test_buttons import dispatch
from tests.cogs.test_generate import job_count, reply_text, run, used
from tests.conftest import BotFactory, wait_for_job
from tests.sim.discord_payloads import (
    CHANNEL_ID,
    GUILD_ID,
    PERMS_FULL,
    USER_ID,
    component_click,
    member,
    slash_command,
    user,
)
from tests.sim.discord_sim import FLAG_EPHEMERAL, DiscordSim, SimInteraction

MANAGE_GUILD = 1 << 5
ADMIN_ID = USER_ID + 7
OTHER_CHANNEL = CHANNEL_ID + 1
FAST = "veo-3.1-fast-generate-preview"  # apiyi's default model
QUALITY = "veo-3.1-generate-preview"
AS_ADMIN: dict[str, Any] = {"user_id": ADMIN_ID, "member_permissions": PERMS_FULL | MANAGE_GUILD}
SELECT_TYPE = {"channels": 8, "exempt-roles": 6}  # Discord's channel and role menus


async def admin(
    bot: VeoBot,
    sim: DiscordSim,
    subcommand: str,
    *,
    member_permissions: int = PERMS_FULL | MANAGE_GUILD,
    target: int | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Run `/veo-admin <subcommand>` as an admin; `target` fills the `member` option."""
    payload = slash_command(
        name="veo-admin",
        subcommand=subcommand,
        options=options,
        user_id=ADMIN_ID,
        member_permissions=member_permissions,
    )
    if target is not None:
        payload["data"]["options"][0]["options"].append(
            {"name": "member", "type": 6, "value": str(target)}
        )
        resolved_member = member(target)
        del resolved_member["user"]
        payload["data"]["resolved"] = {
            "users": {str(target): user(target)},
            "members": {str(target): resolved_member},
        }
    iid = await run(bot, sim, payload)
    [answer] = sim.interaction(iid).callbacks
    assert answer["type"] == 4
    assert answer["data"]["flags"] & FLAG_EPHEMERAL
    return dict(answer["data"])


async def generate(
    bot: VeoBot,
    sim: DiscordSim,
    *,
    channel_id: int = CHANNEL_ID,
    guild_id: int | None = GUILD_ID,
    **options: object,
) -> int:
    """`/veo generate` as the member, in a given channel (or a DM with guild_id=None)."""
    payload = slash_command(
        name="veo", subcommand="generate", options=options, channel_id=channel_id, guild_id=guild_id
    )
    return await run(bot, sim, payload)


def fields(answer: dict[str, Any]) -> dict[str, str]:
    [embed] = answer["embeds"]
    return {f["name"]: f["value"] for f in embed["fields"]}


async def open_picker(bot: VeoBot, sim: DiscordSim, what: str, **who: Any) -> dict[str, Any]:
    """`/veo-admin channels` or `exempt-roles` (as the admin unless `who` says otherwise):
    checks the answer is private and returns its message, the picker on it."""
    payload = slash_command(name="veo-admin", subcommand=what, **(who or AS_ADMIN))
    record = sim.interaction(await run(bot, sim, payload))
    [answer] = record.callbacks
    assert answer["type"] == 4 and answer["data"]["flags"] & FLAG_EPHEMERAL
    assert record.original_message_id is not None
    return sim.message(record.original_message_id)


def _resolved(what: str, ids: list[int]) -> dict[str, Any]:
    """What Discord sends along with a channel or role menu's values."""
    if what == "channels":
        return {
            "channels": {
                str(i): {"id": str(i), "name": f"room-{i % 1000}", "type": 0, "permissions": "0"}
                for i in ids
            }
        }
    return {"roles": {str(i): {"id": str(i), "name": f"role-{i % 1000}"} for i in ids}}


async def pick(
    bot: VeoBot, sim: DiscordSim, message: dict[str, Any], what: str, ids: list[int], **who: Any
) -> SimInteraction:
    """Choose `ids` in the answer's picker, as Discord sends it (values and resolved)."""
    click = component_click(
        f"veo-admin:{what}",
        message,
        component_type=SELECT_TYPE[what],
        values=[str(i) for i in ids],
        **(who or AS_ADMIN),
    )
    click["data"]["resolved"] = _resolved(what, ids)
    return await dispatch(bot, sim, click)


async def clear(
    bot: VeoBot, sim: DiscordSim, message: dict[str, Any], what: str, **who: Any
) -> SimInteraction:
    """Click the answer's Clear button."""
    click = component_click(f"veo-admin:{what}:clear", message, **(who or AS_ADMIN))
    return await dispatch(bot, sim, click)


async def set_channels(bot: VeoBot, sim: DiscordSim, ids: list[int]) -> dict[str, Any]:
    """Pick `ids` as the channels where /veo works; the answer as redrawn."""
    message = await open_picker(bot, sim, "channels")
    record = await pick(bot, sim, message, "channels", ids)
    assert record.callbacks[0]["type"] == 7, record.callbacks  # the answer itself is redrawn
    return sim.message(message["id"])


def two_at_once(make_settings: Any, **kw: Any) -> Any:
    return make_settings(VEO_MAX_ACTIVE_PER_USER=5, **kw)


async def test_a_member_without_manage_server_is_refused(
    start_bot: BotFactory, make_settings: Any, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(make_settings())
    asks: list[tuple[str, dict[str, Any]]] = [
        ("quota", {"daily": 1}),
        ("show", {}),
        ("banned-words", {"words": "x"}),
    ]
    for sub, options in asks:
        answer = await admin(bot, discord_sim, sub, member_permissions=PERMS_FULL, **options)
        assert answer["content"] == (
            "⚠️ Only members with the **Manage Server** permission can change the video settings."
        )
        assert not answer.get("embeds")
    assert (await bot.service.guilds.get(GUILD_ID)).is_default


async def test_commands_are_hidden_from_members_and_dms(
    start_bot: BotFactory, make_settings: Any, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(make_settings(VEO_GUILD_IDS=str(GUILD_ID)))
    await bot.sync_commands()
    group = next(c for c in discord_sim.commands[GUILD_ID] if c["name"] == "veo-admin")
    assert int(group["default_member_permissions"]) == MANAGE_GUILD
    assert group.get("contexts") == [0] or group.get("dm_permission") is False
    names = {o["name"] for o in group["options"]}
    assert {"show", "quota", "quota-member", "quota-reset", "channels"} <= names
    assert {"banned-words", "defaults", "alerts", "animate-own-only"} <= names
    # Every number option reads alike: 0 is zero, left out is the default, and each says so.
    options = {o["name"]: o.get("options", []) for o in group["options"]}
    for command, option in (("quota", "daily"), ("quota-member", "daily"), ("budget", "dollars")):
        [described] = [o for o in options[command] if o["name"] == option]
        assert not described.get("required") and described.get("min_value") == 0
        assert "0 = " in described["description"] and "leave out" in described["description"]
    [units] = [o for o in options["weight"] if o["name"] == "units"]
    assert not units.get("required") and "leave out for 1" in units["description"]
    assert options["channels"] == [] and options["exempt-roles"] == []  # pickers, not typing


async def test_show_lists_the_defaults(
    start_bot: BotFactory, make_settings: Any, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(make_settings(VEO_DAILY_QUOTA=4))
    answer = await admin(bot, discord_sim, "show")
    shown = fields(answer)
    assert shown["Daily quota"] == "**4** videos a day per member (the bot's default)"
    assert shown["Channels where /veo works"] == "every channel"
    assert shown["Banned words"] == "none" and shown["Alert channel"] == "not set"
    assert shown["Animate with Veo"] == "on any message"


async def test_a_server_quota_of_one_refuses_the_second_video(
    start_bot: BotFactory, make_settings: Any, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(two_at_once(make_settings))
    answer = await admin(bot, discord_sim, "quota", daily=1)
    assert answer["content"] == "✅ Members may now make 1 video a day."
    assert fields(answer)["Daily quota"] == "**1** video a day per member"
    await generate(bot, discord_sim, prompt="one")
    iid = await generate(bot, discord_sim, prompt="two")
    assert "You have used all 1 of today's videos" in reply_text(discord_sim, iid)
    assert await job_count(bot) == 1 and await used(bot) == 1
    # /veo quota tells the member the server's number.
    iid = await run(bot, discord_sim, slash_command(name="veo", subcommand="quota"))
    text = discord_sim.interaction(iid).callbacks[0]["data"]["content"]
    assert "used **1** of **1**" in text


async def test_a_member_override_beats_the_server_quota(
    start_bot: BotFactory, make_settings: Any, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(two_at_once(make_settings))
    await admin(bot, discord_sim, "quota", daily=1)
    answer = await admin(bot, discord_sim, "quota-member", target=USER_ID, daily=2)
    assert answer["content"] == f"✅ <@{USER_ID}> may now make 2 videos a day."
    assert fields(answer)["Member quotas"] == f"<@{USER_ID}>: **2** a day"
    for prompt in ("one", "two"):
        iid = await generate(bot, discord_sim, prompt=prompt)
        assert "Queued as" in reply_text(discord_sim, iid)
    iid = await generate(bot, discord_sim, prompt="three")
    assert "You have used all 2 of today's videos" in reply_text(discord_sim, iid)
    # Cleared: back to the server's quota of 1.
    answer = await admin(bot, discord_sim, "quota-member", target=USER_ID)
    assert answer["content"] == f"✅ <@{USER_ID}> follows the server quota again."
    assert await bot.service.daily_limit(USER_ID, GUILD_ID) == 1
    # 0 switches the member off, with its own sentence.
    await admin(bot, discord_sim, "quota-member", target=USER_ID, daily=0)
    iid = await generate(bot, discord_sim, prompt="four")
    assert reply_text(discord_sim, iid) == (
        "⚠️ Making videos is switched off for you on this server. Nothing was charged."
    )


async def test_quota_reset_lets_the_member_generate_again(
    start_bot: BotFactory, make_settings: Any, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(two_at_once(make_settings))
    await admin(bot, discord_sim, "quota", daily=1)
    await generate(bot, discord_sim, prompt="one")
    await wait_for_job(bot, 1)
    iid = await generate(bot, discord_sim, prompt="two")
    assert "used all 1" in reply_text(discord_sim, iid)
    answer = await admin(bot, discord_sim, "quota-reset", target=USER_ID)
    assert answer["content"] == f"✅ Refunded the 1 video <@{USER_ID}> used today."
    assert await used(bot) == 0
    answer = await admin(bot, discord_sim, "quota-reset", target=USER_ID)
    assert answer["content"] == f"✅ <@{USER_ID}> has used no videos today: nothing to refund."
    iid = await generate(bot, discord_sim, prompt="three")
    assert "Queued as **job #2**" in reply_text(discord_sim, iid)


async def test_a_channel_outside_the_list_is_refused_and_costs_nothing(
    start_bot: BotFactory, make_settings: Any, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(make_settings())
    panel = await open_picker(bot, discord_sim, "channels")
    assert panel["content"].startswith("Pick the channels where `/veo` works")
    assert fields(panel)["Channels where /veo works"] == "every channel"
    answer = await set_channels(bot, discord_sim, [OTHER_CHANNEL])
    assert answer["content"] == f"✅ /veo now works only in <#{OTHER_CHANNEL}>."
    iid = await generate(bot, discord_sim, prompt="a fox")
    assert reply_text(discord_sim, iid) == (
        "⚠️ Videos can't be made in this channel on this server. "
        f"Please use <#{OTHER_CHANNEL}>. Nothing was charged."
    )
    assert await job_count(bot) == 0 and await used(bot) == 0
    assert discord_sim.messages(CHANNEL_ID) == []
    # In the allowed channel it goes through.
    await generate(bot, discord_sim, prompt="a fox", channel_id=OTHER_CHANNEL)
    assert await job_count(bot) == 1
    # The picker is Discord's channel menu, filled in with what is saved.
    [menu, button] = [c for row in answer["components"] for c in row["components"]]
    assert (menu["type"], menu["custom_id"], menu["min_values"], menu["max_values"]) == (
        8,
        "veo-admin:channels",
        0,
        25,
    )
    assert [(int(v["id"]), v["type"]) for v in menu["default_values"]] == [
        (OTHER_CHANNEL, "channel")
    ]
    assert set(menu["channel_types"]) == {0, 5, 15, 16}  # text, news, forum, media
    assert (button["custom_id"], button["label"]) == (
        "veo-admin:channels:clear",
        "Clear: every channel",
    )
    # Clear allows every channel again; so does picking none.
    record = await clear(bot, discord_sim, answer, "channels")
    assert record.callbacks[0]["type"] == 7
    assert fields(discord_sim.message(answer["id"]))["Channels where /veo works"] == "every channel"
    iid = await generate(bot, discord_sim, prompt="a fox")
    assert "Queued as" in reply_text(discord_sim, iid)
    await pick(bot, discord_sim, answer, "channels", [OTHER_CHANNEL])
    await pick(bot, discord_sim, answer, "channels", [])
    assert discord_sim.message(answer["id"])["content"] == "✅ /veo works in every channel."
    assert (await bot.service.guilds.get(GUILD_ID)).allowed_channels == ()


async def test_a_banned_word_is_refused_and_costs_nothing(
    start_bot: BotFactory, make_settings: Any, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(make_settings())
    answer = await admin(bot, discord_sim, "banned-words", words="Dragon, red  panda,,")
    assert answer["content"] == "✅ 2 banned words saved."
    assert fields(answer)["Banned words"] == "||Dragon||, ||red panda||"
    # The member's own private refusal names the word, as they wrote it.
    for prompt, word in (
        ("a DRAGON flies", "DRAGON"),
        ("one Red Panda sleeps", "Red Panda"),
        ("a cat; dragon! and a red panda", "dragon"),
    ):
        iid = await generate(bot, discord_sim, prompt=prompt)
        assert reply_text(discord_sim, iid) == f"⚠️ {text('refusal.banned_word', word=word)}"
        assert discord_sim.interaction(iid).callbacks[0]["data"]["flags"] & FLAG_EPHEMERAL
    iid = await generate(bot, discord_sim, prompt="a fox", negative_prompt="no dragon")
    assert "contains “dragon”, which this server does not allow" in reply_text(discord_sim, iid)
    assert await job_count(bot) == 0 and await used(bot) == 0
    iid = await generate(bot, discord_sim, prompt="a dragonfly over a pond")  # whole words only
    assert "Queued as" in reply_text(discord_sim, iid)
    answer = await admin(bot, discord_sim, "banned-words")
    assert answer["content"] == "✅ The banned-word list is empty."


async def test_the_server_default_model_is_used_when_the_member_picks_none(
    start_bot: BotFactory, apiyi_settings: Any, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(apiyi_settings.model_copy(update={"demo": True}))
    assert bot.providers.default == "apiyi" and bot.providers.default_model("apiyi") == FAST
    answer = await admin(bot, discord_sim, "defaults", model="nope")
    assert "`nope` is not a model of apiyi" in answer["content"] and not answer.get("embeds")
    answer = await admin(bot, discord_sim, "defaults", model=f"apiyi/{QUALITY}")
    assert answer["content"] == f"✅ Default set to `apiyi` / `{QUALITY}`."
    assert fields(answer)["Default service / model"] == f"`apiyi` / `{QUALITY}`"
    await generate(bot, discord_sim, prompt="a fox")
    job = await bot.store.get(1)
    assert job is not None and (job.provider, job.model) == ("apiyi", QUALITY)
    # What the member names still wins.
    await generate(bot, discord_sim, prompt="a fox", provider="demo")
    job = await bot.store.get(2)
    assert job is not None and job.provider == "demo"
    assert (await wait_for_job(bot, 2)).status is JobStatus.DELIVERED


async def test_settings_survive_a_restart(
    start_bot: BotFactory, make_settings: Any, discord_sim: DiscordSim
) -> None:
    settings = make_settings()
    first = await start_bot(settings)
    await admin(first, discord_sim, "quota", daily=3)
    await admin(first, discord_sim, "banned-words", words="dragon")
    await set_channels(first, discord_sim, [CHANNEL_ID, OTHER_CHANNEL])
    await admin(first, discord_sim, "quota-member", target=USER_ID, daily=7)
    await first.close()

    second = await start_bot(settings)
    shown = fields(await admin(second, discord_sim, "show"))
    assert shown["Daily quota"] == "**3** videos a day per member"
    assert shown["Banned words"] == "||dragon||"
    assert shown["Channels where /veo works"] == f"<#{CHANNEL_ID}>, <#{OTHER_CHANNEL}>"
    assert shown["Member quotas"] == f"<@{USER_ID}>: **7** a day"
    iid = await generate(second, discord_sim, prompt="a dragon")
    assert reply_text(discord_sim, iid) == f"⚠️ {text('refusal.banned_word', word='dragon')}"


async def test_other_servers_keep_the_defaults(
    start_bot: BotFactory, make_settings: Any, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(make_settings(VEO_ALLOW_DMS=True))
    await admin(bot, discord_sim, "quota", daily=1)
    await admin(bot, discord_sim, "banned-words", words="fox")
    assert await bot.service.daily_limit(USER_ID, GUILD_ID + 1) == 5
    assert await bot.service.daily_limit(USER_ID, None) == 5
    iid = await generate(bot, discord_sim, prompt="a fox", guild_id=None)  # a DM
    assert "Queued as" in reply_text(discord_sim, iid)
    # The DM job is charged to the bot-wide quota, not to the server's.
    today = day_key(bot.service.clock())
    assert await bot.store.usage(USER_ID, today, None) == 1
    assert await bot.store.usage(USER_ID, today, GUILD_ID) == 0


async def test_the_finished_video_shows_the_servers_quota(
    start_bot: BotFactory, make_settings: Any, discord_sim: DiscordSim
) -> None:
    from bot.chat.messages import ready_marker
    from tests.conftest import wait_for_job

    bot = await start_bot(make_settings())
    await admin(bot, discord_sim, "quota", daily=3)
    await generate(bot, discord_sim, prompt="one")
    await wait_for_job(bot, 1)
    [post] = [m for m in discord_sim.messages(CHANNEL_ID) if ready_marker(1) in str(m["content"])]
    assert post["embeds"][0]["footer"]["text"] == "2 of 3 videos left today"


async def test_a_server_quota_of_zero_makes_no_videos_and_left_out_is_the_default(
    start_bot: BotFactory, make_settings: Any, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(two_at_once(make_settings))
    answer = await admin(bot, discord_sim, "quota", daily=0)
    assert answer["content"] == (
        "✅ Members may now make 0 videos a day: making videos is switched off here, "
        "but for members with their own quota or a role without a quota."
    )
    assert fields(answer)["Daily quota"].startswith("**0** videos a day per member (switched off")
    assert (await bot.service.guilds.get(GUILD_ID)).daily_quota == 0
    iid = await generate(bot, discord_sim, prompt="one")
    assert reply_text(discord_sim, iid) == (
        "⚠️ Making videos is switched off for you on this server. Nothing was charged."
    )
    assert await job_count(bot) == 0 and await used(bot) == 0
    # A member's own quota still wins over the server's 0.
    await admin(bot, discord_sim, "quota-member", target=USER_ID, daily=1)
    assert "Queued as" in reply_text(discord_sim, await generate(bot, discord_sim, prompt="two"))
    await admin(bot, discord_sim, "quota-member", target=USER_ID)
    # Left out: back to VEO_DAILY_QUOTA, not zero.
    answer = await admin(bot, discord_sim, "quota")
    assert answer["content"] == (
        "✅ The server quota is removed: the bot's default of 5 videos a day applies."
    )
    assert fields(answer)["Daily quota"] == "**5** videos a day per member (the bot's default)"
    assert (await bot.service.guilds.get(GUILD_ID)).daily_quota is None
    assert "Queued as" in reply_text(discord_sim, await generate(bot, discord_sim, prompt="three"))


async def test_animate_own_only_is_a_setting_of_this_server(
    start_bot: BotFactory, make_settings: Any, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(make_settings())
    answer = await admin(bot, discord_sim, "animate-own-only", enabled=True)
    assert answer["content"] == "✅ Animate with Veo now works only on a member's own messages."
    assert fields(answer)["Animate with Veo"] == "only on the member's own messages"
    assert (await bot.service.guilds.get(GUILD_ID)).animate_own_only is True
    assert (await bot.service.guilds.get(GUILD_ID + 1)).animate_own_only is False
    refused = await admin(
        bot, discord_sim, "animate-own-only", member_permissions=PERMS_FULL, enabled=False
    )
    assert "Manage Server" in refused["content"] and not refused.get("embeds")
    assert (await bot.service.guilds.get(GUILD_ID)).animate_own_only is True
    answer = await admin(bot, discord_sim, "animate-own-only", enabled=False)
    assert answer["content"] == "✅ Animate with Veo works on any message again."
    assert fields(await admin(bot, discord_sim, "show"))["Animate with Veo"] == "on any message"
