"""With VEO_PUBLIC_URL the bot serves the member's images itself and apixo calls it back:
the real web server, the apixo simulator calling it, the real job manager."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import pytest

from bot.providers.apixo.catalog import FAST
from bot.providers.base import Mode
from bot.settings import Settings
from storage import JobStatus
from tests.conftest import BotFactory, wait_for_job
from tests.net import free_port
from tests.providers.apixo.test_e2e import attached, submit
from tests.sim.apixo_sim import ApixoSimulator
from tests.sim.discord_sim import DiscordSim

PNG = b"\x89PNG\r\n\x1a\n" + b"\x07" * 64


@pytest.fixture
async def apixo_sim() -> AsyncIterator[ApixoSimulator]:
    sim = ApixoSimulator(queued_for=0.2, running_for=0.2)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.close()


@pytest.fixture
def settings(make_settings: Callable[..., Settings], apixo_sim: ApixoSimulator) -> Settings:
    port = free_port()
    return make_settings(
        APIXO_API_KEY=apixo_sim.api_key,
        APIXO_BASE_URL=apixo_sim.base_url,
        VEO_HTTP_PORT=port,
        VEO_PUBLIC_URL=f"http://127.0.0.1:{port}",
        # Polling alone would take a minute: only the callback can make this job quick.
        VEO_APIXO_INITIAL_WAIT=60,
        VEO_APIXO_POLL_INTERVAL=60,
    )


async def test_callback_and_own_image_urls(
    start_bot: BotFactory, settings: Settings, apixo_sim: ApixoSimulator, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(settings, timing=None)
    image = attached(discord_sim, "frame.png", PNG)
    discord_sim.expire_attachment(image.url.rsplit("/", 2)[-2] if image.url else "")
    started = time.monotonic()
    job = await submit(bot, model=FAST, mode=Mode.FIRST_FRAME, images=[image])
    done = await wait_for_job(bot, job.id, timeout=20)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    assert time.monotonic() - started < 10  # the callback, not the 60-s poll, finished it
    [sent] = apixo_sim.submits()
    body = sent.json
    assert body is not None
    assert body["request_type"] == "callback"
    assert body["callback_url"].startswith(settings.public_url or "-")
    [url] = body["input"]["image_urls"]
    assert url.startswith(f"{settings.public_url}/images/")  # ours, not Discord's
    assert list(apixo_sim.tasks.values())[0].images == [PNG]
    assert apixo_sim.callbacks  # the vendor did call back
