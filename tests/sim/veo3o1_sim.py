"""A real HTTP simulator of veo3o1, as the vendor documents it.

It enforces what the documentation states (Bearer auth, the `code`/`msg`/`data` envelope, the
generate fields and their values, `imageUrl` required for image_to_video, multipart
`file` uploads of JPEG/PNG/WebP up to 50 MB, pending → processing → completed/failed),
records every request for assertions on what went over the wire, and has knobs for the
failures the real vendor may produce. It downloads the `imageUrl` it is given, as the
vendor must, so a test can check the member's image really arrived.

Two listening sockets on 127.0.0.1: the API (`base_url`, ending in `/api` like the real
one) and a "CDN" on another port (`cdn_url`) that serves uploaded images and finished
videos, so a test can tell whether the API key was sent to a foreign host.

Only aiohttp, the stdlib and `vendor_base` (shared by the simulators): it must not share
code with the adapter it tests.
"""

from __future__ import annotations

import math
import time
import uuid as uuidlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from tests.sim import vendor_base as vb
from tests.sim.vendor_base import RecordedRequest
from tests.sim.vendor_base import default_video as default_video  # the tests import it here

GENERATION_TYPES = frozenset({"text_to_video", "image_to_video"})
ASPECTS = frozenset({"auto", "16:9", "9:16"})
MAX_UPLOAD = 50 * 1024 * 1024
IMAGE_TYPES = {
    "image/jpeg": (b"\xff\xd8\xff", "jpg"),
    "image/jpg": (b"\xff\xd8\xff", "jpg"),
    "image/png": (b"\x89PNG\r\n\x1a\n", "png"),
    "image/webp": (b"RIFF", "webp"),
}
# HTTP status used for each code when `errors_with_http_200` is False.
HTTP_FOR_CODE = {1000: 400, 1001: 402, 1002: 401, 1003: 429, 5000: 500}


@dataclass
class UploadedImage:
    key: str
    url: str
    filename: str | None
    content_type: str
    data: bytes


@dataclass
class SimTask:
    uuid: str
    generation_type: str
    prompt: str
    aspect_ratio: str
    created_at: str
    started: float  # monotonic
    image_url: str | None = None
    image_key: str | None = None
    images: list[bytes] = field(default_factory=list)  # what the sim downloaded
    status: str | None = None  # forced status; None = follow the clock
    progress: float | None = None  # forced values that go with a forced status
    estimated_time: float | None = None
    fail: bool = False
    fail_fields: dict[str, Any] = field(default_factory=dict)
    url_version: int = 1
    request: RecordedRequest | None = None


class Veo3o1Simulator(vb.VendorSimulator):
    """veo3o1 on 127.0.0.1. Knobs (plain attributes or methods, set them any time):

    - `queued_for` / `running_for`: seconds a task stays `pending`, then `processing`
      (progress and estimatedTime follow the clock); `None` freezes every task in
      `pending` until `set_task_status(uuid, status, progress=, estimated_time=)`.
    - `errors_with_http_200`: error envelopes come with HTTP 200 (True) or with the HTTP
      status of `HTTP_FOR_CODE` (False, the default).
    - `fail_next_submit_with(status, body=None, headers=, retry_after=)` (also
      `script_next_submit`), `fail_next_upload_with(...)`: canned answers for the next
      generate / upload call. A dict body is sent as JSON; None gives an envelope whose
      code matches the status.
    - `make_task_fail(task_id=None, **fields)`: the task (without id: the next one
      submitted) ends `failed`; `fields` are added to its `data` (the vendor documents none).
    - `queue_status_error(status, body=None, ...)`: canned answers served before normal
      status answers (a malformed 200 body too). `queue_video_error(...)` likewise for
      the video download.
    - `expire_video_url(task_id)`: the URLs handed out so far stop working (403); the next
      status answer carries a new one.
    - `video_bytes`, `send_content_length`, `break_content_after`, `videos_on_api_host`
      (serve videoUrl on the API's own origin instead of the CDN port).
    - `delay_submit` / `delay_upload` / `delay_status`: seconds to sleep before answering.
    - `max_upload_bytes`, `omit_image_key` (upload answers carry `imageUrl` only),
      `next_task_ids`.
    - Records: `requests`, `tasks` (each with the downloaded `images`), `uploads`.
    """

    default_api_key = "veo3o1-sim-key"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.errors_with_http_200 = False
        self.tasks: dict[str, SimTask] = {}
        self.uploads: dict[str, UploadedImage] = {}
        self.upload_script: deque[vb.ScriptedResponse] = deque()
        self.video_errors: deque[vb.ScriptedResponse] = deque()
        self.break_content_after: int | None = None
        self.videos_on_api_host = False
        self.delay_upload = 0.0
        self.max_upload_bytes = MAX_UPLOAD
        self.omit_image_key = False
        self._fail_next: dict[str, Any] | None = None
        self.base_url = ""  # http://127.0.0.1:PORT/api
        self.api_origin = ""
        self.cdn_url = ""  # http://127.0.0.1:OTHERPORT

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(client_max_size=MAX_UPLOAD + 1024 * 1024)
        app.router.add_post("/api/generate-video", self._generate)
        app.router.add_get("/api/video-status/{uuid}", self._status)
        app.router.add_post("/api/upload-video-image", self._upload)
        app.router.add_get("/cdn/r2/{key:.+}", self._image)
        app.router.add_get("/cdn/files/{name}", self._video)
        self.api_origin, self.cdn_url = await self._serve(app, sites=2)
        self.base_url = f"{self.api_origin}/api"
        self._client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
        return self.base_url

    # -- knobs ----------------------------------------------------------------------------

    def _scripted_error_body(self, status: int) -> dict[str, Any]:
        code = {429: 1003, 401: 1002, 403: 1002, 402: 1001}.get(
            status, 5000 if status >= 500 else 1000
        )
        return {"code": code, "msg": f"scripted {status}", "data": None}

    script_next_submit = vb.VendorSimulator.fail_next_submit_with
    fail_next_upload_with = vb.script_knob("upload_script", "A canned answer for the next upload.")

    def queue_video_error(
        self,
        status: int,
        body: vb.ScriptBody = None,
        *,
        headers: dict[str, str] | None = None,
        retry_after: float | None = None,
    ) -> None:
        """Served before normal video downloads; no body: an empty one."""
        self.video_errors.append(self._script(status, body or "", headers, retry_after))

    def make_task_fail(self, task_id: str | None = None, **fields: Any) -> None:
        if task_id is None:
            self._fail_next = dict(fields)
        else:
            task = self.tasks[task_id]
            task.fail, task.fail_fields = True, dict(fields)

    def set_task_status(
        self,
        task_id: str,
        status: str,
        *,
        progress: float | None = None,
        estimated_time: float | None = None,
    ) -> None:
        """Force any status string, known or not, with the figures to report beside it."""
        task = self.tasks[task_id]
        task.status, task.progress, task.estimated_time = status, progress, estimated_time

    def expire_video_url(self, task_id: str) -> None:
        self.tasks[task_id].url_version += 1

    def video_url(self, task_id: str) -> str:
        task = self.tasks[task_id]
        origin = f"{self.api_origin}" if self.videos_on_api_host else self.cdn_url
        return f"{origin}/cdn/files/{task.uuid}.mp4?sig=v{task.url_version}"

    def submits(self) -> list[RecordedRequest]:
        return self._requests_where(prefix="/api/generate-video")

    def upload_requests(self) -> list[RecordedRequest]:
        return self._requests_where(prefix="/api/upload-video-image")

    def status_requests(self) -> list[RecordedRequest]:
        return self._requests_where(prefix="/api/video-status/")

    def downloads(self) -> list[RecordedRequest]:
        return self._requests_where(prefix="/cdn/files/")

    # -- envelope helpers -----------------------------------------------------------------

    def _envelope(self, code: int, msg: str, data: Any = None) -> web.Response:
        status = 200 if code == 0 or self.errors_with_http_200 else HTTP_FOR_CODE.get(code, 400)
        return web.json_response({"code": code, "msg": msg, "data": data}, status=status)

    def _invalid(self, msg: str) -> web.Response:
        return self._envelope(1000, msg)

    # -- handlers -------------------------------------------------------------------------

    def _unauthorized(self, shown: str) -> web.Response:
        return self._envelope(1002, f"Authentication failed: invalid API key {shown}")

    async def _upload(self, request: web.Request) -> web.StreamResponse:
        rec, early = await self._gate(request, self.upload_script, self.delay_upload)
        if early is not None:
            return early
        if rec.content_type != "multipart/form-data":
            return self._invalid("Use multipart/form-data to upload image file")
        files = rec.files.get("file", [])
        if len(files) != 1 or set(rec.files) != {"file"}:
            return self._invalid(
                f"exactly one file field 'file' is required, got {sorted(rec.files)}"
            )
        upload = files[0]
        expected = IMAGE_TYPES.get(upload.content_type)
        kind = vb.image_kind(upload.data)
        if expected is None or kind is None or not upload.data.startswith(expected[0]):
            return self._invalid(
                f"Unsupported image format {upload.content_type}: use JPEG, PNG or WebP"
            )
        if upload.size > self.max_upload_bytes:
            return self._invalid("File too large: maximum file size is 50MB")
        key = f"video-images/{uuidlib.uuid4().hex}.{expected[1]}"
        url = f"{self.cdn_url}/cdn/r2/{key}"
        self.uploads[key] = UploadedImage(
            key, url, upload.filename, upload.content_type, upload.data
        )
        data = {"imageUrl": url} if self.omit_image_key else {"imageUrl": url, "imageKey": key}
        return self._envelope(0, "Upload successful", data)

    async def _image(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        image = self.uploads.get(request.match_info["key"])
        if image is None:
            return web.Response(status=404, text="not found")
        return web.Response(body=image.data, content_type=image.content_type)

    async def _generate(self, request: web.Request) -> web.StreamResponse:
        rec, early = await self._gate(request, self.submit_script, self.delay_submit)
        if early is not None:
            return early
        body = rec.json
        if rec.content_type != "application/json" or not isinstance(body, dict):
            return self._invalid("Request body must be a JSON object")
        gen = body.get("generationType")
        if gen not in GENERATION_TYPES:
            return self._invalid("generationType must be text_to_video or image_to_video")
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            return self._invalid("prompt is required")
        aspect = body.get("aspectRatio", "auto")
        if aspect not in ASPECTS:
            return self._invalid("aspectRatio must be auto, 16:9 or 9:16")
        image_url, image_key = body.get("imageUrl"), body.get("imageKey")
        for name, value in (("imageUrl", image_url), ("imageKey", image_key)):
            if value is not None and not isinstance(value, str):
                return self._invalid(f"{name} must be a string")
        images: list[bytes] = []
        if gen == "image_to_video":
            if not image_url:
                return self._invalid("imageUrl is required for image_to_video")
            if image_key is not None and image_key not in self.uploads:
                return self._invalid("imageKey does not match an uploaded image")
            data = await self._download_image(image_url)
            if data is None:
                return self._invalid("imageUrl could not be downloaded as an image")
            images.append(data)
        elif image_url is not None or image_key is not None:
            return self._invalid("imageUrl and imageKey are only for image_to_video")
        return self._create(gen, prompt, aspect, image_url, image_key, images, rec)

    async def _download_image(self, url: str) -> bytes | None:
        assert self._client is not None
        try:
            async with self._client.get(url) as resp:
                if resp.status != 200:
                    return None
                data = await resp.read()
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None
        return data if vb.image_kind(data) is not None else None

    def _create(
        self,
        gen: str,
        prompt: str,
        aspect: str,
        image_url: str | None,
        image_key: str | None,
        images: list[bytes],
        rec: RecordedRequest,
    ) -> web.Response:
        task_id = self._take_id(lambda _: str(uuidlib.uuid4()))
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        task = SimTask(
            uuid=task_id,
            generation_type=gen,
            prompt=prompt,
            aspect_ratio=aspect,
            created_at=created,
            started=time.monotonic(),
            image_url=image_url,
            image_key=image_key,
            images=images,
            request=rec,
        )
        if self._fail_next is not None:
            task.fail, task.fail_fields, self._fail_next = True, self._fail_next, None
        self.tasks[task_id] = task
        return self._envelope(
            0,
            "Success",
            {
                "uuid": task_id,
                "status": "pending",
                "generationType": gen,
                "prompt": prompt,
                "aspectRatio": aspect,
                "createdAt": created,
            },
        )

    def _state(self, task: SimTask) -> tuple[str, float, float]:
        """(status, progress, estimatedTime) now."""
        if task.status is not None:
            defaults = {"pending": (0, 120), "processing": (50, 60), "completed": (100, 0)}
            progress, eta = defaults.get(task.status, (0, 0))
            return (
                task.status,
                progress if task.progress is None else task.progress,
                eta if task.estimated_time is None else task.estimated_time,
            )
        if self.queued_for is None or self.running_for is None:
            return "pending", 0, 120
        elapsed = time.monotonic() - task.started
        total = self.queued_for + self.running_for
        if elapsed < self.queued_for:
            return "pending", 0, math.ceil(total - elapsed)
        if elapsed < total:
            share = (elapsed - self.queued_for) / max(self.running_for, 1e-9)
            return "processing", min(99, max(1, int(share * 100))), math.ceil(total - elapsed)
        return ("failed", 0, 0) if task.fail else ("completed", 100, 0)

    async def _status(self, request: web.Request) -> web.StreamResponse:
        _, early = await self._gate(request, self.status_errors, self.delay_status)
        if early is not None:
            return early
        task = self.tasks.get(request.match_info["uuid"])
        if task is None:
            status = 200 if self.errors_with_http_200 else 404
            return web.json_response(
                {"code": 1000, "msg": "Video not found", "data": None}, status=status
            )
        state, progress, eta = self._state(task)
        data: dict[str, Any] = {
            "uuid": task.uuid,
            "status": state,
            "videoUrl": self.video_url(task.uuid) if state == "completed" else None,
            "progress": progress,
            "estimatedTime": eta,
        }
        if state == "failed":
            data.update(task.fail_fields)
        return self._envelope(0, "Success", data)

    async def _video(self, request: web.Request) -> web.StreamResponse:
        _, early = await self._gate(request, self.video_errors, auth=False)
        if early is not None:
            return early
        name = request.match_info["name"]
        task = self.tasks.get(name.removesuffix(".mp4"))
        if task is None or self._state(task)[0] != "completed":
            return web.Response(status=404, text="NoSuchKey")
        if request.query.get("sig") != f"v{task.url_version}":
            return web.Response(status=403, text="Request has expired")
        return await self._send_video(request, self.break_content_after)
