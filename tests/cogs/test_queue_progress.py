"""A job waiting for a free slot shows its place in the queue in its public message, and
the place follows the queue, driven through `/veo generate` with discord.py's own objects
against the Discord and apiyi simulators."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import discord

from bot.chat.publisher import MIN_EDIT_INTERVAL
from bot.client import VeoBot
from bot.settings import Settings
from storage import JobStatus
from tests.conftest import BotFactory, wait_for_job
from tests.sim.apiyi_sim import ApiyiSimulator
from tests.sim.discord_payloads import CHANNEL_ID, USER_ID, slash_command
from tests.sim.discord_sim import DiscordSim

# Each submit keeps the only slot this long: jobs behind it wait in our queue. Longer than
# the edit interval, so that a place that changes within it is seen to arrive late.
SLOW_SUBMIT = 3.2


async def generate(bot: VeoBot, sim: DiscordSim, user_id: int, prompt: str) -> None:
    payload = slash_command(
        name="veo", subcommand="generate", options={"prompt": prompt}, user_id=user_id
    )
    interaction = discord.Interaction(data=sim.register_interaction(payload), state=bot._connection)
    await bot.tree._call(interaction)


def job_message(sim: DiscordSim, job_id: int) -> dict[str, Any]:
    [message] = [m for m in sim.messages(CHANNEL_ID) if f"**Job #{job_id}**" in str(m["content"])]
    return message


def edits(sim: DiscordSim, message_id: object) -> list[str]:
    """What the job message was edited to, in order."""
    pattern = f"^/channels/{CHANNEL_ID}/messages/{message_id}$"
    return [str(r.json["content"]) for r in sim.find_requests("PATCH", pattern) if r.json]


def status(text: str) -> str:
    return text.splitlines()[-1]


async def test_a_waiting_job_shows_its_place_until_it_starts(
    start_bot: BotFactory,
    make_settings: Callable[..., Settings],
    apiyi_sim: ApiyiSimulator,
    discord_sim: DiscordSim,
) -> None:
    apiyi_sim.delay_submit = SLOW_SUBMIT
    settings = make_settings(
        APIYI_API_KEY=apiyi_sim.api_key,
        APIYI_BASE_URL=apiyi_sim.base_url,
        VEO_MAX_CONCURRENT_JOBS=1,
    )
    bot = await start_bot(settings)
    started = time.monotonic()
    for n, prompt in enumerate(("a red fox", "a blue whale", "a green frog")):
        await generate(bot, discord_sim, USER_ID + n, prompt)
    # Job 1 took the slot at once; 2 and 3 wait behind it.
    first, second, third = (job_message(discord_sim, n)["id"] for n in (1, 2, 3))
    assert status(job_message(discord_sim, 3)["content"]) == "⏳ Queued"  # as first posted

    for job_id in (1, 2, 3):
        done = await wait_for_job(bot, job_id, timeout=30)
        assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    # Three submits in a row through one slot: the queue was real.
    assert time.monotonic() - started >= 3 * SLOW_SUBMIT

    # Job 3: second, then first in line (that change came within the edit interval of
    # the one before, so it was posted late rather than dropped), then it ran.
    shown = [status(t) for t in edits(discord_sim, third)]
    queued = [s for s in shown if s.startswith("⏳")]
    assert len(queued) == 2, shown
    assert queued[0].startswith("⏳ Queued · position **2** in the queue · usually ready about")
    assert queued[1].startswith("⏳ Queued · position **1** in the queue · usually ready about")
    assert shown[:2] == queued  # the places came first, in order
    # It ran: sent to the vendor, and (unless it finished within one edit interval) seen
    # at work there.
    assert any(s.startswith(("📨 Sent to APIYI", "🎞️ Generating")) for s in shown[2:])
    assert "✅ Delivered" in shown[-1]  # collapsed to a pointer to the video

    # Job 2 was first in line from the start: one edit for its place, not one per change
    # elsewhere in the queue. Job 1 never waited, so it never showed a place.
    shown = [status(t) for t in edits(discord_sim, second)]
    assert [s for s in shown if s.startswith("⏳")] == [
        next(s for s in shown if s.startswith("⏳ Queued · position **1**"))
    ]
    assert not any("position" in status(t) for t in edits(discord_sim, first))

    # Edits stop at the end: the final state is each message's last edit, and nothing is
    # held back to be posted after it.
    for message_id in (first, second, third):
        assert "✅ Delivered" in status(edits(discord_sim, message_id)[-1])
    assert not bot.publisher._held
    assert MIN_EDIT_INTERVAL < 2 * SLOW_SUBMIT  # job 3's late edit had time to land
