"""The simulators of `tests/sim`, with what the benchmark needs on top.

- A render time per task, read from the prompt (`[render=42.5]`): the task is queued for a
  quarter of it and running for the rest, so one simulator serves jobs of many lengths, and
  the moment each task completes is known exactly (`done_at`, on `time.monotonic()`, which
  is system-wide on Linux, so other processes can compare with it).
- A failure per task (`[fail=3]`): the vendor reports the task failed 3 s after the submit,
  a content-policy refusal in its own wire format (each simulator's `make_task_fail`), and
  `failed_at` says when that became visible, on the same clock as `done_at`.
- apixo: no limit on unfinished tasks (the documented 1,000, which the simulator keeps,
  would refuse the spread part's 1,250, and the bot's own caps are raised in these runs);
  no callback for a prompt containing `[poll]` (to measure its polling schedule with the
  same bot), and a callback that sleeps until the task is due instead of checking every
  10 ms (which costs too much CPU with hundreds of tasks).
- apiyi: a prompt with `[bytes=N]` is served a generated video of N bytes, streamed in
  1 MiB chunks, so a 200 MB download never sits in the server's memory.
- Discord: the moment each interaction callback (the acknowledgement) arrives; and how
  many videos were posted for each job (attachments named `veo-job-<id>.mp4`, the name the
  bot uploads a job's video under), to check each job was delivered exactly once.

The simulators' own rules (but apixo's task limit), wire formats and records are untouched.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from tests.sim.apixo_sim import ApixoSimulator
from tests.sim.apiyi_sim import ApiyiSimulator
from tests.sim.discord_sim import DiscordSim
from tests.sim.veo3o1_sim import Veo3o1Simulator
from tests.sim.yelinai_sim import YelinaiSimulator

RENDER = re.compile(r"\[render=(\d+(?:\.\d+)?)\]")
FAIL = re.compile(r"\[fail=(\d+(?:\.\d+)?)\]")
SIZE = re.compile(r"\[bytes=(\d+)\]")
NO_CALLBACK = "[poll]"
QUEUED_SHARE = 0.25  # of a task's render time spent "queued", the rest "running"
VIDEO_HEAD = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
STREAM_CHUNK = 1024 * 1024


def prompt_of(task: Any) -> str:
    """The prompt a simulator task was submitted with (JSON or multipart)."""
    prompt = getattr(task, "prompt", None)
    if isinstance(prompt, str):
        return prompt
    rec = getattr(task, "request", None)
    if rec is None:
        return ""
    if isinstance(rec.json, dict):
        return str(rec.json.get("prompt", ""))
    return str((rec.form.get("prompt") or [""])[0])


def render_seconds(prompt: str) -> float | None:
    """How long the task takes to end, rendered or failed (`[render=X]` or `[fail=S]`)."""
    m = RENDER.search(prompt) or FAIL.search(prompt)
    return float(m[1]) if m else None


def fails(prompt: str) -> bool:
    return FAIL.search(prompt) is not None


def video_size(prompt: str) -> int | None:
    m = SIZE.search(prompt)
    return int(m[1]) if m else None


class PerTaskClock:
    """Mixin for a vendor simulator: each task follows its own render time, and a task
    whose prompt says `[fail=S]` ends failed at S instead of finished."""

    queued_for: float | None
    running_for: float | None
    tasks: dict[str, Any]

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._failing: set[str] = set()  # tasks already marked failed

    def _clock_for(self, task: Any) -> tuple[float | None, float | None]:
        total = render_seconds(prompt_of(task))
        if total is None:
            return self.queued_for, self.running_for
        return total * QUEUED_SHARE, total * (1 - QUEUED_SHARE)

    def done_at(self, task_id: str) -> float | None:
        """When the task completes(d), on time.monotonic(); None if it follows no clock."""
        task = self.tasks.get(task_id)
        if task is None:
            return None
        queued, running = self._clock_for(task)
        if queued is None or running is None:
            return None
        return float(task.started) + queued + running

    def failed_at(self, task_id: str) -> float | None:
        """When a `[fail=S]` task's failure became (or becomes) visible; None for others."""
        task = self.tasks.get(task_id)
        if task is None or not fails(prompt_of(task)):
            return None
        return self.done_at(task_id)

    def _fail_task(self, task_id: str) -> None:
        """Mark the task failed, in the vendor's own words (its `make_task_fail`)."""
        raise NotImplementedError

    def _swapped(self, task: Any, state: Callable[[Any], Any]) -> Any:
        """Run the simulator's own state function with this task's durations (a task meant
        to fail is marked so the first time it is looked at, before any answer reads it:
        every status answer, file and callback of these simulators asks the state first)."""
        task_id = str(getattr(task, "id", None) or task.uuid)
        if task_id not in self._failing and fails(prompt_of(task)):
            self._failing.add(task_id)
            self._fail_task(task_id)
        saved = self.queued_for, self.running_for
        self.queued_for, self.running_for = self._clock_for(task)
        try:
            return state(task)
        finally:
            self.queued_for, self.running_for = saved


class BenchApiyi(PerTaskClock, ApiyiSimulator):
    def _state(self, task: Any) -> str:
        return str(self._swapped(task, super()._state))

    def _fail_task(self, task_id: str) -> None:
        self.make_task_fail("Content blocked by safety review", task_id=task_id)

    async def _send_video(
        self, request: web.Request, cut: int | None, content_type: str = "video/mp4"
    ) -> web.StreamResponse:
        task = self.tasks.get(request.match_info.get("task_id", ""))
        size = video_size(prompt_of(task)) if task is not None else None
        if size is None:
            return await super()._send_video(request, cut, content_type)
        resp = web.StreamResponse(status=200, headers={"Content-Type": content_type})
        resp.content_length = size
        await resp.prepare(request)
        block = VIDEO_HEAD + bytes(STREAM_CHUNK - len(VIDEO_HEAD))
        sent = 0
        while sent < size:
            n = min(STREAM_CHUNK, size - sent)
            await resp.write(block if n == STREAM_CHUNK else block[:n])
            sent += n
        await resp.write_eof()
        return resp


class BenchApixo(PerTaskClock, ApixoSimulator):
    """apixo's documented 1,000 unfinished tasks per account is lifted, as the bot's own
    task caps are raised in these runs: the spread part has 1,250 apixo jobs in flight."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.max_concurrent = 1_000_000

    def _state(self, task: Any) -> str:
        return str(self._swapped(task, super()._state))

    def _fail_task(self, task_id: str) -> None:
        self.make_task_fail("CONTENT_VIOLATION", "Content violates usage policy", task_id=task_id)

    async def _callback_when_done(self, task: Any) -> None:
        if NO_CALLBACK in prompt_of(task):
            return
        due = self.done_at(task.id)
        if due is not None:
            await self._sleep(due - time.monotonic())
        await super()._callback_when_done(task)


class BenchVeo3o1(PerTaskClock, Veo3o1Simulator):
    def _state(self, task: Any) -> tuple[str, float, float]:
        state: tuple[str, float, float] = self._swapped(task, super()._state)
        return state

    def _fail_task(self, task_id: str) -> None:
        self.make_task_fail(task_id, errorMessage="Content policy violation: prompt rejected")


class BenchYelinai(PerTaskClock, YelinaiSimulator):
    def _phase(self, task: Any) -> tuple[str, str | None]:
        phase: tuple[str, str | None] = self._swapped(task, super()._phase)
        return phase

    def _fail_task(self, task_id: str) -> None:
        self.make_task_fail(
            "Prompt violates the content safety policy", code="CONTENT_POLICY", task_id=task_id
        )


class AckTimedDiscordSim(DiscordSim):
    """Records when each interaction's first callback reached the simulator."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.acked_at: dict[int, float] = {}

    async def _callback(self, request: web.Request) -> web.Response:
        self.acked_at.setdefault(int(request.match_info["interaction_id"]), time.monotonic())
        return await super()._callback(request)


VIDEO_NAME = re.compile(r"^veo-job-(\d+)\.mp4$")


class CountingDiscordSim(DiscordSim):
    """Counts the videos posted per job, from the stored messages' attachments."""

    def video_posts(self) -> dict[int, int]:
        """Job id -> videos posted for it (each stored message counts once: an edit that
        keeps its attachment is not a second post)."""
        posts: dict[int, int] = {}
        for message in self._messages.values():
            for attachment in message.get("attachments") or []:
                m = VIDEO_NAME.match(str(attachment.get("filename", "")))
                if m:
                    posts[int(m[1])] = posts.get(int(m[1]), 0) + 1
        return posts


VENDOR_SIMS: dict[str, type[PerTaskClock]] = {
    "apiyi": BenchApiyi,
    "apixo": BenchApixo,
    "veo3o1": BenchVeo3o1,
    "yelinai": BenchYelinai,
}
