"""What every vendor's wire models share."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Annotated, Any, Self, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)


class WireModel(BaseModel):
    """The base of every vendor's wire models. Fields a vendor adds are ignored (gateways add
    them without notice), ids and codes that come as numbers read as text (we only ever want
    text), and a field with a wire alias can still be set by its own name (the adapters build
    request bodies that way)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, coerce_numbers_to_str=True)

    @classmethod
    def parse_or_none(cls, value: object) -> Self | None:
        """The model, or None when `value` is not an object of this shape: a nested object
        that does not read is skipped, never the end of the whole answer."""
        if not isinstance(value, dict):
            return None
        try:
            return cls.model_validate(value)
        except ValidationError:
            return None


class ErrorAnswer(BaseModel):
    """What we could make of a vendor's error answer; each vendor adds the codes it sends.
    `text` is a short excerpt of an unreadable body (HTML page, plain text), for the
    operator's log only."""

    message: str | None = None
    text: str | None = None


def or_none(value: object, handler: ValidatorFunctionWrapHandler) -> object:
    """A field we can do without: when it does not read, it is absent, rather than the
    whole answer unreadable (a poll that never reads ends in a lost, paid video).
    Fields use it through `OrNone`."""
    try:
        return handler(value)
    except ValidationError:
        return None


T = TypeVar("T")
# The type of a field we can do without (`id: OrNone[str] = None`): a `T`, or None when the
# field is missing or does not read (see or_none). Fields that decide what an answer
# means (a task's state) stay strict instead.
OrNone = Annotated[T | None, WrapValidator(or_none)]


# What a vendor's error-shaped object says: (its code, its reason), either None.
Said = tuple[str | None, str | None]


def first_reason(
    places: Iterable[object], read: Callable[[dict[Any, Any]], Said | None], code: str | None = None
) -> Said:
    """(vendor code, vendor reason) of a failed task, from the first of `places` (its loose
    failure fields, most likely first) that says why: a text, or an object `read` makes
    sense of (None: not one of its shape), whose code is kept even when a later place
    gives the reason. `code` is one the task gave elsewhere, which wins."""
    for value in places:
        if isinstance(value, dict):
            said = read(value)
            if said is None:
                continue
            code = code or said[0]
            if said[1]:
                return code, said[1]
        elif isinstance(value, str) and value.strip():
            return code, value.strip()
    return code, None


def json_or_none(raw: bytes | str) -> object:
    """The JSON value of a body, or None when it is not JSON (a JSON `null` is None too):
    the parsers of vendor answers promise never to raise. Bytes are decoded as JSON itself
    says (UTF-8, -16 or -32); a byte that does not decode makes the body unreadable."""
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: JSON nested too deep
        return None


def lenient_json_or_none(raw: bytes) -> object:
    """json_or_none of the body read as UTF-8 with bad bytes replaced: one stray byte in a
    vendor's message does not make the rest of its answer unreadable."""
    return json_or_none(raw.decode("utf-8", errors="replace"))
