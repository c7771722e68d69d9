"""`/veo status`, `/veo cancel`, `/veo history`, `/veo help`, the queue part of `/veo quota`
and the job autocomplete, driven through discord.py's own tree and dispatch from raw
payloads, against the Discord and apiyi simulators. Assertions are on what the member sees."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from bot.client import VeoBot
from bot.jobs.days import day_key
from bot.settings import Settings
from storage import Job, JobStatus, NewJob, QuotaState
from tests.cogs.test_generate import generate, run
from tests.conftest import BotFactory, wait_for_job
from tests.sim.apiyi_sim import ApiyiSimulator
from tests.sim.discord_payloads import (
    CHANNEL_ID,
    GUILD_ID,
    PERMS_FULL,
    USER_ID,
    autocomplete,
    component_click,
    slash_command,
)
from tests.sim.discord_sim import FLAG_EPHEMERAL, DiscordSim

MANAGE_GUILD = 1 << 5
STRANGER = USER_ID + 1
FAST = "veo-3.1-fast-generate-preview"

SettingsFactory = Callable[..., Settings]


async def command(
    bot: VeoBot, sim: DiscordSim, subcommand: str, **kw: Any
) -> tuple[dict[str, Any], int]:
    """Run `/veo <subcommand>`; return its one (ephemeral) answer and the interaction id."""
    options = kw.pop("options", None)
    iid = await run(
        bot, sim, slash_command(name="veo", subcommand=subcommand, options=options, **kw)
    )
    [answer] = sim.interaction(iid).callbacks
    assert answer["type"] == 4
    assert answer["data"]["flags"] & FLAG_EPHEMERAL
    assert answer["data"]["allowed_mentions"]["parse"] == []  # never pings anyone
    return answer["data"], iid


async def click(
    bot: VeoBot, sim: DiscordSim, custom_id: str, message: dict[str, Any], **kw: Any
) -> dict[str, Any]:
    """Click a button as the gateway would deliver it; return the bot's answer."""
    payload = sim.register_interaction(component_click(custom_id, message, **kw))
    bot._connection.parse_interaction_create(payload)  # type: ignore[arg-type]
    await sim.wait_for_request("POST", rf"^/interactions/{payload['id']}/")
    [answer] = sim.interaction(int(payload["id"])).callbacks
    return dict(answer)


def buttons(message: dict[str, Any]) -> list[tuple[str, bool]]:
    return [
        (c["custom_id"], bool(c.get("disabled")))
        for row in message.get("components", [])
        for c in row["components"]
    ]


def post_link(job: Job) -> str:
    message_id = job.delivered_message_id or job.status_message_id
    return f"https://discord.com/channels/{GUILD_ID}/{CHANNEL_ID}/{message_id}"


async def add_jobs(
    bot: VeoBot,
    count: int,
    user_id: int = USER_ID,
    provider: str = "demo",
    model: str = "demo-veo",
) -> None:
    """Jobs written straight to the store (quota reserved, as `/veo generate` does), held
    back for an hour so that nothing runs them: they stay queued."""
    for n in range(count):
        request = {"provider": provider, "model": model, "prompt": f"scene {n}"}
        new = NewJob(
            user_id=user_id,
            guild_id=GUILD_ID,
            channel_id=CHANNEL_ID,
            request_json=json.dumps(request),
            provider=provider,
            model=model,
            filesize_limit=10 * 1024 * 1024,
            quota_day=day_key(bot.service.clock()),
        )
        await bot.store.create(new, daily_limit=100, max_active=100, hold_seconds=3600)


async def test_status_shows_ones_own_job_in_detail(
    start_bot: BotFactory, make_settings: SettingsFactory, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(make_settings())
    await generate(bot, discord_sim, prompt="a lighthouse at dusk", seed=7)
    done = await wait_for_job(bot, 1)
    assert done.status is JobStatus.DELIVERED

    data, _ = await command(bot, discord_sim, "status", options={"job": "#1"})
    text = data["content"]
    assert text.startswith("🎬 **Job #1**\n> a lighthouse at dusk")
    assert "**Demo clip** · demo" in text and "seed 7" in text
    assert "Status: ✅ Delivered in" in text
    assert f"Created <t:{int(done.created_at)}:f>" in text
    assert f"Video: {post_link(done)}" in text
    assert "for <@" not in text  # one's own job: no owner line

    plain, _ = await command(bot, discord_sim, "status", options={"job": "1"})
    assert plain["content"] == text


async def test_status_of_anothers_job_is_refused_but_an_admin_of_its_server_sees_it(
    start_bot: BotFactory, make_settings: SettingsFactory, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(make_settings())
    await add_jobs(bot, 1)

    data, _ = await command(bot, discord_sim, "status", options={"job": "#1"}, user_id=STRANGER)
    assert data["content"] == "⚠️ You have no job #1."
    missing, _ = await command(bot, discord_sim, "status", options={"job": "#99"})
    assert missing["content"] == "⚠️ You have no job #99."
    bad, _ = await command(bot, discord_sim, "status", options={"job": "lighthouse"})
    assert "not a job number" in bad["content"]

    admin, _ = await command(
        bot,
        discord_sim,
        "status",
        options={"job": "#1"},
        user_id=STRANGER,
        member_permissions=PERMS_FULL | MANAGE_GUILD,
    )
    assert admin["content"].startswith(f"🎬 **Job #1** for <@{USER_ID}>\n> scene 0")
    assert "Status: ⏳ Queued · position **1** in the queue" in admin["content"]

    # Manage Server in another server is nothing here (tests/cogs/test_tenancy.py has more).
    elsewhere, _ = await command(
        bot,
        discord_sim,
        "status",
        options={"job": "#1"},
        user_id=STRANGER,
        guild_id=GUILD_ID + 1,
        member_permissions=PERMS_FULL | MANAGE_GUILD,
    )
    assert elsewhere["content"] == "⚠️ You have no job #1."


async def test_cancel_command_asks_then_the_button_cancels_and_refunds(
    start_bot: BotFactory, make_settings: SettingsFactory, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(make_settings())
    await add_jobs(bot, 1)  # job #1, queued
    today = day_key(bot.service.clock())
    assert await bot.store.usage(USER_ID, today, GUILD_ID) == 1

    stranger, _ = await command(bot, discord_sim, "cancel", options={"job": "1"}, user_id=STRANGER)
    assert stranger["content"] == "⚠️ You have no job #1."

    data, iid = await command(bot, discord_sim, "cancel", options={"job": "#1"})
    assert data["content"] == "Cancel job #1? It has not been sent yet, so your quota is refunded."
    question = discord_sim.message(discord_sim.interaction(iid).original_message_id or 0)
    assert buttons(question) == [("veo:cancel-yes:1", False)]

    answer = await click(bot, discord_sim, "veo:cancel-yes:1", question)
    assert answer["type"] == 7  # the question itself becomes the answer
    assert answer["data"]["content"] == "Job #1 is cancelled and your quota was refunded."
    job = await bot.store.get(1)
    assert job is not None
    assert (job.status, job.quota_state) == (JobStatus.CANCELLED, QuotaState.REFUNDED)
    assert await bot.store.usage(USER_ID, today, GUILD_ID) == 0

    again, _ = await command(bot, discord_sim, "cancel", options={"job": "#1"})
    assert (
        again["content"] == "Job #1 has already ended (cancelled), so there is nothing to cancel."
    )


async def test_cancel_of_a_running_job_warns_that_it_may_still_be_charged(
    start_bot: BotFactory,
    apiyi_settings: Settings,
    apiyi_sim: ApiyiSimulator,
    discord_sim: DiscordSim,
) -> None:
    apiyi_sim.queued_for = None
    bot = await start_bot(apiyi_settings)
    await generate(bot, discord_sim, prompt="a slow sunrise")
    await wait_for_job(bot, 1, frozenset({JobStatus.RUNNING}))
    data, _ = await command(bot, discord_sim, "cancel", options={"job": "#1"})
    assert "already making it and cannot be stopped" in data["content"]
    assert [c["custom_id"] for r in data["components"] for c in r["components"]] == [
        "veo:cancel-yes:1"
    ]


async def test_history_pages_survive_a_restart_and_only_the_owner_may_page(
    start_bot: BotFactory, make_settings: SettingsFactory, discord_sim: DiscordSim
) -> None:
    settings = make_settings(VEO_DAILY_QUOTA=50, VEO_MAX_ACTIVE_PER_USER=50)
    first = await start_bot(settings)
    await generate(first, discord_sim, prompt="a *bold* delivered fox")
    delivered = await wait_for_job(first, 1)
    await add_jobs(first, 11)  # jobs #2 … #12

    data, iid = await command(first, discord_sim, "history")
    lines = data["content"].splitlines()
    assert lines[0] == "**Your videos**, newest first — page 1 (videos 1–10):"
    assert lines[1].startswith("**#12** · ⏳ queued · scene 10")
    assert [line.split(" · ")[0] for line in lines[1:]] == [f"**#{n}**" for n in range(12, 2, -1)]
    message = discord_sim.message(discord_sim.interaction(iid).original_message_id or 0)
    owner = USER_ID
    assert buttons(message) == [(f"veo:history:{owner}:0", True), (f"veo:history:{owner}:1", False)]

    await first.close()
    second = await start_bot(settings)  # a restart: same database, a new process

    answer = await click(second, discord_sim, f"veo:history:{owner}:1", message)
    assert answer["type"] == 7  # the history message itself turns to page 2
    page = discord_sim.message(message["id"])
    lines = page["content"].splitlines()
    assert lines[0] == "**Your videos**, newest first — page 2 (videos 11–12, your oldest):"
    assert lines[1] == "**#2** · ⏳ queued · scene 0"  # never posted: no link
    assert lines[2] == (
        f"**#1** · ✅ delivered · a \\*bold\\* delivered fox · [video](<{post_link(delivered)}>)"
    )
    assert buttons(page) == [(f"veo:history:{owner}:0", False), (f"veo:history:{owner}:2", True)]

    back = await click(second, discord_sim, f"veo:history:{owner}:0", page)
    assert back["type"] == 7
    assert discord_sim.message(message["id"])["content"].splitlines()[1].startswith("**#12**")

    current = discord_sim.message(message["id"])
    refused = await click(second, discord_sim, f"veo:history:{owner}:1", current, user_id=STRANGER)
    assert refused["type"] == 4 and refused["data"]["flags"] & FLAG_EPHEMERAL
    assert "belong to someone else" in refused["data"]["content"]
    assert "**#12**" in discord_sim.message(message["id"])["content"]  # unchanged


async def test_history_of_a_newcomer_says_how_to_start(
    start_bot: BotFactory, make_settings: SettingsFactory, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(make_settings())
    data, _ = await command(bot, discord_sim, "history")
    assert data["content"] == "You have not made any videos yet. Start with `/veo generate`."
    assert not data.get("components")


async def test_help_explains_commands_limits_and_every_models_image_modes(
    start_bot: BotFactory, apiyi_settings: Settings, discord_sim: DiscordSim
) -> None:
    settings = apiyi_settings.model_copy(
        update={"demo": True, "daily_quota": 7, "max_active_per_user": 3}
    )
    bot = await start_bot(settings)
    data, _ = await command(bot, discord_sim, "help")
    [embed] = data["embeds"]
    description = embed["description"]
    for name in ("generate", "status", "cancel", "history", "quota", "models", "help"):
        assert f"`/veo {name}`" in description
    assert "**7** videos per day (UTC); **7** left today" in description
    assert "Up to **3** jobs in progress at once." in description
    # The server's default model, by name (not the bot's default vendor).
    assert embed["footer"]["text"].startswith("Default model here: Veo 3.1 Fast.")
    models = "\n".join(f["value"] for f in embed["fields"])
    for provider in bot.providers:
        for spec in provider.models.values():
            assert f"**{spec.label}**" in models
    assert "• **Veo 3.1 Fast**: first frame\n" in models
    assert "• **veo-3.1 (apiyi, earlier channel)**: text only, no images" in models
    assert "first frame, first + last frame (an image is required)" in models
    total = len(embed["title"]) + len(description) + len(embed["footer"]["text"])
    total += sum(len(f["name"]) + len(f["value"]) for f in embed["fields"])
    assert total <= 6000 and all(len(f["value"]) <= 1024 for f in embed["fields"])


async def test_quota_shows_queue_position_and_a_typical_time(
    start_bot: BotFactory,
    apiyi_settings: Settings,
    apiyi_sim: ApiyiSimulator,
    discord_sim: DiscordSim,
) -> None:
    apiyi_sim.queued_for = None  # job #1 stays with the video service
    bot = await start_bot(apiyi_settings)
    await generate(bot, discord_sim, prompt="one")
    # Seen at the vendor by a check.
    await wait_for_job(bot, 1, frozenset({JobStatus.RUNNING}), until=lambda j: j.stage == "queued")
    await add_jobs(bot, 1, provider="apiyi", model=FAST)  # job #2 waits in our queue
    spec = bot.providers.model("apiyi", FAST)
    assert spec is not None

    minutes, seconds = divmod(int(spec.timing_for(None).initial_wait * 2), 60)
    about = f"{minutes}m {seconds:02d}s" if minutes else f"{seconds}s"

    data, _ = await command(bot, discord_sim, "quota")
    lines = data["content"].splitlines()
    assert "used **2** of **5**" in lines[0]
    assert lines[1] == "In progress:"
    assert (
        # In the vendor's queue (not "generating"), with when it is usually ready as a
        # Discord relative time (the typical render after it was sent).
        lines[2].startswith("• **#1** — ⏳ Waiting in its queue · accepted by APIYI")
        and " · usually ready <t:" in lines[2]
    )
    assert lines[3] == (
        f"• **#2** — ⏳ Queued · position **1** in the queue · "
        f"usually ready about {about} after it starts"
    )

    status, _ = await command(bot, discord_sim, "status", options={"job": "#2"})
    assert (
        f"Status: ⏳ Queued · position **1** in the queue · usually ready about {about}"
        in (status["content"])
    )


async def test_job_autocomplete_offers_the_members_recent_jobs(
    start_bot: BotFactory, make_settings: SettingsFactory, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(make_settings())
    await add_jobs(bot, 3)
    await add_jobs(bot, 1, user_id=STRANGER)  # job #4, not theirs

    async def suggest(subcommand: str, typed: str) -> list[tuple[str, str]]:
        iid = await run(
            bot,
            discord_sim,
            autocomplete(name="veo", subcommand=subcommand, focused="job", options={"job": typed}),
        )
        [callback] = discord_sim.interaction(iid).callbacks
        assert callback["type"] == 8
        return [(c["name"], c["value"]) for c in callback["data"]["choices"]]

    assert await suggest("status", "") == [
        ("#3 · queued · scene 2", "3"),
        ("#2 · queued · scene 1", "2"),
        ("#1 · queued · scene 0", "1"),
    ]
    assert await suggest("cancel", "#2") == [("#2 · queued · scene 1", "2")]
    assert await suggest("status", "scene 0") == [("#1 · queued · scene 0", "1")]
    assert await suggest("status", "#4") == []
