"""What the vendor simulators share: the server's lifecycle (`async with Sim(...) as sim`
starts one and closes it), the defaults of the clock, request recording, scripted
answers, the gate every API handler passes, the queued-running-finished clock, and
serving a video file.

Everything vendor-specific (routes, rules, error envelopes, task states and bodies) stays
in each `*_sim.py` (what apiyi's two channels share, in `apiyi_channel.py`). Only aiohttp and the stdlib: it must not share code with the adapters
the simulators test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import aiohttp
from aiohttp import web

ScriptBody = str | bytes | dict[str, Any] | None

# Declared image types and the bytes their files start with (WebP: also `WEBP` at 8).
IMAGE_TYPES = {
    "image/jpeg": b"\xff\xd8\xff",
    "image/png": b"\x89PNG\r\n\x1a\n",
    "image/webp": b"RIFF",
}


def default_video(size: int = 4096) -> bytes:
    """A few KB starting with a valid MP4 `ftyp` box (size 24, brand isom)."""
    head = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
    body = bytes(i % 251 for i in range(max(0, size - len(head))))
    return head + body


def image_kind(data: bytes) -> str | None:
    """ "jpeg", "png" or "webp" by the file's magic bytes; None for anything else."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def is_declared_image(content_type: str, data: bytes) -> bool:
    """The upload is a JPEG, PNG or WebP and its bytes match the type it declares."""
    magic = IMAGE_TYPES.get(content_type)
    return (
        magic is not None
        and data.startswith(magic)
        and (content_type != "image/webp" or data[8:12] == b"WEBP")
    )


@dataclass
class RecordedFile:
    filename: str | None
    content_type: str
    size: int
    data: bytes


@dataclass
class RecordedRequest:
    method: str
    path: str  # as received, still percent-encoded (with the query unless the sim drops it)
    headers: dict[str, str]
    content_type: str
    json: Any = None  # parsed JSON body, when it was JSON
    form: dict[str, list[str]] = field(default_factory=dict)  # multipart text fields
    files: dict[str, list[RecordedFile]] = field(default_factory=dict)
    body: bytes = b""
    query: dict[str, str] = field(default_factory=dict)
    url: str = ""  # the full URL as seen by the server (tells listening ports apart)


@dataclass
class ScriptedResponse:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    def build(self) -> web.Response:
        return web.Response(
            status=self.status, body=self.body, content_type=self.content_type, headers=self.headers
        )


def scripted(
    status: int,
    body: ScriptBody,
    headers: dict[str, str] | None,
    retry_after: float | None,
    default_body: dict[str, Any],
) -> ScriptedResponse:
    """A canned answer: a dict goes as JSON, None as `default_body`, text or bytes as
    HTML (when it looks like markup) or plain text."""
    hdrs = dict(headers or {})
    if retry_after is not None:
        hdrs["Retry-After"] = (
            str(int(retry_after)) if retry_after == int(retry_after) else str(retry_after)
        )
    if body is None:
        body = default_body
    if isinstance(body, dict):
        return ScriptedResponse(status, json.dumps(body).encode(), "application/json", hdrs)
    raw = body.encode() if isinstance(body, str) else body
    ctype = "text/html" if raw.lstrip().startswith(b"<") else "text/plain"
    return ScriptedResponse(status, raw, ctype, hdrs)


def script_knob(queue: str, doc: str = "") -> Callable[..., None]:
    """A knob that queues a canned answer on the simulator's deque named `queue`."""

    def knob(
        self: VendorSimulator,
        status: int,
        body: ScriptBody = None,
        *,
        headers: dict[str, str] | None = None,
        retry_after: float | None = None,
    ) -> None:
        getattr(self, queue).append(self._script(status, body, headers, retry_after))

    knob.__doc__ = doc or f"Queue a canned answer on `{queue}`."
    return knob


class VendorSimulator:
    """The machinery of a vendor simulator on 127.0.0.1; subclasses add routes and rules.

    Shared knobs: `queued_for` / `running_for`, `fail_next_submit_with(...)`,
    `queue_status_error(...)`, `video_bytes`, `send_content_length`, `delay_submit`,
    `delay_status`, `next_task_ids`; shared records: `requests`, `tasks`.
    """

    # The key the simulator expects unless given one.
    default_api_key: ClassVar[str] = "sim-key"
    # The request path as recorded keeps its query string.
    record_query_in_path: ClassVar[bool] = True
    # Multipart bodies are parsed into `form` / `files` (else kept raw in `body`).
    parse_multipart: ClassVar[bool] = True

    def __init__(
        self,
        *,
        api_key: str | None = None,
        queued_for: float | None = 0.05,
        running_for: float | None = 0.05,
    ) -> None:
        self.api_key = self.default_api_key if api_key is None else api_key
        self.queued_for = queued_for
        self.running_for = running_for
        self.requests: list[Any] = []
        self.tasks: dict[str, Any] = {}
        self.submit_script: deque[ScriptedResponse] = deque()
        self.status_errors: deque[ScriptedResponse] = deque()
        self.video_bytes = default_video()
        self.send_content_length = True
        self.delay_submit = 0.0
        self.delay_status = 0.0
        self.next_task_ids: deque[str] = deque()
        # Crash tests: hold one video body after this many bytes (see `_maybe_stall_video`).
        self.stall_video_after: int | None = None
        self.video_stalled = asyncio.Event()
        self.release_video = asyncio.Event()
        self._counter = 0
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self._background: set[asyncio.Task[None]] = set()
        self.base_url = ""

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> str:
        """Listen on 127.0.0.1; the base URL the adapter is given."""
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _serve(self, app: web.Application, sites: int = 1) -> list[str]:
        """Run `app` on `sites` fresh ports of 127.0.0.1; their origins, in order."""
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, handler_cancellation=True)
        await self._runner.setup()
        for _ in range(sites):
            await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        return [f"http://{a[0]}:{a[1]}" for a in self._runner.addresses]

    async def close(self) -> None:
        self._closing.set()
        for task in list(self._background):
            task.cancel()
        for task in list(self._background):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run `coro` in the background; `close` cancels it."""
        job = asyncio.get_running_loop().create_task(coro)
        self._background.add(job)
        job.add_done_callback(self._background.discard)

    # -- knobs ----------------------------------------------------------------------------

    def _scripted_error_body(self, status: int) -> dict[str, Any]:
        """The vendor's error envelope for a scripted answer given no body."""
        raise NotImplementedError

    def _script(
        self,
        status: int,
        body: ScriptBody,
        headers: dict[str, str] | None,
        retry_after: float | None,
    ) -> ScriptedResponse:
        default = self._scripted_error_body(status) if body is None else {}
        return scripted(status, body, headers, retry_after, default)

    fail_next_submit_with = script_knob("submit_script", "A canned answer for the next submit.")
    queue_status_error = script_knob("status_errors", "Served before normal status answers.")

    def _requests_where(
        self, method: str | None = None, *, prefix: str = "", suffix: str = ""
    ) -> list[Any]:
        return [
            r
            for r in self.requests
            if (method is None or r.method == method)
            and r.path.startswith(prefix)
            and r.path.endswith(suffix)
        ]

    def submits(self) -> list[Any]:
        return self._requests_where("POST")

    def _unfinished(self, task: Any, queued: str, running: str) -> str | None:
        """A task's state until it finishes: the one a test forced on it (`task.status`),
        else the clock's from when it began (`task.started`, monotonic): `queued` for
        `queued_for` seconds, then `running` for `running_for`, then None (finished; the
        vendor's own rules say how). While either is None the clock stands at `queued`."""
        if task.status is not None:
            return str(task.status)
        if self.queued_for is None or self.running_for is None:
            return queued
        elapsed = time.monotonic() - task.started
        if elapsed < self.queued_for:
            return queued
        if elapsed < self.queued_for + self.running_for:
            return running
        return None

    def _take_id(self, make: Callable[[int], str]) -> str:
        """The next id: from `next_task_ids`, else `make(counter)`."""
        self._counter += 1
        return self.next_task_ids.popleft() if self.next_task_ids else make(self._counter)

    # -- handlers -------------------------------------------------------------------------

    async def _record(self, request: web.Request) -> RecordedRequest:
        ctype = request.content_type
        path = request.raw_path
        rec = RecordedRequest(
            method=request.method,
            path=path if self.record_query_in_path else path.split("?", 1)[0],
            headers=dict(request.headers),
            content_type=ctype,
            query=dict(request.query),
            url=str(request.url),
        )
        if request.method == "POST":
            if ctype == "multipart/form-data" and self.parse_multipart:
                await self._read_multipart(request, rec)
            else:
                rec.body = await request.read()
                try:
                    rec.json = json.loads(rec.body)
                except ValueError:
                    rec.json = None
        self.requests.append(rec)
        return rec

    async def _read_multipart(self, request: web.Request, rec: RecordedRequest) -> None:
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, web.FileField):
                data = value.file.read()
                value.file.close()  # a spooled temp file: never leave it to the GC
                rec.files.setdefault(key, []).append(
                    RecordedFile(value.filename, value.content_type, len(data), data)
                )
            else:
                rec.form.setdefault(key, []).append(str(value))

    def _authorized(self, request: web.Request) -> web.Response | None:
        """`Authorization: Bearer <key>`; anything else gets `_unauthorized`."""
        given = request.headers.get("Authorization", "")
        if given == f"Bearer {self.api_key}":
            return None
        # Echo what was presented, as many gateways do: the adapter must not leak it.
        return self._unauthorized(given.removeprefix("Bearer ").strip() or "(none)")

    def _unauthorized(self, shown: str) -> web.Response:
        raise NotImplementedError

    async def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), timeout=seconds)

    async def _gate(
        self,
        request: web.Request,
        script: deque[ScriptedResponse],
        delay: float = 0.0,
        *,
        auth: bool = True,
    ) -> tuple[RecordedRequest, web.StreamResponse | None]:
        """Record, sleep `delay`, check the key (unless `auth` is False), then serve the
        next canned answer of `script`: the record, and the answer when one is due."""
        rec = await self._record(request)
        await self._sleep(delay)
        if auth:
            denied = self._authorized(request)
            if denied is not None:
                return rec, denied
        if script:
            return rec, script.popleft().build()
        return rec, None

    async def _serve_file(
        self,
        request: web.Request,
        script: deque[ScriptedResponse],
        ready: Callable[[str], bool],
        cut: int | None,
        content_type: str = "video/mp4",
    ) -> web.StreamResponse:
        """A video file as a CDN serves it: no key asked for, the scripted answers first, then
        the video (see `_send_video`) if `ready(name)` says the file is a finished task's,
        else 404."""
        _, early = await self._gate(request, script, auth=False)
        if early is not None:
            return early
        if not ready(request.match_info["name"]):
            return web.Response(status=404, text="Not Found")
        return await self._send_video(request, cut, content_type)

    def _mp4_of(self, name: str, finished: str) -> bool:
        """`name` is `<task id>.mp4` of a task whose `_state` is `finished`."""
        task = self.tasks.get(name.removesuffix(".mp4"))
        return name.endswith(".mp4") and task is not None and self._state(task) == finished

    def _state(self, task: Any) -> Any:
        """The task's state now, in the vendor's words (each simulator has its own)."""
        raise NotImplementedError

    async def _send_video(
        self, request: web.Request, cut: int | None, content_type: str = "video/mp4"
    ) -> web.StreamResponse:
        """Stream `video_bytes` (chunked unless `send_content_length`); with `cut`, only
        that many bytes, then the connection is dropped."""
        resp = web.StreamResponse(status=200, headers={"Content-Type": content_type})
        data = self.video_bytes
        if self.send_content_length:
            resp.content_length = len(data)
        else:
            resp.enable_chunked_encoding()
        await resp.prepare(request)
        sent = data if cut is None else data[:cut]
        for start in range(0, len(sent), 1024):
            await resp.write(sent[start : start + 1024])
            await self._maybe_stall_video(start + 1024)
        if cut is not None:
            # Drop the connection mid-body: the client sees a truncated payload.
            if request.transport is not None:
                request.transport.close()
            return resp
        await resp.write_eof()
        return resp

    async def _maybe_stall_video(self, sent: int) -> None:
        """Crash tests: once `sent` bytes reach `stall_video_after`, flag `video_stalled` and
        hold the body until `release_video` is set (or the client goes away, which cancels
        the handler). One body only: the knob resets itself."""
        if self.stall_video_after is None or sent < self.stall_video_after:
            return
        self.stall_video_after = None
        self.video_stalled.set()
        await self.release_video.wait()
