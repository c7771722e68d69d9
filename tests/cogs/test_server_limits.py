"""Server limits set with `/veo-admin`: exempt roles, allowed models, model weights,
spend caps, refunds, threads, and direct messages — all through discord.py's objects."""

from __future__ import annotations

from typing import Any

from bot.client import VeoBot
from bot.jobs.admin import ZERO_WEIGHT
from bot.jobs.days import day_key
from bot.jobs.refusals import english
from bot.jobs.rules import DMS_OFF
from storage import JobStatus, QuotaState
from tests.cogs.test_admin import (
    FAST,
    QUALITY,
    admin,
    clear,
    fields,
    generate,
    open_picker,
    pick,
    set_channels,
    two_at_once,
)
from tests.cogs.test_generate import job_count, reply_text, run
from tests.conftest import BotFactory, wait_for_job
from tests.sim.discord_payloads import CHANNEL_ID, GUILD_ID, USER_ID, slash_command
from tests.sim.discord_sim import DiscordSim

ROLE = 1_100_000_000_000_000_500
OTHER_CHANNEL = CHANNEL_ID + 1
THREAD = CHANNEL_ID + 50


async def used(bot: VeoBot, guild_id: int | None = GUILD_ID) -> int:
    return await bot.store.usage(USER_ID, day_key(bot.service.clock()), guild_id)


def with_role(payload: dict[str, Any], role: int) -> dict[str, Any]:
    payload["member"]["roles"] = [str(role)]
    return payload


def in_thread(payload: dict[str, Any], parent: int) -> dict[str, Any]:
    """Move an interaction into a public thread under `parent`."""
    payload["channel_id"] = str(THREAD)
    payload["channel"] = {
        "id": str(THREAD),
        "type": 11,
        "guild_id": str(GUILD_ID),
        "parent_id": str(parent),
        "owner_id": str(USER_ID),
        "name": "a thread",
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "message_count": 0,
        "member_count": 1,
        "flags": 0,
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": 1440,
            "archive_timestamp": "2026-11-22T00:00:00+00:00",
            "locked": False,
        },
        "permissions": payload["app_permissions"],
    }
    return payload


async def test_an_exempt_role_has_no_quota_and_others_keep_theirs(
    start_bot: BotFactory, make_settings: Any, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(two_at_once(make_settings))
    await admin(bot, discord_sim, "quota", daily=1)
    panel = await open_picker(bot, discord_sim, "exempt-roles")
    assert panel["content"].startswith("Pick the roles whose members have no daily quota")
    [menu, button] = [c for row in panel["components"] for c in row["components"]]
    assert (menu["type"], menu["custom_id"], menu.get("default_values", [])) == (
        6,
        "veo-admin:exempt-roles",
        [],
    )
    assert button["custom_id"] == "veo-admin:exempt-roles:clear"
    record = await pick(bot, discord_sim, panel, "exempt-roles", [ROLE])
    assert record.callbacks[0]["type"] == 7
    answer = discord_sim.message(panel["id"])
    assert answer["content"].startswith(f"✅ Members with <@&{ROLE}> now have no daily quota")
    assert fields(answer)["Roles without a quota"] == f"<@&{ROLE}>"
    [menu] = [c for row in answer["components"] for c in row["components"] if c["type"] == 6]
    saved = [(int(v["id"]), v["type"]) for v in menu["default_values"]]
    assert saved == [(ROLE, "role")]  # the picker shows what is saved
    for prompt in ("one", "two", "three"):
        payload = slash_command(name="veo", subcommand="generate", options={"prompt": prompt})
        iid = await run(bot, discord_sim, with_role(payload, ROLE))
        assert "Queued as" in reply_text(discord_sim, iid)
    assert await used(bot) == 0
    payload = with_role(slash_command(name="veo", subcommand="quota"), ROLE)
    iid = await run(bot, discord_sim, payload)
    assert "no daily video limit" in discord_sim.interaction(iid).callbacks[0]["data"]["content"]
    # Without the role the same member is held to the server's quota of 1.
    await bot.store.db.execute("UPDATE jobs SET status = 'cancelled'")
    await generate(bot, discord_sim, prompt="four")
    iid = await generate(bot, discord_sim, prompt="five")
    assert "You have used all 1 of today's videos" in reply_text(discord_sim, iid)
    # Clear: every member has a quota again.
    assert (await bot.service.guilds.get(GUILD_ID)).exempt_roles == (ROLE,)
    await clear(bot, discord_sim, answer, "exempt-roles")
    assert discord_sim.message(panel["id"])["content"] == "✅ Every member has a daily quota again."
    assert (await bot.service.guilds.get(GUILD_ID)).exempt_roles == ()


async def test_only_allowed_models_can_be_picked_or_suggested(
    start_bot: BotFactory, apiyi_settings: Any, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(
        apiyi_settings.model_copy(update={"demo": True, "max_active_per_user": 5})
    )
    answer = await admin(bot, discord_sim, "models", allowed="apiyi/nope")
    assert "`apiyi/nope` is not a service or model of this bot" in answer["content"]
    answer = await admin(bot, discord_sim, "models", allowed=f"apiyi/{QUALITY}, demo")
    assert answer["content"] == f"✅ Members may now use only `apiyi/{QUALITY}`, `demo`."
    assert fields(answer)["Models members may use"] == f"`apiyi/{QUALITY}`, `demo`"
    iid = await generate(bot, discord_sim, prompt="a fox", model=f"apiyi/{FAST}")
    assert reply_text(discord_sim, iid) == (
        f"⚠️ `apiyi/{FAST}` can't be used on this server. "
        f"Pick one of: `apiyi/{QUALITY}`, `demo`. Nothing was charged."
    )
    assert await job_count(bot) == 0 and await used(bot) == 0
    # Naming nothing (also "Animate with Veo") picks an allowed model, not the bot's default.
    assert await bot.service.default_model(GUILD_ID) == ("apiyi", QUALITY)
    assert await bot.service.default_model(GUILD_ID + 1) == ("apiyi", FAST)
    iid = await generate(bot, discord_sim, prompt="a fox")
    assert "Queued as" in reply_text(discord_sim, iid)
    job = await bot.store.get(1)
    assert job is not None and (job.provider, job.model) == ("apiyi", QUALITY)
    # /veo models lists only what is allowed here.
    iid = await run(bot, discord_sim, slash_command(name="veo", subcommand="models"))
    [embed] = discord_sim.interaction(iid).callbacks[0]["data"]["embeds"]
    names = [f["name"] for f in embed["fields"]]
    assert any("apiyi" in n for n in names) and any("demo" in n for n in names)
    assert len(names) == 2
    await admin(bot, discord_sim, "models")
    assert (await bot.service.guilds.get(GUILD_ID)).allowed_models == ()


async def test_a_weighted_model_reserves_its_weight(
    start_bot: BotFactory, apiyi_settings: Any, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(apiyi_settings.model_copy(update={"max_active_per_user": 5}))
    await admin(bot, discord_sim, "quota", daily=4)
    answer = await admin(bot, discord_sim, "weight", model=f"apiyi/{QUALITY}", units=3)
    assert answer["content"] == f"✅ A `apiyi/{QUALITY}` video now counts as 3 videos."
    assert fields(answer)["Model weights"] == f"`apiyi/{QUALITY}`: counts as **3**"
    await generate(bot, discord_sim, prompt="one", model=f"apiyi/{QUALITY}")
    assert await used(bot) == 3
    iid = await generate(bot, discord_sim, prompt="two", model=f"apiyi/{QUALITY}")
    assert reply_text(discord_sim, iid).startswith(
        f"⚠️ `{QUALITY}` counts as 3 of your 4 daily videos and you don't have that many left"
    )
    assert await job_count(bot) == 1 and await used(bot) == 3
    await generate(bot, discord_sim, prompt="three", model=f"apiyi/{FAST}")
    assert await used(bot) == 4
    job = await bot.store.get(1)
    assert job is not None and job.quota_units == 3
    # A weight above the whole quota is explained, not silently refused.
    await admin(bot, discord_sim, "weight", model=f"apiyi/{QUALITY}", units=9)
    await admin(bot, discord_sim, "quota-reset", target=USER_ID)
    iid = await generate(bot, discord_sim, prompt="four", model=f"apiyi/{QUALITY}")
    assert "costs 9 of your videos, more than your daily quota of 4" in reply_text(discord_sim, iid)
    # 0 is refused, with the reason, and changes nothing: such a model would pass every
    # quota, a member's 0 included.
    answer = await admin(bot, discord_sim, "weight", model=f"apiyi/{QUALITY}", units=0)
    assert answer["content"] == f"⚠️ {english(ZERO_WEIGHT)}" and not answer.get("embeds")
    assert (await bot.service.guilds.get(GUILD_ID)).model_weights == {f"apiyi/{QUALITY}": 9}
    # Left out: back to 1 (the entry goes); 1 is the same.
    answer = await admin(bot, discord_sim, "weight", model=f"apiyi/{QUALITY}")
    assert answer["content"] == f"✅ A `apiyi/{QUALITY}` video counts as 1 video again."
    assert fields(answer)["Model weights"] == "every video counts as 1"
    await admin(bot, discord_sim, "weight", model=f"apiyi/{FAST}", units=2)
    await admin(bot, discord_sim, "weight", model=f"apiyi/{FAST}", units=1)
    assert (await bot.service.guilds.get(GUILD_ID)).model_weights == {}


async def test_the_server_spend_cap_refuses_new_jobs_politely(
    start_bot: BotFactory, apiyi_settings: Any, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(apiyi_settings.model_copy(update={"max_active_per_user": 5}))
    answer = await admin(bot, discord_sim, "budget", dollars=0.5)
    assert "reaches $0.50" in answer["content"]
    assert fields(answer)["Daily spend cap"] == "**$0.50** a day (estimated today: $0.00)"
    await generate(bot, discord_sim, prompt="one", model=f"apiyi/{FAST}")  # $0.30
    iid = await generate(bot, discord_sim, prompt="two", model=f"apiyi/{FAST}")
    assert reply_text(discord_sim, iid).startswith(
        "⚠️ This server has reached today's spending limit for videos."
    )
    assert await job_count(bot) == 1 and await used(bot) == 1
    answer = await admin(bot, discord_sim, "show")
    assert fields(answer)["Daily spend cap"] == "**$0.50** a day (estimated today: $0.30)"
    await admin(bot, discord_sim, "budget")
    iid = await generate(bot, discord_sim, prompt="three", model=f"apiyi/{FAST}")
    assert "Queued as" in reply_text(discord_sim, iid)


async def test_a_spend_cap_of_zero_spends_nothing(
    start_bot: BotFactory, apiyi_settings: Any, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(
        apiyi_settings.model_copy(update={"demo": True, "max_active_per_user": 5})
    )
    answer = await admin(bot, discord_sim, "budget", dollars=0.0)
    assert answer["content"] == (
        "✅ Nothing may be spent here: every video with a documented price is refused "
        "(models without one count as $0 and can still be used)."
    )
    assert fields(answer)["Daily spend cap"].startswith(
        "**$0.00** a day: only models without a documented price"
    )
    assert (await bot.service.guilds.get(GUILD_ID)).daily_budget_usd == 0
    iid = await generate(bot, discord_sim, prompt="one", model=f"apiyi/{FAST}")  # $0.30
    assert reply_text(discord_sim, iid).startswith(
        "⚠️ This server has reached today's spending limit for videos."
    )
    assert await job_count(bot) == 0 and await used(bot) == 0
    iid = await generate(bot, discord_sim, prompt="two", provider="demo")  # priced $0
    assert "Queued as" in reply_text(discord_sim, iid)
    # Left out: no cap at all (not $0).
    answer = await admin(bot, discord_sim, "budget")
    assert answer["content"] == "✅ This server has no daily spend cap."
    assert fields(answer)["Daily spend cap"].startswith("none")
    iid = await generate(bot, discord_sim, prompt="three", model=f"apiyi/{FAST}")
    assert "Queued as" in reply_text(discord_sim, iid)


async def test_the_bots_own_budget_is_a_ceiling_for_every_server(
    start_bot: BotFactory, apiyi_settings: Any, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(
        apiyi_settings.model_copy(update={"max_active_per_user": 5, "daily_budget_usd": 1.0})
    )
    await admin(bot, discord_sim, "budget", dollars=100.0)
    answer = await admin(bot, discord_sim, "show")
    assert "the bot's own cap of $1.00 a day also applies" in fields(answer)["Daily spend cap"]
    await generate(bot, discord_sim, prompt="one", model=f"apiyi/{QUALITY}")  # $1.20 > $1.00
    iid = await generate(bot, discord_sim, prompt="one", model=f"apiyi/{QUALITY}")
    assert reply_text(discord_sim, iid).startswith(
        "⚠️ The bot has reached today's spending limit for videos."
    )
    assert await job_count(bot) == 0


async def test_an_admin_refunds_one_finished_job(
    start_bot: BotFactory, make_settings: Any, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(make_settings())
    await generate(bot, discord_sim, prompt="a fox")
    job = await wait_for_job(bot, 1, JobStatus.DELIVERED)
    assert job.quota_state is QuotaState.COMMITTED and await used(bot) == 1
    answer = await admin(bot, discord_sim, "refund", job=1)
    assert answer["content"] == (
        f"✅ Job #1 was refunded to <@{USER_ID}>: 1 video of {job.quota_day}."
    )
    assert await used(bot) == 0
    refunded = await bot.store.get(1)
    assert refunded is not None and refunded.quota_state is QuotaState.REFUNDED
    answer = await admin(bot, discord_sim, "refund", job=1)
    assert answer["content"] == "⚠️ Job #1 did not use any quota (nothing to refund)."
    answer = await admin(bot, discord_sim, "refund", job=99)
    assert answer["content"] == "⚠️ There is no job #99 on this server."


async def test_a_thread_inside_an_allowed_channel_is_allowed(
    start_bot: BotFactory, make_settings: Any, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(two_at_once(make_settings))
    await set_channels(bot, discord_sim, [CHANNEL_ID])
    payload = slash_command(name="veo", subcommand="generate", options={"prompt": "a fox"})
    iid = await run(bot, discord_sim, in_thread(payload, CHANNEL_ID))
    assert "Queued as" in reply_text(discord_sim, iid)
    job = await bot.store.get(1)
    assert job is not None and job.channel_id == THREAD
    payload = slash_command(name="veo", subcommand="generate", options={"prompt": "a fox"})
    iid = await run(bot, discord_sim, in_thread(payload, OTHER_CHANNEL))
    assert "can't be made in this channel" in reply_text(discord_sim, iid)
    assert await job_count(bot) == 1


async def test_direct_messages_are_closed_unless_the_operator_opens_them(
    start_bot: BotFactory, make_settings: Any, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(make_settings())
    for sub, options in (("generate", {"prompt": "a fox"}), ("quota", {}), ("history", {})):
        payload = slash_command(name="veo", subcommand=sub, options=options, guild_id=None)
        iid = await run(bot, discord_sim, payload)
        [answer] = discord_sim.interaction(iid).callbacks
        assert answer["data"]["content"] == f"⚠️ {english(DMS_OFF)}"
    assert await job_count(bot) == 0 and await used(bot, None) == 0


async def test_stats_show_the_servers_jobs_failures_and_members(
    start_bot: BotFactory, make_settings: Any, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(two_at_once(make_settings))
    await generate(bot, discord_sim, prompt="a fox")
    await generate(bot, discord_sim, prompt="a fox #fail")
    await wait_for_job(bot, 1, JobStatus.DELIVERED)
    await wait_for_job(bot, 2, JobStatus.FAILED)
    answer = await admin(bot, discord_sim, "stats", days=3)
    [embed] = answer["embeds"]
    assert embed["title"] == "Video stats — last 3 days"
    shown = {f["name"]: f["value"] for f in embed["fields"]}
    today = day_key(bot.service.clock())
    [per_day] = [v for n, v in shown.items() if n.startswith("Jobs per day")]
    assert per_day.startswith(f"`{today}` · 2 jobs · 1 ✅ · 1 ❌")
    assert f"<@{USER_ID}> · 2 jobs" in shown["Top members"]
    [failures] = [v for n, v in shown.items() if n.startswith("Failures")]
    assert "· 1" in failures
    # Another server's admin sees none of it.
    payload = slash_command(
        name="veo-admin",
        subcommand="stats",
        guild_id=GUILD_ID + 1,
        member_permissions=(1 << 5),
        user_id=USER_ID + 7,
    )
    iid = await run(bot, discord_sim, payload)
    [other] = discord_sim.interaction(iid).callbacks[0]["data"]["embeds"]
    assert other["description"] == "No videos were made on this server in the last 7 days."
