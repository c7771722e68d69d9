"""yelinai's legacy `/veo/v1/api/video/*` API as it travels on the wire.

Kept apart from our domain models: the adapter translates. Every model ignores fields it
does not know (the vendor is a gateway in front of another gateway, `asyncdata.net`, and
passes its `upstreamData` through unchanged), and every parser here is total: an answer we
cannot read becomes `None`, never an exception.
"""

from __future__ import annotations

import enum
from typing import Any

from pydantic import Field, field_validator

from bot.providers.http import excerpt
from bot.providers.wire import (
    ErrorAnswer,
    OrNone,
    Said,
    WireModel,
    first_reason,
    lenient_json_or_none,
)


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


class YelinaiSubmitBody(WireModel):
    """POST /veo/v1/api/video/submit. `images` are public URLs the vendor downloads itself
    (at most 5); left out entirely for a text-only video, as is an unset `enhance_prompt`
    (the vendor's default is false)."""

    prompt: str
    model: str
    images: list[str] | None = None
    enhance_prompt: bool | None = None

    def json_body(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class YelinaiErrorDetails(WireModel):
    field: str | None = None
    reason: str | None = None


class YelinaiProgress(WireModel):
    """`data.progress`: not a percentage, despite its name (the upstream's retry counter).
    Only for the stage text: an unreadable field is a missing one."""

    upstream_status: OrNone[str] = Field(default=None, alias="upstreamStatus")
    retry_count: OrNone[int] = Field(default=None, alias="retryCount")
    max_retries: OrNone[int] = Field(default=None, alias="maxRetries")


class YelinaiUpstreamData(WireModel):
    """`data.upstreamData`, passed through from the upstream. The failure fields are not
    documented; they are the places a reason is likely to be, all read loosely."""

    status: OrNone[str] = None
    video_generation_status: OrNone[str] = None
    error: Any = None
    error_message: Any = None
    fail_reason: Any = None
    message: Any = None


class YelinaiResult(WireModel):
    # An unreadable `video_url` is a missing one: the adapter then asks again.
    video_url: OrNone[str] = None
    video_media_id: OrNone[str] = None


class YelinaiTask(WireModel):
    """`data` of a submit or status answer.

    An unreadable `OrNone` field is the same as a missing one (a task id then makes "no
    task id"): none may make the rest of the answer unreadable. `status` stays strict: an
    answer whose state does not read is not a task.
    """

    task_id: OrNone[str] = Field(default=None, alias="taskId")
    polling_url: OrNone[str] = Field(default=None, alias="pollingUrl")
    status: str | None = None
    message: Any = None
    upstream: YelinaiUpstreamData | None = Field(default=None, alias="upstreamData")
    progress: YelinaiProgress | None = None
    result: YelinaiResult | None = None
    # Undocumented for a failed task ("check error message"): read every likely place.
    error: Any = None
    error_code: OrNone[str] = None
    error_message: Any = None
    fail_reason: Any = None

    @field_validator("upstream", "progress", "result", mode="before")
    @classmethod
    def _objects(cls, value: object) -> object:
        return _object_or_none(value)

    def upstream_status(self) -> str | None:
        """The upstream's stage word. Answers carry it in `upstreamData`, and some only in
        `progress`: either is worth a stage text while the member waits."""
        if self.upstream is not None and self.upstream.status is not None:
            return self.upstream.status
        return self.progress.upstream_status if self.progress is not None else None

    def failure_text(self) -> Said:
        """(vendor code, vendor reason) from whichever field the vendor filled, if any."""
        places: list[Any] = [self.error, self.error_message, self.fail_reason]
        if self.upstream is not None:
            up = self.upstream
            places += [up.error, up.error_message, up.fail_reason, up.message]
        # `data.message` last: on a processing task it is "Task submitted successfully".
        places.append(self.message)
        return first_reason(places, _code_and_reason, self.error_code)


class YelinaiErrorBody(WireModel):
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


def _code_and_reason(value: dict[Any, Any]) -> Said | None:
    err = YelinaiErrorBody.parse_or_none(value)
    if err is None:
        return None
    text = err.message or (err.details.reason if err.details else None)
    return err.error_code or err.code, text.strip() if text and text.strip() else None


class YelinaiError(ErrorAnswer):
    """An error answer's code and the field at fault, besides its message or unreadable
    text."""

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


def parse_error(raw: bytes) -> YelinaiError:
    """Read an error body of any shape: the documented envelope, `{"error": "..."}`,
    plain text, HTML, or nothing. Never raises."""
    data = lenient_json_or_none(raw)
    if isinstance(data, dict):
        body = YelinaiErrorBody.parse_or_none(data) or YelinaiErrorBody()
        nested = data.get("error")
        message = body.message
        code = body.error_code or body.code
        if isinstance(nested, str) and nested.strip():
            message = message or nested.strip()
        elif isinstance(nested, dict):
            inner = YelinaiErrorBody.parse_or_none(nested)
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
    return YelinaiError(text=excerpt(raw))


def parse_task(raw: bytes) -> tuple[bool | None, YelinaiTask | None]:
    """(`success`, `data` as a task) of a 2xx answer; `(None, None)` for garbage, and a
    `None` task when `data` is missing or not a task object."""
    data = lenient_json_or_none(raw)
    if not isinstance(data, dict):
        return None, None
    success = data.get("success")
    return (
        success if isinstance(success, bool) else None,
        YelinaiTask.parse_or_none(data.get("data")),
    )
