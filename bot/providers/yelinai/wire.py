"""yelinai's legacy `/veo/v1/api/video/*` API as it travels on the wire.

Kept apart from our domain models: the adapter translates. Every model ignores fields it
does not know (the vendor is a gateway in front of another gateway, `asyncdata.net`, and
passes its `upstreamData` through unchanged), and every parser here is total: an answer we
cannot read becomes `None`, never an exception.
"""

from __future__ import annotations

import enum
import json
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
)

from bot.providers.wire import or_none as _or_none


class _Wire(BaseModel):
    # Ids and codes sometimes come as numbers from gateways; we only ever want text.
    model_config = ConfigDict(extra="ignore", populate_by_name=True, coerce_numbers_to_str=True)


def _object_or_none(value: object) -> object:
    """A nested object the gateway filled with something else (a string, a list): ignore
    it rather than refuse the whole answer, since only `status` and the result matter."""
    return value if isinstance(value, dict) else None


class YelinaiStatus(enum.StrEnum):
    """`data.status`: the only three words the vendor documents."""

    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


class YelinaiUpstream(enum.StrEnum):
    """`data.upstreamData.status` while processing, in the order the vendor goes through
    them."""

    IMAGE_DOWNLOADING = "image_downloading"
    VIDEO_GENERATING = "video_generating"


class YelinaiSubmitBody(_Wire):
    """POST /veo/v1/api/video/submit. `images` are public URLs the vendor downloads itself
    (at most 5); left out entirely for a text-only video, as is an unset `enhance_prompt`
    (the vendor's default is false)."""

    prompt: str
    model: str
    images: list[str] | None = None
    enhance_prompt: bool | None = None

    def json_body(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class YelinaiErrorDetails(_Wire):
    field: str | None = None
    reason: str | None = None


class YelinaiProgress(_Wire):
    """`data.progress`: not a percentage, despite its name (the upstream's retry counter)."""

    upstream_status: str | None = Field(default=None, alias="upstreamStatus")
    retry_count: int | None = Field(default=None, alias="retryCount")
    max_retries: int | None = Field(default=None, alias="maxRetries")

    # Only for the stage text: an unreadable one is a missing one.
    @field_validator("upstream_status", "retry_count", "max_retries", mode="wrap")
    @classmethod
    def _optional(cls, value: object, handler: ValidatorFunctionWrapHandler) -> object:
        return _or_none(value, handler)


class YelinaiUpstreamData(_Wire):
    """`data.upstreamData`, passed through from the upstream. The failure fields are not
    documented; they are the places a reason is likely to be, all read loosely."""

    status: str | None = None
    video_generation_status: str | None = None
    error: Any = None
    error_message: Any = None
    fail_reason: Any = None
    message: Any = None

    @field_validator("status", "video_generation_status", mode="wrap")
    @classmethod
    def _optional(cls, value: object, handler: ValidatorFunctionWrapHandler) -> object:
        return _or_none(value, handler)


class YelinaiResult(_Wire):
    video_url: str | None = None
    video_media_id: str | None = None

    # An unreadable `video_url` is a missing one: the adapter then asks again.
    @field_validator("video_url", "video_media_id", mode="wrap")
    @classmethod
    def _optional(cls, value: object, handler: ValidatorFunctionWrapHandler) -> object:
        return _or_none(value, handler)


class YelinaiTask(_Wire):
    """`data` of a submit or status answer."""

    task_id: str | None = Field(default=None, alias="taskId")
    polling_url: str | None = Field(default=None, alias="pollingUrl")
    status: str | None = None
    message: Any = None
    upstream: YelinaiUpstreamData | None = Field(default=None, alias="upstreamData")
    progress: YelinaiProgress | None = None
    result: YelinaiResult | None = None
    # Undocumented for a failed task ("check error message"): read every likely place.
    error: Any = None
    error_code: str | None = None
    error_message: Any = None
    fail_reason: Any = None

    @field_validator("upstream", "progress", "result", mode="before")
    @classmethod
    def _objects(cls, value: object) -> object:
        return _object_or_none(value)

    # An unreadable one of these is the same as a missing one (a task id then makes "no
    # task id"): none may make the rest of the answer unreadable. `status` stays strict:
    # an answer whose state does not read is not a task.
    @field_validator("task_id", "polling_url", "error_code", mode="wrap")
    @classmethod
    def _optional(cls, value: object, handler: ValidatorFunctionWrapHandler) -> object:
        return _or_none(value, handler)

    def upstream_status(self) -> str | None:
        """The upstream's stage word. Answers carry it in `upstreamData`, and some only in
        `progress`: either is worth a stage text while the member waits."""
        if self.upstream is not None and self.upstream.status is not None:
            return self.upstream.status
        return self.progress.upstream_status if self.progress is not None else None

    def failure_text(self) -> tuple[str | None, str | None]:
        """(vendor code, vendor reason) from whichever field the vendor filled, if any."""
        code = self.error_code
        places: list[Any] = [self.error, self.error_message, self.fail_reason]
        if self.upstream is not None:
            up = self.upstream
            places += [up.error, up.error_message, up.fail_reason, up.message]
        # `data.message` last: on a processing task it is "Task submitted successfully".
        places.append(self.message)
        for value in places:
            if isinstance(value, dict):
                err = YelinaiErrorBody.validate_or_none(value)
                if err is None:
                    continue
                code = code or err.error_code or err.code
                text = err.message or (err.details.reason if err.details else None)
                if text and text.strip():
                    return code, text.strip()
            elif isinstance(value, str) and value.strip():
                return code, value.strip()
        return code, None


class YelinaiErrorBody(_Wire):
    """`{success:false, message, error_code, details:{field, reason}}` (and `code`, which
    some gateways use instead of `error_code`)."""

    success: bool | None = None
    message: str | None = None
    error_code: str | None = None
    code: str | None = None
    details: YelinaiErrorDetails | None = None

    @field_validator("details", mode="before")
    @classmethod
    def _details(cls, value: object) -> object:
        return _object_or_none(value)

    @classmethod
    def validate_or_none(cls, value: object) -> YelinaiErrorBody | None:
        try:
            return cls.model_validate(value)
        except ValidationError:
            return None


class YelinaiError(BaseModel):
    """What we could make of an error answer. `text` is a short excerpt of an unreadable
    body (HTML page, plain text), for the operator's log only."""

    message: str | None = None
    code: str | None = None
    field: str | None = None
    reason: str | None = None
    text: str | None = None

    def reasons(self) -> list[str]:
        """What the vendor said about a refusal, most precise first, for the member: the
        field's reason, then the message."""
        return [
            text for text in ((self.reason or "").strip(), (self.message or "").strip()) if text
        ]

    def log_parts(self) -> list[str]:
        """What the operator's line shows of it: the code, the field at fault and why, and
        the vendor's message (or, when none read, the start of the body)."""
        parts = []
        if self.code:
            parts.append(f"code={self.code}")
        if self.field or self.reason:
            parts.append(f"field={self.field or ''} reason={(self.reason or '')[:200]}")
        if self.message:
            parts.append(self.message[:300])
        elif self.text:
            parts.append(f"body: {self.text}")
        return parts


_EXCERPT = 300


def _json(raw: bytes) -> object:
    try:
        return json.loads(raw.decode("utf-8", errors="replace")) if raw.strip() else None
    except (ValueError, RecursionError):  # RecursionError: JSON nested too deep
        return None


def parse_error(raw: bytes) -> YelinaiError:
    """Read an error body of any shape: the documented envelope, `{"error": "..."}`,
    plain text, HTML, or nothing. Never raises."""
    data = _json(raw)
    if isinstance(data, dict):
        body = YelinaiErrorBody.validate_or_none(data) or YelinaiErrorBody()
        nested = data.get("error")
        message = body.message
        code = body.error_code or body.code
        if isinstance(nested, str) and nested.strip():
            message = message or nested.strip()
        elif isinstance(nested, dict):
            inner = YelinaiErrorBody.validate_or_none(nested)
            if inner is not None:
                message = message or inner.message
                code = code or inner.error_code or inner.code
        if message or code:
            details = body.details or YelinaiErrorDetails()
            return YelinaiError(
                message=message, code=code, field=details.field, reason=details.reason
            )
    if isinstance(data, str) and data.strip():
        return YelinaiError(message=data.strip())
    text = raw.decode("utf-8", errors="replace").strip()
    return YelinaiError(text=text[:_EXCERPT] or None)


def parse_task(raw: bytes) -> tuple[bool | None, YelinaiTask | None]:
    """(`success`, `data` as a task) of a 2xx answer; `(None, None)` for garbage, and a
    `None` task when `data` is missing or not a task object."""
    data = _json(raw)
    if not isinstance(data, dict):
        return None, None
    success = data.get("success")
    flag = success if isinstance(success, bool) else None
    inner = data.get("data")
    if not isinstance(inner, dict):
        return flag, None
    try:
        return flag, YelinaiTask.model_validate(inner)
    except ValidationError:
        return flag, None
