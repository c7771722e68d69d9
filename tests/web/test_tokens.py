"""The web server's token routes accept a token only as it was handed out: a callback
pokes only an active job of the provider named in its path, and an image URL works only
with its own filename, while its token is unexpired and its job active. Anything else
answers 404 and changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import yarl

from bot.web.server import WebServer
from storage import Job, JobStatus, JobStore, NewJob
from storage.models import StoredImage
from tests.web.test_server import Clock, serving

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16
JPEG = b"\xff\xd8\xff\xe0" + b"\x01" * 16
LATER = 300.0


@dataclass
class Env:
    server: WebServer
    store: JobStore
    clock: Clock
    woken: list[int]
    http: aiohttp.ClientSession

    def local(self, public: str) -> str:
        return public.replace(self.server.public_url or "", f"http://127.0.0.1:{self.server.port}")

    async def status(self, method: str, public: str) -> int:
        async with self.http.request(method, self.local(public), json={"ok": 1}) as resp:
            await resp.read()
            return resp.status


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with serving(tmp_path) as (server, store, clock, woken):
        async with aiohttp.ClientSession() as http:
            yield Env(server, store, clock, woken, http)


async def make_job(
    env: Env, provider: str = "apixo", image: StoredImage | None = None, user: int = 1
) -> Job:
    job = await env.store.create(
        NewJob(user, 2, 3, "{}", provider, "veo3", 10, "2026-11-22"),
        [image] if image else [],
        daily_limit=5,
        max_active=5,
    )
    return job


async def with_callback(env: Env, job: Job, token: str) -> Job:
    """The job as the manager leaves it after a submit with a callback: due later."""
    await env.store.db.execute(
        "UPDATE jobs SET callback_token = ?, next_poll_at = ? WHERE id = ?",
        (token, env.clock.now + LATER, job.id),
    )
    found = await env.store.get(job.id)
    assert found is not None
    return found


async def unchanged(env: Env, before: Job) -> None:
    after = await env.store.get(before.id)
    assert after == before
    assert env.woken == []


# -- callbacks --------------------------------------------------------------------------


async def test_a_callback_naming_another_provider_pokes_nothing(env: Env) -> None:
    job = await with_callback(env, await make_job(env, "apixo"), "cb-apixo-1")
    for provider in ("yelinai", "APIXO", "apixo ", "demo"):
        url = env.server.callback_url(provider, "cb-apixo-1")
        assert await env.status("POST", url) == 404, provider
    await unchanged(env, job)
    # The same token under its own provider is a real hint.
    assert await env.status("POST", env.server.callback_url("apixo", "cb-apixo-1")) == 200
    poked = await env.store.get(job.id)
    assert poked is not None and poked.next_poll_at == env.clock.now and env.woken == [1]


@pytest.mark.parametrize("end", ["cancelled", "failed", "delivered"])
async def test_a_callback_for_an_ended_job_answers_404_and_wakes_nothing(
    env: Env, end: str
) -> None:
    job = await with_callback(env, await make_job(env, "apixo"), "cb-ended")
    if end == "cancelled":
        await env.store.request_cancel(job.id)
    else:
        status = JobStatus.FAILED if end == "failed" else JobStatus.DELIVERED
        await env.store.finish(job, None, status, refund=end == "failed")
    ended = await env.store.get(job.id)
    assert ended is not None and not ended.is_active
    assert await env.status("POST", env.server.callback_url("apixo", "cb-ended")) == 404
    await unchanged(env, ended)


@pytest.mark.parametrize(
    "token",
    ["cb-nope", "cb-apixo-%00", "%2e%2e", "x" * 300],
    ids=["unknown", "nul", "dot dot", "very long"],
)
async def test_a_callback_with_an_unknown_token_answers_404(env: Env, token: str) -> None:
    job = await with_callback(env, await make_job(env, "apixo"), "cb-apixo-1")
    assert await env.status("POST", env.server.callback_url("apixo", token)) == 404
    await unchanged(env, job)


# -- images -----------------------------------------------------------------------------


async def published(env: Env, token: str, image: StoredImage, ttl: float = 600) -> Job:
    job = await make_job(env, "yelinai", image)
    await env.store.publish_images(job.id, [token], env.clock.now + ttl)
    return job


async def test_an_image_url_works_until_the_second_it_expires(env: Env) -> None:
    await published(env, "img-a", StoredImage("cat.png", "image/png", PNG), ttl=600)
    url = env.server.url_for("img-a", "cat.png")
    env.clock.now += 599
    assert await env.status("GET", url) == 200
    env.clock.now += 1
    assert await env.status("GET", url) == 404


@pytest.mark.parametrize("end", ["failed", "delivered"])
async def test_an_image_of_an_ended_job_is_not_served(env: Env, end: str) -> None:
    job = await published(env, "img-a", StoredImage("cat.png", "image/png", PNG))
    url = env.server.url_for("img-a", "cat.png")
    assert await env.status("GET", url) == 200
    status = JobStatus.FAILED if end == "failed" else JobStatus.DELIVERED
    await env.store.finish(job, None, status, refund=end == "failed")
    assert await env.status("GET", url) == 404


async def test_an_image_url_needs_its_own_filename(env: Env) -> None:
    await published(env, "img-a", StoredImage("cat.png", "image/png", PNG))
    await published(env, "img-b", StoredImage("dog.jpg", "image/jpeg", JPEG))
    # Each token with the other job's filename, or any other name, is not a URL we gave out.
    for token, name in [
        ("img-a", "dog.jpg"),
        ("img-b", "cat.png"),
        ("img-a", "CAT.png"),
        ("img-a", "cat.png.jpg"),
        ("img-a", "x"),
    ]:
        assert await env.status("GET", env.server.url_for(token, name)) == 404, (token, name)
    async with env.http.get(env.local(env.server.url_for("img-b", "dog.jpg"))) as resp:
        assert resp.status == 200 and await resp.read() == JPEG


async def test_an_image_url_with_a_non_ascii_filename_works_as_handed_out(env: Env) -> None:
    """Member images keep letters of any script in their names (bot/requests.py): the
    URL quotes them, and the server matches the name as it was stored."""
    await published(env, "img-u", StoredImage("猫_été-1.png", "image/png", PNG))
    url = env.server.url_for("img-u", "猫_été-1.png")
    assert "猫" not in url and "%E7%8C%AB" in url
    async with env.http.get(yarl.URL(env.local(url), encoded=True)) as resp:
        assert resp.status == 200 and await resp.read() == PNG
