"""apixo Veo 3.1 as it travels on the wire.

Kept apart from our domain models: the adapter and its catalogue translate. Every model
ignores fields it does not know (the vendor adds fields without notice), and every parser
here is total: an answer we cannot read becomes `None` (or an empty result), never an
exception.

The vendor wraps every answer in `{"code", "message", "data"}`; `code` repeats the HTTP
status, and `data.resultJson` is a JSON *string* that has to be parsed a second time.
"""

from __future__ import annotations

import enum
from typing import Any, Literal

from pydantic import Field

from bot.providers.http import excerpt, is_plain_text
from bot.providers.wire import ErrorAnswer, OrNone, WireModel, json_or_none, lenient_json_or_none

# The links the vendor fetches from us, and the ones it gives back: only these schemes.
WEB = ("https://", "http://")


class ApixoState(enum.StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    SUCCESS = "success"
    FAILED = "failed"


class GenerationType(enum.StrEnum):
    TEXT_2_VIDEO = "TEXT_2_VIDEO"
    FIRST_AND_LAST_FRAMES_2_VIDEO = "FIRST_AND_LAST_FRAMES_2_VIDEO"
    REFERENCE_2_VIDEO = "REFERENCE_2_VIDEO"


class ApixoInput(WireModel):
    """`input`. The vendor's prose says "generation type"; every example spells it
    `generationType`, which is what we send."""

    mode: Literal["quality", "fast"]
    prompt: str
    generation_type: GenerationType = Field(alias="generationType")
    aspect_ratio: str
    image_urls: list[str] | None = None
    seed: int | None = None


class ApixoSubmitBody(WireModel):
    """POST /api/v1/generateTask/veo-3-1."""

    request_type: Literal["async", "callback"] = "async"
    callback_url: str | None = None
    provider: Literal["auto", "value", "official"] = "auto"
    input: ApixoInput

    def json_body(self) -> dict[str, Any]:
        """Unset optional keys are left out, never sent as null."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class ApixoTask(WireModel):
    """`data` of a status answer (and of a callback, which carries the same body).

    An unreadable `OrNone` field is the same as a missing one (a `failCode` then makes the
    generic failure, a `completeTime` the conservative expiry): none of them may make the
    rest of the answer unreadable. `state` stays strict: an answer whose state does not
    read is not a task.
    """

    task_id: OrNone[str] = Field(default=None, alias="taskId")
    state: str | None = None
    # Documented as a JSON string; kept loose so an already-decoded object is read too.
    result_json: Any = Field(default=None, alias="resultJson")
    fail_code: OrNone[str] = Field(default=None, alias="failCode")
    fail_msg: OrNone[str] = Field(default=None, alias="failMsg")
    create_time: OrNone[int] = Field(default=None, alias="createTime")
    complete_time: OrNone[int] = Field(default=None, alias="completeTime")
    cost_time: OrNone[int] = Field(default=None, alias="costTime")

    def result_urls(self) -> list[str]:
        """`resultJson.resultUrls`, parsing the JSON string a second time; [] when absent
        or unreadable."""
        value: object = self.result_json
        if isinstance(value, str):
            value = json_or_none(value)
        if not isinstance(value, dict):
            return []
        urls = value.get("resultUrls")
        if isinstance(urls, str):
            urls = [urls]
        if not isinstance(urls, list):
            return []
        return [u.strip() for u in urls if isinstance(u, str) and u.strip()]

    def links(self) -> list[str]:
        """The result URLs we can open and store: http(s), and encodable as UTF-8 (a JSON
        escape can put a lone surrogate in one)."""
        return [u for u in self.result_urls() if u.startswith(WEB) and is_plain_text(u)]


# How much of a vendor's text goes to the operator's log line.
_EXCERPT = 300


class ApixoError(ErrorAnswer):
    """An error answer `{code, message, data: {error}}`: its code and error besides its
    message or unreadable text. `fail_code` is set when the body carries a vendor failure
    identifier (the vendor's error page says some immediate errors come with one).
    """

    code: int | None = None
    error: str | None = None
    fail_code: str | None = None

    def log_parts(self) -> tuple[str | None, ...]:
        """What the operator's line shows of it: the codes, the message and the error (or,
        when neither read, the start of the body)."""
        codes = None
        if self.code is not None or self.fail_code:
            codes = f"code={'' if self.code is None else self.code} {self.fail_code or ''}"
        told = self.message or self.error
        return (
            codes,
            self.message[:200] if self.message else None,
            self.error[:_EXCERPT] if self.error else None,
            None if told or not self.text else f"body: {self.text}",
        )

    def wording(self) -> str:
        """The message and the error as one text, lower case, for reading words in."""
        return " ".join(filter(None, (self.message, self.error))).lower()


def _int_or_none(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    # isdecimal, not isdigit: "¹" is a digit to Python but not a number to int().
    if isinstance(value, str) and value.strip().isdecimal():
        return int(value.strip())
    return None


def _text(value: object) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def envelope_code(raw: bytes) -> int | None:
    """The body's own `code` (it repeats the HTTP status), when there is one."""
    data = lenient_json_or_none(raw)
    return _int_or_none(data.get("code")) if isinstance(data, dict) else None


def parse_error(raw: bytes) -> ApixoError:
    """Read an error body of any shape; never raises."""
    data = lenient_json_or_none(raw)
    if isinstance(data, dict):
        inner = data.get("data")
        error: str | None = None
        fail_code: str | None = None
        if isinstance(inner, dict):
            error = _text(inner.get("error")) or _text(inner.get("failMsg"))
            fail_code = _text(inner.get("failCode"))
            if isinstance(inner.get("error"), dict):
                nested = inner["error"]
                error = _text(nested.get("message")) or error
                fail_code = _text(nested.get("code")) or fail_code
        elif isinstance(data.get("error"), str | dict):
            top = data["error"]
            error = _text(top) if isinstance(top, str) else _text(top.get("message"))
        message = _text(data.get("message")) or _text(data.get("msg"))
        code = _int_or_none(data.get("code"))
        if code is None and isinstance(data.get("code"), str):
            fail_code = fail_code or _text(data.get("code"))
        if message or error or code is not None or fail_code:
            return ApixoError(code=code, message=message, error=error, fail_code=fail_code)
    if isinstance(data, str) and data.strip():
        return ApixoError(message=data.strip())
    return ApixoError(text=excerpt(raw, _EXCERPT))


def parse_task_id(raw: bytes) -> str | None:
    """`data.taskId` of a submit answer (also tolerates `task_id` and a top-level id)."""
    data = lenient_json_or_none(raw)
    if not isinstance(data, dict):
        return None
    inner = data.get("data")
    for holder in (inner, data):
        if isinstance(holder, dict):
            for key in ("taskId", "task_id"):
                value = holder.get(key)
                if isinstance(value, str | int) and not isinstance(value, bool):
                    text = str(value).strip()
                    if text:
                        return text
    return None


def parse_task(raw: bytes) -> ApixoTask | None:
    """`data` of a status answer, or None when the body is not one."""
    data = lenient_json_or_none(raw)
    return ApixoTask.parse_or_none(data.get("data")) if isinstance(data, dict) else None


def parse_callback_task_id(raw: bytes) -> str | None:
    """The task id a vendor callback speaks of. A callback is only a hint to poll now: its
    content is never trusted as a result (anyone who learns the address can POST to it)."""
    task = parse_task(raw)
    return task.task_id if task is not None and task.task_id else None
