"""apiyi `/v1/videos` (the current "official" channel) as it travels on the wire.

Kept apart from our domain models: the adapter translates. Every model ignores fields it
does not know, because the vendor is a gateway that adds fields without notice, and every
parser here is total: an answer we cannot read becomes `None`, never an exception.
"""

from __future__ import annotations

import enum
import json
from typing import Any

import aiohttp
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
)

from bot.providers.base import InputImage
from bot.providers.wire import or_none as _or_none


class _Wire(BaseModel):
    # Ids and codes sometimes come as numbers from gateways; we only ever want text.
    model_config = ConfigDict(extra="ignore", populate_by_name=True, coerce_numbers_to_str=True)


class ApiyiStatus(enum.StrEnum):
    """Task states. `processing` is the earlier channel's word, tolerated here too."""

    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


class ApiyiMetadata(_Wire):
    """`metadata`: wins over the top-level `size` for resolution and aspect."""

    resolution: str | None = None
    aspect_ratio: str | None = Field(default=None, alias="aspectRatio")
    seed: int | None = None
    negative_prompt: str | None = Field(default=None, alias="negativePrompt")


class ApiyiSubmitBody(_Wire):
    """POST /v1/videos.

    The length goes as a JSON *string* (a number is a 400 `parse_request_failed`), in both
    `duration` (the vendor's older documentation) and `seconds` (its newer pages, which say
    `duration` is ignored). There is deliberately no `generateAudio` field: the vendor rejects it.
    """

    model: str
    prompt: str
    duration: str
    seconds: str
    size: str
    metadata: ApiyiMetadata

    def json_body(self) -> dict[str, Any]:
        """The application/json form; unset metadata keys are left out, not sent as null."""
        return self.model_dump(by_alias=True, exclude_none=True)

    def form_fields(self) -> dict[str, str]:
        """The multipart form: scalars as text, `metadata` as ONE field holding JSON text
        (the vendor does not document nested form fields)."""
        body = self.json_body()
        fields = {k: str(v) for k, v in body.items() if k != "metadata"}
        fields["metadata"] = json.dumps(body["metadata"], separators=(",", ":"))
        return fields

    def multipart(self, image: InputImage) -> aiohttp.FormData:
        """The image-to-video form: the fields, then the one `input_reference` file (the
        vendor takes no image URLs)."""
        form = aiohttp.FormData()
        for key, value in self.form_fields().items():
            form.add_field(key, value)
        form.add_field(
            "input_reference", image.data, filename=image.filename, content_type=image.mime
        )
        return form


class ApiyiTask(_Wire):
    """The task object answered by submit and by status.

    `id` and `task_id` carry the same value on this channel; the earlier channel sent only
    `id`. Failure reasons are undocumented ("may not include a detailed error field"), so
    the likely places are all read and kept loose.
    """

    id: str | None = None
    task_id: str | None = None
    object: str | None = None
    model: str | None = None
    status: str | None = None
    progress: float | None = None
    created_at: float | None = None
    completed_at: float | None = None
    error: Any = None
    fail_reason: Any = None
    failure_reason: Any = None
    error_message: Any = None
    message: Any = None

    # Unused, or (the ids) no worse unreadable than missing: none of these may make the rest
    # of the answer unreadable. `status` stays strict: an answer whose state does not read
    # is not a task.
    @field_validator(
        "id",
        "task_id",
        "object",
        "model",
        "progress",
        "created_at",
        "completed_at",
        mode="wrap",
    )
    @classmethod
    def _optional(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        # `Any`, not `object`: this class has a field named `object`.
        return _or_none(value, handler)

    @property
    def ref(self) -> str | None:
        """The id to poll with: `task_id`, else `id` (a blank one is no id)."""
        for value in (self.task_id, self.id):
            if value and value.strip():
                return value
        return None

    def failure_text(self) -> tuple[str | None, str | None]:
        """(vendor code, vendor reason) from whichever field the vendor filled, if any."""
        code: str | None = None
        for value in (
            self.error,
            self.fail_reason,
            self.failure_reason,
            self.error_message,
            self.message,
        ):
            if isinstance(value, dict):
                detail = ApiyiErrorDetail.model_validate_or_none(value)
                if detail is None:
                    continue
                code = code or detail.code or detail.type
                if detail.message:
                    return code, detail.message
            elif isinstance(value, str) and value.strip():
                return code, value.strip()
        return code, None


class ApiyiErrorDetail(_Wire):
    """The OpenAI-style `error` object: `{"message", "type", "code"}`."""

    message: str | None = None
    type: str | None = None
    code: str | None = None

    @classmethod
    def model_validate_or_none(cls, value: object) -> ApiyiErrorDetail | None:
        try:
            return cls.model_validate(value)
        except ValidationError:
            return None


# The most of a vendor's words an operator's log line keeps.
_EXCERPT = 300


class ApiyiError(BaseModel):
    """What we could make of an error answer. `text` is a short excerpt of an unreadable
    body (HTML page, plain text), for the operator's log only."""

    message: str | None = None
    type: str | None = None
    code: str | None = None
    text: str | None = None

    def log_parts(self) -> tuple[str | None, str | None]:
        """What the operator's log line says of it: the codes, then the vendor's message (or,
        when it gave none, the start of its body)."""
        codes = f"code={self.code or ''} type={self.type or ''}" if self.code or self.type else None
        if self.message:
            return codes, self.message[:_EXCERPT]
        return codes, f"body: {self.text}" if self.text else None


def parse_error(raw: bytes) -> ApiyiError:
    """Read an error body of any shape: `{"error": {...}}`, `{"error": "..."}`,
    `{"message": ...}`, plain text, HTML, or nothing. Never raises."""
    text = raw.decode("utf-8", errors="replace").strip()
    try:
        data: object = json.loads(text) if text else None
    except (ValueError, RecursionError):  # RecursionError: JSON nested too deep
        data = None
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict):
            detail = ApiyiErrorDetail.model_validate_or_none(err)
            if detail is not None:
                return ApiyiError(message=detail.message, type=detail.type, code=detail.code)
        top = ApiyiErrorDetail.model_validate_or_none(data) or ApiyiErrorDetail()
        if isinstance(err, str) and err.strip():
            return ApiyiError(message=err.strip(), type=top.type, code=top.code)
        if top.message or top.code:
            return ApiyiError(message=top.message, type=top.type, code=top.code)
    if isinstance(data, str) and data.strip():
        return ApiyiError(message=data.strip())
    return ApiyiError(text=text[:_EXCERPT] or None)


def parse_task(raw: bytes) -> ApiyiTask | None:
    """A task object, or None when the body is not one (garbage, HTML, an error envelope)."""
    try:
        data: object = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: JSON nested too deep
        return None
    if not isinstance(data, dict):
        return None
    try:
        return ApiyiTask.model_validate(data)
    except ValidationError:
        return None
