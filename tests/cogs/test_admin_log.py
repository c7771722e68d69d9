"""Who did what: admin and moderator actions are recorded with who, what and when, and
`/veo-admin log` shows a server's admins their own server's entries only. Two servers,
driven through discord.py's dispatch against the Discord simulator."""

from __future__ import annotations

from typing import Any

from bot.client import VeoBot
from storage import JobStatus
from tests.cogs.test_admin import ADMIN_ID, MANAGE_GUILD, admin
from tests.cogs.test_generate import run
from tests.cogs.test_tenancy import (
    ADMIN_B,
    GUILD_B,
    MOD_A,
    OWNER,
    Who,
    click,
    generate,
    result_post,
)
from tests.conftest import BotFactory, wait_for_job
from tests.sim.discord_payloads import PERMS_FULL, USER_ID, slash_command
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
    # The moderator deletes the owner's video: a moderation act, logged.
    deleted = await click(bot, discord_sim, MOD_A, "veo:delete:1", result_post(discord_sim))
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
    assert any(f"<@{USER_ID + 9}>" in line and "quota to **1** a day" in line for line in lines)
    assert any("reset" in line and f"<@{USER_ID}>" in line for line in lines)
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
