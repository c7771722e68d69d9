"""Servers are tenants: every path that takes a job number (or a member's pages) from
outside answers the job's owner from anywhere, and the admins of the job's own server from
inside it; anyone else gets the very answer a missing job gets, and nothing changes.

Two servers, A (GUILD_ID) and B, and the members below, driven through discord.py's real
dispatch from raw payloads against the Discord simulator. The admin commands and the
Animate menu are in `test_tenancy_admin.py`.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import pytest

from bot.chat.messages import ready_marker
from bot.client import VeoBot
from bot.jobs.requests import stored_request
from storage import JobStatus
from tests.cogs.test_buttons import dispatch
from tests.cogs.test_generate import run
from tests.cogs.test_job_commands import add_jobs
from tests.conftest import BotFactory, wait_for_job
from tests.sim.discord_payloads import (
    CHANNEL_ID,
    GUILD_ID,
    PERMS_FULL,
    USER_ID,
    autocomplete,
    component_click,
    slash_command,
    user,
)
from tests.sim.discord_sim import FLAG_EPHEMERAL, FLAG_LOADING, DiscordSim

ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
MANAGE_MESSAGES = 1 << 13
GUILD_A, CHANNEL_A = GUILD_ID, CHANNEL_ID
GUILD_B, CHANNEL_B = GUILD_ID + 1, CHANNEL_ID + 50
DM_CHANNEL = CHANNEL_ID + 90
PROMPT = "a secret lighthouse"


@dataclass(frozen=True)
class Who:
    """A member, where they act from, and their permissions there."""

    name: str
    user_id: int
    guild_id: int | None
    channel_id: int
    permissions: int = PERMS_FULL

    def kw(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "guild_id": self.guild_id,
            "channel_id": self.channel_id,
            "member_permissions": self.permissions,
        }


OWNER = Who("owner", USER_ID, GUILD_A, CHANNEL_A)
OWNER_IN_B = Who("owner-in-B", USER_ID, GUILD_B, CHANNEL_B)
OWNER_IN_DM = Who("owner-in-DM", USER_ID, None, DM_CHANNEL)
ADMIN_A = Who("admin-A", USER_ID + 1, GUILD_A, CHANNEL_A, PERMS_FULL | MANAGE_GUILD)
ADMIN_A_DEMOTED = Who("admin-A-demoted", ADMIN_A.user_id, GUILD_A, CHANNEL_A)
ROOT_A = Who("administrator-A", USER_ID + 5, GUILD_A, CHANNEL_A, PERMS_FULL | ADMINISTRATOR)
# Every permission there is, but in server B.
ADMIN_B = Who("admin-B", USER_ID + 2, GUILD_B, CHANNEL_B, (1 << 50) - 1)
MOD_A = Who("moderator-A", USER_ID + 3, GUILD_A, CHANNEL_A, PERMS_FULL | MANAGE_MESSAGES)
STRANGER_A = Who("stranger-A", USER_ID + 4, GUILD_A, CHANNEL_A)
EVERYONE = (OWNER, OWNER_IN_B, OWNER_IN_DM, ADMIN_A, ROOT_A, ADMIN_B, MOD_A, STRANGER_A)
CLICKERS = (OWNER, ADMIN_A, ROOT_A, ADMIN_B, MOD_A, STRANGER_A)  # those who see a button
ACTORS = (OWNER, ADMIN_A, ROOT_A)  # the owner, and Manage Server (or Administrator) in A
DELETERS = (*ACTORS, MOD_A)  # and, for Delete only, Manage Messages in A


def cases(*allowed: Who, among: tuple[Who, ...] = EVERYONE) -> Any:
    """`(who, allowed)` parameters, named after the member."""
    return pytest.mark.parametrize(
        ("who", "allowed"), [pytest.param(w, w in allowed, id=w.name) for w in among]
    )


@pytest.fixture
async def bot(start_bot: BotFactory, make_settings: Any) -> VeoBot:
    return await start_bot(make_settings(VEO_ALLOW_DMS=True, VEO_MAX_ACTIVE_PER_USER=5))


@pytest.fixture
async def slow_bot(start_bot: BotFactory, make_settings: Any) -> VeoBot:
    """Its demo renders take ten minutes: a job stays in progress for the whole test."""
    settings = make_settings(VEO_ALLOW_DMS=True, VEO_DEMO_DELAY=600, VEO_DEMO_POLL_INTERVAL=60)
    return await start_bot(settings)


async def generate(bot: VeoBot, sim: DiscordSim, where: Who = OWNER) -> None:
    await run(
        bot,
        sim,
        slash_command(name="veo", subcommand="generate", options={"prompt": PROMPT}, **where.kw()),
    )


async def snapshot(bot: VeoBot, sim: DiscordSim) -> tuple[Any, ...]:
    """What a refused request must leave as it was: jobs, the quota ledger, the posts."""
    jobs = await bot.db.fetchall(
        "SELECT id, user_id, guild_id, status, cancel_requested_at, quota_state FROM jobs"
    )
    ledger = await bot.db.fetchall("SELECT * FROM quota_ledger ORDER BY user_id, guild_id")
    posts = [m["id"] for c in (CHANNEL_A, CHANNEL_B, DM_CHANNEL) for m in sim.messages(c)]
    return [tuple(r) for r in jobs], [tuple(r) for r in ledger], posts


def same_as_missing(refused: dict[str, Any], missing: dict[str, Any]) -> None:
    """A refusal is byte for byte the answer the same member got about the same job
    number before the job existed."""
    assert refused["data"]["flags"] & FLAG_EPHEMERAL
    assert PROMPT not in json.dumps(refused)
    assert json.dumps(refused, sort_keys=True) == json.dumps(missing, sort_keys=True)


async def command(bot: VeoBot, sim: DiscordSim, who: Who, sub: str, job: int) -> dict[str, Any]:
    payload = slash_command(name="veo", subcommand=sub, options={"job": f"#{job}"}, **who.kw())
    [answer] = sim.interaction(await run(bot, sim, payload)).callbacks
    return dict(answer)


def bot_message(sim: DiscordSim, channel_id: int, custom_ids: list[str]) -> dict[str, Any]:
    """One of the bot's messages in `channel_id`, carrying buttons with these ids (discord.py
    only dispatches a click on a button that the clicked message really has)."""
    row = [{"type": 2, "style": 2, "label": "x", "custom_id": c} for c in custom_ids]
    return sim.add_message(channel_id, content="x", components=[{"type": 1, "components": row}])


def in_reach(sim: DiscordSim, who: Who, message: dict[str, Any]) -> dict[str, Any]:
    """`message` as `who` can click it. Someone in another server never sees server A's
    posts: for them its buttons are forged onto one of the bot's messages in their own
    channel, which is all a guessed number can reach."""
    if int(message["channel_id"]) == who.channel_id:
        return message
    ids = [c["custom_id"] for row in message["components"] for c in row["components"]]
    return bot_message(sim, who.channel_id, ids)


async def before_job_1(bot: VeoBot, sim: DiscordSim, who: Who, button: str) -> dict[str, Any]:
    """What `who` is told when they click `button` of job #1 while there is no job #1."""
    custom_id = f"veo:{button}:1"
    return await click(bot, sim, who, custom_id, bot_message(sim, who.channel_id, [custom_id]))


async def click(
    bot: VeoBot, sim: DiscordSim, who: Who, custom_id: str, message: dict[str, Any]
) -> dict[str, Any]:
    """`who` clicks the button `custom_id` on `message`; the bot's first answer."""
    record = await dispatch(bot, sim, component_click(custom_id, message, **who.kw()))
    return dict(record.callbacks[0])


def job_message(sim: DiscordSim, channel_id: int = CHANNEL_A) -> dict[str, Any]:
    return next(m for m in sim.messages(channel_id) if "**Job #1**" in str(m["content"]))


def result_post(sim: DiscordSim) -> dict[str, Any]:
    return next(m for m in sim.messages(CHANNEL_A) if ready_marker(1) in str(m["content"]))


# -- /veo status and /veo cancel, of a job made in server A or in a DM ----------------------


@pytest.mark.parametrize("sub", ["status", "cancel"])
@cases(OWNER, OWNER_IN_B, OWNER_IN_DM, ADMIN_A, ROOT_A)
async def test_commands_on_a_server_job(
    slow_bot: VeoBot, discord_sim: DiscordSim, sub: str, who: Who, allowed: bool
) -> None:
    missing = await command(slow_bot, discord_sim, who, sub, 1)
    assert missing["data"]["content"] == "⚠️ You have no job #1."
    await generate(slow_bot, discord_sim)
    await wait_for_job(slow_bot, 1, frozenset({JobStatus.RUNNING}))
    before = await snapshot(slow_bot, discord_sim)
    answer = await command(slow_bot, discord_sim, who, sub, 1)
    if not allowed:
        same_as_missing(answer, missing)
    elif sub == "status":
        assert answer["data"]["content"].startswith("🎬 **Job #1**")
        assert PROMPT in answer["data"]["content"]
    else:
        assert answer["data"]["content"].startswith("Cancel job #1?")
        assert answer["data"]["components"][0]["components"][0]["custom_id"] == "veo:cancel-yes:1"
    assert await snapshot(slow_bot, discord_sim) == before  # the command only asks


@pytest.mark.parametrize("sub", ["status", "cancel"])
@cases(OWNER, OWNER_IN_B, OWNER_IN_DM)
async def test_commands_on_a_dm_job(
    slow_bot: VeoBot, discord_sim: DiscordSim, sub: str, who: Who, allowed: bool
) -> None:
    missing = await command(slow_bot, discord_sim, who, sub, 1)
    await generate(slow_bot, discord_sim, OWNER_IN_DM)
    job = await wait_for_job(slow_bot, 1, frozenset({JobStatus.RUNNING}))
    assert job.guild_id is None
    answer = await command(slow_bot, discord_sim, who, sub, 1)
    if allowed:
        assert answer["data"]["content"].startswith(("🎬 **Job #1**", "Cancel job #1?"))
    else:  # nobody is an admin of a DM, in any server
        same_as_missing(answer, missing)


@pytest.mark.parametrize("sub", ["status", "cancel"])
@cases(OWNER, OWNER_IN_B, OWNER_IN_DM)
async def test_job_autocomplete_lists_only_ones_own_jobs(
    bot: VeoBot, discord_sim: DiscordSim, sub: str, who: Who, allowed: bool
) -> None:
    await add_jobs(bot, 2)  # the owner's #1 and #2, in server A
    await add_jobs(bot, 1, user_id=USER_ID + 9)  # #3, someone else's
    payload = autocomplete(
        name="veo", subcommand=sub, focused="job", options={"job": ""}, **who.kw()
    )
    [callback] = discord_sim.interaction(await run(bot, discord_sim, payload)).callbacks
    offered = [c["value"] for c in callback["data"]["choices"]]
    assert offered == (["2", "1"] if allowed else [])


# -- the job message's Cancel button, and the "Yes, cancel it" question -------------------


@pytest.mark.parametrize("button", ["cancel", "cancel-yes"])
@cases(*ACTORS, among=CLICKERS)
async def test_cancel_buttons(
    slow_bot: VeoBot, discord_sim: DiscordSim, button: str, who: Who, allowed: bool
) -> None:
    missing = await before_job_1(slow_bot, discord_sim, who, button)
    await generate(slow_bot, discord_sim)
    await wait_for_job(slow_bot, 1, frozenset({JobStatus.RUNNING}))
    if button == "cancel":
        message = job_message(discord_sim)
    else:  # the owner's private question, reached by a click that names the job
        cancel = slash_command(name="veo", subcommand="cancel", options={"job": "1"})
        asked = discord_sim.interaction(await run(slow_bot, discord_sim, cancel))
        message = discord_sim.message(asked.original_message_id or 0)
    message = in_reach(discord_sim, who, message)
    before = await snapshot(slow_bot, discord_sim)
    answer = await click(slow_bot, discord_sim, who, f"veo:{button}:1", message)
    job = await slow_bot.store.get(1)
    assert job is not None
    if not allowed:
        same_as_missing(answer, missing)
        assert await snapshot(slow_bot, discord_sim) == before
        assert job.cancel_requested_at is None
    elif button == "cancel":
        assert answer["data"]["content"].startswith("Cancel job #1?")
        assert job.cancel_requested_at is None  # only asked
    else:
        assert answer["type"] == 7 and "Job #1 will not be posted" in answer["data"]["content"]
        assert job.cancel_requested_at is not None


# -- Retry, Remix and Delete under the finished video --------------------------------------


@pytest.mark.parametrize("button", ["retry", "remix", "delete", "delete-yes"])
@pytest.mark.parametrize("who", [pytest.param(w, id=w.name) for w in CLICKERS])
async def test_result_buttons(bot: VeoBot, discord_sim: DiscordSim, button: str, who: Who) -> None:
    allowed = who in (DELETERS if button.startswith("delete") else ACTORS)
    missing = await before_job_1(bot, discord_sim, who, button)
    await generate(bot, discord_sim)
    await wait_for_job(bot, 1)
    post = result_post(discord_sim)
    status_id = job_message(discord_sim)["id"]
    if button == "delete-yes":  # the private question's button, however it was reached
        message = bot_message(discord_sim, who.channel_id, ["veo:delete-yes:1"])
    else:
        message = in_reach(discord_sim, who, post)
    before = await snapshot(bot, discord_sim)
    answer = await click(bot, discord_sim, who, f"veo:{button}:1", message)
    if not allowed:
        same_as_missing(answer, missing)
        assert await snapshot(bot, discord_sim) == before
        assert discord_sim.find_requests("DELETE", "/channels/") == []
    elif button == "retry":
        retried = await wait_for_job(bot, 2)
        assert (retried.user_id, retried.guild_id, retried.status) == (
            who.user_id,
            GUILD_A,
            JobStatus.DELIVERED,
        )
        assert stored_request(retried).prompt == PROMPT
    elif button == "remix":
        assert answer["type"] == 9
        assert PROMPT in json.dumps(answer["data"]["components"])
    elif button == "delete":
        # Asked first (privately), nothing deleted yet.
        assert answer["type"] == 4 and answer["data"]["flags"] & FLAG_EPHEMERAL
        assert answer["data"]["content"].startswith("Delete the video of job #1")
        assert await snapshot(bot, discord_sim) == before
        assert discord_sim.find_requests("DELETE", "/channels/") == []
    else:
        # Confirmed: the video and the job message both go.
        await discord_sim.wait_for_request("DELETE", rf"/messages/{status_id}$")
        remaining = [m["id"] for m in discord_sim.messages(CHANNEL_A)]
        assert post["id"] not in remaining and status_id not in remaining


def remix_submit(modal: dict[str, Any], prompt: str, who: Who) -> dict[str, Any]:
    payload = slash_command(name="veo", **who.kw())
    [row] = modal["data"]["components"]
    [field] = row["components"]
    answer = {"type": 4, "custom_id": field["custom_id"], "value": prompt}
    payload["type"] = 5
    payload["data"] = {
        "custom_id": modal["data"]["custom_id"],
        "components": [{"type": 1, "components": [answer]}],
    }
    return payload


async def settled_reply(sim: DiscordSim, interaction_id: int) -> str:
    record = sim.interaction(interaction_id)
    for _ in range(250):
        if record.original_message_id is not None:
            reply = sim.message(record.original_message_id)
            if not reply["flags"] & FLAG_LOADING:
                return str(reply["content"])
        await asyncio.sleep(0.02)
    raise AssertionError("never answered")


@pytest.mark.parametrize(
    ("opener", "sender", "allowed"),
    [
        pytest.param(OWNER, OWNER, True, id="owner"),
        pytest.param(ADMIN_A, ADMIN_A, True, id="admin-A"),
        pytest.param(ADMIN_A, ADMIN_A_DEMOTED, False, id="admin-A-lost-manage-server"),
        pytest.param(ADMIN_A, ADMIN_B, False, id="form-sent-from-B"),
        pytest.param(OWNER, STRANGER_A, False, id="form-sent-by-a-stranger"),
    ],
)
async def test_the_remix_form_asks_the_rule_again_when_sent(
    bot: VeoBot, discord_sim: DiscordSim, opener: Who, sender: Who, allowed: bool
) -> None:
    """The form's id travels in the submit, and whoever holds it can send it: the form
    checks again, with who sends it, from where, with which permissions."""
    await generate(bot, discord_sim)
    await wait_for_job(bot, 1)
    modal = await click(bot, discord_sim, opener, "veo:remix:1", result_post(discord_sim))
    assert modal["type"] == 9
    before = await snapshot(bot, discord_sim)
    payload = discord_sim.register_interaction(remix_submit(modal, "a plain lighthouse", sender))
    bot._connection.parse_interaction_create(payload)  # type: ignore[arg-type]
    text = await settled_reply(discord_sim, int(payload["id"]))
    if allowed:
        remixed = await wait_for_job(bot, 2)
        assert (remixed.user_id, stored_request(remixed).prompt) == (
            sender.user_id,
            "a plain lighthouse",
        )
    else:
        assert text == "⚠️ You have no job #1."
        assert await snapshot(bot, discord_sim) == before


async def test_delete_only_deletes_the_bots_own_messages_of_that_job(
    bot: VeoBot, discord_sim: DiscordSim
) -> None:
    await generate(bot, discord_sim)
    await wait_for_job(bot, 1)
    post = result_post(discord_sim)
    row = [{"type": 2, "style": 4, "label": "x", "custom_id": "veo:delete-yes:1"}]
    members = discord_sim.add_message(
        CHANNEL_A,
        content="mine",
        author=user(STRANGER_A.user_id),
        components=[{"type": 1, "components": row}],
    )
    others = bot_message(discord_sim, CHANNEL_A, ["veo:delete:1"])  # the bot's, another post
    status_id = job_message(discord_sim)["id"]
    # The button's custom_id names the job; what it deletes comes from the job's row (its
    # video post and job message, both the bot's), never from the message clicked.
    await click(bot, discord_sim, OWNER, "veo:delete-yes:1", members)
    await discord_sim.wait_for_request("DELETE", rf"/channels/{CHANNEL_A}/messages/{status_id}$")
    deleted = {r.path.rsplit("/", 1)[-1] for r in discord_sim.find_requests("DELETE", "/channels/")}
    assert deleted == {post["id"], status_id}
    remaining = [m["id"] for m in discord_sim.messages(CHANNEL_A)]
    assert members["id"] in remaining and others["id"] in remaining


# -- /veo history pages --------------------------------------------------------------------


@cases(OWNER, among=CLICKERS)
async def test_history_pages_turn_only_for_their_owner(
    bot: VeoBot, discord_sim: DiscordSim, who: Who, allowed: bool
) -> None:
    await add_jobs(bot, 11)
    iid = await run(bot, discord_sim, slash_command(name="veo", subcommand="history"))
    message = discord_sim.message(discord_sim.interaction(iid).original_message_id or 0)
    reached = in_reach(discord_sim, who, message)
    answer = await click(bot, discord_sim, who, f"veo:history:{OWNER.user_id}:1", reached)
    page = discord_sim.message(message["id"])["content"]
    if allowed:
        assert answer["type"] == 7 and "page 2" in page
    else:
        assert answer["type"] == 4 and answer["data"]["flags"] & FLAG_EPHEMERAL
        assert answer["data"]["content"] == (
            "These pages belong to someone else. Use `/veo history` to see your own videos."
        )
        assert "scene" not in answer["data"]["content"] and "page 1" in page
