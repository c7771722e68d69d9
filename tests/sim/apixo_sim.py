"""A real HTTP simulator of apixo's Veo 3.1 API, as the vendor documents it.

It enforces the documented rules (Bearer key, `mode`, `generationType`, image counts per
generation type, reference = fast + 16:9 only, aspect ratios, callback fields...) so an
adapter that breaks them fails its tests; it DOWNLOADS the image URLs it is given (as the
vendor does) and records their bytes per task; it serves finished videos as plain links on
itself (`/files/<task>.mp4`, no key needed); and, in callback mode, it POSTs the status body
to the task's `callback_url` when the task ends, retrying up to 3 times on a non-200.
Only aiohttp, the stdlib and `vendor_base` (shared by the simulators): it must not share
code with the adapter it tests.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from tests.sim import vendor_base as vb
from tests.sim.vendor_base import RecordedRequest
from tests.sim.vendor_base import default_video as default_video  # the tests import it here

SUBMIT_PATH = "/api/v1/generateTask/veo-3-1"
STATUS_PATH = "/api/v1/statusTask/veo-3-1"
MODES = frozenset({"quality", "fast"})
TYPES = frozenset({"TEXT_2_VIDEO", "FIRST_AND_LAST_FRAMES_2_VIDEO", "REFERENCE_2_VIDEO"})
ASPECTS = frozenset({"16:9", "9:16", "auto"})
REQUEST_TYPES = frozenset({"async", "callback"})
ROUTINGS = frozenset({"auto", "value", "official"})
MAX_PROMPT = 10_000
MAX_IMAGE = 10 * 1024 * 1024
TERMINAL = frozenset({"success", "failed"})
FAIL_MESSAGES = {
    "CONTENT_VIOLATION": "Content violates usage policy",
    "NSFW_DETECTED": "NSFW content detected",
    "PROMPT_TOO_LONG": "Prompt exceeds character limit",
    "INVALID_IMAGE_URL": "Cannot access the provided image URL",
    "IMAGE_TOO_LARGE": "Input image exceeds size limit",
    "UNSUPPORTED_FORMAT": "Image format not supported",
    "IMAGE_DOWNLOAD_FAILED": "Failed to download reference image",
    "PROCESSING_TIMEOUT": "Generation took too long",
    "MODEL_UNAVAILABLE": "Model is temporarily offline",
    "GENERATION_FAILED": "Generic generation failure",
    "INSUFFICIENT_CREDITS": "Account has no credits",
}
_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Server Error",
    503: "Service Unavailable",
}


@dataclass
class CallbackAttempt:
    task_id: str
    url: str
    body: dict[str, Any]
    status: int | None  # None: the connection failed
    error: str | None = None


@dataclass
class SimTask:
    id: str
    mode: str
    generation_type: str
    aspect_ratio: str
    prompt: str
    request_type: str
    callback_url: str | None
    routing: str
    seed: int | None
    image_urls: list[str]
    created_ms: int
    started: float  # monotonic
    images: list[bytes] = field(default_factory=list)  # what the vendor downloaded
    status: str | None = None  # forced state; None = follow the clock
    fail_code: str | None = None  # set: the task ends `failed` with this code
    fail_msg: str | None = None
    completed_ms: int | None = None
    request: RecordedRequest | None = None


def _error(status: int, error: str, message: str | None = None) -> web.Response:
    """The documented error envelope: `{code, message, data: {error}}`."""
    return web.json_response(
        {
            "code": status,
            "message": message or _REASONS.get(status, "Error"),
            "data": {"error": error},
        },
        status=status,
    )


class ApixoSimulator(vb.VendorSimulator):
    """apixo on 127.0.0.1. Knobs (plain attributes or methods, set them any time):

    - `queued_for` / `running_for`: seconds a task stays `pending`, then `processing`;
      `None` freezes the clock (drive it with `set_task_status`).
    - `fail_next_submit_with(status, body, headers=, retry_after=)`: a canned answer for the
      next submit (any status, 2xx oddities included).
    - `make_task_fail(code="CONTENT_VIOLATION", msg=None, task_id=None)`: the task (or,
      without id, the next one submitted) ends `failed` with that `failCode`.
    - `set_task_status(task_id, state, fail_code=None)`: force any state, known or not
      ("completed" is taken as "success").
    - `queue_status_error(...)` / `queue_file_error(...)`: canned answers served before the
      normal status / file answers (500s, 429s, HTML, a malformed 200...).
    - `video_bytes`, `send_content_length` (False: chunked), `break_content_after` (bytes sent
      before the connection is cut).
    - `delay_submit` / `delay_status`: seconds to sleep before answering.
    - `max_concurrent`: unfinished tasks allowed before submit answers 429 (documented: 1000).
    - `omit_task_id`: answer submit with `code: 200` but no `taskId`.
    - `next_task_ids`: ids to hand out next.
    - callbacks: `callbacks_enabled` (False: never POST), `callback_delay` (seconds after the
      task ends), `callback_retries` (3), `callback_retry_delay`; every attempt is recorded
      in `callbacks` as `CallbackAttempt`.
    - `requests`: every request received, as `RecordedRequest`; `tasks[id].images`: the image
      bytes the simulator downloaded from the URLs it was given.
    """

    default_api_key = "apixo-sim-key"
    parse_multipart = False  # JSON only: a multipart body is kept raw, as sent

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.tasks: dict[str, SimTask] = {}
        self.file_errors: deque[vb.ScriptedResponse] = deque()
        self.break_content_after: int | None = None
        self.max_concurrent = 1000
        self.omit_task_id = False
        self.callbacks_enabled = True
        self.callback_delay = 0.0
        self.callback_retries = 3
        self.callback_retry_delay = 0.05
        self.callbacks: list[CallbackAttempt] = []
        self.image_timeout = 5.0
        self._fail_next: tuple[str, str | None] | None = None

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post("/api/v1/generateTask/{model}", self._submit)
        app.router.add_get("/api/v1/statusTask/{model}", self._status)
        app.router.add_get("/files/{name}", self._file)
        (self.base_url,) = await self._serve(app)
        self._client = aiohttp.ClientSession()
        return self.base_url

    # -- knobs ----------------------------------------------------------------------------

    def _scripted_error_body(self, status: int) -> dict[str, Any]:
        return {
            "code": status,
            "message": _REASONS.get(status, "Error"),
            "data": {"error": f"scripted {status}"},
        }

    queue_file_error = vb.script_knob("file_errors", "Served before normal `/files/` answers.")

    def make_task_fail(
        self, code: str = "CONTENT_VIOLATION", msg: str | None = None, *, task_id: str | None = None
    ) -> None:
        if task_id is None:
            self._fail_next = (code, msg)
        else:
            task = self.tasks[task_id]
            task.fail_code, task.fail_msg = code, msg

    def set_task_status(self, task_id: str, state: str, fail_code: str | None = None) -> None:
        task = self.tasks[task_id]
        state = "success" if state == "completed" else state
        if fail_code is not None:
            task.fail_code = fail_code
        task.status = state
        if state in TERMINAL and task.completed_ms is None:
            task.completed_ms = int(time.time() * 1000)

    def status_polls(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "GET" and "/statusTask/" in r.path]

    def file_gets(self) -> list[RecordedRequest]:
        return self._requests_where("GET", prefix="/files/")

    def file_url(self, task_id: str) -> str:
        return f"{self.base_url}/files/{task_id}.mp4"

    # -- handlers -------------------------------------------------------------------------

    def _unauthorized(self, shown: str) -> web.Response:
        return _error(401, f"Invalid or missing API Key: {shown}")

    async def _submit(self, request: web.Request) -> web.StreamResponse:
        rec, early = await self._gate(request, self.submit_script, self.delay_submit)
        if early is not None:
            return early
        if request.match_info["model"] != "veo-3-1":
            return _error(404, f"model {request.match_info['model']!r} not found")
        if rec.content_type != "application/json":
            return _error(400, "Content-Type must be application/json")
        problem = self._check(rec.json)
        if isinstance(problem, web.Response):
            return problem
        active = sum(1 for t in self.tasks.values() if self._state(t) not in TERMINAL)
        if active >= self.max_concurrent:
            return _error(429, "Concurrent task limit exceeded")
        return await self._create(problem, rec)

    def _check(self, body: Any) -> web.Response | dict[str, Any]:
        """The documented rules; the normalised request when they hold."""
        if not isinstance(body, dict):
            return _error(400, "Invalid JSON body")
        request_type = body.get("request_type", "async")
        if request_type not in REQUEST_TYPES:
            return _error(400, "request_type must be async or callback")
        callback = body.get("callback_url")
        if request_type == "callback" and (
            not isinstance(callback, str) or not callback.startswith(("http://", "https://"))
        ):
            return _error(400, "callback_url is required when request_type=callback")
        routing = body.get("provider", "auto")
        if routing not in ROUTINGS:
            return _error(400, "provider must be auto, value or official")
        inp = body.get("input")
        if not isinstance(inp, dict):
            return _error(400, "Missing required field: input")
        mode = inp.get("mode")
        if mode not in MODES:
            return _error(400, "input.mode must be quality or fast")
        prompt = inp.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            return _error(400, "Missing required field: input.prompt")
        spellings = [inp[k] for k in ("generationType", "generation_type") if k in inp]
        if not spellings:
            return _error(400, "Missing required field: input.generationType")
        if len(set(map(str, spellings))) > 1 or spellings[0] not in TYPES:
            return _error(400, f"invalid generationType {spellings[0]!r}")
        gen_type = spellings[0]
        aspect = inp.get("aspect_ratio", "16:9")
        if aspect not in ASPECTS:
            return _error(400, "aspect_ratio must be 16:9, 9:16 or auto")
        seed = inp.get("seed")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            return _error(400, "seed must be an integer")
        if "enableTranslation" in inp and not isinstance(inp["enableTranslation"], bool):
            return _error(400, "enableTranslation must be a boolean")
        if "watermark" in inp and not isinstance(inp["watermark"], str):
            return _error(400, "watermark must be a string")
        urls = inp.get("image_urls", [])
        if not isinstance(urls, list) or not all(
            isinstance(u, str) and u.startswith(("http://", "https://")) for u in urls
        ):
            return _error(400, "image_urls must be a list of http(s) URLs")
        if gen_type == "TEXT_2_VIDEO" and urls:
            return _error(400, "image_urls is not used for TEXT_2_VIDEO")
        if gen_type == "FIRST_AND_LAST_FRAMES_2_VIDEO" and not 1 <= len(urls) <= 2:
            return _error(400, "FIRST_AND_LAST_FRAMES_2_VIDEO requires image_urls (max 2)")
        if gen_type == "REFERENCE_2_VIDEO":
            if not 1 <= len(urls) <= 3:
                return _error(400, "REFERENCE_2_VIDEO requires image_urls (max 3)")
            if mode != "fast":
                return _error(400, "REFERENCE_2_VIDEO only supports fast mode")
            if aspect != "16:9":
                return _error(400, "REFERENCE_2_VIDEO aspect_ratio must be 16:9")
        return {
            "request_type": request_type,
            "callback_url": callback if request_type == "callback" else None,
            "routing": routing,
            "mode": mode,
            "prompt": prompt,
            "generation_type": gen_type,
            "aspect_ratio": aspect,
            "seed": seed,
            "image_urls": list(urls),
        }

    async def _create(self, req: dict[str, Any], rec: RecordedRequest) -> web.Response:
        task_id = self._take_id(lambda n: f"apx_{n:012d}")
        task = SimTask(
            id=task_id,
            mode=req["mode"],
            generation_type=req["generation_type"],
            aspect_ratio=req["aspect_ratio"],
            prompt=req["prompt"],
            request_type=req["request_type"],
            callback_url=req["callback_url"],
            routing=req["routing"],
            seed=req["seed"],
            image_urls=req["image_urls"],
            created_ms=int(time.time() * 1000),
            started=time.monotonic(),
            request=rec,
        )
        if len(task.prompt) > MAX_PROMPT:
            task.fail_code = "PROMPT_TOO_LONG"
        for url in task.image_urls:
            problem = await self._download(task, url)
            if problem is not None and task.fail_code is None:
                task.fail_code = problem
        if self._fail_next is not None and task.fail_code is None:
            task.fail_code, task.fail_msg = self._fail_next
        self._fail_next = None
        self.tasks[task_id] = task
        if task.callback_url is not None:
            self._spawn(self._callback_when_done(task))
        data: dict[str, Any] = {} if self.omit_task_id else {"taskId": task_id}
        return web.json_response({"code": 200, "message": "success", "data": data})

    async def _download(self, task: SimTask, url: str) -> str | None:
        """Fetch one image like the vendor would; the fail code when it cannot be used."""
        assert self._client is not None
        try:
            timeout = aiohttp.ClientTimeout(total=self.image_timeout)
            async with self._client.get(url, timeout=timeout) as resp:
                if resp.status != 200:
                    return "INVALID_IMAGE_URL"
                buf = bytearray()
                async for chunk in resp.content.iter_chunked(64 * 1024):
                    buf += chunk
                    if len(buf) > MAX_IMAGE:
                        break
                data = bytes(buf)
        except (aiohttp.ClientError, TimeoutError):
            return "IMAGE_DOWNLOAD_FAILED"
        if len(data) > MAX_IMAGE:
            return "IMAGE_TOO_LARGE"
        if vb.image_kind(data) is None:
            return "UNSUPPORTED_FORMAT"
        task.images.append(data)
        return None

    def _state(self, task: SimTask) -> str:
        unfinished = self._unfinished(task, "pending", "processing")
        if unfinished is not None:
            return unfinished
        if task.completed_ms is None:
            elapsed = time.monotonic() - task.started
            task.completed_ms = task.created_ms + max(1, int(elapsed * 1000))
        return "failed" if task.fail_code else "success"

    def _task_body(self, task: SimTask) -> dict[str, Any]:
        state = self._state(task)
        data: dict[str, Any] = {"taskId": task.id, "state": state, "createTime": task.created_ms}
        if state in TERMINAL:
            done = task.completed_ms or int(time.time() * 1000)
            data["completeTime"] = done
            data["costTime"] = max(0, done - task.created_ms)
        if state == "success":
            data["resultJson"] = json.dumps({"resultUrls": [self.file_url(task.id)]})
        elif state == "failed":
            code = task.fail_code or "GENERATION_FAILED"
            data["failCode"] = code
            data["failMsg"] = task.fail_msg or FAIL_MESSAGES.get(code, "Generation failed")
        # A failed task is still HTTP 200 with code 200 (as documented).
        return {"code": 200, "message": "success", "data": data}

    async def _status(self, request: web.Request) -> web.StreamResponse:
        _, early = await self._gate(request, self.status_errors, self.delay_status)
        if early is not None:
            return early
        if request.match_info["model"] != "veo-3-1":
            return _error(404, "model not found")
        task_id = request.query.get("taskId")
        if not task_id:
            return _error(400, "Missing required parameter: taskId")
        task = self.tasks.get(task_id)
        if task is None:
            return _error(404, "Task not found")
        return web.json_response(self._task_body(task))

    async def _file(self, request: web.Request) -> web.StreamResponse:
        """The CDN: no key needed (and none should be sent)."""
        return await self._serve_file(
            request,
            self.file_errors,
            lambda name: self._mp4_of(name, "success"),
            self.break_content_after,
        )

    # -- callbacks ------------------------------------------------------------------------

    async def _callback_when_done(self, task: SimTask) -> None:
        """Wait for the task to end (clock or `set_task_status`), then POST its status body
        to `callback_url`, retrying on anything but a 200."""
        while self._state(task) not in TERMINAL:
            await asyncio.sleep(0.01)
        await self._sleep(self.callback_delay)
        if not self.callbacks_enabled or self._closing.is_set() or task.callback_url is None:
            return
        assert self._client is not None
        body = self._task_body(task)
        for attempt in range(1 + self.callback_retries):
            if attempt:
                await self._sleep(self.callback_retry_delay)
            if self._closing.is_set():
                return
            try:
                async with self._client.post(
                    task.callback_url, json=body, timeout=aiohttp.ClientTimeout(total=30)
                ) as resp:
                    status = resp.status
                self.callbacks.append(CallbackAttempt(task.id, task.callback_url, body, status))
                if status == 200:
                    return
            except (aiohttp.ClientError, TimeoutError) as exc:
                self.callbacks.append(
                    CallbackAttempt(task.id, task.callback_url, body, None, type(exc).__name__)
                )
