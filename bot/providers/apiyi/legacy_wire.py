"""apiyi `/v1/videos`, earlier "reverse" channel, as it travels on the wire.

Kept apart from the current channel's wire module on purpose: the two share a path but
differ in auth, body shapes, status words and what `/content` returns; only the error
envelope is the same (`envelope.py`). Every model ignores unknown fields (the vendor is a
gateway that adds fields without notice) and every parser is total: an answer we cannot
read becomes `None`, never an exception. The models here have no wire aliases, so the
shared base's `populate_by_name` changes nothing for them.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

import aiohttp

from bot.providers.apiyi import envelope
from bot.providers.base import InputImage
from bot.providers.wire import OrNone, WireModel, lenient_json_or_none

# The same reading as the current channel's; the adapter knows it by this name.
LegacyError = envelope.ApiyiError


class LegacyStatus(enum.StrEnum):
    """The four documented task states."""

    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


class LegacySubmitBody(WireModel):
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


class LegacyTask(envelope.VideoObject):
    """The video object answered by submit, status and `/content`.

    The task id is in `id` only on this channel (`task_id` is read as a fallback in case the
    gateway ever aligns with the current channel). This channel's own fields are unused,
    or (`url`, which /content gives anyway) no worse unreadable than missing.
    """

    created: OrNone[float] = None
    url: OrNone[str] = None
    duration: OrNone[float] = None
    resolution: OrNone[str] = None

    @property
    def plain_status(self) -> str:
        """The state word as the vendor's documentation spells it, whatever the case or spacing."""
        return (self.status or "").strip().lower()

    @property
    def ref(self) -> str | None:
        """The id to poll with: `id`, else `task_id` (a blank one is no id)."""
        return envelope.first_id(self.id, self.task_id)

    def failure_text(self) -> tuple[str | None, str | None]:
        """(vendor code, vendor reason) from whichever field the vendor filled, if any."""
        return envelope.failure_text(
            (self.error, self.fail_reason, self.error_message, self.message)
        )


def parse_error(raw: bytes) -> LegacyError:
    """Read an error body of any shape (the envelope both channels share); never raises.
    This channel reads the JSON inside JSON's own white space only, and passes over an
    `error` object with nothing in it (the top level may still say something)."""
    return envelope.parse_error(raw, trim=False, blank_error=False)


def parse_task(raw: bytes) -> LegacyTask | None:
    """A video object, or None when the body is not one (garbage, HTML, a list...)."""
    return LegacyTask.parse_or_none(lenient_json_or_none(raw))
