"""veo3o1 as it travels on the wire: a `code`/`msg`/`data` envelope everywhere.

Kept apart from our domain models: the adapter translates. Every model ignores fields it
does not know, and every parser here is total: an answer we cannot read becomes `None`,
never an exception. Loose typing on purpose (numbers as strings, codes as text): the
vendor's own documented examples are not valid JSON, so the real answers may differ in
small ways.
"""

from __future__ import annotations

import enum
import math
from typing import Any

import aiohttp
import yarl
from pydantic import Field, field_validator

from bot.providers.base import InputImage
from bot.providers.http import excerpt as excerpt  # the property tests read it from here
from bot.providers.http import is_plain_text
from bot.providers.wire import OrNone, WireModel, json_or_none

# The most of the vendor's own words an operator's log line keeps.
_EXCERPT = 300


class Veo3o1Code(enum.IntEnum):
    """The vendor's documented error table. Anything else is an undocumented code."""

    SUCCESS = 0
    INVALID_PARAMETERS = 1000
    INSUFFICIENT_CREDITS = 1001
    AUTH_FAILED = 1002
    RATE_LIMITED = 1003
    SERVER_ERROR = 5000


class Veo3o1State(enum.StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


class Veo3o1GenerationType(enum.StrEnum):
    TEXT_TO_VIDEO = "text_to_video"
    IMAGE_TO_VIDEO = "image_to_video"


def _number(value: object) -> float | None:
    """A finite number from a number or numeric text; anything else is 'not given'."""
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float):
            # An int past float's range (JSON puts no limit on digits) raises OverflowError.
            number = float(value)
        elif isinstance(value, str):
            number = float(value.strip())
        else:
            return None
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _text(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


class Veo3o1SubmitBody(WireModel):
    """POST /generate-video. `aspectRatio` is left out when the member chose none (the
    vendor's default is `auto`); `imageUrl`/`imageKey` only for image_to_video."""

    generation_type: Veo3o1GenerationType = Field(alias="generationType")
    prompt: str
    aspect_ratio: str | None = Field(default=None, alias="aspectRatio")
    image_url: str | None = Field(default=None, alias="imageUrl")
    image_key: str | None = Field(default=None, alias="imageKey")

    @classmethod
    def for_video(
        cls, prompt: str, aspect_ratio: str | None, image: Veo3o1Upload | None
    ) -> Veo3o1SubmitBody:
        """text_to_video, or image_to_video from the start image's upload answer."""
        if image is None:
            return cls(
                generation_type=Veo3o1GenerationType.TEXT_TO_VIDEO,
                prompt=prompt,
                aspect_ratio=aspect_ratio,
            )
        return cls(
            generation_type=Veo3o1GenerationType.IMAGE_TO_VIDEO,
            prompt=prompt,
            aspect_ratio=aspect_ratio,
            image_url=image.image_url,
            image_key=image.image_key or None,
        )

    def json_body(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


def upload_form(image: InputImage) -> aiohttp.FormData:
    """POST /upload-video-image: the bytes as the one multipart field `file`."""
    form = aiohttp.FormData()
    form.add_field("file", image.data, filename=image.filename, content_type=image.mime)
    return form


class Veo3o1Video(WireModel):
    """`data` of the generate answer. An unreadable field is a missing one (a `uuid` then
    makes "no task id"): none may make the rest of the answer unreadable."""

    uuid: OrNone[str] = None
    status: OrNone[str] = None
    generation_type: OrNone[str] = Field(default=None, alias="generationType")
    aspect_ratio: OrNone[str] = Field(default=None, alias="aspectRatio")
    created_at: OrNone[str] = Field(default=None, alias="createdAt")


class Veo3o1VideoStatus(WireModel):
    """`data` of GET /video-status/{uuid}.

    The vendor documents no failure reason ("check error message", but no field for it),
    so the likely places are read loosely, for the operator's log and, when short and plain,
    for the member.
    """

    # The status call does not use `uuid` (we know the task we asked about).
    uuid: OrNone[str] = None
    status: str | None = None
    video_url: str | None = Field(default=None, alias="videoUrl")
    progress: float | None = None
    estimated_time: float | None = Field(default=None, alias="estimatedTime")
    error: Any = None
    error_message: Any = Field(default=None, alias="errorMessage")
    fail_reason: Any = Field(default=None, alias="failReason")
    message: Any = None

    @field_validator("progress", "estimated_time", mode="before")
    @classmethod
    def _loose_number(cls, value: object) -> float | None:
        return _number(value)

    @field_validator("status", "video_url", mode="before")
    @classmethod
    def _loose_text(cls, value: object) -> str | None:
        return _text(value)

    def percent(self) -> int | None:
        """`progress` as a whole percentage, clamped to 0..100."""
        if self.progress is None:
            return None
        return max(0, min(100, round(self.progress)))

    def eta_seconds(self) -> float | None:
        """`estimatedTime` (seconds remaining), never negative."""
        if self.estimated_time is None:
            return None
        return max(0.0, self.estimated_time)

    def link(self) -> str | None:
        """`videoUrl` when it is a link we can open and store: absolute http(s) with a host,
        in text UTF-8 can encode."""
        url = self.video_url
        return url if url is not None and is_http_url(url) and is_plain_text(url) else None

    def failure_text(self) -> str | None:
        for value in (self.error_message, self.error, self.fail_reason, self.message):
            if isinstance(value, dict):
                value = value.get("message") or value.get("msg")
            if isinstance(value, str) and value.strip():
                return value.strip()
        return None


class Veo3o1Upload(WireModel):
    """`data` of POST /upload-video-image."""

    image_url: str | None = Field(default=None, alias="imageUrl")
    image_key: str | None = Field(default=None, alias="imageKey")


class Veo3o1Credits(WireModel):
    """`data` of error 1001: what the task needs and what the account has."""

    required: float | None = None
    current: float | None = None

    @field_validator("required", "current", mode="before")
    @classmethod
    def _loose_number(cls, value: object) -> float | None:
        return _number(value)

    def log_part(self) -> str:
        return f"credits required={_figure(self.required)} current={_figure(self.current)}"


def _figure(value: float | None) -> str:
    if value is None:
        return "?"
    return str(int(value)) if value == int(value) else str(value)


class Veo3o1Envelope(WireModel):
    """`{code, msg, data}`. `code` None: the body had no readable code."""

    code: int | None = None
    msg: str | None = None
    data: Any = None

    @field_validator("code", mode="before")
    @classmethod
    def _loose_code(cls, value: object) -> int | None:
        number = _number(value)
        return int(number) if number is not None and number == int(number) else None

    @field_validator("msg", mode="before")
    @classmethod
    def _loose_msg(cls, value: object) -> str | None:
        return _text(value)

    @property
    def ok(self) -> bool:
        """Success, or no code at all (then `data` decides whether we can use it)."""
        return self.code is None or self.code == Veo3o1Code.SUCCESS

    def video(self) -> Veo3o1Video | None:
        return Veo3o1Video.parse_or_none(self.data)

    def video_status(self) -> Veo3o1VideoStatus | None:
        return Veo3o1VideoStatus.parse_or_none(self.data)

    def upload(self) -> Veo3o1Upload | None:
        return Veo3o1Upload.parse_or_none(self.data)

    def credits(self) -> Veo3o1Credits | None:
        return Veo3o1Credits.parse_or_none(self.data)


def parse_envelope(raw: bytes) -> Veo3o1Envelope | None:
    """The envelope, or None when the body is not one (garbage, HTML, a bare list, an
    object with none of `code`, `msg`, `data`)."""
    data = json_or_none(raw)
    if not isinstance(data, dict) or not ({"code", "msg", "data"} & data.keys()):
        return None
    return Veo3o1Envelope.parse_or_none(data)


def log_parts(envelope: Veo3o1Envelope | None, raw: bytes) -> tuple[str | None, ...]:
    """What the operator's log line says of an answer: its code, its message and, for a
    1001, the credits the task needed; the start of the body when it was no envelope."""
    if envelope is None:
        return (f"body: {excerpt(raw) or '(empty)'}",)
    credits = envelope.credits() if envelope.code == Veo3o1Code.INSUFFICIENT_CREDITS else None
    return (
        f"code={envelope.code}",
        envelope.msg[:_EXCERPT] if envelope.msg else None,
        credits.log_part() if credits is not None else None,
    )


def is_http_url(value: str | None) -> bool:
    """Whether a link in an answer is one we can open: absolute http(s), with a host."""
    if not value:
        return False
    try:
        url = yarl.URL(value)
    except ValueError:
        return False
    return url.scheme in ("http", "https") and bool(url.host)
