"""Quota cannot be beaten by concurrency: bursts of `/veo generate`, double-clicked Retry,
Remix and Cancel buttons, admins refunding twice, and members (or servers) racing a spend
cap. Every burst is delivered the way the gateway delivers it: all the raw payloads are
handed to `parse_interaction_create` before any of them runs, so discord.py runs them as
concurrent tasks against the real service, store and SQLite file.

Besides the exact counts, each test checks the ledger's invariant: a member's usage today
equals the units of their jobs that still hold a charge (reserved or committed), so a
refund given twice, or a reservation nobody settles, shows up even when `MAX(0, ...)`
would hide a negative balance.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from bot.client import VeoBot
from bot.jobs.days import day_key
from bot.jobs.requests import Draft
from bot.settings import Settings
from storage import TERMINAL, Job, JobStatus, QuotaState
from tests.cogs.test_generate import generate, job_count
from tests.conftest import BotFactory, wait_for_job
from tests.jobs.test_manager import origin
from tests.sim.apiyi_sim import ApiyiSimulator
from tests.sim.discord_payloads import (
    CHANNEL_ID,
    GUILD_ID,
    PERMS_FULL,
    USER_ID,
    component_click,
    slash_command,
)
from tests.sim.discord_sim import (
    CB_DEFERRED_CHANNEL_MESSAGE,
    CB_MODAL,
    FLAG_LOADING,
    DiscordSim,
)

MANAGE_GUILD = 1 << 5
ADMIN_ID = USER_ID + 7
OTHER_MEMBER = USER_ID + 1
OTHER_GUILD = GUILD_ID + 1
FAST = "veo-3.1-fast-generate-preview"  # apiyi, documented at $0.30 a video
QUEUED = re.compile(r"Queued as \*\*job #(\d+)\*\*")

SettingsFactory = Callable[..., Settings]


# -- delivering bursts ------------------------------------------------------------------------


def answer(sim: DiscordSim, interaction_id: int) -> str | None:
    """The member's final answer to an interaction; None while there is none yet.

    A deferred ("thinking") answer counts once its placeholder has been edited."""
    record = sim.interaction(interaction_id)
    if not record.callbacks:
        return None
    first = record.callbacks[0]
    if first["type"] == CB_DEFERRED_CHANNEL_MESSAGE:
        assert record.original_message_id is not None
        message = sim.message(record.original_message_id)
        if message["flags"] & FLAG_LOADING:
            return None
        return str(message["content"])
    if first["type"] == CB_MODAL:
        return f"<modal {first['data']['custom_id']}>"
    return str((first.get("data") or {}).get("content") or "")


async def burst(
    bot: VeoBot, sim: DiscordSim, payloads: Sequence[dict[str, Any]], *, timeout: float = 10.0
) -> list[str]:
    """Deliver every payload at once, as the gateway would; return each final answer."""
    for payload in payloads:
        sim.register_interaction(payload)
    for payload in payloads:  # no await in between: all are in flight together
        bot._connection.parse_interaction_create(payload)  # type: ignore[arg-type]
    ids = [int(p["id"]) for p in payloads]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        answers = [answer(sim, i) for i in ids]
        if all(a is not None for a in answers):
            return [str(a) for a in answers]
        if loop.time() > deadline:
            raise AssertionError(f"unanswered interactions: {answers}")
        await asyncio.sleep(0.01)


def generates(
    count: int, *, user_id: int = USER_ID, guild_id: int = GUILD_ID, **options: object
) -> list[dict[str, Any]]:
    return [
        slash_command(
            name="veo",
            subcommand="generate",
            options={"prompt": f"take {n}", **options},
            user_id=user_id,
            guild_id=guild_id,
        )
        for n in range(count)
    ]


def queued_ids(answers: Sequence[str]) -> list[int]:
    return sorted(int(m[1]) for a in answers if (m := QUEUED.search(a)))


def button(message: dict[str, Any], action: str) -> str:
    """The custom_id of the message's button for `action` (retry, remix, cancel...)."""
    ids = [str(c["custom_id"]) for row in message.get("components", []) for c in row["components"]]
    [found] = [i for i in ids if i.startswith(f"veo:{action}:")]
    return found


def result_post(sim: DiscordSim, job_id: int) -> dict[str, Any]:
    return next(
        m
        for m in sim.messages(CHANNEL_ID)
        if m.get("embeds") and m["embeds"][0].get("title") == f"Job #{job_id}"
    )


def modal_submit(
    sim: DiscordSim, modal: dict[str, Any], prompt: str, on: dict[str, Any]
) -> dict[str, Any]:
    """The member pressing Submit on a Remix form, as a raw MODAL_SUBMIT payload."""
    [row] = modal["data"]["components"]
    [field] = row["components"]
    payload = component_click("x", on)
    payload["type"] = 5
    payload.pop("message")
    payload["data"] = {
        "custom_id": modal["data"]["custom_id"],
        "components": [
            {
                "type": 1,
                "components": [{"type": 4, "custom_id": field["custom_id"], "value": prompt}],
            }
        ],
    }
    return payload


async def open_remix(bot: VeoBot, sim: DiscordSim, post: dict[str, Any]) -> dict[str, Any]:
    """Click Remix; the form Discord was told to show."""
    payload = component_click(button(post, "remix"), post)
    await burst(bot, sim, [payload])
    [modal] = sim.interaction(int(payload["id"])).callbacks
    assert modal["type"] == CB_MODAL
    return modal


# -- what was charged -------------------------------------------------------------------------


async def used(bot: VeoBot, user_id: int = USER_ID, guild_id: int = GUILD_ID) -> int:
    return await bot.store.usage(user_id, day_key(bot.service.clock()), guild_id)


async def jobs_of(bot: VeoBot, user_id: int = USER_ID) -> list[Job]:
    return list(reversed(await bot.service.history(user_id, limit=1000)))


async def assert_ledger_matches_jobs(bot: VeoBot, user_id: int = USER_ID) -> None:
    """Usage today == the units of the member's jobs still holding a charge."""
    today = day_key(bot.service.clock())
    holding = sum(
        j.quota_units
        for j in await jobs_of(bot, user_id)
        if j.quota_day == today and j.quota_state in (QuotaState.RESERVED, QuotaState.COMMITTED)
    )
    assert await used(bot, user_id) == holding


async def settle_all(bot: VeoBot, user_id: int = USER_ID) -> list[Job]:
    return list(
        await asyncio.gather(*(wait_for_job(bot, j.id) for j in await jobs_of(bot, user_id)))
    )


# -- the tests --------------------------------------------------------------------------------


async def test_ten_concurrent_generates_make_exactly_the_daily_quota(
    start_bot: BotFactory, make_settings: SettingsFactory, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(make_settings(VEO_DAILY_QUOTA=3, VEO_MAX_ACTIVE_PER_USER=50))
    answers = await burst(bot, discord_sim, generates(10))

    assert queued_ids(answers) == [1, 2, 3]
    refused = [a for a in answers if not QUEUED.search(a)]
    assert len(refused) == 7
    for text in refused:
        assert text.startswith("⚠️ You have used all 3 of today's videos. Your quota resets <t:")
    assert await job_count(bot) == 3 and await used(bot) == 3
    posts = [
        m for m in discord_sim.messages(CHANNEL_ID) if str(m["content"]).startswith("🎬 **Job #")
    ]
    assert len(posts) == 3  # no public job message for a refused request

    done = await settle_all(bot)
    assert [j.status for j in done] == [JobStatus.DELIVERED] * 3
    assert await used(bot) == 3
    await assert_ledger_matches_jobs(bot)


async def test_concurrent_generates_respect_the_active_job_cap(
    start_bot: BotFactory,
    apiyi_settings: Settings,
    apiyi_sim: ApiyiSimulator,
    discord_sim: DiscordSim,
) -> None:
    apiyi_sim.queued_for = None  # the jobs stay in progress
    settings = apiyi_settings.model_copy(update={"daily_quota": 50, "max_active_per_user": 2})
    bot = await start_bot(settings)
    answers = await burst(bot, discord_sim, generates(8))

    assert queued_ids(answers) == [1, 2]
    for text in (a for a in answers if not QUEUED.search(a)):
        assert "You already have 2 jobs in progress (the limit is 2)" in text
    assert await job_count(bot) == 2 and await used(bot) == 2
    await assert_ledger_matches_jobs(bot)


@pytest.mark.parametrize(
    "clicks",
    [
        "retry twice",
        "submit one remix form twice",
        "submit two remix forms",
        "retry and submit a remix form",
    ],
)
async def test_double_clicks_with_one_video_left_make_one_job(
    start_bot: BotFactory, make_settings: SettingsFactory, discord_sim: DiscordSim, clicks: str
) -> None:
    bot = await start_bot(make_settings(VEO_DAILY_QUOTA=2, VEO_MAX_ACTIVE_PER_USER=10))
    await generate(bot, discord_sim, prompt="a paper boat")
    assert (await wait_for_job(bot, 1)).status is JobStatus.DELIVERED
    assert await used(bot) == 1  # one video left today
    post = result_post(discord_sim, 1)

    def retry() -> dict[str, Any]:
        return component_click(button(post, "retry"), post)

    if clicks == "retry twice":
        payloads = [retry(), retry()]
    elif clicks == "submit one remix form twice":
        modal = await open_remix(bot, discord_sim, post)
        payloads = [modal_submit(discord_sim, modal, "a paper plane", post) for _ in range(2)]
    elif clicks == "submit two remix forms":
        first, second = [await open_remix(bot, discord_sim, post) for _ in range(2)]
        payloads = [
            modal_submit(discord_sim, first, "a paper plane", post),
            modal_submit(discord_sim, second, "a paper kite", post),
        ]
    else:
        modal = await open_remix(bot, discord_sim, post)
        payloads = [retry(), modal_submit(discord_sim, modal, "a paper plane", post)]

    answers = await burst(bot, discord_sim, payloads)
    assert queued_ids(answers) == [2], answers
    [refused] = [a for a in answers if not QUEUED.search(a)]
    assert refused.startswith("⚠️ You have used all 2 of today's videos.")
    assert await job_count(bot) == 2 and await used(bot) == 2
    await settle_all(bot)
    assert await used(bot) == 2
    await assert_ledger_matches_jobs(bot)


async def _queued_job_with_question(
    bot: VeoBot, sim: DiscordSim, prompt: str
) -> tuple[Job, dict[str, Any]]:
    """A job accepted (quota reserved) and announced, but not yet handed to the manager
    (as between the cog's `accept` and `started`), so it sits in the queue unheld; and
    the private "Cancel job #n?" question its Cancel button asks."""
    request, _ = await bot.service.validate(Draft(prompt=prompt), GUILD_ID)
    job = await bot.service.accept(request, [], origin())
    channel = bot.get_partial_messageable(CHANNEL_ID, guild_id=GUILD_ID)
    message = await channel.send(bot.publisher.render(job), view=bot.publisher.view(job))
    posted = sim.message(message.id)
    click = component_click(button(posted, "cancel"), posted)
    [text] = await burst(bot, sim, [click])
    assert text.startswith(f"Cancel job #{job.id}?"), text
    record = sim.interaction(int(click["id"]))
    assert record.original_message_id is not None
    job = dataclasses.replace(job, status_message_id=message.id)
    return job, sim.message(record.original_message_id)


async def test_concurrent_cancels_of_a_queued_job_refund_it_once(
    start_bot: BotFactory, make_settings: SettingsFactory, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(make_settings(VEO_DAILY_QUOTA=10, VEO_MAX_ACTIVE_PER_USER=10))
    await generate(bot, discord_sim, prompt="kept")
    assert (await wait_for_job(bot, 1)).quota_state is QuotaState.COMMITTED
    held = [await _queued_job_with_question(bot, discord_sim, f"held {n}") for n in range(3)]
    assert await used(bot) == 4  # 1 committed + 3 reserved
    target, question = held[1]

    clicks = [component_click(f"veo:cancel-yes:{target.id}", question) for _ in range(6)]
    answers = await burst(bot, discord_sim, clicks)

    assert all(
        a == f"Job #{target.id} is cancelled and your quota was refunded."
        or a == f"Job #{target.id} has already ended (cancelled)."
        for a in answers
    ), answers
    job = await bot.store.get(target.id)
    assert job is not None
    assert (job.status, job.quota_state) == (JobStatus.CANCELLED, QuotaState.REFUNDED)
    assert await used(bot) == 3  # exactly one unit back, never two
    for other, _ in (held[0], held[2]):
        untouched = await bot.store.get(other.id)
        assert untouched is not None
        assert (untouched.status, untouched.quota_state) == (JobStatus.QUEUED, QuotaState.RESERVED)
    await assert_ledger_matches_jobs(bot)


@pytest.mark.parametrize(
    ("vendor_ends", "kept"),
    [("failed", QuotaState.REFUNDED), ("completed", QuotaState.COMMITTED)],
)
async def test_concurrent_cancels_of_a_running_job_settle_it_once(
    start_bot: BotFactory,
    apiyi_settings: Settings,
    apiyi_sim: ApiyiSimulator,
    discord_sim: DiscordSim,
    vendor_ends: str,
    kept: QuotaState,
) -> None:
    apiyi_sim.queued_for = None  # rendering until the test says otherwise
    bot = await start_bot(apiyi_settings.model_copy(update={"max_active_per_user": 5}))
    await generate(bot, discord_sim, prompt="to cancel")
    await generate(bot, discord_sim, prompt="left alone")
    running = [await wait_for_job(bot, j, frozenset({JobStatus.RUNNING})) for j in (1, 2)]
    assert await used(bot) == 2
    post = next(m for m in discord_sim.messages(CHANNEL_ID) if "**Job #1**" in str(m["content"]))
    click = component_click(button(post, "cancel"), post)
    await burst(bot, discord_sim, [click])
    record = discord_sim.interaction(int(click["id"]))
    question = discord_sim.message(record.original_message_id or 0)

    clicks = [component_click("veo:cancel-yes:1", question) for _ in range(6)]
    # The Cancel button on the public message, clicked again at the same moment.
    clicks += [component_click(button(post, "cancel"), post) for _ in range(2)]
    await burst(bot, discord_sim, clicks)
    flagged = await bot.store.get(1)
    assert flagged is not None and flagged.cancel_requested_at is not None
    assert await used(bot) == 2  # nothing is settled until the vendor says how it ended

    assert running[0].task_id is not None
    apiyi_sim.set_task_status(running[0].task_id, vendor_ends)
    done = await wait_for_job(bot, 1)
    assert (done.status, done.quota_state) == (JobStatus.CANCELLED, kept)
    assert await used(bot) == (1 if kept is QuotaState.REFUNDED else 2)
    other = await bot.store.get(2)
    assert other is not None and other.quota_state is QuotaState.RESERVED
    await assert_ledger_matches_jobs(bot)


async def test_cancels_racing_the_manager_keep_the_ledger_exact(
    start_bot: BotFactory, make_settings: SettingsFactory, discord_sim: DiscordSim
) -> None:
    """The jobs are released to the manager at the very moment their Cancel is
    double-clicked: whoever wins, each job is settled once and the ledger adds up."""
    bot = await start_bot(make_settings(VEO_DAILY_QUOTA=20, VEO_MAX_ACTIVE_PER_USER=20))
    await generate(bot, discord_sim, prompt="kept")
    await wait_for_job(bot, 1)
    held = [await _queued_job_with_question(bot, discord_sim, f"held {n}") for n in range(6)]
    assert await used(bot) == 7

    clicks = [
        component_click(f"veo:cancel-yes:{job.id}", question)
        for job, question in held
        for _ in range(3)
    ]

    async def release(job: Job, delay: float) -> None:
        await asyncio.sleep(delay)
        await bot.service.started(job, job.status_message_id)

    # Staggered releases: the first jobs reach the manager before their clicks are
    # handled, the last ones after, and those between race them.
    releases = [release(job, 0.015 * n) for n, (job, _) in enumerate(held)]
    answers, _ = await asyncio.gather(burst(bot, discord_sim, clicks), asyncio.gather(*releases))
    assert all("cancelled" in a or "will not be posted" in a or "ended" in a for a in answers)

    done = await settle_all(bot)
    assert all(j.status in TERMINAL for j in done)
    for job in done[1:]:
        assert job.status is JobStatus.CANCELLED, (job.id, job.status)
        assert job.quota_state in (QuotaState.REFUNDED, QuotaState.COMMITTED)
    charged = sum(1 for j in done[1:] if j.quota_state is QuotaState.COMMITTED)
    assert await used(bot) == 1 + charged
    await assert_ledger_matches_jobs(bot)


async def test_concurrent_admin_refunds_give_back_once(
    start_bot: BotFactory, make_settings: SettingsFactory, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(make_settings(VEO_DAILY_QUOTA=10, VEO_MAX_ACTIVE_PER_USER=10))
    for prompt in ("one", "two"):
        await generate(bot, discord_sim, prompt=prompt)
    await settle_all(bot)
    assert await used(bot) == 2
    refunds = [
        slash_command(
            name="veo-admin",
            subcommand="refund",
            options={"job": 1},
            user_id=ADMIN_ID,
            member_permissions=PERMS_FULL | MANAGE_GUILD,
        )
        for _ in range(5)
    ]
    answers = await burst(bot, discord_sim, refunds)
    assert any(a.startswith("✅") for a in answers), answers
    job = await bot.store.get(1)
    assert job is not None and job.quota_state is QuotaState.REFUNDED
    assert await used(bot) == 1
    await assert_ledger_matches_jobs(bot)


async def test_two_members_racing_cannot_pass_the_server_spend_cap(
    start_bot: BotFactory, apiyi_settings: Settings, discord_sim: DiscordSim
) -> None:
    settings = apiyi_settings.model_copy(update={"daily_quota": 50, "max_active_per_user": 50})
    bot = await start_bot(settings)
    await bot.service.guilds.set(GUILD_ID, daily_budget_usd=0.90)  # three videos at $0.30
    payloads = [
        p
        for pair in zip(
            generates(6, model=FAST), generates(6, model=FAST, user_id=OTHER_MEMBER), strict=True
        )
        for p in pair
    ]
    answers = await burst(bot, discord_sim, payloads)

    assert len(queued_ids(answers)) == 3
    for text in (a for a in answers if not QUEUED.search(a)):
        assert text.startswith("⚠️ This server has reached today's spending limit for videos.")
    assert await bot.service.spent_today(GUILD_ID) == pytest.approx(0.90)
    done = [*await settle_all(bot), *await settle_all(bot, OTHER_MEMBER)]
    assert len(done) == 3
    assert await bot.service.spent_today(GUILD_ID) <= 0.90 + 1e-9
    for member in (USER_ID, OTHER_MEMBER):
        await assert_ledger_matches_jobs(bot, member)


async def test_servers_racing_cannot_pass_the_bot_wide_spend_cap(
    start_bot: BotFactory, apiyi_settings: Settings, discord_sim: DiscordSim
) -> None:
    settings = apiyi_settings.model_copy(
        update={"daily_quota": 50, "max_active_per_user": 50, "daily_budget_usd": 0.60}
    )
    bot = await start_bot(settings)
    payloads = [
        p
        for pair in zip(
            generates(5, model=FAST),
            generates(5, model=FAST, user_id=OTHER_MEMBER, guild_id=OTHER_GUILD),
            strict=True,
        )
        for p in pair
    ]
    answers = await burst(bot, discord_sim, payloads)

    assert len(queued_ids(answers)) == 2
    for text in (a for a in answers if not QUEUED.search(a)):
        assert text.startswith("⚠️ The bot has reached today's spending limit for videos.")
    assert await bot.service.spent_today() == pytest.approx(0.60)
    await settle_all(bot)
    await settle_all(bot, OTHER_MEMBER)
    assert await bot.service.spent_today() <= 0.60 + 1e-9
