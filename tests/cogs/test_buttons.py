"""The persistent buttons, clicked through discord.py's own dispatch (raw component and
modal payloads), against the Discord and apiyi simulators — including after a restart."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.chat.messages import ready_marker
from bot.client import VeoBot
from bot.jobs.days import day_key
from bot.jobs.requests import stored_request
from storage import JobStatus, QuotaState
from tests.cogs.test_generate import generate
from tests.conftest import BotFactory, wait_for_job
from tests.sim.apiyi_sim import ApiyiSimulator
from tests.sim.discord_payloads import CHANNEL_ID, GUILD_ID, PERMS_FULL, USER_ID, component_click
from tests.sim.discord_sim import FLAG_EPHEMERAL, DiscordSim

MANAGE_GUILD = 1 << 5


async def dispatch(bot: VeoBot, sim: DiscordSim, payload: dict[str, Any]) -> Any:
    """Feed an interaction to discord.py as the gateway would; return the sim's record
    once the bot has answered it."""
    sim.register_interaction(payload)
    bot._connection.parse_interaction_create(payload)
    iid = int(payload["id"])
    for _ in range(250):
        record = sim.interaction(iid)
        if record.callbacks:
            return record
        await asyncio.sleep(0.02)
    raise AssertionError(f"interaction {iid} was never answered")


def buttons(message: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for row in message.get("components", []) for c in row["components"]]


def labels(message: dict[str, Any]) -> list[str]:
    return [c.get("label", "") for row in message.get("components", []) for c in row["components"]]


def job_message(sim: DiscordSim, job_id: int) -> dict[str, Any]:
    return next(m for m in sim.messages(CHANNEL_ID) if f"**Job #{job_id}**" in str(m["content"]))


def result_post(sim: DiscordSim, job_id: int) -> dict[str, Any]:
    return next(m for m in sim.messages(CHANNEL_ID) if ready_marker(job_id) in str(m["content"]))


async def click(
    bot: VeoBot, sim: DiscordSim, custom_id: str, message: dict[str, Any], **kw: Any
) -> Any:
    return await dispatch(bot, sim, component_click(custom_id, message, **kw))


async def test_cancel_asks_first_then_stops_delivery(
    start_bot: BotFactory, apiyi_settings, apiyi_sim: ApiyiSimulator, discord_sim: DiscordSim
) -> None:
    apiyi_sim.queued_for = None
    bot = await start_bot(apiyi_settings)
    await generate(bot, discord_sim, prompt="a slow sunrise")
    running = await wait_for_job(bot, 1, frozenset({JobStatus.RUNNING}))
    message = job_message(discord_sim, 1)
    assert buttons(message) == ["veo:cancel:1"]

    record = await click(bot, discord_sim, "veo:cancel:1", message)
    [answer] = record.callbacks
    assert answer["data"]["flags"] & FLAG_EPHEMERAL
    assert "already making it and cannot be stopped" in answer["data"]["content"]
    assert record.original_message_id is not None
    confirm = discord_sim.message(record.original_message_id)  # the private question
    assert buttons(confirm) == ["veo:cancel-yes:1"]
    record = await click(bot, discord_sim, "veo:cancel-yes:1", confirm)
    assert "will not be posted" in record.callbacks[0]["data"]["content"]

    assert running.task_id is not None
    apiyi_sim.set_task_status(running.task_id, "completed")
    done = await wait_for_job(bot, 1)
    assert (done.status, done.quota_state) == (JobStatus.CANCELLED, QuotaState.COMMITTED)
    assert not any(ready_marker(1) in str(m["content"]) for m in discord_sim.messages(CHANNEL_ID))
    assert buttons(job_message(discord_sim, 1)) == []  # the Cancel button is gone


async def test_a_strangers_click_is_refused_politely(
    start_bot: BotFactory, apiyi_settings, apiyi_sim: ApiyiSimulator, discord_sim: DiscordSim
) -> None:
    apiyi_sim.queued_for = None
    bot = await start_bot(apiyi_settings)
    await generate(bot, discord_sim, prompt="a slow sunrise")
    await wait_for_job(bot, 1, frozenset({JobStatus.RUNNING}))
    record = await click(
        bot, discord_sim, "veo:cancel:1", job_message(discord_sim, 1), user_id=USER_ID + 7
    )
    [answer] = record.callbacks
    assert answer["data"]["flags"] & FLAG_EPHEMERAL
    assert answer["data"]["content"] == "⚠️ You have no job #1."  # as if there were none
    job = await bot.store.get(1)
    assert job is not None and job.cancel_requested_at is None
    # An admin of this server (Manage Server here) may act on anyone's job in it.
    record = await click(
        bot,
        discord_sim,
        "veo:cancel:1",
        job_message(discord_sim, 1),
        user_id=USER_ID + 7,
        member_permissions=PERMS_FULL | MANAGE_GUILD,
    )
    assert "Cancel job #1?" in record.callbacks[0]["data"]["content"]


async def test_retry_and_delete_work_after_a_restart(
    start_bot: BotFactory, make_settings, discord_sim: DiscordSim
) -> None:
    settings = make_settings(VEO_MAX_ACTIVE_PER_USER=5)
    first = await start_bot(settings)
    await generate(first, discord_sim, prompt="a paper boat", seed=7)
    await wait_for_job(first, 1)
    post = result_post(discord_sim, 1)
    # A seed the member gave: a New take (another seed) or the Same seed (a near-copy).
    assert buttons(post) == [
        "veo:newtake:1",
        "veo:retry:1",
        "veo:remix:1",
        "veo:continue:1",
        "veo:delete:1",
    ]
    assert labels(post) == ["New take", "Same seed", "Remix", "Continue (uses 1)", "Delete"]
    [embed] = post["embeds"]
    assert embed["title"] == "Job #1" and "4 of 5 videos left today" in embed["footer"]["text"]
    assert {"name": "Seed", "value": "7", "inline": True} in embed["fields"]
    await first.close()

    second = await start_bot(settings)
    record = await click(second, discord_sim, "veo:retry:1", post)
    assert record.callbacks[0]["type"] == 5  # deferred, then the usual "Queued as job #2"
    retried = await wait_for_job(second, 2)
    assert retried.status is JobStatus.DELIVERED
    request = stored_request(retried)
    assert (request.prompt, request.seed) == ("a paper boat", 7)
    assert await second.store.usage(USER_ID, day_key(second.service.clock()), GUILD_ID) == 2
    # The new job says where it came from, linked to job 1's video.
    assert retried.parent_job_id == 1
    link = f"https://discord.com/channels/{GUILD_ID}/{CHANNEL_ID}/{post['id']}"
    assert (
        f"**Job #2** for <@{USER_ID}> · from [#1](<{link}>)"
        in job_message(discord_sim, 2)["content"]
    )

    await click(second, discord_sim, "veo:newtake:1", post)
    take = await wait_for_job(second, 3)
    assert take.status is JobStatus.DELIVERED and take.parent_job_id == 1
    request = stored_request(take)
    assert request.prompt == "a paper boat" and request.seed not in (None, 7)

    status_id = job_message(discord_sim, 1)["id"]
    record = await click(second, discord_sim, "veo:delete:1", post)
    assert record.callbacks[0]["data"]["content"].startswith("Delete the video of job #1")
    question = discord_sim.message(record.original_message_id or 0)
    assert buttons(question) == ["veo:delete-yes:1"]
    record = await click(second, discord_sim, "veo:delete-yes:1", question)
    await discord_sim.wait_for_request("PATCH", rf"/webhooks/\d+/{record.token}/messages/")
    left = [m["id"] for m in discord_sim.messages(CHANNEL_ID)]
    assert post["id"] not in left and status_id not in left


async def test_remix_opens_a_modal_and_queues_the_new_prompt(
    start_bot: BotFactory, make_settings, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(make_settings(VEO_MAX_ACTIVE_PER_USER=5))
    await generate(bot, discord_sim, prompt="a paper boat", aspect_ratio="9:16")
    await wait_for_job(bot, 1)
    record = await click(bot, discord_sim, "veo:remix:1", result_post(discord_sim, 1))
    [modal] = record.callbacks
    assert modal["type"] == 9
    [row] = modal["data"]["components"]
    [field] = row["components"]
    assert field["value"] == "a paper boat"

    submit = component_click("x", result_post(discord_sim, 1))
    submit["type"] = 5
    submit.pop("message")
    submit["data"] = {
        "custom_id": modal["data"]["custom_id"],
        "components": [
            {
                "type": 1,
                "components": [
                    {"type": 4, "custom_id": field["custom_id"], "value": "a paper plane"}
                ],
            }
        ],
    }
    await dispatch(bot, discord_sim, submit)
    remixed = await wait_for_job(bot, 2)
    assert remixed.status is JobStatus.DELIVERED
    request = stored_request(remixed)
    assert (request.prompt, request.aspect_ratio) == ("a paper plane", "9:16")
