"""Servers are tenants, for `/veo-admin refund`, `/veo-admin stats` (and `show`'s spend), the
channel and role pickers, the Animate option and the Animate menu: an admin reaches only the
jobs, members, spend and settings of the server they act from, and one server's settings
never apply in another. The members and helpers are those of `test_tenancy.py`."""

from __future__ import annotations

import json
from typing import Any

import discord
import pytest

from bot.client import VeoBot
from bot.jobs.admin import NOT_ADMIN
from bot.jobs.days import day_key
from bot.jobs.refusals import english
from bot.settings import Settings
from cogs.admin_forms import DM_ONLY
from storage import JobStatus, NewJob
from tests.cogs.test_admin import clear, open_picker, pick
from tests.cogs.test_animate import PNG, message_command, modal_submit
from tests.cogs.test_generate import run
from tests.cogs.test_tenancy import (
    ADMIN_A,
    ADMIN_A_DEMOTED,
    ADMIN_B,
    CHANNEL_A,
    CHANNEL_B,
    GUILD_A,
    GUILD_B,
    MOD_A,
    OWNER,
    OWNER_IN_B,
    OWNER_IN_DM,
    ROOT_A,
    STRANGER_A,
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
        assert answer["data"]["content"].startswith(f"✅ Job #1 was refunded to <@{USER_ID}>:")
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


# -- The channel and role pickers: the clicker's own server, and its admins only ----------

ROLE_A, ROLE_B, ROLE_NEW = (USER_ID + 100, USER_ID + 200, USER_ID + 300)
PICKED = {"channels": ELSEWHERE, "exempt-roles": ROLE_NEW}
CLICKERS = (ADMIN_A, ROOT_A, ADMIN_A_DEMOTED, MOD_A, STRANGER_A, ADMIN_B, OWNER_IN_DM)


async def saved(bot: VeoBot, what: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """What servers A and B have saved for `what`."""
    a, b = [await bot.service.guilds.get(g) for g in (GUILD_A, GUILD_B)]
    if what == "channels":
        return a.allowed_channels, b.allowed_channels
    return a.exempt_roles, b.exempt_roles


@pytest.mark.parametrize("action", ["pick", "clear"])
@pytest.mark.parametrize("what", ["channels", "exempt-roles"])
@cases(ADMIN_A, ROOT_A, among=CLICKERS)
async def test_a_picker_changes_only_the_clickers_own_server(
    bot: VeoBot, discord_sim: DiscordSim, who: Who, allowed: bool, what: str, action: str
) -> None:
    """Server A's admin opens the picker in A; `who` uses it. The server is the
    interaction's own and Manage Server is checked there on every use: nothing in the
    custom_id or the message decides which server changes."""
    start = {"channels": (CHANNEL_A, CHANNEL_B), "exempt-roles": (ROLE_A, ROLE_B)}[what]
    key = "allowed_channels" if what == "channels" else "exempt_roles"
    for guild_id, value in zip((GUILD_A, GUILD_B), start, strict=True):
        await bot.service.guilds.set(guild_id, **{key: [value]})
    panel = await open_picker(bot, discord_sim, what, **ADMIN_A.kw())
    after: tuple[int, ...]
    if action == "pick":
        record = await pick(bot, discord_sim, panel, what, [PICKED[what]], **who.kw())
        after = (PICKED[what],)
    else:
        record = await clear(bot, discord_sim, panel, what, **who.kw())
        after = ()
    [answer] = record.callbacks
    a_log = await bot.service.audit.recent(GUILD_A)
    b_log = await bot.service.audit.recent(GUILD_B)
    if allowed:
        assert answer["type"] == 7  # the answer is redrawn with what was saved
        assert await saved(bot, what) == (after, (start[1],))
        assert [(e.actor_id, e.action) for e in a_log] == [(who.user_id, "settings")]
        assert b_log == []
    elif who is ADMIN_B:
        # Manage Server in B, clicking from B: only B's settings can change, never A's.
        assert answer["type"] == 7
        assert await saved(bot, what) == ((start[0],), after)
        assert a_log == [] and [e.actor_id for e in b_log] == [ADMIN_B.user_id]
    else:
        assert answer["type"] == 4 and answer["data"]["flags"] & FLAG_EPHEMERAL
        refusal = DM_ONLY if who is OWNER_IN_DM else english(NOT_ADMIN)
        assert answer["data"]["content"] == f"⚠️ {refusal}"
        assert await saved(bot, what) == ((start[0],), (start[1],))
        assert a_log == [] and b_log == []
        assert discord_sim.message(panel["id"])["content"] == panel["content"]  # unchanged


async def test_a_picker_still_works_after_a_restart(
    start_bot: BotFactory, make_settings: Any, discord_sim: DiscordSim
) -> None:
    """The pickers are persistent: an answer opened before a restart still saves, for
    the server the click comes from."""
    settings = make_settings()
    first = await start_bot(settings)
    panel = await open_picker(first, discord_sim, "channels", **ADMIN_A.kw())
    await first.close()
    second = await start_bot(settings)
    record = await pick(second, discord_sim, panel, "channels", [ELSEWHERE], **ADMIN_A.kw())
    assert record.callbacks[0]["type"] == 7
    assert await saved(second, "channels") == ((ELSEWHERE,), ())


@pytest.mark.parametrize(("who", "other"), [(ADMIN_A, ADMIN_B), (ADMIN_B, ADMIN_A)])
async def test_animate_own_only_is_set_for_the_admins_own_server_only(
    bot: VeoBot, discord_sim: DiscordSim, who: Who, other: Who
) -> None:
    answer = await admin(bot, discord_sim, who, "animate-own-only", enabled=True)
    assert answer["data"]["content"].startswith("✅ Animate with Veo now works only")
    assert who.guild_id is not None and other.guild_id is not None
    assert (await bot.service.guilds.get(who.guild_id)).animate_own_only
    assert not (await bot.service.guilds.get(other.guild_id)).animate_own_only
    [shown] = (await admin(bot, discord_sim, other, "show"))["data"]["embeds"]
    assert {f["name"]: f["value"] for f in shown["fields"]}["Animate with Veo"] == (
        "on any message"
    )


# -- Animate with Veo: each server's settings stay in that server -------------------------

SETTINGS: dict[str, tuple[str, dict[str, Any]]] = {
    "allowed-models": ("models", {"allowed": "demo"}),
    "member-quota-off": ("quota-member", {"target": USER_ID, "daily": 0}),
    "server-quota-off": ("quota", {"daily": 0}),
    "channels": ("channels", {}),  # picked, see `apply`
}
SERVERS = {"A": (OWNER, ADMIN_A), "B": (OWNER_IN_B, ADMIN_B)}


async def apply(bot: VeoBot, sim: DiscordSim, who: Who, setting: str) -> str:
    """`who` sets `setting` in their own server; what they were told."""
    if setting == "channels":
        panel = await open_picker(bot, sim, "channels", **who.kw())
        await pick(bot, sim, panel, "channels", [ELSEWHERE], **who.kw())
        return str(sim.message(panel["id"])["content"])
    sub, options = SETTINGS[setting]
    return str((await admin(bot, sim, who, sub, **options))["data"]["content"])


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
    assert (await apply(bot, discord_sim, admin_here, setting)).startswith("✅")

    text, menu = await animate(bot, discord_sim, owner_here)  # where the setting applies
    if setting == "allowed-models":
        assert "Queued as **job #1**" in text
        made = await wait_for_job(bot, 1)
        assert (made.guild_id, made.provider) == (owner_here.guild_id, "demo")
    elif setting in ("member-quota-off", "server-quota-off"):
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
