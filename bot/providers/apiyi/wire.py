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
from pydantic import Field

from bot.providers.apiyi import envelope
from bot.providers.apiyi.envelope import ApiyiError as ApiyiError
from bot.providers.base import InputImage
from bot.providers.wire import OrNone, WireModel, json_or_none


class ApiyiStatus(enum.StrEnum):
    """Task states. `processing` is the earlier channel's word, tolerated here too."""

    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


class ApiyiMetadata(WireModel):
    """`metadata`: wins over the top-level `size` for resolution and aspect."""

    resolution: str | None = None
    aspect_ratio: str | None = Field(default=None, alias="aspectRatio")
    seed: int | None = None
    negative_prompt: str | None = Field(default=None, alias="negativePrompt")


class ApiyiSubmitBody(WireModel):
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


class ApiyiTask(envelope.VideoObject):
    """The task object answered by submit and by status.

    `id` and `task_id` carry the same value on this channel; the earlier channel sent only
    `id`. Failure reasons are undocumented ("may not include a detailed error field"), so
    one more likely place is read, as loosely as the shared ones.
    """

    progress: OrNone[float] = None
    created_at: OrNone[float] = None
    completed_at: OrNone[float] = None
    failure_reason: Any = None

    @property
    def ref(self) -> str | None:
        """The id to poll with: `task_id`, else `id` (a blank one is no id)."""
        return envelope.first_id(self.task_id, self.id)

    def failure_text(self) -> tuple[str | None, str | None]:
        """(vendor code, vendor reason) from whichever field the vendor filled, if any."""
        return envelope.failure_text(
            (self.error, self.fail_reason, self.failure_reason, self.error_message, self.message)
        )


def parse_error(raw: bytes) -> ApiyiError:
    """Read an error body of any shape (the envelope both channels share); never raises.
    This channel reads the JSON inside any white space, and an `error` object with nothing
    in it as the answer."""
    return envelope.parse_error(raw, trim=True, blank_error=True)


def parse_task(raw: bytes) -> ApiyiTask | None:
    """A task object, or None when the body is not one (garbage, HTML, an error envelope)."""
    return ApiyiTask.parse_or_none(json_or_none(raw))
