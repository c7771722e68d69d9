"""Servers are tenants, for `/veo-admin refund`, `/veo-admin stats` (and `show`'s spend) and
the Animate menu: an admin reaches only the jobs, members and spend of the server they act
from, and one server's settings never apply in another. The members and helpers are
those of `test_tenancy.py`."""

from __future__ import annotations

import json
from typing import Any

import discord
import pytest

from bot.client import VeoBot
from bot.jobs.days import day_key
from bot.settings import Settings
from storage import JobStatus, NewJob
from tests.cogs.test_animate import PNG, message_command, modal_submit
from tests.cogs.test_generate import run
from tests.cogs.test_tenancy import (
    ADMIN_A,
    ADMIN_B,
    CHANNEL_A,
    CHANNEL_B,
    GUILD_A,
    GUILD_B,
    MOD_A,
    OWNER,
    OWNER_IN_B,
    ROOT_A,
    Who,
    cases,
    generate,
    same_as_missing,
    settled_reply,
    snapshot,
)
from tests.conftest import BotFactory, wait_for_job
from tests.sim.discord_payloads import USER_ID, member, slash_command, user
from tests.sim.discord_sim import FLAG_EPHEMERAL, DiscordSim

FAST = "veo-3.1-fast-generate-preview"  # apiyi's default model, the bot's default
B_MEMBER = USER_ID + 6
ELSEWHERE = CHANNEL_A + 70  # a channel no test posts in


async def admin(
    bot: VeoBot, sim: DiscordSim, who: Who, sub: str, *, target: int | None = None, **options: Any
) -> dict[str, Any]:
    """`/veo-admin <sub>` as `who`, from where they are; `target` fills `member`."""
    payload = slash_command(name="veo-admin", subcommand=sub, options=options, **who.kw())
    if target is not None:
        payload["data"]["options"][0]["options"].append(
            {"name": "member", "type": 6, "value": str(target)}
        )
        resolved = member(target)
        del resolved["user"]
        payload["data"]["resolved"] = {
            "users": {str(target): user(target)},
            "members": {str(target): resolved},
        }
    [answer] = sim.interaction(await run(bot, sim, payload)).callbacks
    return dict(answer)


@pytest.fixture
async def bot(start_bot: BotFactory, make_settings: Any) -> VeoBot:
    return await start_bot(make_settings(VEO_MAX_ACTIVE_PER_USER=5))


async def used(bot: VeoBot, user_id: int, guild_id: int) -> int:
    return await bot.store.usage(user_id, day_key(bot.service.clock()), guild_id)


@cases(ADMIN_A, ROOT_A, among=(ADMIN_A, ROOT_A, ADMIN_B, OWNER, MOD_A))
async def test_refund_reaches_only_the_admins_own_server(
    bot: VeoBot, discord_sim: DiscordSim, who: Who, allowed: bool
) -> None:
    missing = await admin(bot, discord_sim, who, "refund", job=1)  # before there is a job #1
    await generate(bot, discord_sim)  # the owner's job #1, in server A
    assert (await wait_for_job(bot, 1)).status is JobStatus.DELIVERED
    before = await snapshot(bot, discord_sim)
    answer = await admin(bot, discord_sim, who, "refund", job=1)
    if allowed:
        assert answer["data"]["content"].startswith(f"✅ Job #1 was refunded: <@{USER_ID}>")
        assert await used(bot, USER_ID, GUILD_A) == 0
        return
    same_as_missing(answer, missing)
    if who is ADMIN_B:
        assert answer["data"]["content"] == "⚠️ There is no job #1 on this server."
    assert await snapshot(bot, discord_sim) == before
    assert await used(bot, USER_ID, GUILD_A) == 1


async def priced_job(bot: VeoBot, guild_id: int, channel_id: int, user_id: int, usd: float) -> None:
    request = {"provider": "apiyi", "model": FAST, "prompt": "x"}
    new = NewJob(
        user_id=user_id,
        guild_id=guild_id,
        channel_id=channel_id,
        request_json=json.dumps(request),
        provider="apiyi",
        model=FAST,
        filesize_limit=10 * 1024 * 1024,
        quota_day=day_key(bot.service.clock()),
        cost_usd=usd,
    )
    await bot.store.create(new, daily_limit=10, max_active=10, hold_seconds=3600)


@pytest.mark.parametrize(
    ("who", "ours", "theirs"),
    [
        pytest.param(ADMIN_A, (USER_ID, 1.20), (B_MEMBER, 0.30), id="admin-A"),
        pytest.param(ADMIN_B, (B_MEMBER, 0.30), (USER_ID, 1.20), id="admin-B"),
    ],
)
async def test_stats_and_spend_show_only_the_admins_own_server(
    bot: VeoBot,
    discord_sim: DiscordSim,
    who: Who,
    ours: tuple[int, float],
    theirs: tuple[int, float],
) -> None:
    await priced_job(bot, GUILD_A, CHANNEL_A, USER_ID, 1.20)
    await priced_job(bot, GUILD_B, CHANNEL_B, B_MEMBER, 0.30)
    [embed] = (await admin(bot, discord_sim, who, "stats"))["data"]["embeds"]
    text = json.dumps(embed)
    assert "**1 job**" in embed["description"]
    assert f"<@{ours[0]}>" in text and f"${ours[1]:.2f}" in text
    assert f"<@{theirs[0]}>" not in text and f"${theirs[1]:.2f}" not in text
    [settings] = (await admin(bot, discord_sim, who, "show"))["data"]["embeds"]
    assert f"(estimated today: ${ours[1]:.2f})" in json.dumps(settings)


# -- Animate with Veo: each server's settings stay in that server -------------------------

SETTINGS: dict[str, tuple[str, dict[str, Any]]] = {
    "allowed-models": ("models", {"allowed": "demo"}),
    "member-quota-off": ("quota-member", {"target": USER_ID, "daily": 0}),
    "channels": ("channels", {"channels": f"<#{ELSEWHERE}>"}),
}
SERVERS = {"A": (OWNER, ADMIN_A), "B": (OWNER_IN_B, ADMIN_B)}


async def animate(bot: VeoBot, sim: DiscordSim, who: Who) -> tuple[str, dict[str, Any]]:
    """The owner uses the menu on their own picture in `who`'s channel and, if the form
    opens, sends it; what they were told, and the menu's first answer."""
    attachment = sim.add_attachment("cat.png", PNG, "image/png", ephemeral=False)
    message = sim.add_message(who.channel_id, author=user(), attachments=[attachment])
    payload = sim.register_interaction(message_command(message, **who.kw()))
    await bot.tree._call(discord.Interaction(data=payload, state=bot._connection))
    [menu] = sim.interaction(int(payload["id"])).callbacks
    if menu["type"] != 9:
        return str(menu["data"]["content"]), menu
    form = sim.register_interaction(modal_submit(menu, ["the cat yawns"], **who.kw()))
    bot._connection.parse_interaction_create(form)  # type: ignore[arg-type]
    return await settled_reply(sim, int(form["id"])), menu


@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize(("here", "there"), [("A", "B"), ("B", "A")])
async def test_animate_in_one_server_ignores_the_others_settings(
    start_bot: BotFactory,
    apiyi_settings: Settings,
    discord_sim: DiscordSim,
    setting: str,
    here: str,
    there: str,
) -> None:
    bot = await start_bot(
        apiyi_settings.model_copy(update={"demo": True, "max_active_per_user": 5})
    )
    (owner_here, admin_here), (owner_there, _) = SERVERS[here], SERVERS[there]
    sub, options = SETTINGS[setting]
    assert (await admin(bot, discord_sim, admin_here, sub, **options))["data"][
        "content"
    ].startswith("✅")

    text, menu = await animate(bot, discord_sim, owner_here)  # where the setting applies
    if setting == "allowed-models":
        assert "Queued as **job #1**" in text
        made = await wait_for_job(bot, 1)
        assert (made.guild_id, made.provider) == (owner_here.guild_id, "demo")
    elif setting == "member-quota-off":
        assert menu["type"] == 4 and menu["data"]["flags"] & FLAG_EPHEMERAL  # before the form
    else:
        assert text == (
            "⚠️ Videos can't be made in this channel on this server. "
            f"Please use <#{ELSEWHERE}>. Nothing was charged."
        )
    first = 2 if setting == "allowed-models" else 1

    text, _ = await animate(bot, discord_sim, owner_there)  # the other server: its defaults
    assert f"Queued as **job #{first}**" in text
    job = await wait_for_job(bot, first)
    assert job.status is JobStatus.DELIVERED, (job.error_code, job.error_params)
    assert (job.user_id, job.guild_id, job.channel_id) == (
        USER_ID,
        owner_there.guild_id,
        owner_there.channel_id,
    )
    assert (job.provider, job.model) == ("apiyi", FAST)  # not the other server's allow-list
    assert owner_there.guild_id is not None and owner_here.guild_id is not None
    assert await used(bot, USER_ID, owner_there.guild_id) == 1
    assert await used(bot, USER_ID, owner_here.guild_id) == (first - 1)
