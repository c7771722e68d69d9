"""A real HTTP simulator of apiyi's earlier "reverse" `/v1/videos` channel, as the vendor
documents it.

It enforces the documented rules (the bare-key Authorization header, the eight model
names, JSON `{prompt, model}` for plain models, multipart with one or two
`input_reference` files for `-fl` models, the error envelope and codes) so an adapter that
breaks them fails its tests. It records every request, keeps the frames each task
received, answers `/content` with JSON holding a URL on itself (`/files/<id>.mp4`, served
like a CDN: no auth), and has knobs for the failures the real vendor produces. Only
aiohttp, the stdlib, `vendor_base` and `apiyi_channel` (shared by the simulators): it must
not share code with the adapter it tests.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web

from tests.sim import vendor_base as vb
from tests.sim.apiyi_channel import ApiyiChannelSimulator
from tests.sim.vendor_base import RecordedRequest
from tests.sim.vendor_base import default_video as default_video  # the tests import it here

MODELS = frozenset(
    {
        "veo-3.1",
        "veo-3.1-fl",
        "veo-3.1-fast",
        "veo-3.1-fast-fl",
        "veo-3.1-landscape",
        "veo-3.1-landscape-fl",
        "veo-3.1-landscape-fast",
        "veo-3.1-landscape-fast-fl",
    }
)


@dataclass
class SimTask:
    id: str
    model: str
    prompt: str
    created: int
    started: float  # monotonic
    images: list[vb.RecordedFile] = field(default_factory=list)  # in the order received
    status: str | None = None  # forced status; None = follow the clock
    fail: bool = False
    fail_body: dict[str, Any] = field(default_factory=dict)
    request: RecordedRequest | None = None


def _error(
    status: int, code: str, message: str, type_: str = "invalid_request_error"
) -> web.Response:
    """The documented error envelope: `{"error": {code, message, type}}`."""
    return web.json_response(
        {"error": {"code": code, "message": message, "type": type_}}, status=status
    )


class ApiyiLegacySimulator(ApiyiChannelSimulator):
    """apiyi's earlier channel on 127.0.0.1. Knobs (plain attributes or methods, any time):

    - `queued_for` / `running_for`: seconds a task stays `queued`, then `processing`;
      `None` freezes the clock (drive it with `set_task_status`).
    - `fail_next_submit_with(status, body, headers=, retry_after=)`: a canned answer for
      the next POST (also `script_next_submit`, for 2xx oddities).
    - `make_task_fail(reason=None, code=..., task_id=None)`: the task (or, without id,
      the next one submitted) ends `failed`, with `error{code,message,type}` when a reason
      is given, bare otherwise.
    - `queue_status_error(...)` / `queue_content_error(...)` / `queue_file_error(...)`:
      canned answers served before the normal ones (500s, 429s, malformed 200s...).
    - `content_not_ready_times`: the next N `/content` calls on a completed task answer
      400 `video_not_ready`.
    - `content_url`: a URL to hand out instead of our own `/files/<id>.mp4`.
    - `video_bytes`, `send_content_length` (False: chunked), `break_file_after` (bytes
      sent before the connection is cut), `file_content_type`.
    - `delay_submit` / `delay_status`: seconds to sleep before answering.
    - `next_task_ids`: ids to hand out next, for quoting tests.
    - `requests`: every request received, as `RecordedRequest`; `tasks[id].images`: the
      frames each task received, in order.
    """

    default_api_key = "sk-sim-legacy-key"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.tasks: dict[str, SimTask] = {}
        self.file_errors: deque[vb.ScriptedResponse] = deque()
        self.content_not_ready_times = 0
        self.content_url: str | None = None
        self.break_file_after: int | None = None
        self.file_content_type = "video/mp4"

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_get("/files/{name}", self._file)

    # -- knobs ----------------------------------------------------------------------------

    def _scripted_error_body(self, status: int) -> dict[str, Any]:
        return {"error": {"code": "upstream_error", "message": f"scripted {status}", "type": "x"}}

    queue_file_error = vb.script_knob("file_errors", "Served before normal `/files/` answers.")

    def make_task_fail(
        self,
        reason: str | None = None,
        *,
        code: str = "generation_failed",
        task_id: str | None = None,
    ) -> None:
        """No reason: a bare `failed` (the vendor documents no failure fields)."""
        body: dict[str, Any] = {}
        if reason is not None:
            body["error"] = {"code": code, "message": reason, "type": "upstream_error"}
        self._fail_with(body, task_id)

    def set_task_status(self, task_id: str, status: str) -> None:
        """Force any status string, known or not."""
        self.tasks[task_id].status = status

    def file_gets(self) -> list[RecordedRequest]:
        return self._requests_where("GET", prefix="/files/")

    def file_url(self, task_id: str) -> str:
        return f"{self.base_url}/files/{task_id}.mp4"

    # -- handlers -------------------------------------------------------------------------

    async def _read_multipart(self, request: web.Request, rec: RecordedRequest) -> None:
        # Read part by part: `request.post()` would fold repeated file fields.
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):  # nested multipart: not expected
                continue
            name = part.name or ""
            data = await part.read(decode=False)
            if part.filename is not None:
                rec.files.setdefault(name, []).append(
                    vb.RecordedFile(
                        part.filename,
                        part.headers.get("Content-Type", ""),
                        len(data),
                        bytes(data),
                    )
                )
            else:
                rec.form.setdefault(name, []).append(bytes(data).decode("utf-8", "replace"))

    def _authorized(self, request: web.Request) -> web.Response | None:
        """As documented: `Authorization: sk-...`, the bare key. `Bearer <key>` is refused."""
        given = request.headers.get("Authorization", "")
        if given == self.api_key:
            return None
        # Like OpenAI-style gateways, echo what was presented: the adapter must not leak it.
        return _error(
            401,
            "invalid_api_key",
            f"Invalid API key provided: {given or '(none)'}",
            "authentication_error",
        )

    async def _submit(self, request: web.Request) -> web.StreamResponse:
        rec, early = await self._gate(request, self.submit_script, self.delay_submit)
        if early is not None:
            return early
        if rec.content_type == "application/json":
            checked = self._check_json(rec)
        elif rec.content_type == "multipart/form-data":
            checked = self._check_multipart(rec)
        else:
            return _error(400, "invalid_request", f"unsupported content type {rec.content_type!r}")
        if isinstance(checked, web.Response):
            return checked
        model, prompt, images = checked
        return self._create(model, prompt, images, rec)

    def _check_model_prompt(self, model: object, prompt: object) -> web.Response | None:
        if not isinstance(model, str) or model not in MODELS:
            return _error(400, "invalid_model", f"Model not found: {model!r}")
        if not isinstance(prompt, str) or not prompt.strip():
            return _error(400, "invalid_prompt", "prompt is required")
        return None

    def _check_json(
        self, rec: RecordedRequest
    ) -> web.Response | tuple[str, str, list[vb.RecordedFile]]:
        body = rec.json
        if not isinstance(body, dict):
            return _error(400, "invalid_request", "request body must be a JSON object")
        problem = self._check_model_prompt(body.get("model"), body.get("prompt"))
        if problem is not None:
            return problem
        model = str(body["model"])
        if model.endswith("-fl"):
            return _error(
                400,
                "invalid_request",
                "frame-to-video models need multipart/form-data with input_reference",
            )
        if "input_reference" in body:
            return _error(400, "invalid_request", "input_reference must be an uploaded file")
        return model, str(body["prompt"]), []

    def _check_multipart(
        self, rec: RecordedRequest
    ) -> web.Response | tuple[str, str, list[vb.RecordedFile]]:
        for key, values in rec.form.items():
            if len(values) > 1:
                return _error(400, "invalid_request", f"field {key} given more than once")
        if "input_reference" in rec.form:
            return _error(
                400, "invalid_request", "input_reference must be an uploaded file, not text"
            )
        for key in ("model", "prompt"):
            if key in rec.files:
                return _error(400, "invalid_request", f"{key} must be a text field")
        model = rec.form.get("model", [None])[0]
        prompt = rec.form.get("prompt", [None])[0]
        problem = self._check_model_prompt(model, prompt)
        if problem is not None:
            return problem
        assert model is not None and prompt is not None
        if not model.endswith("-fl"):
            return _error(400, "invalid_model", "frame-to-video needs a model with the -fl suffix")
        other = set(rec.files) - {"input_reference"}
        if other:
            return _error(400, "invalid_request", f"unexpected file fields {sorted(other)}")
        refs = rec.files.get("input_reference", [])
        if len(refs) not in (1, 2):
            return _error(
                400,
                "invalid_request",
                f"input_reference must be given once or twice, got {len(refs)}",
            )
        for ref in refs:
            if not vb.is_declared_image(ref.content_type, ref.data):
                return _error(
                    400,
                    "invalid_request",
                    f"input_reference must be a JPEG, PNG or WebP image, got {ref.content_type}",
                )
        return model, prompt, list(refs)

    def _create(
        self, model: str, prompt: str, images: list[vb.RecordedFile], rec: RecordedRequest
    ) -> web.Response:
        task_id = self._take_id(lambda n: f"video_{n:012d}")
        task = SimTask(
            id=task_id,
            model=model,
            prompt=prompt,
            created=int(time.time()),
            started=time.monotonic(),
            images=images,
            request=rec,
        )
        self._register(task)
        return web.json_response(self._task_body(task, "queued"))

    def _state(self, task: SimTask) -> str:
        unfinished = self._unfinished(task, "queued", "processing")
        if unfinished is not None:
            return unfinished
        return "failed" if task.fail else "completed"

    def _task_body(self, task: SimTask, state: str | None = None) -> dict[str, Any]:
        """The documented video object: `id` only (no `task_id`), `created`, `status`,
        `model`."""
        state = state or self._state(task)
        body: dict[str, Any] = {
            "id": task.id,
            "object": "video",
            "created": task.created,
            "status": state,
            "model": task.model,
        }
        if state == "failed":
            body.update(task.fail_body)
        return body

    def _not_found(self) -> web.Response:
        return _error(404, "video_not_found", "Video task not found")

    async def _serve_content(self, request: web.Request, task: SimTask) -> web.StreamResponse:
        if self._state(task) != "completed":
            return _error(400, "video_not_ready", "Video not yet generated")
        if self.content_not_ready_times > 0:
            self.content_not_ready_times -= 1
            return _error(400, "video_not_ready", "Video not yet generated")
        landscape = "-landscape" in task.model
        return web.json_response(
            {
                **self._task_body(task),
                "prompt": task.prompt,
                "url": self.content_url or self.file_url(task.id),
                "duration": 8,
                "resolution": "1280x720" if landscape else "720x1280",
            }
        )

    async def _file(self, request: web.Request) -> web.StreamResponse:
        """The CDN: no auth (as documented, the URL is downloaded as is)."""
        return await self._serve_file(
            request,
            self.file_errors,
            lambda name: self._mp4_of(name, "completed"),
            self.break_file_after,
            self.file_content_type,
        )
