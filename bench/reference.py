"""The vendors' own sample loops, run beside the bot against the same simulators, so the
bot's figures can be read against what each vendor's documentation does: seed 001's
(poll at once, then every 8 s; on `completed` wait 4 s, then download) and seed 002's
(wait 90 s, then poll every 5 s; download the result URL)."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from bench.sims import BenchApixo, BenchApiyi

APIYI_MODEL = "veo-3.1-fast-generate-preview"


@dataclass
class RefResult:
    task_id: str
    polls: int
    fetch_at: float  # monotonic, when the download started


async def apiyi_sample(session: aiohttp.ClientSession, sim: BenchApiyi, prompt: str) -> RefResult:
    """Seed 001's Python sample: poll at once and every 8 s, wait 4 s, download."""
    auth = {"Authorization": f"Bearer {sim.api_key}"}
    async with session.post(
        f"{sim.base_url}/v1/videos", json={"model": APIYI_MODEL, "prompt": prompt}, headers=auth
    ) as resp:
        task_id = (await resp.json())["task_id"]
    polls = 0
    while True:
        async with session.get(f"{sim.base_url}/v1/videos/{task_id}", headers=auth) as resp:
            status = (await resp.json())["status"]
        polls += 1
        if status == "completed":
            break
        if status == "failed":
            raise RuntimeError(f"reference task {task_id} failed")
        await asyncio.sleep(8)
    await asyncio.sleep(4)  # "retry to handle CDN sync delay right after completed"
    fetch_at = time.monotonic()
    async with session.get(f"{sim.base_url}/v1/videos/{task_id}/content", headers=auth) as resp:
        await resp.read()
    return RefResult(task_id, polls, fetch_at)


async def apixo_sample(
    session: aiohttp.ClientSession, sim: BenchApixo, prompt: str, wait: float
) -> RefResult:
    """Seed 002's advice: submit (async), wait 90 s, then poll every 5 s; download."""
    auth = {"Authorization": f"Bearer {sim.api_key}"}
    body = {
        "request_type": "async",
        "input": {"mode": "fast", "prompt": prompt, "generationType": "TEXT_2_VIDEO"},
    }
    async with session.post(
        f"{sim.base_url}/api/v1/generateTask/veo-3-1", json=body, headers=auth
    ) as resp:
        task_id = (await resp.json())["data"]["taskId"]
    await asyncio.sleep(wait)
    polls = 0
    while True:
        async with session.get(
            f"{sim.base_url}/api/v1/statusTask/veo-3-1", params={"taskId": task_id}, headers=auth
        ) as resp:
            data = (await resp.json())["data"]
        polls += 1
        if data["state"] == "success":
            break
        if data["state"] == "failed":
            raise RuntimeError(f"reference task {task_id} failed")
        await asyncio.sleep(5)
    url = json.loads(data["resultJson"])["resultUrls"][0]
    fetch_at = time.monotonic()
    async with session.get(url) as resp:
        await resp.read()
    return RefResult(task_id, polls, fetch_at)


def ref_summary(sim: Any, results: list[RefResult], ideal: Any) -> dict[str, Any]:
    delays, polls, ideals = [], [], []
    for r in results:
        done = sim.done_at(r.task_id)
        task = sim.tasks[r.task_id]
        delays.append(r.fetch_at - done)
        polls.append(r.polls)
        ideals.append(ideal(done - task.started))
    return {"delays": delays, "polls": polls, "ideal": ideals}
