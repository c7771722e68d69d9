"""The one contract every video vendor adapter honours.

The rest of the bot sees only these types; each adapter maps its vendor's wire format to
them at its own boundary, so a vendor's quirks never travel past its folder.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from bot.providers.codes import ErrorCode, Say


class Mode(enum.StrEnum):
    """How the member's images are used."""

    TEXT = "text"
    FIRST_FRAME = "first_frame"
    FIRST_LAST = "first_last"
    REFERENCE = "reference"


@dataclass(frozen=True, slots=True)
class Timing:
    """A vendor's documented schedule, in seconds."""

    initial_wait: float
    poll_interval: float
    deadline: float


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """What one model can do; drives validation, command choices and the poll schedule."""

    name: str
    label: str
    modes: frozenset[Mode]
    aspect_ratios: tuple[str, ...]
    durations: tuple[int, ...]
    default_duration: int
    resolutions: tuple[str, ...]
    timing: Timing
    max_reference_images: int = 0
    # Modes that allow fewer aspect ratios than the model (apixo references: 16:9 only).
    aspect_ratios_by_mode: Mapping[Mode, tuple[str, ...]] = field(default_factory=dict)
    # Resolutions that only allow some lengths (apiyi: 1080p and 4k need 8 s).
    durations_by_resolution: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    # Slower resolutions get a longer schedule (apiyi 4k: up to 10 min).
    timing_by_resolution: Mapping[str, Timing] = field(default_factory=dict)
    negative_prompt: bool = False
    seed: bool = False
    enhance_prompt: bool = False
    image_formats: frozenset[str] = frozenset({"jpeg", "png", "webp"})
    max_image_bytes: int = 10 * 1024 * 1024
    max_prompt: int | None = None
    price_usd: float | None = None
    gives_url: bool = False
    # How images reach the vendor: "bytes" (multipart in the submit), "upload" (the
    # adapter uploads them first), or "url" (the vendor fetches InputImage.url).
    image_transport: str = "bytes"
    # The vendor can call us back when the task ends (apixo); polling stays the fallback.
    callbacks: bool = False

    def timing_for(self, resolution: str | None) -> Timing:
        if resolution is not None and resolution in self.timing_by_resolution:
            return self.timing_by_resolution[resolution]
        return self.timing

    def durations_for(self, resolution: str | None) -> tuple[int, ...]:
        if resolution is not None and resolution in self.durations_by_resolution:
            return self.durations_by_resolution[resolution]
        return self.durations


@dataclass(frozen=True, slots=True)
class InputImage:
    """An image already downloaded from Discord and sniffed by its magic bytes.

    `url` is set for vendors that fetch images themselves (ModelSpec.image_transport
    == "url"): the bot's own expiring URL when it has a public address, else the
    attachment's signed Discord URL. Adapters that upload bytes ignore it.
    """

    data: bytes
    mime: str  # image/jpeg, image/png, image/webp
    filename: str
    url: str | None = None


@dataclass(frozen=True, slots=True)
class SubmitRequest:
    """A validated request, in our terms; adapters translate it to the wire."""

    model: str
    prompt: str
    mode: Mode = Mode.TEXT
    images: tuple[InputImage, ...] = ()
    aspect_ratio: str | None = None
    duration: int | None = None
    resolution: str | None = None
    negative_prompt: str | None = None
    seed: int | None = None
    enhance_prompt: bool | None = None
    # Where the vendor should POST when the task ends (only for ModelSpec.callbacks).
    callback_url: str | None = None


class TaskState(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class TaskStatus:
    """One poll's answer. `progress` is only set when the vendor gives a real figure."""

    state: TaskState
    progress: int | None = None
    stage: str | None = None
    error_code: str | None = None
    error_say: Say | None = None  # what the member is told about a failed task
    result_url: str | None = None
    url_expires_at: float | None = None  # unix seconds, when documented
    eta_seconds: float | None = None  # the vendor's own estimate of the time left


@dataclass(frozen=True, slots=True)
class FetchedVideo:
    """Where the finished video ended up: a file on disk, a URL, or both."""

    path: Path | None
    size: int | None
    url: str | None = None
    url_expires_at: float | None = None


class ProviderError(Exception):
    """Base of every error an adapter raises.

    `retryable`: the same call may succeed later. `say`: what the member is told (a
    sentence key and what it quotes, never a key, a URL with a token or a raw vendor body;
    the chat side words it). `detail`: the operator's line. `retry_after`: seconds the
    vendor asked us to wait, when it said so.
    """

    retryable = False
    code: str = ErrorCode.PROVIDER_ERROR

    def __init__(
        self,
        say: Say,
        *,
        code: str | None = None,
        detail: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(detail or say.key)
        self.say = say
        if code is not None:
            self.code = code
        self.detail = detail
        self.retry_after = retry_after


class ProviderRejected(ProviderError):
    """The vendor refused the request (bad parameters, policy); retrying will not help."""

    code: str = ErrorCode.REJECTED


class ProviderAuthError(ProviderError):
    """The operator's key was refused or lacks credit: an operator problem, not the member's."""

    code: str = ErrorCode.AUTH


class ProviderUnavailable(ProviderError):
    """A transient failure where the vendor provably did not act on the request
    (connection refused, 429, 5xx, an error body): safe to retry, even a submit."""

    retryable = True
    code: str = ErrorCode.UNAVAILABLE


class ProviderTimeout(ProviderError):
    """The request was sent but no answer came (timeout, reset). Safe to retry for a
    poll or a download; for a submit it means the vendor may have accepted it."""

    retryable = True
    code: str = ErrorCode.TIMEOUT


class ResultNotReady(ProviderError):
    """The task completed but its result cannot be fetched yet (apiyi's early 400)."""

    retryable = True
    code: str = ErrorCode.NOT_READY


class TaskNotFound(ProviderError):
    code: str = ErrorCode.NOT_FOUND


class ResultNotDownloaded(ProviderError):
    """The video is finished but the bot will not fetch it (the base of the two reasons
    below). `url` is the vendor's link when the adapter knows one: the member can still
    have the video through it, so the job is delivered as that link instead of failing."""

    def __init__(
        self,
        say: Say,
        *,
        url: str | None = None,
        url_expires_at: float | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(say, detail=detail)
        self.url = url
        self.url_expires_at = url_expires_at


class ResultTooLarge(ResultNotDownloaded):
    """The video is over the download cap."""

    code: str = ErrorCode.TOO_LARGE


class DownloadTooSlow(ResultNotDownloaded):
    """The video did not arrive within its download's total time budget (`budget`,
    seconds). Without a budget, a CDN that trickles bytes, each within the silence limit,
    would hold a job slot for good. Not retried: the same link is most likely as slow."""

    code: str = ErrorCode.DOWNLOAD_TOO_SLOW

    def __init__(
        self,
        say: Say,
        *,
        budget: float,
        url: str | None = None,
        url_expires_at: float | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(say, url=url, url_expires_at=url_expires_at, detail=detail)
        self.budget = budget


@runtime_checkable
class Provider(Protocol):
    """One vendor. Adapters never import discord."""

    name: str
    label: str

    @property
    def models(self) -> Mapping[str, ModelSpec]: ...

    async def submit(self, request: SubmitRequest) -> str:
        """Start a task; return the vendor's task id."""
        ...

    async def status(self, task_id: str, model: str) -> TaskStatus: ...

    async def fetch(
        self, task_id: str, model: str, status: TaskStatus, dest: Path, max_bytes: int
    ) -> FetchedVideo:
        """Stream the finished video to `dest` (never whole in memory); raise
        ResultTooLarge past `max_bytes`."""
        ...

    async def close(self) -> None: ...
