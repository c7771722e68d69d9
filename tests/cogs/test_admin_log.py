"""Who did what: admin and moderator actions are recorded with who, what and when, and
`/veo-admin log` shows a server's admins their own server's entries only. Two servers,
driven through discord.py's dispatch against the Discord simulator."""

from __future__ import annotations

from typing import Any

from bot.client import VeoBot
from storage import JobStatus
from tests.cogs.test_admin import ADMIN_ID, MANAGE_GUILD, admin, set_channels
from tests.cogs.test_buttons import dispatch
from tests.cogs.test_generate import reply_text, run
from tests.cogs.test_tenancy import (
    ADMIN_B,
    CHANNEL_A,
    GUILD_B,
    MOD_A,
    OWNER,
    Who,
    click,
    generate,
    result_post,
)
from tests.conftest import BotFactory, wait_for_job
from tests.sim.discord_payloads import PERMS_FULL, USER_ID, component_click, slash_command
from tests.sim.discord_sim import DiscordSim


async def log_of(bot: VeoBot, sim: DiscordSim, who: Who | None = None, **kw: Any) -> str:
    """`/veo-admin log` as `who` (default: server A's admin); the text shown."""
    where = (
        who.kw()
        if who is not None
        else {"user_id": ADMIN_ID, "member_permissions": PERMS_FULL | MANAGE_GUILD}
    )
    payload = slash_command(name="veo-admin", subcommand="log", options=kw, **where)
    [answer] = sim.interaction(await run(bot, sim, payload)).callbacks
    data = answer["data"]
    return str(data.get("content") or "") + "".join(
        str(e.get("description") or "") for e in data.get("embeds", [])
    )


async def test_admin_actions_are_logged_per_server(
    start_bot: BotFactory, make_settings: Any, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(make_settings(VEO_DAILY_QUOTA=5))
    await generate(bot, discord_sim)  # the owner's video in server A
    done = await wait_for_job(bot, 1)
    assert done.status is JobStatus.DELIVERED

    await admin(bot, discord_sim, "quota", daily=3)
    await admin(bot, discord_sim, "quota-member", target=USER_ID + 9, daily=1)
    refunded = await admin(bot, discord_sim, "refund", job=1)
    assert "was refunded" in refunded["content"]
    await admin(bot, discord_sim, "quota-reset", target=USER_ID)
    await admin(bot, discord_sim, "banned-words", words="castle, moat")
    # The moderator deletes the owner's video (Delete asks first): a moderation act, logged.
    asked = await dispatch(
        bot, discord_sim, component_click("veo:delete:1", result_post(discord_sim), **MOD_A.kw())
    )
    assert asked.original_message_id is not None
    question = discord_sim.message(asked.original_message_id)
    deleted = await click(bot, discord_sim, MOD_A, "veo:delete-yes:1", question)
    assert deleted["type"] == 5
    # Server B's admin changes B's settings: never shown in A.
    payload = slash_command(
        name="veo-admin", subcommand="quota", options={"daily": 9}, **ADMIN_B.kw()
    )
    await run(bot, discord_sim, payload)

    shown = await log_of(bot, discord_sim)
    lines = [line for line in shown.splitlines() if line.startswith("<t:")]
    assert len(lines) == 6, shown
    newest, *_, oldest = lines
    assert f"<@{MOD_A.user_id}>" in newest and "deleted" in newest and "job #1" in newest
    assert f"<@{ADMIN_ID}>" in oldest and "daily quota" in oldest and "3" in oldest
    assert any(
        f"<@{USER_ID + 9}>" in line and "quota to **1** video a day" in line for line in lines
    )
    assert any(
        f"reset <@{USER_ID}>'s quota for today (refunded **0** videos)" in line for line in lines
    )
    assert any(f"refunded job #1 of <@{USER_ID}>" in line for line in lines)
    assert any("banned words" in line for line in lines)
    assert "castle" not in shown  # banned words are not echoed into the log
    assert "**9**" not in shown  # nothing of server B

    theirs = await log_of(bot, discord_sim, ADMIN_B)
    assert f"<@{ADMIN_B.user_id}>" in theirs and "**9**" in theirs
    assert f"<@{ADMIN_ID}>" not in theirs and f"<@{MOD_A.user_id}>" not in theirs
    assert str(GUILD_B) not in theirs


async def test_the_owner_deleting_their_own_video_is_not_an_admin_act(
    start_bot: BotFactory, make_settings: Any, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(make_settings())
    await generate(bot, discord_sim)
    await wait_for_job(bot, 1)
    await click(bot, discord_sim, OWNER, "veo:delete:1", result_post(discord_sim))
    assert "Nothing has been done" in await log_of(bot, discord_sim)


async def test_only_admins_read_the_log(
    start_bot: BotFactory, make_settings: Any, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(make_settings())
    await admin(bot, discord_sim, "quota", daily=3)
    refused = await log_of(bot, discord_sim, MOD_A)
    assert "Manage Server" in refused and "<t:" not in refused


async def test_pickers_options_and_defaults_are_logged_in_plain_words(
    start_bot: BotFactory, make_settings: Any, discord_sim: DiscordSim
) -> None:
    """The channels picked, the Animate option and an option left out ("the default")
    are logged as what they mean; a member refused for a banned word is told the word,
    and the log still never holds it."""
    bot = await start_bot(make_settings())
    await set_channels(bot, discord_sim, [CHANNEL_A])
    await admin(bot, discord_sim, "animate-own-only", enabled=True)
    await admin(bot, discord_sim, "quota", daily=2)
    await admin(bot, discord_sim, "quota")  # left out: back to the bot's default
    await admin(bot, discord_sim, "budget")
    await admin(bot, discord_sim, "banned-words", words="drawbridge")
    payload = slash_command(
        name="veo", subcommand="generate", options={"prompt": "a Drawbridge"}, **OWNER.kw()
    )
    iid = await run(bot, discord_sim, payload)
    assert "contains “Drawbridge”" in reply_text(discord_sim, iid)

    shown = await log_of(bot, discord_sim)
    lines = [line for line in shown.splitlines() if line.startswith("<t:")]
    assert len(lines) == 6, shown
    banned, budget, default, two, animate, channels = lines
    assert channels.endswith(f"set the channels to <#{CHANNEL_A}>")
    assert animate.endswith("set the own-messages-only rule of Animate with Veo to **on**")
    assert two.endswith("set the daily quota to **2** videos a day")
    assert default.endswith("set the daily quota to the bot's default")
    assert budget.endswith("set the daily spend cap to none")
    assert banned.endswith("set the banned words to 1 word")
    assert "drawbridge" not in shown.lower()
