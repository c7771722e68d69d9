"""The end-to-end vendor tests' harness (the real bot through its composition root, its job
manager, a real SQLite file, the Discord simulator and a vendor's): the settings that
point the bot at a vendor's simulator, a member's job started the way the cog starts one,
and what the member was then shown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, TypeVar

import pytest

from bot.client import VeoBot
from bot.jobs.origin import Origin
from bot.jobs.requests import GenerationRequest
from bot.providers.base import InputImage, Mode
from storage import Job
from tests.jobs.test_manager import deliveries, origin
from tests.sim.discord_payloads import CHANNEL_ID, GUILD_ID
from tests.sim.discord_sim import DiscordSim
from tests.sim.vendor_base import VendorSimulator

Sim = TypeVar("Sim", bound=VendorSimulator)


def running(simulator: type[Sim], **knobs: Any) -> Callable[[], AsyncIterator[Sim]]:
    """A fixture (named as the module names it): a `simulator` on 127.0.0.1 for one test,
    its tasks finishing in a tenth of a second unless `knobs` say otherwise. `knobs` are the
    constructor's (`api_key`, `queued_for`, `running_for`), the rest attributes set on it
    before the test has it (`video_bytes`...)."""
    made = {k: knobs.pop(k) for k in ("api_key", "queued_for", "running_for") if k in knobs}

    @pytest.fixture
    async def fixture() -> AsyncIterator[Sim]:
        async with simulator(**made) as sim:
            for name, value in knobs.items():
                setattr(sim, name, value)
            yield sim

    return fixture


def vendor_env(vendor: str, sim: VendorSimulator) -> dict[str, Any]:
    """The settings an operator gives to use a vendor (`vendor` as the variables spell it,
    e.g. "APIXO"): the simulator's key and address, and a schedule fast enough for a test."""
    return {
        f"{vendor}_API_KEY": sim.api_key,
        f"{vendor}_BASE_URL": sim.base_url,
        f"VEO_{vendor}_INITIAL_WAIT": 0.05,
        f"VEO_{vendor}_POLL_INTERVAL": 0.05,
    }


async def start_job(
    bot: VeoBot,
    *,
    provider: str,
    model: str,
    prompt: str = "a lighthouse at dusk",
    mode: Mode = Mode.TEXT,
    images: Sequence[InputImage] = (),
    where: Origin | None = None,
    announce: bool = True,
    **options: Any,
) -> Job:
    """What the cog does after validation: accept the request, post the job message (none
    when `announce` is False) and release the job to the manager."""
    request = GenerationRequest(
        provider=provider,
        model=model,
        prompt=prompt,
        mode=mode,
        image_count=len(images),
        **options,
    )
    job = await bot.service.accept(request, list(images), where or origin())
    message_id = None
    if announce:
        channel = bot.get_partial_messageable(CHANNEL_ID, guild_id=GUILD_ID)
        message_id = (await channel.send(bot.publisher.render(job))).id
    await bot.service.started(job, message_id)
    return job


def attached(
    discord_sim: DiscordSim, name: str, data: bytes, mime: str | None = None
) -> InputImage:
    """A member's upload: the bytes the bot read, and the signed CDN URL it came from
    (without `mime`: PNG or JPEG by its first bytes)."""
    mime = mime or ("image/png" if data.startswith(b"\x89PNG") else "image/jpeg")
    attachment = discord_sim.add_attachment(name, data, mime)
    return InputImage(data, mime, name, url=attachment["url"])


def posted_video(discord_sim: DiscordSim, job_id: int) -> bytes:
    """The bytes of the one video attached to the job's one delivery post."""
    [post] = deliveries(discord_sim, job_id)
    attachments = post["attachments"]
    assert isinstance(attachments, list) and len(attachments) == 1
    return discord_sim.attachment_bytes(attachments[0]["id"])


def failure_posts(discord_sim: DiscordSim, job_id: int) -> list[str]:
    """What the channel was told of the job's failure, one text a post."""
    return [
        str(m["content"])
        for m in discord_sim.messages(CHANNEL_ID)
        if f"job #{job_id} failed" in str(m["content"])
    ]
