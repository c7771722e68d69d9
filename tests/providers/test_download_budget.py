"""Every adapter's download has a total time budget, not only a silence limit.

A CDN that sends a piece at a time, each well within the read timeout, used to hold a
download (and the job slot behind it) for as long as it liked. Each adapter streams through
`stream_to_file`, so each one is run here against its own simulator trickling the video:
the download stops when the budget runs out, the partial file is gone, and the error says
what happened and carries the vendor's link where the adapter knows one.

The budget is made small by setting the defaults of `download_budget` (what a test may
inject); the trickle is made long enough that it could not have ended by itself before
the test's own guard runs out.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.chat.failures import error_text
from bot.providers import download as http
from bot.providers.apixo.adapter import ApixoProvider
from bot.providers.apixo.catalog import FAST as APIXO_FAST
from bot.providers.apiyi.adapter import ApiyiProvider
from bot.providers.apiyi.legacy import ApiyiLegacyChannel
from bot.providers.base import DownloadTooSlow, Provider, SubmitRequest, TaskState, TaskStatus
from bot.providers.download import download_budget, spoken_duration
from bot.providers.veo3o1.adapter import Veo3o1Provider
from bot.providers.veo3o1.catalog import MODEL as VEO3O1_MODEL
from bot.providers.yelinai.adapter import YelinaiProvider
from tests.faults import FaultyApixo, FaultyApiyi, FaultyVendor
from tests.providers.kit import TINY
from tests.sim.apiyi_legacy_sim import ApiyiLegacySimulator
from tests.sim.vendor_base import VendorSimulator, default_video
from tests.sim.veo3o1_sim import Veo3o1Simulator
from tests.sim.yelinai_sim import YelinaiSimulator

KEY = "sk-budget-0123456789abcdefSECRET"
CAP = 1_000_000
BASE = 0.3  # seconds: the injected fixed part of the budget...
RATE = 10_000_000  # ...and the slowest rate, in bytes a second: 0.3 + 0.1 = 0.4 s in all
PIECES = 48  # the simulators send 1 KB pieces...
PIECE_DELAY = 0.25  # ...this far apart: the whole body takes at least 12 s
GUARD = 6.0  # half of that: a download still running then was never stopped


class FaultyLegacy(FaultyVendor, ApiyiLegacySimulator):
    pass


class FaultyVeo3o1(FaultyVendor, Veo3o1Simulator):
    pass


class FaultyYelinai(FaultyVendor, YelinaiSimulator):
    pass


@dataclass(frozen=True)
class Vendor:
    simulator: Callable[..., Any]
    provider: Callable[..., Provider]
    model: str
    done: str  # the simulator's status that means "finished"
    gives: str | None  # the simulator's method naming the link the error must carry, if any

    def link(self, sim: Any, task_id: str) -> str | None:
        return None if self.gives is None else str(getattr(sim, self.gives)(task_id))


VENDORS = {
    # The current apiyi channel streams the bytes and gives no link.
    "apiyi": Vendor(FaultyApiyi, ApiyiProvider, "veo-3.1-fast-generate-preview", "completed", None),
    "apiyi_legacy": Vendor(
        FaultyLegacy, ApiyiLegacyChannel, "veo-3.1-fast", "completed", "file_url"
    ),
    "apixo": Vendor(FaultyApixo, ApixoProvider, APIXO_FAST, "success", "file_url"),
    "veo3o1": Vendor(FaultyVeo3o1, Veo3o1Provider, VEO3O1_MODEL, "completed", "video_url"),
    "yelinai": Vendor(FaultyYelinai, YelinaiProvider, "veo3", "completed", "video_url"),
}

Started = Callable[[str], Awaitable[tuple[Any, Provider, str, TaskStatus]]]


@pytest.fixture
def small_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(download_budget.__kwdefaults__, "base", BASE)
    monkeypatch.setitem(download_budget.__kwdefaults__, "slowest_rate", RATE)


@pytest.fixture
async def finished(session: aiohttp.ClientSession) -> AsyncIterator[Started]:
    """A vendor's simulator with one finished task; the adapter's status for it."""
    sims: list[VendorSimulator] = []

    async def start(name: str) -> tuple[Any, Provider, str, TaskStatus]:
        vendor = VENDORS[name]
        sim = vendor.simulator(api_key=KEY, queued_for=None, running_for=None)
        await sim.start()
        sims.append(sim)
        provider = vendor.provider(
            api_key=KEY, base_url=sim.base_url, session=session, timing_override=TINY
        )
        task_id = await provider.submit(SubmitRequest(model=vendor.model, prompt="a lighthouse"))
        sim.set_task_status(task_id, vendor.done)
        status = await provider.status(task_id, vendor.model)
        assert status.state is TaskState.SUCCEEDED
        return sim, provider, task_id, status

    yield start
    for sim in sims:
        await sim.close()


@pytest.mark.usefixtures("small_budget")
@pytest.mark.parametrize("name", sorted(VENDORS))
async def test_a_download_that_trickles_past_its_budget_is_stopped(
    finished: Started, tmp_path: Path, name: str
) -> None:
    sim, provider, task_id, status = await finished(name)
    sim.video_bytes = default_video(PIECES * 1024)
    sim.chunk_delay = PIECE_DELAY
    dest = tmp_path / "downloads" / "job-1.mp4"
    with pytest.raises(DownloadTooSlow) as info:
        async with asyncio.timeout(GUARD):
            await provider.fetch(task_id, VENDORS[name].model, status, dest, CAP)
    error = info.value
    assert error.code == "download_too_slow" and not error.retryable
    assert error.budget == pytest.approx(BASE + CAP / RATE)  # from the cap it was given
    assert error.url == VENDORS[name].link(sim, task_id)
    assert "too slowly" in error_text(error)
    assert KEY not in str(error) and KEY not in (error.detail or "")
    assert not dest.exists() and list((tmp_path / "downloads").iterdir()) == []


@pytest.mark.usefixtures("small_budget")
async def test_a_trickle_that_ends_within_its_budget_is_kept(
    finished: Started, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(download_budget.__kwdefaults__, "base", 10.0)
    sim, provider, task_id, status = await finished("apixo")
    sim.video_bytes = default_video(8 * 1024)
    sim.chunk_delay = 0.02
    got = await provider.fetch(task_id, APIXO_FAST, status, tmp_path / "v.mp4", CAP)
    assert got.size == len(sim.video_bytes)
    assert (tmp_path / "v.mp4").read_bytes() == sim.video_bytes


def test_the_budget_is_a_fixed_base_plus_the_cap_at_the_slowest_rate() -> None:
    assert http.DOWNLOAD_BUDGET_BASE == 60.0
    assert http.DOWNLOAD_SLOWEST_RATE == 256 * 1024
    assert download_budget(0) == 60.0
    assert download_budget(256 * 1024 * 10) == 70.0
    default_cap = 500 * 1024 * 1024  # VEO_MAX_DOWNLOAD_MB's default
    assert download_budget(default_cap) == 60.0 + 2000.0
    assert download_budget(2 * default_cap) > download_budget(default_cap)


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (0.4, "1 second"),
        (45, "45 seconds"),
        (89.4, "89 seconds"),
        (90, "2 minutes"),
        (2060, "34 minutes"),
    ],
)
def test_the_time_is_told_in_words(seconds: float, words: str) -> None:
    assert spoken_duration(seconds) == words
