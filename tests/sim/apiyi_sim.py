"""A real HTTP simulator of apiyi's current `/v1/videos` channel, as the vendor documents it.

It enforces the documented rules (string `duration`, no `generateAudio`, 8 s at
1080p/4k, one `input_reference` *file* in multipart...) so an adapter that breaks them
fails its tests, records every request for assertions on what went over the wire, and has
knobs for the failures the real vendor produces. Only aiohttp, the stdlib, `vendor_base`
and `apiyi_channel` (shared by the simulators): it must not share code with the adapter
it tests.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.sim import vendor_base as vb
from tests.sim.apiyi_channel import ApiyiChannelSimulator
from tests.sim.vendor_base import RecordedRequest
from tests.sim.vendor_base import default_video as default_video  # the tests import it here

MODELS = frozenset({"veo-3.1-fast-generate-preview", "veo-3.1-generate-preview"})
DURATIONS = frozenset({"4", "6", "8"})
RESOLUTIONS = frozenset({"720p", "1080p", "4k"})
ASPECTS = frozenset({"16:9", "9:16"})
SIZES = {
    "1280x720": ("720p", "16:9"),
    "720x1280": ("720p", "9:16"),
    "1920x1080": ("1080p", "16:9"),
    "1080x1920": ("1080p", "9:16"),
    "3840x2160": ("4k", "16:9"),
    "2160x3840": ("4k", "9:16"),
}


@dataclass
class SimTask:
    id: str
    model: str
    created_at: int
    started: float  # monotonic
    status: str | None = None  # forced status; None = follow the clock
    completed_at: int | None = None
    fail: bool = False
    fail_body: dict[str, Any] = field(default_factory=dict)
    request: RecordedRequest | None = None


def _error(
    status: int, message: str, *, type_: str = "invalid_request_error", code: str | None = None
) -> web.Response:
    return web.json_response(
        {"error": {"message": message, "type": type_, "code": code}}, status=status
    )


class ApiyiSimulator(ApiyiChannelSimulator):
    """apiyi on 127.0.0.1. Knobs (all plain attributes or methods, set them any time):

    - `queued_for` / `running_for`: seconds a task stays `queued`, then `in_progress`;
      `None` freezes the clock (drive it with `set_task_status`).
    - `fail_next_submit_with(status, body, headers=, retry_after=)`: queue a canned answer
      for the next POST (also `script_next_submit`, same thing, for 2xx oddities).
    - `make_task_fail(reason=None, task_id=None, field="error")`: the task (or, without
      id, the next one submitted) ends `failed` instead of `completed`.
    - `status_errors` / `queue_status_error(...)`: canned answers served before normal
      status answers (500s, 429s, HTML...). `content_errors` / `queue_content_error(...)`
      likewise for `/content`.
    - `content_400_times`: the next N `/content` calls on a completed task answer 400.
    - `video_bytes`, `send_content_length` (False: chunked, no Content-Length),
      `break_content_after` (bytes sent before the connection is cut).
    - `delay_submit` / `delay_status`: seconds to sleep before answering.
    - `omit_task_id`: answer submit with `id` only (the earlier channel's shape).
    - `next_task_ids`: ids to hand out next, for quoting tests.
    - `requests`: every request received, as `RecordedRequest`.
    """

    default_api_key = "sk-sim-key"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.tasks: dict[str, SimTask] = {}
        self.content_400_times = 0
        self.break_content_after: int | None = None
        self.omit_task_id = False

    # -- knobs ----------------------------------------------------------------------------

    def _scripted_error_body(self, status: int) -> dict[str, Any]:
        return {"error": {"message": f"scripted {status}", "type": "upstream_error", "code": None}}

    def make_task_fail(
        self, reason: str | None = None, *, task_id: str | None = None, field: str = "error"
    ) -> None:
        """No reason: a bare `failed` (the vendor's documentation: "may not include a
        detailed error field")."""
        body: dict[str, Any] = {}
        if reason is not None:
            body[field] = (
                {"message": reason, "type": "upstream_error", "code": "generation_failed"}
                if field == "error"
                else reason
            )
        self._fail_with(body, task_id)

    def set_task_status(self, task_id: str, status: str) -> None:
        """Force any status string, known or not."""
        task = self.tasks[task_id]
        task.status = status
        if status == "completed" and task.completed_at is None:
            task.completed_at = int(time.time())

    # -- handlers -------------------------------------------------------------------------

    def _unauthorized(self, shown: str) -> web.Response:
        # Like OpenAI-style gateways, echo what was presented: the adapter must not leak it.
        return _error(
            401,
            f"Incorrect API key provided: {shown}",
            type_="authentication_error",
            code="invalid_api_key",
        )

    async def _submit(self, request: web.Request) -> web.StreamResponse:
        rec, early = await self._gate(request, self.submit_script, self.delay_submit)
        if early is not None:
            return early
        if rec.content_type == "application/json":
            problem = self._check_json(rec)
        elif rec.content_type == "multipart/form-data":
            problem = self._check_multipart(rec)
        else:
            problem = _error(
                400,
                f"parse_request_failed: unsupported content type {rec.content_type!r}",
                code="parse_request_failed",
            )
        if problem is not None:
            return problem
        model = rec.json["model"] if rec.json is not None else rec.form["model"][0]
        return self._create(str(model), rec)

    def _check_json(self, rec: RecordedRequest) -> web.Response | None:
        body = rec.json
        if not isinstance(body, dict):
            return _error(
                400, "parse_request_failed: invalid JSON body", code="parse_request_failed"
            )
        for key in ("duration", "seconds"):
            if key in body and not isinstance(body[key], str):
                kind = "number" if isinstance(body[key], int | float) else type(body[key]).__name__
                return _error(
                    400,
                    f"parse_request_failed: json: cannot unmarshal {kind} into Go struct field "
                    f"VideoRequest.{key} of type string",
                    code="parse_request_failed",
                )
        if "input_reference" in body:
            return _error(
                400,
                "input_reference must be an uploaded file (multipart/form-data); "
                "remote URLs are not supported",
                code="invalid_input_reference",
            )
        metadata = body.get("metadata", {})
        if not isinstance(metadata, dict):
            return _error(
                400, "parse_request_failed: metadata must be an object", code="parse_request_failed"
            )
        return self._check_fields({k: v for k, v in body.items() if k != "metadata"}, metadata)

    def _check_multipart(self, rec: RecordedRequest) -> web.Response | None:
        for key, values in rec.form.items():
            if len(values) > 1:
                return _error(400, f"field {key} given more than once")
        if "input_reference" in rec.form:
            return _error(
                400,
                "input_reference must be an uploaded file; remote URLs are not supported",
                code="invalid_input_reference",
            )
        refs = rec.files.get("input_reference", [])
        if len(refs) != 1:
            return _error(
                400,
                f"exactly one input_reference file is required, got {len(refs)}",
                code="invalid_input_reference",
            )
        ref = refs[0]
        if not vb.is_declared_image(ref.content_type, ref.data):
            return _error(
                400,
                f"input_reference must be a JPEG, PNG or WebP image, got {ref.content_type}",
                code="invalid_input_reference",
            )
        other_files = set(rec.files) - {"input_reference"}
        if other_files:
            return _error(400, f"unexpected file fields {sorted(other_files)}")
        fields = {k: v[0] for k, v in rec.form.items()}
        metadata: Any = {}
        if "metadata" in fields:
            try:
                metadata = json.loads(fields.pop("metadata"))
            except ValueError:
                return _error(
                    400,
                    "parse_request_failed: metadata is not valid JSON",
                    code="parse_request_failed",
                )
            if not isinstance(metadata, dict):
                return _error(
                    400,
                    "parse_request_failed: metadata must be a JSON object",
                    code="parse_request_failed",
                )
        if any(k.startswith("metadata[") or k.startswith("metadata.") for k in fields):
            return _error(400, "metadata must be sent as one JSON field")
        return self._check_fields(fields, metadata)

    def _check_fields(self, top: dict[str, Any], meta: dict[str, Any]) -> web.Response | None:
        """The rules common to both body forms, in the vendor's precedence order."""
        if "generateAudio" in top or "generateAudio" in meta:
            return _error(
                400,
                "INVALID_ARGUMENT: generateAudio is not supported by this model",
                type_="upstream_error",
                code="INVALID_ARGUMENT",
            )
        model = top.get("model")
        if not isinstance(model, str) or model not in MODELS:
            return _error(
                400, f"model {model!r} is not supported on this endpoint", code="model_not_found"
            )
        prompt = top.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            return _error(400, "prompt is required", code="invalid_prompt")
        for key in ("duration", "seconds"):
            if key in top and top[key] not in DURATIONS:
                return _error(400, f'{key} must be one of "4", "6", "8"', code="invalid_duration")
        size = top.get("size")
        if size is not None and size not in SIZES:
            return _error(400, f"unsupported size {size!r}", code="invalid_size")
        resolution = meta.get("resolution")
        if resolution is not None and resolution not in RESOLUTIONS:
            return _error(400, f"unsupported resolution {resolution!r}", code="invalid_size")
        aspect = meta.get("aspectRatio")
        if aspect is not None and aspect not in ASPECTS:
            return _error(400, f"unsupported aspectRatio {aspect!r}", code="invalid_size")
        if "seed" in meta and (not isinstance(meta["seed"], int) or isinstance(meta["seed"], bool)):
            return _error(
                400,
                "parse_request_failed: json: cannot unmarshal into Go struct field "
                "Metadata.seed of type int",
                code="parse_request_failed",
            )
        if "negativePrompt" in meta and not isinstance(meta["negativePrompt"], str):
            return _error(
                400,
                "parse_request_failed: negativePrompt must be a string",
                code="parse_request_failed",
            )
        # Precedence: metadata.durationSeconds > duration > seconds > 8;
        # metadata.resolution > size > 720p.
        duration = str(
            meta.get("durationSeconds") or top.get("duration") or top.get("seconds") or "8"
        )
        effective = resolution or (SIZES[size][0] if size else "720p")
        if effective in ("1080p", "4k") and duration != "8":
            return _error(
                400,
                f'INVALID_ARGUMENT: duration must be "8" at {effective}',
                type_="upstream_error",
                code="INVALID_ARGUMENT",
            )
        return None

    def _create(self, model: str, rec: RecordedRequest) -> web.Response:
        task_id = self._take_id(lambda n: f"task_{n:016d}")
        task = SimTask(
            id=task_id,
            model=model,
            created_at=int(time.time()),
            started=time.monotonic(),
            request=rec,
        )
        self._register(task)
        body = self._task_body(task, "queued")  # as documented: submit always answers queued
        if self.omit_task_id:
            body.pop("task_id")
        return web.json_response(body)

    def _state(self, task: SimTask) -> str:
        unfinished = self._unfinished(task, "queued", "in_progress")
        if unfinished is not None:
            return unfinished
        if task.fail:
            return "failed"
        if task.completed_at is None:
            elapsed = time.monotonic() - task.started
            task.completed_at = task.created_at + max(1, int(elapsed))
        return "completed"

    def _task_body(self, task: SimTask, state: str | None = None) -> dict[str, Any]:
        state = state or self._state(task)
        body: dict[str, Any] = {
            "id": task.id,
            "task_id": task.id,
            "object": "video",
            "model": task.model,
            "status": state,
            "progress": {"queued": 0, "in_progress": 50, "completed": 100}.get(state, 0),
            "created_at": task.created_at,
        }
        if state == "completed":
            body["completed_at"] = task.completed_at or int(time.time())
        if state == "failed":
            body.update(task.fail_body)
        return body

    def _not_found(self) -> web.Response:
        return _error(404, "task not found", code="task_not_found")

    async def _serve_content(self, request: web.Request, task: SimTask) -> web.StreamResponse:
        if self._state(task) != "completed":
            return _error(400, "video is not ready", code="video_not_ready")
        if self.content_400_times > 0:
            self.content_400_times -= 1
            return _error(400, "video file is not available yet", code="video_not_ready")
        return await self._send_video(request, self.break_content_after)
