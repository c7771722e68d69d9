"""A real HTTP simulator of yelinai's legacy `/veo/v1/api/video/*` API, as the vendor
documents it.

It enforces what the documentation states (Bearer auth, the four model names, `images` as
at most 5 URL strings, `enhance_prompt` as a boolean, the `{success, data}` envelope and
the `{success:false, message, error_code, details}` errors), answers status in the
documented shapes (`processing` with `upstreamData.status` `image_downloading` →
`video_generating`, then `completed` with `result.video_url`), really DOWNLOADS every
image URL it is given (a URL that does not download fails the task, as a vendor that
fetches images would), and serves the finished video on itself. Task ids contain a colon, like the vendor's: the
status path is decoded exactly once, as a real server does, so an id sent unquoted (with
reserved characters) or quoted twice is not found. Only aiohttp, the stdlib and
`vendor_base` (shared by the simulators): it must not share code with the adapter it tests.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import aiohttp
from aiohttp import web

from tests.sim import vendor_base as vb
from tests.sim.vendor_base import RecordedRequest
from tests.sim.vendor_base import default_video as default_video  # the tests import it here

MODELS = frozenset({"veo3", "veo3-fast", "veo3-pro", "veo3-pro-frames"})
MAX_IMAGES = 5
API = "/veo/v1/api/video"
SUBMIT_PATH = f"{API}/submit"
STATUS_PREFIX = f"{API}/status/"
MAX_IMAGE_BYTES = 20 * 1024 * 1024


def _image_type(data: bytes) -> str | None:
    kind = vb.image_kind(data)
    return None if kind is None else f"image/{kind}"


@dataclass
class SimTask:
    id: str
    model: str
    prompt: str
    enhance_prompt: bool
    image_urls: list[str]
    created_at_ms: int
    started: float  # monotonic
    file_name: str
    request: RecordedRequest | None = None
    # What the vendor downloaded, in order: the bytes and their sniffed type.
    images: list[bytes] = field(default_factory=list)
    image_types: list[str] = field(default_factory=list)
    downloaded_at: float | None = None  # monotonic; None while downloading
    download_error: str | None = None
    # Forced `data.status` / `data.upstreamData.status`; None = follow the clock.
    status: str | None = None
    upstream: str | None = None
    retry_count: int = 0
    fail: bool = False
    fail_code: str | None = None
    fail_reason: str | None = None
    fail_field: str = "error"


def _error(
    status: int,
    error_code: str,
    message: str,
    *,
    field_: str | None = None,
    reason: str | None = None,
) -> web.Response:
    return web.json_response(
        {
            "success": False,
            "message": message,
            "error_code": error_code,
            "details": {"field": field_, "reason": reason or message},
        },
        status=status,
    )


class YelinaiSimulator(vb.VendorSimulator):
    """yelinai on 127.0.0.1. Knobs (plain attributes or methods, set them any time):

    - `queued_for` / `running_for`: seconds a task stays just-submitted, then
      `video_generating` (after its images are downloaded); `None` freezes the clock
      (drive it with `set_task_status`).
    - `fail_next_submit_with(status, body, headers=, retry_after=)`: a canned answer for
      the next submit (any status, a dict/str/bytes body; `script_next_submit` is the same).
    - `make_task_fail(reason=None, code=None, task_id=None, field="error")`: the task (or,
      without id, the next one submitted) ends `failed`; `field` says where the reason goes:
      "error" (`data.error`), "message" (`data.message`), "upstream"
      (`data.upstreamData.error`), "object" (`data.error = {code, message}`).
    - `set_task_status(task_id, status, upstream=None, retry_count=0)`: force `data.status`
      (any string) and `upstreamData.status`; `image_downloading` / `video_generating` as
      `status` mean "processing at that stage".
    - `status_errors` / `queue_status_error(...)`: canned answers served before normal status
      answers (500s, 429s, a malformed 200...). `file_errors` / `queue_file_error(...)`
      likewise for the video file.
    - `not_found_status`: the HTTP status of TASK_NOT_FOUND (404; the documentation lists 400 too).
    - `video_bytes`, `send_content_length`, `break_content_after`, `omit_video_url`.
    - `delay_submit` / `delay_status` / `delay_image_download`: seconds before answering.
    - `next_task_ids`: ids to hand out next (quoting tests).
    - `requests`: every request received; `tasks[id].images`: the image bytes downloaded.
    """

    default_api_key = "yl-sim-key"
    record_query_in_path = False  # `requests[i].path` is without the query
    parse_multipart = False  # JSON only: any other body is kept raw

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.tasks: dict[str, SimTask] = {}
        self.file_errors: deque[vb.ScriptedResponse] = deque()
        self.not_found_status = 404
        self.break_content_after: int | None = None
        self.omit_video_url = False
        self.delay_image_download = 0.0
        self._fail_next: tuple[str | None, str | None, str] | None = None

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post(SUBMIT_PATH, self._submit)
        app.router.add_get(STATUS_PREFIX + "{rest:.*}", self._status)
        app.router.add_get("/files/{name}", self._file)
        (self.base_url,) = await self._serve(app)
        self._client = aiohttp.ClientSession()
        return self.base_url

    # -- knobs ----------------------------------------------------------------------------

    def _scripted_error_body(self, status: int) -> dict[str, Any]:
        return {
            "success": False,
            "message": f"scripted {status}",
            "error_code": "INTERNAL_ERROR" if status >= 500 else "REQUEST_FAILED",
            "details": {"field": None, "reason": f"scripted {status}"},
        }

    script_next_submit = vb.VendorSimulator.fail_next_submit_with
    queue_file_error = vb.script_knob("file_errors", "Served before normal `/files/` answers.")

    def make_task_fail(
        self,
        reason: str | None = None,
        *,
        code: str | None = None,
        task_id: str | None = None,
        field: str = "error",
    ) -> None:
        """No reason: a bare `failed` (the vendor documents no failure body)."""
        if task_id is None:
            self._fail_next = (reason, code, field)
        else:
            task = self.tasks[task_id]
            task.fail, task.fail_reason, task.fail_code, task.fail_field = (
                True,
                reason,
                code,
                field,
            )

    def set_task_status(
        self, task_id: str, status: str, *, upstream: str | None = None, retry_count: int = 0
    ) -> None:
        task = self.tasks[task_id]
        if status in ("image_downloading", "video_generating"):
            status, upstream = "processing", status
        task.status, task.upstream, task.retry_count = status, upstream, retry_count

    def status_gets(self) -> list[RecordedRequest]:
        return self._requests_where(prefix=STATUS_PREFIX)

    def file_gets(self) -> list[RecordedRequest]:
        return self._requests_where(prefix="/files/")

    def video_url(self, task_id: str) -> str:
        return f"{self.base_url}/files/{self.tasks[task_id].file_name}"

    async def wait_downloaded(self, task_id: str, timeout: float = 5.0) -> SimTask:
        """Until the task's images are fetched (or failed to)."""
        deadline = time.monotonic() + timeout
        task = self.tasks[task_id]
        while task.downloaded_at is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"images of {task_id} still downloading")
            await asyncio.sleep(0.01)
        return task

    # -- handlers -------------------------------------------------------------------------

    def _unauthorized(self, shown: str) -> web.Response:
        return _error(
            401,
            "UNAUTHORIZED",
            "Authentication failed",
            field_="Authorization",
            reason=f"Invalid API key: {shown}",
        )

    async def _submit(self, request: web.Request) -> web.StreamResponse:
        rec, early = await self._gate(request, self.submit_script, self.delay_submit)
        if early is not None:
            return early
        problem = self._check(rec)
        if problem is not None:
            return problem
        return self._create(rec)

    def _check(self, rec: RecordedRequest) -> web.Response | None:
        if rec.content_type != "application/json":
            return _error(
                400, "INVALID_REQUEST", "Request body must be JSON", reason=rec.content_type
            )
        body = rec.json
        if not isinstance(body, dict):
            return _error(400, "INVALID_REQUEST", "Request body must be a JSON object")
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            return _error(
                400,
                "INVALID_PROMPT",
                "Invalid prompt",
                field_="prompt",
                reason="prompt is required",
            )
        model = body.get("model", "veo3")
        if not isinstance(model, str) or model not in MODELS:
            return _error(
                400,
                "INVALID_MODEL",
                "Model does not exist",
                field_="model",
                reason=f"unsupported model: {model!r}",
            )
        if "images" in body:
            images = body["images"]
            if not isinstance(images, list) or not all(isinstance(u, str) for u in images):
                return _error(
                    400,
                    "INVALID_REQUEST",
                    "Invalid images",
                    field_="images",
                    reason="images must be an array of URL strings",
                )
            if len(images) > MAX_IMAGES:
                return _error(
                    400,
                    "INVALID_REQUEST",
                    "Too many images",
                    field_="images",
                    reason=f"at most {MAX_IMAGES} images, got {len(images)}",
                )
            for url in images:
                parts = urlsplit(url)
                if parts.scheme not in ("http", "https") or not parts.netloc:
                    return _error(
                        400,
                        "INVALID_REQUEST",
                        "Invalid image URL",
                        field_="images",
                        reason="each image must be a public http(s) URL",
                    )
        if "enhance_prompt" in body and not isinstance(body["enhance_prompt"], bool):
            return _error(
                400,
                "INVALID_REQUEST",
                "Invalid enhance_prompt",
                field_="enhance_prompt",
                reason="enhance_prompt must be a boolean",
            )
        return None

    def _create(self, rec: RecordedRequest) -> web.Response:
        body = rec.json
        model = body.get("model", "veo3")
        task_id = self._take_id(lambda _: f"{model}:{uuid.uuid4()}")
        task = SimTask(
            id=task_id,
            model=model,
            prompt=body["prompt"],
            enhance_prompt=bool(body.get("enhance_prompt", False)),
            image_urls=list(body.get("images") or []),
            created_at_ms=int(time.time() * 1000),
            started=time.monotonic(),
            file_name=re.sub(r"[^A-Za-z0-9_-]", "_", task_id) + ".mp4",
            request=rec,
        )
        if self._fail_next is not None:
            task.fail = True
            task.fail_reason, task.fail_code, task.fail_field = self._fail_next
            self._fail_next = None
        self.tasks[task_id] = task
        if task.image_urls:
            self._spawn(self._download(task))
        else:
            task.downloaded_at = task.started
        return web.json_response(
            {
                "success": True,
                "data": {
                    "taskId": task_id,
                    "pollingUrl": f"https://asyncdata.net/source/{task_id}",
                    "status": "processing",
                    "message": "Task submitted successfully",
                },
            }
        )

    async def _download(self, task: SimTask) -> None:
        """Fetch every image like the vendor does; the first one that fails fails the task."""
        await self._sleep(self.delay_image_download)
        assert self._client is not None
        try:
            for n, url in enumerate(task.image_urls, 1):
                try:
                    async with self._client.get(
                        url, timeout=aiohttp.ClientTimeout(total=10)
                    ) as resp:
                        data = await resp.content.read(MAX_IMAGE_BYTES + 1)
                        if resp.status != 200:
                            raise ValueError(f"HTTP {resp.status}")
                except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                    # Echoes the URL, as such gateways do: the adapter must not show it.
                    task.download_error = f"Image download failed: image {n} ({url}): {exc}"
                    return
                kind = _image_type(data)
                if kind is None or len(data) > MAX_IMAGE_BYTES:
                    task.download_error = f"Image download failed: image {n} is not a valid image"
                    return
                task.images.append(data)
                task.image_types.append(kind)
        finally:
            task.downloaded_at = time.monotonic()

    def _phase(self, task: SimTask) -> tuple[str, str | None]:
        """(`data.status`, `upstreamData.status`) now."""
        if task.status is not None:
            return task.status, task.upstream
        if self.queued_for is None or self.running_for is None:
            return "processing", None
        now = time.monotonic()
        elapsed = now - task.started
        if elapsed < self.queued_for:
            return "processing", None
        if task.downloaded_at is None:
            return "processing", "image_downloading"
        if task.download_error is not None:
            return "failed", None
        generating_from = max(self.queued_for, task.downloaded_at - task.started)
        if elapsed < generating_from + self.running_for:
            return "processing", "video_generating"
        return ("failed" if task.fail else "completed"), None

    def _task_body(self, task: SimTask) -> dict[str, Any]:
        status, upstream = self._phase(task)
        data: dict[str, Any] = {"taskId": task.id}
        if status == "processing" and upstream is None:
            data.update(
                pollingUrl=f"https://asyncdata.net/source/{task.id}",
                status="processing",
                message="Task submitted successfully",
            )
        elif status == "processing" and upstream == "image_downloading":
            up: dict[str, Any] = {
                "created_at": task.created_at_ms,
                "id": task.id,
                "images": [{"status": "downloading", "url": u} for u in task.image_urls],
                "status": "image_downloading",
            }
            if task.enhance_prompt:
                up["enhanced_prompt"] = f"Enhanced: {task.prompt}"
            data.update(
                pollingUrl=f"https://asyncdata.net/source/{task.id}",
                upstreamData=up,
                status="processing",
                progress={
                    "upstreamStatus": "image_downloading",
                    "retryCount": task.retry_count,
                    "maxRetries": 3,
                },
            )
        elif status == "processing":
            data.update(
                upstreamData={
                    "status": upstream,
                    "video_generation_id": uuid.uuid5(uuid.NAMESPACE_URL, task.id).hex,
                    "video_generation_status": "MEDIA_GENERATION_STATUS_ACTIVE",
                },
                status="processing",
            )
            if task.retry_count:
                data["progress"] = {
                    "upstreamStatus": upstream,
                    "retryCount": task.retry_count,
                    "maxRetries": 3,
                }
        elif status == "completed":
            result: dict[str, Any] = {"video_media_id": "CAUSJ" + uuid.uuid4().hex}
            if not self.omit_video_url:
                result["video_url"] = self.video_url(task.id)
            data.update(status="completed", result=result)
        elif status == "failed":
            data["status"] = "failed"
            data["upstreamData"] = {"status": "failed"}
            if task.download_error is not None:
                data["error"] = task.download_error
                data["error_code"] = "IMAGE_DOWNLOAD_FAILED"
            elif task.fail_reason is not None or task.fail_code is not None:
                reason, code = task.fail_reason, task.fail_code
                if task.fail_field == "message":
                    data["message"] = reason
                elif task.fail_field == "upstream":
                    data["upstreamData"]["error"] = reason
                elif task.fail_field == "object":
                    data["error"] = {"code": code, "message": reason}
                else:
                    data["error"] = reason
                if code is not None and task.fail_field != "object":
                    data["error_code"] = code
        else:
            data["status"] = status
            if upstream is not None:
                data["upstreamData"] = {"status": upstream}
        return {"success": True, "data": data}

    async def _status(self, request: web.Request) -> web.StreamResponse:
        rec, early = await self._gate(request, self.status_errors, self.delay_status)
        if early is not None:
            return early
        raw = rec.path[len(STATUS_PREFIX) :]
        if not raw or "/" in raw:
            # An unquoted "/" splits the id: no route matches, as on a real server.
            return web.Response(status=404, text="404 page not found")
        # Decoded exactly once: a twice-quoted id keeps its "%25.." and is not found.
        task = self.tasks.get(unquote(raw, errors="replace"))
        if task is None:
            return _error(
                self.not_found_status,
                "TASK_NOT_FOUND",
                "Task does not exist",
                field_="taskId",
                reason=f"task {unquote(raw)} not found",
            )
        return web.json_response(self._task_body(task))

    async def _file(self, request: web.Request) -> web.StreamResponse:
        return await self._serve_file(
            request, self.file_errors, self._video_ready, self.break_content_after
        )

    def _video_ready(self, name: str) -> bool:
        task = next((t for t in self.tasks.values() if t.file_name == name), None)
        return task is not None and self._phase(task)[0] == "completed"
