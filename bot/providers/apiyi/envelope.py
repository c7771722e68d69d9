"""What apiyi's two channels answer alike: the OpenAI-style error envelope, and the fields
of the video object both answer a task with, failure places included.

The current channel's wire module (`wire.py`) and the earlier channel's (`legacy_wire.py`)
both build on this; each keeps its own task model (the fields only it sends, which id it
polls with), its own `parse_error` and the names its adapter imports.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.providers.http import excerpt
from bot.providers.wire import ErrorAnswer, OrNone, Said, WireModel, first_reason, json_or_none

# The most of a vendor's words an operator's log line keeps.
EXCERPT = 300


class ErrorDetail(WireModel):
    """The `error` object: `{"message", "type", "code"}`."""

    message: str | None = None
    type: str | None = None
    code: str | None = None


class ApiyiError(ErrorAnswer):
    """An error answer's OpenAI-style codes, besides its message or unreadable text."""

    type: str | None = None
    code: str | None = None

    @property
    def plain_code(self) -> str:
        """The code as the vendor's documentation spells it, whatever the case or spacing."""
        return (self.code or "").strip().lower()

    @property
    def plain_type(self) -> str:
        return (self.type or "").strip().lower()

    def log_parts(self) -> tuple[str | None, str | None]:
        """What the operator's log line says of it: the codes, then the vendor's message (or,
        when it gave none, the start of its body)."""
        codes = f"code={self.code or ''} type={self.type or ''}" if self.code or self.type else None
        if self.message:
            return codes, self.message[:EXCERPT]
        return codes, f"body: {self.text}" if self.text else None

    def shown(self) -> tuple[str | None, str | None]:
        """log_parts, by the name the earlier channel's adapter calls it."""
        return self.log_parts()


def parse_error(raw: bytes, *, trim: bool, blank_error: bool) -> ApiyiError:
    """Read an error body of any shape: `{"error": {...}}`, `{"error": "..."}`,
    `{"message": ...}`, plain text, HTML, or nothing. Never raises.

    The channels differ in two small ways, kept as they are: `trim` reads the JSON after
    stripping every kind of white space around it (not only JSON's own), and `blank_error`
    takes an `error` object with no code, message or type as the answer (otherwise the top
    level is read instead)."""
    text = raw.decode("utf-8", errors="replace")
    data = json_or_none(text.strip() if trim else text)
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict):
            detail = ErrorDetail.parse_or_none(err)
            if detail is not None and (blank_error or detail.code or detail.message or detail.type):
                return ApiyiError(message=detail.message, type=detail.type, code=detail.code)
        top = ErrorDetail.parse_or_none(data) or ErrorDetail()
        if isinstance(err, str) and err.strip():
            return ApiyiError(message=err.strip(), type=top.type, code=top.code)
        if top.message or top.code:
            return ApiyiError(message=top.message, type=top.type, code=top.code)
    if isinstance(data, str) and data.strip():
        return ApiyiError(message=data.strip())
    return ApiyiError(text=excerpt(raw, EXCERPT))


def failure_text(places: Iterable[object]) -> Said:
    """(vendor code, vendor reason) of a failed task, from the first of its loose failure
    fields that says why: a text, or an `error`-shaped object."""
    return first_reason(places, _reason_of)


def _reason_of(value: dict[Any, Any]) -> Said | None:
    detail = ErrorDetail.parse_or_none(value)
    return None if detail is None else (detail.code or detail.type, detail.message)


class VideoObject(WireModel):
    """The fields of the video object both channels answer with. The ones we do not use,
    and the ids (no worse unreadable than missing), may not make the rest of the answer
    unreadable; `status` stays strict: an answer whose state does not read is not a task.
    How a failure is described is not documented, so its likely places are read loosely."""

    id: OrNone[str] = None
    task_id: OrNone[str] = None
    object: OrNone[str] = None
    model: OrNone[str] = None
    status: str | None = None
    error: Any = None
    fail_reason: Any = None
    error_message: Any = None
    message: Any = None


def first_id(*values: str | None) -> str | None:
    """The first of a task's id fields that holds one (a blank one is no id)."""
    for value in values:
        if value and value.strip():
            return value
    return None
