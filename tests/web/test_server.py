"""The bot's web server over real HTTP: expiring image URLs and callback hints."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.web.server import WebServer
from storage import Database, JobStore, NewJob
from storage.models import StoredImage

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@contextlib.asynccontextmanager
async def serving(
    tmp_path: Path, **options: Any
) -> AsyncIterator[tuple[WebServer, JobStore, Clock, list[int]]]:
    """The bot's web server on a free loopback port over a fresh store with a settable
    clock; `woken` records each wake-up of the job loop."""
    clock = Clock()
    db = await Database.open(tmp_path / "veo.sqlite3")
    store = JobStore(db, clock=clock)
    woken: list[int] = []
    kwargs: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 0,
        "public_url": "https://bot.example.invalid",
        "image_ttl": 600,
        **options,
    }
    server = WebServer(store, lambda: woken.append(1), **kwargs)
    await server.start()
    try:
        yield server, store, clock, woken
    finally:
        await server.close()
        await db.close()


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[tuple[WebServer, JobStore, Clock, list[int]]]:
    async with serving(tmp_path) as parts:
        yield parts


def local(server: WebServer, public: str) -> str:
    return public.replace(server.public_url or "", f"http://127.0.0.1:{server.port}")


async def make_job(store: JobStore) -> int:
    job = await store.create(
        NewJob(1, 2, 3, "{}", "yelinai", "veo3", 10, "2026-11-22"),
        [StoredImage("cat.png", "image/png", PNG)],
        daily_limit=5,
        max_active=5,
    )
    return job.id


async def test_published_images_are_served_until_they_expire(env) -> None:  # type: ignore[no-untyped-def]
    server, store, clock, _ = env
    job_id = await make_job(store)
    await store.publish_images(job_id, ["tok-abc"], clock.now + 600)
    url = local(server, server.url_for("tok-abc", "cat.png"))
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as resp:
            assert resp.status == 200
            assert resp.content_type == "image/png"
            assert await resp.read() == PNG
        async with http.get(local(server, server.url_for("tok-nope", "cat.png"))) as resp:
            assert resp.status == 404
        clock.now += 601
        async with http.get(url) as resp:
            assert resp.status == 404


async def test_images_of_ended_jobs_are_not_served(env) -> None:  # type: ignore[no-untyped-def]
    server, store, clock, _ = env
    job_id = await make_job(store)
    await store.publish_images(job_id, ["tok-abc"], clock.now + 600)
    await store.request_cancel(job_id)
    async with aiohttp.ClientSession() as http:
        async with http.get(local(server, server.url_for("tok-abc", "cat.png"))) as resp:
            assert resp.status == 404


async def test_a_callback_makes_its_job_due_now_and_wakes_the_manager(env) -> None:  # type: ignore[no-untyped-def]
    server, store, clock, woken = env
    job_id = await make_job(store)
    await store.db.execute(
        "UPDATE jobs SET provider = 'apixo', callback_token = 'cb-1', next_poll_at = ? WHERE id = ?",
        (clock.now + 300, job_id),
    )
    async with aiohttp.ClientSession() as http:
        url = local(server, server.callback_url("apixo", "cb-1"))
        async with http.post(url, json={"data": {"state": "success"}}) as resp:
            assert resp.status == 200
        async with http.post(
            local(server, server.callback_url("apixo", "cb-x")), data=b"x"
        ) as resp:
            assert resp.status == 404
    job = await store.get(job_id)
    assert job is not None and job.next_poll_at == clock.now
    assert woken == [1]
