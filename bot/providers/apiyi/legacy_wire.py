"""apiyi `/v1/videos`, earlier "reverse" channel, as it travels on the wire.

Kept apart from the current channel's wire module on purpose: the two share a path but
differ in auth, body shapes, status words and what `/content` returns. Every model ignores
unknown fields (the vendor is a gateway that adds fields without notice) and every parser
is total: an answer we cannot read becomes `None`, never an exception.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from typing import Any

import aiohttp
from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
)

from bot.providers.base import InputImage
from bot.providers.wire import or_none as _or_none


class _Wire(BaseModel):
    # Ids and codes sometimes come as numbers from gateways; we only ever want text.
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class LegacyStatus(enum.StrEnum):
    """The four documented task states."""

    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


class LegacySubmitBody(_Wire):
    """POST /v1/videos: only `prompt` and `model` are documented, for JSON and multipart alike."""

    prompt: str
    model: str

    def json_body(self) -> dict[str, str]:
        return {"prompt": self.prompt, "model": self.model}

    def form(self, images: Sequence[InputImage]) -> aiohttp.FormData:
        """The multipart body of a `-fl` model: the frames go as `input_reference` files,
        and their order matters (the first is the first frame, the second the last)."""
        form = aiohttp.FormData()
        form.add_field("prompt", self.prompt)
        form.add_field("model", self.model)
        for image in images:
            form.add_field(
                "input_reference", image.data, filename=image.filename, content_type=image.mime
            )
        return form


class LegacyErrorDetail(_Wire):
    """The documented `error` object: `{"code", "message", "type"}`."""

    code: str | None = None
    message: str | None = None
    type: str | None = None

    @classmethod
    def model_validate_or_none(cls, value: object) -> LegacyErrorDetail | None:
        try:
            return cls.model_validate(value)
        except ValidationError:
            return None


class LegacyTask(_Wire):
    """The video object answered by submit, status and `/content`.

    The task id is in `id` only on this channel (`task_id` is read as a fallback in case the
    gateway ever aligns with the current channel). How a failure is described is not
    documented ("check error message"), so the likely fields are all read loosely.
    """

    id: str | None = None
    task_id: str | None = None
    object: str | None = None
    model: str | None = None
    status: str | None = None
    created: float | None = None
    url: str | None = None
    duration: float | None = None
    resolution: str | None = None
    error: Any = None
    fail_reason: Any = None
    error_message: Any = None
    message: Any = None

    # Unused, or (the ids, `url`, which /content gives anyway) no worse unreadable than
    # missing: none of these may make the rest of the answer unreadable. `status` stays
    # strict: an answer whose state does not read is not a task.
    @field_validator(
        "id",
        "task_id",
        "object",
        "model",
        "created",
        "url",
        "duration",
        "resolution",
        mode="wrap",
    )
    @classmethod
    def _optional(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        # `Any`, not `object`: this class has a field named `object`.
        return _or_none(value, handler)

    @property
    def plain_status(self) -> str:
        """The state word as the vendor's documentation spells it, whatever the case or spacing."""
        return (self.status or "").strip().lower()

    @property
    def ref(self) -> str | None:
        """The id to poll with: `id`, else `task_id` (a blank one is no id)."""
        for value in (self.id, self.task_id):
            if value and value.strip():
                return value
        return None

    def failure_text(self) -> tuple[str | None, str | None]:
        """(vendor code, vendor reason) from whichever field the vendor filled, if any."""
        code: str | None = None
        for value in (self.error, self.fail_reason, self.error_message, self.message):
            if isinstance(value, dict):
                detail = LegacyErrorDetail.model_validate_or_none(value)
                if detail is None:
                    continue
                code = code or detail.code or detail.type
                if detail.message:
                    return code, detail.message
            elif isinstance(value, str) and value.strip():
                return code, value.strip()
        return code, None


class LegacyError(BaseModel):
    """What we could make of an error answer. `text` is a short excerpt of an unreadable
    body (HTML page, plain text), for the operator's log only."""

    code: str | None = None
    message: str | None = None
    type: str | None = None
    text: str | None = None

    @property
    def plain_code(self) -> str:
        """The code as the vendor's documentation spells it, whatever the case or spacing."""
        return (self.code or "").strip().lower()

    @property
    def plain_type(self) -> str:
        return (self.type or "").strip().lower()

    def shown(self) -> tuple[str | None, str | None]:
        """What the operator's log line says of it: the code and type, then the message,
        or the start of a body that did not read."""
        named = f"code={self.code or ''} type={self.type or ''}" if self.code or self.type else None
        if self.message:
            return named, self.message[:_EXCERPT]
        return named, f"body: {self.text}" if self.text else None


_EXCERPT = 300


def _json(raw: bytes) -> object:
    try:
        return json.loads(raw.decode("utf-8", errors="replace")) if raw.strip() else None
    except (ValueError, RecursionError):  # RecursionError: JSON nested too deep
        return None


def parse_error(raw: bytes) -> LegacyError:
    """Read an error body of any shape: `{"error": {...}}`, `{"error": "..."}`,
    `{"message": ...}`, plain text, HTML, or nothing. Never raises."""
    data = _json(raw)
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict):
            detail = LegacyErrorDetail.model_validate_or_none(err)
            if detail is not None and (detail.code or detail.message or detail.type):
                return LegacyError(code=detail.code, message=detail.message, type=detail.type)
        top = LegacyErrorDetail.model_validate_or_none(data) or LegacyErrorDetail()
        if isinstance(err, str) and err.strip():
            return LegacyError(code=top.code, message=err.strip(), type=top.type)
        if top.message or top.code:
            return LegacyError(code=top.code, message=top.message, type=top.type)
    if isinstance(data, str) and data.strip():
        return LegacyError(message=data.strip())
    text = raw.decode("utf-8", errors="replace").strip()
    return LegacyError(text=text[:_EXCERPT] or None)


def parse_task(raw: bytes) -> LegacyTask | None:
    """A video object, or None when the body is not one (garbage, HTML, a list...)."""
    data = _json(raw)
    if not isinstance(data, dict):
        return None
    try:
        return LegacyTask.model_validate(data)
    except ValidationError:
        return None
