"""A built-in provider that needs no key and no network.

It is what a new operator tries first: after a short delay it "renders" the small MP4
shipped in the package. The task id carries its own submit time, so the provider
holds no state and a restart of the bot resumes demo jobs like real ones.
"""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from bot.providers.codes import say

from .base import (
    FetchedVideo,
    Mode,
    ModelSpec,
    ProviderRejected,
    ResultTooLarge,
    SubmitRequest,
    TaskNotFound,
    TaskState,
    TaskStatus,
    Timing,
)

DEMO_MODEL = "demo-veo"
# A prompt containing this word makes the demo task fail, to show what a failure looks like.
FAIL_WORD = "#fail"


def demo_video_path() -> Path:
    return Path(str(resources.files("bot.providers").joinpath("assets/demo.mp4")))


class DemoProvider:
    name = "demo"
    label = "Demo (no real video model)"

    def __init__(
        self,
        *,
        delay: float = 8.0,
        poll_interval: float = 2.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._delay = delay
        self._clock = clock
        timing = Timing(
            initial_wait=min(delay, 2.0), poll_interval=poll_interval, deadline=delay + 120
        )
        self.models = {
            DEMO_MODEL: ModelSpec(
                name=DEMO_MODEL,
                label="Demo clip",
                modes=frozenset({Mode.TEXT, Mode.FIRST_FRAME}),
                aspect_ratios=("16:9", "9:16"),
                durations=(4, 6, 8),
                default_duration=8,
                resolutions=("720p",),
                timing=timing,
                negative_prompt=True,
                seed=True,
                max_prompt=2000,
                price_usd=0.0,
            )
        }

    async def submit(self, request: SubmitRequest) -> str:
        if request.model not in self.models:
            raise ProviderRejected(say("demo.no_model", model=request.model))
        outcome = "f" if FAIL_WORD in request.prompt.lower() else "s"
        return f"demo-{outcome}-{int(self._clock() * 1000)}-{uuid.uuid4().hex[:8]}"

    def _parse(self, task_id: str) -> tuple[bool, float]:
        try:
            _, outcome, millis, _ = task_id.split("-", 3)
            return outcome == "s", int(millis) / 1000
        except ValueError:
            raise TaskNotFound(say("demo.no_task"), detail=task_id) from None

    async def status(self, task_id: str, model: str) -> TaskStatus:
        succeeds, submitted_at = self._parse(task_id)
        elapsed = self._clock() - submitted_at
        if elapsed < self._delay / 2:
            return TaskStatus(TaskState.PENDING, stage="queued")
        if elapsed < self._delay:
            return TaskStatus(
                TaskState.RUNNING, progress=int(100 * elapsed / self._delay), stage="generating"
            )
        if not succeeds:
            return TaskStatus(
                TaskState.FAILED,
                error_code="demo_failure",
                error_say=say("demo.failed", word=FAIL_WORD),
            )
        return TaskStatus(TaskState.SUCCEEDED, progress=100)

    async def fetch(
        self, task_id: str, model: str, status: TaskStatus, dest: Path, max_bytes: int
    ) -> FetchedVideo:
        source = demo_video_path()
        size = source.stat().st_size
        if size > max_bytes:
            raise ResultTooLarge(say("demo.too_large"))
        dest.parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(shutil.copyfile, source, dest)
        return FetchedVideo(path=dest, size=size)

    async def close(self) -> None:
        return None
