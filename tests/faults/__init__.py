"""The vendor / Discord fault matrix, proven end to end: the real bot (composition root,
job manager, SQLite file, discord.py) against the real simulators, with faults injected
through the simulators' knobs.

Shared here: how a test waits for a job to be put back after a failed try and reads the
delay it was given (`put_back`), how it then skips that wait without sleeping
(`fast_forward`), and simulator subclasses for the few faults the simulators have no knob
for (a fixed port that can refuse connections, a connection dropped after the request was
read, a download that answers late or trickles). Backoff is asserted on the schedule
written to the database, never on how long a test took.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiohttp import web

from bot.chat.messages import ready_marker
from bot.client import VeoBot
from bot.settings import Settings
from storage import Job, JobStatus
from tests.conftest import wait_for_job
from tests.sim.apixo_sim import ApixoSimulator
from tests.sim.apiyi_sim import ApiyiSimulator
from tests.sim.discord_payloads import CHANNEL_ID
from tests.sim.discord_sim import DiscordSim
from tests.sim.vendor_base import default_video

# No pacing in the way: these tests make many calls on purpose.
UNPACED = 60_000

# A put-back delay is read as next_poll_at - updated_at, which falls short of the delay the
# manager chose by the time between its clock read and the row's write (a wait for the
# database, and for status polls the vendor call itself): lower bounds allow this much.
SLACK = 0.25


def apiyi_settings(
    make_settings: Callable[..., Settings], sim: ApiyiSimulator, **extra: Any
) -> Settings:
    return make_settings(
        APIYI_API_KEY=sim.api_key,
        APIYI_BASE_URL=sim.base_url,
        VEO_APIYI_RATE_PER_MINUTE=UNPACED,
        **extra,
    )


def apixo_settings(
    make_settings: Callable[..., Settings],
    sim: ApixoSimulator,
    *,
    poll: float = 0.05,
    **extra: Any,
) -> Settings:
    return make_settings(
        APIXO_API_KEY=sim.api_key,
        APIXO_BASE_URL=sim.base_url,
        VEO_APIXO_INITIAL_WAIT=poll,
        VEO_APIXO_POLL_INTERVAL=poll,
        VEO_APIXO_RATE_PER_MINUTE=UNPACED,
        **extra,
    )


async def put_back(
    bot: VeoBot, job_id: int, status: JobStatus, attempts: int, timeout: float = 10.0
) -> tuple[Job, float]:
    """Wait until the job was released in `status` after its `attempts`-th failed try;
    return it and the delay the manager scheduled before the next try."""
    job = await wait_for_job(
        bot,
        job_id,
        frozenset({status}),
        timeout=timeout,
        until=lambda j: j.attempts == attempts and j.lease_owner is None,
    )
    return job, job.next_poll_at - job.updated_at


async def fast_forward(bot: VeoBot, job_id: int) -> None:
    """Make a job that waits out a backoff due now (its schedule was asserted already)."""
    await bot.store.db.execute("UPDATE jobs SET next_poll_at = 0 WHERE id = ?", (job_id,))
    bot.manager.wake()


def jittered(base: float, attempt: int, cap: float = 60.0) -> tuple[float, float]:
    """The range of the documented backoff: base * 2^(n-1) ± 25 %, never above the cap."""
    nominal = base * 2 ** (attempt - 1)
    return min(cap, 0.75 * nominal), min(cap, 1.25 * nominal)


def failure_notes(sim: DiscordSim, job_id: int) -> list[str]:
    """The pings that tell the member a job failed (in the job's channel)."""
    return [
        str(m["content"])
        for m in sim.messages(CHANNEL_ID)
        if f"job #{job_id} failed" in str(m["content"])
    ]


def delivery_posts(sim: DiscordSim) -> list[Any]:
    """Every POST of a message to the job's channel that carried a finished video."""
    return [
        r
        for r in sim.find_requests("POST", rf"^/channels/{CHANNEL_ID}/messages$")
        if r.json and "is ready" in str(r.json.get("content", ""))
    ]


def is_delivery(job_id: int) -> Callable[[dict[str, Any]], bool]:
    return lambda m: ready_marker(job_id) in str(m["content"])


class FaultyVendor:
    """Mixin for a vendor simulator: the faults its knobs lack.

    - `port`: serve on this fixed port; until `start()` (or after `close()`) nothing
      listens there, so connecting is refused. Restartable.
    - `drop_submits` / `drop_statuses`: that many requests are read (and recorded) and
      then the connection is cut without an answer.
    - `delay_files`: seconds before a video download is answered at all.
    - `chunk_delay`: seconds between the 1 KB pieces of a video body (a trickle; above the
      client's read timeout, a stall).
    """

    port: int | None = None
    drop_submits = 0
    drop_statuses = 0
    delay_files = 0.0
    chunk_delay = 0.0
    base_url: str
    _runner: web.AppRunner | None
    _closing: asyncio.Event

    def fixed_port(self, port: int) -> None:
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"

    async def _serve(self, app: web.Application, sites: int = 1) -> list[str]:
        if self.port is None:
            return await super()._serve(app, sites)  # type: ignore[misc]
        self._closing = asyncio.Event()  # a restart after close() sleeps normally again
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, handler_cancellation=True)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return [self.base_url]

    async def _drop(self, request: web.Request) -> web.StreamResponse:
        """Read the request like a vendor would, then cut the connection unanswered."""
        await self._record(request)  # type: ignore[attr-defined]
        assert request.transport is not None
        request.transport.abort()
        await asyncio.sleep(30)  # cancelled at once: the client is gone
        raise AssertionError("unreachable")

    async def _submit(self, request: web.Request) -> web.StreamResponse:
        if self.drop_submits > 0:
            self.drop_submits -= 1
            return await self._drop(request)
        return await super()._submit(request)  # type: ignore[misc]

    async def _status(self, request: web.Request) -> web.StreamResponse:
        if self.drop_statuses > 0:
            self.drop_statuses -= 1
            return await self._drop(request)
        return await super()._status(request)  # type: ignore[misc]

    async def _send_video(
        self, request: web.Request, cut: int | None, content_type: str = "video/mp4"
    ) -> web.StreamResponse:
        if self.delay_files > 0:
            await asyncio.sleep(self.delay_files)
        return await super()._send_video(request, cut, content_type)  # type: ignore[misc]

    async def _maybe_stall_video(self, sent: int) -> None:
        if self.chunk_delay > 0:
            await asyncio.sleep(self.chunk_delay)
        await super()._maybe_stall_video(sent)  # type: ignore[misc]


class FaultyApiyi(FaultyVendor, ApiyiSimulator):
    pass


class FaultyApixo(FaultyVendor, ApixoSimulator):
    pass


class LateFileServer:
    """A CDN on a fixed port that is not there at first (connection refused), then serves
    one video at `/late.mp4`."""

    def __init__(self, port: int, video: bytes | None = None) -> None:
        self.port = port
        self.video = video if video is not None else default_video(20_000)
        self.url = f"http://127.0.0.1:{port}/late.mp4"
        self.gets = 0
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/late.mp4", self._file)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _file(self, request: web.Request) -> web.Response:
        self.gets += 1
        return web.Response(body=self.video, content_type="video/mp4")
