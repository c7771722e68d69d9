"""What every HTTP vendor adapter is built from, so an adapter's constructor says only what
its vendor adds (a base URL of its own form, a routing choice, a clock).

The options are the ones `build_providers` and the tests pass to every vendor alike; an
adapter takes them as `**options: Unpack[HTTPOptions]` and hands them here whole, so a new
option is one edit in this file and not five.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import NotRequired, Required, TypedDict

import aiohttp

import bot.providers.words as words
from bot.providers.base import (
    ModelSpec,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    TaskState,
    TaskStatus,
    Timing,
)
from bot.providers.codes import ErrorCode
from bot.providers.http import VendorHTTP, bearer, plain_text

log = logging.getLogger(__name__)

# A submit or a status is a small exchange: it ends within this, or is a timeout.
REQUEST_TIMEOUT = 30.0
# A video streams for minutes: only this long a silence between two reads ends it.
DOWNLOAD_READ_TIMEOUT = 120.0


class HTTPOptions(TypedDict, total=False):
    """The options every vendor takes (besides its own base URL)."""

    api_key: Required[str]
    session: Required[aiohttp.ClientSession]
    # The operator's URL for the vendor (a test's simulator); the vendor's own by default.
    base_url: NotRequired[str]
    request_timeout: float
    download_read_timeout: float
    # A test or the benchmark shortens the vendor's poll schedule with this.
    timing_override: Timing | None


class HTTPAdapter:
    """The shared half of an adapter: its `VendorHTTP` client, and nothing to close (the
    session belongs to whoever made it)."""

    name: str  # the provider's key in settings, the registry and each job row
    label: str  # how a member's sentence names the vendor
    default_base_url: str
    # Documented forms of the base URL end in one of these; requests are built from the root.
    base_suffixes: tuple[str, ...] = ()
    models: Mapping[str, ModelSpec]

    def __init__(
        self,
        options: HTTPOptions,
        *,
        vendor: str | None = None,
        auth: Callable[[str], Mapping[str, str]] = bearer,
    ) -> None:
        self._http = VendorHTTP(
            vendor=vendor or self.name,
            label=self.label,
            api_key=options["api_key"],
            session=options["session"],
            request_timeout=options.get("request_timeout", REQUEST_TIMEOUT),
            download_read_timeout=options.get("download_read_timeout", DOWNLOAD_READ_TIMEOUT),
            auth=auth,
        )
        self._timing_override = options.get("timing_override")
        self._base = self.api_base(options.get("base_url", self.default_base_url))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._base!r})"

    @classmethod
    def api_base(cls, url: str) -> str:
        """The root every path is joined to, whichever documented form the operator gave."""
        base = url.rstrip("/")
        for suffix in cls.base_suffixes:
            if base.endswith(suffix):
                return base[: -len(suffix)]
        return base

    async def close(self) -> None:
        """The session belongs to the caller; nothing of ours to release."""

    def still_running(
        self, raw: str, task_id: str | None, *, progress: int | None = None
    ) -> TaskStatus:
        """A status word the vendor does not document is most likely a new in-between
        stage: keep polling, and show the member the word (scrubbed, short)."""
        shown, scrub = self._http.scrub(raw.strip()), self._http.scrub
        log.warning(
            "%s: unknown task status %r for %s", self._http.vendor, shown, scrub(task_id or "")
        )
        return TaskStatus(TaskState.RUNNING, progress=progress, stage=plain_text(shown)[:40])


def no_task_id(detail: str, *, refused: bool) -> ProviderError:
    """A 2xx answer to a submit without a task id we can follow. With an error envelope
    (`refused`) the gateway turned it down before queueing; without one, it may still have
    queued a paid task, which only a timeout's "uncertain" ending describes."""
    if refused:
        return ProviderUnavailable(words.DOWN, code=ErrorCode.ERROR_BODY, detail=detail)
    return ProviderTimeout(words.NO_TASK_ID, code=ErrorCode.NO_TASK_ID, detail=detail)
