"""RSS growth while the bot downloads one large video: `python -m bench.download --mb 200`.

A fresh process holding only the bot's side: the real JobManager, the real apiyi adapter
(which streams to disk through bot.providers.download.stream_to_file), the real JobStore on a
SQLite file, and a stand-in publisher. The apiyi simulator runs in its own process and
streams a generated body, so neither the server nor the bytes count here. A small job runs
first (imports, connection pool, buffers warm), then the resident set is measured before
and, every 2 ms and as the kernel's peak (VmHWM, reset first), during the big one.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import (
    SimHost,
    StandInPublisher,
    Tracer,
    bot_settings,
    log_to,
    proc_status_kb,
    reset_peak_rss,
    rss_bytes,
)
from bot.jobs.days import day_key
from bot.jobs.loop import JobManager
from bot.jobs.pacing import Pacer
from bot.jobs.requests import GenerationRequest
from bot.netguard import guarded_session, origins
from bot.providers.base import Mode
from bot.providers.registry import build_providers
from storage import TERMINAL, Database, JobStatus, JobStore
from storage.jobs import NewJob

MODEL = "veo-3.1-fast-generate-preview"


class Sampler:
    """The highest RSS seen, read every `every` seconds on a thread of its own."""

    def __init__(self, every: float = 0.002) -> None:
        self.every = every
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes())
            time.sleep(self.every)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())


async def run_job(store: JobStore, manager: JobManager, prompt: str) -> int:
    request = GenerationRequest(provider="apiyi", model=MODEL, prompt=prompt, mode=Mode.TEXT)
    job = await store.create(
        NewJob(
            user_id=1,
            guild_id=1,
            channel_id=1,
            request_json=request.model_dump_json(),
            provider="apiyi",
            model=MODEL,
            filesize_limit=10 * 1024 * 1024,
            quota_day=day_key(time.time()),
        ),
        daily_limit=1000,
        max_active=1000,
    )
    manager.wake()
    while True:
        current = await store.get(job.id)
        assert current is not None
        if current.status in TERMINAL and job.id not in manager._in_hand:
            if current.status is not JobStatus.DELIVERED:
                raise RuntimeError(
                    f"job ended {current.status}: {current.error_code} {current.error_params}"
                )
            return job.id
        await asyncio.sleep(0.05)


async def main(megabytes: int) -> dict[str, Any]:
    size = megabytes * 1024 * 1024
    with tempfile.TemporaryDirectory(prefix="veo-bench-dl-") as tmp:
        log_to(Path(tmp) / "bot.log")
        async with SimHost(["apiyi"]) as host:
            urls = host.urls
            settings = bot_settings(Path(tmp) / "veo.sqlite3", urls)
            session = guarded_session(
                origins([settings.apiyi_base_url]),
                allow_private=True,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=15),
            )
            db = await Database.open(settings.db_path)
            store = JobStore(db)
            providers = build_providers(settings, session)
            tracer = Tracer()
            tracer.wrap_provider("apiyi", providers.get("apiyi"))
            publisher = StandInPublisher()
            manager = JobManager(
                store,
                providers,
                publisher,
                work_dir=Path(tmp) / "downloads",
                max_download_bytes=settings.max_download_bytes,
                timing_overrides={"apiyi": {"initial_wait": 0.2, "poll_interval": 0.2}},
                pacer=Pacer(settings.vendor_limits()),
            )
            await manager.start()
            try:
                # Warm-up: the same path with a 4 MB video.
                await run_job(store, manager, f"warm-up [render=0.3] [bytes={4 * 1024 * 1024}]")
                gc.collect()
                await asyncio.sleep(0.5)
                before = rss_bytes()
                hwm_reset = reset_peak_rss()
                with Sampler() as sampler:
                    job_id = await run_job(
                        store, manager, f"a long video [render=0.3] [bytes={size}]"
                    )
                hwm = proc_status_kb("VmHWM") * 1024
            finally:
                await manager.stop()
                await providers.close()
                await session.close()
                await db.close()
    _, delivered_size = publisher.delivered[job_id]
    peak = max(sampler.peak, hwm if hwm_reset else 0)
    fetch = [v for k, v in tracer.fetched.items()]
    seconds = fetch[-1][1] - fetch[-1][0]
    return {
        "video_bytes": size,
        "delivered_file_bytes": delivered_size,
        "rss_before_bytes": before,
        "rss_peak_sampled_bytes": sampler.peak,
        "rss_peak_vmhwm_bytes": hwm if hwm_reset else None,
        "rss_growth_bytes": peak - before,
        "download_seconds": seconds,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=200)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.mb))), flush=True)
