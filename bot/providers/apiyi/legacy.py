"""apiyi's earlier ("reverse") channel: `/v1/videos` with the eight `veo-3.1*` models.

Same host and key as the current channel, told apart by model name (`ApiyiProvider` hands
these models to this class), but a wire of its own: the *bare* key in the Authorization
header (no `Bearer`), JSON for text models and multipart frames for `-fl` ones, and a
`/content` that answers a CDN link valid about 24 h rather than the bytes. The link is
fetched without our key (the vendor's documentation fetches it with a plain GET, and the
host is a third party) and kept, so a video too large for Discord can be posted as a link.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, NoReturn, Unpack, assert_never

import yarl

import bot.providers.apiyi.legacy_catalog as catalog
import bot.providers.base as base
import bot.providers.words as words
from bot.providers.adapter import HTTPAdapter, HTTPOptions, no_task_id
from bot.providers.apiyi.legacy_wire import (
    LegacyError,
    LegacyStatus,
    LegacyTask,
    parse_error,
    parse_task,
)
from bot.providers.checks import UNKNOWN_MODEL_MSG
from bot.providers.codes import ErrorCode
from bot.providers.http import Answer, OnError, retry_after, usable_task_id

log = logging.getLogger(__name__)

_Call = Literal["submit", "status", "content"]


def _not_ready(detail: str, wait: float | None = None) -> base.ResultNotReady:
    """The video is finished but not published yet: worth asking again soon."""
    retry = catalog.NOT_READY_RETRY if wait is None else wait
    return base.ResultNotReady(
        words.NOT_READY, code=ErrorCode.NOT_READY, detail=detail, retry_after=retry
    )


class ApiyiLegacyChannel(HTTPAdapter):
    """A Provider on its own, so it can be tested alone; `ApiyiProvider` offers its models
    beside the current channel's. The key lives only in its VendorHTTP."""

    name = "apiyi"
    label = catalog.LABEL
    default_base_url = "https://api.apiyi.com"
    # The vendor's samples sometimes give ".../v1" as the base.
    base_suffixes = ("/v1",)

    def __init__(
        self, *, clock: Callable[[], float] = time.time, **options: Unpack[HTTPOptions]
    ) -> None:
        super().__init__(options, vendor=catalog.VENDOR, auth=catalog.bare_key)
        self._clock = clock
        self.models = catalog.models_with(self._timing_override)

    # -- submit ---------------------------------------------------------------------------

    async def submit(self, request: base.SubmitRequest) -> str:
        body = catalog.checked_body(self.models, request)
        url = catalog.videos_url(self._base)
        if request.mode is base.Mode.TEXT:
            raw = await self._call("POST", url, "submit", json=body.json_body())
        else:
            raw = await self._call("POST", url, "submit", data=body.form(request.images))
        task = parse_task(raw)
        # A blank id, or one we could not store or poll with, is no task id.
        task_id = usable_task_id(task.ref) if task is not None else None
        if task_id is not None:
            log.info("apiyi (earlier channel): submitted task %s (%s)", task_id, request.model)
            return task_id
        err = parse_error(raw)
        raise no_task_id(self._detail("submit", 200, err), refused=bool(err.message or err.code))

    # -- status ---------------------------------------------------------------------------

    async def status(self, task_id: str, model: str) -> base.TaskStatus:
        raw = await self._call("GET", catalog.task_url(self._base, task_id), "status")
        task = parse_task(raw)
        if task is None or not task.status:
            detail = self._detail("status", 200, parse_error(raw))
            raise base.ProviderUnavailable(
                words.BAD_ANSWER, code=ErrorCode.BAD_ANSWER, detail=detail
            )
        return self._to_status(task)

    def _to_status(self, task: LegacyTask) -> base.TaskStatus:
        try:
            state = LegacyStatus(task.plain_status)
        except ValueError:
            return self.still_running(task.status or "", task.ref)
        match state:
            case LegacyStatus.QUEUED:
                return base.TaskStatus(base.TaskState.PENDING, stage="queued")
            case LegacyStatus.PROCESSING:
                return base.TaskStatus(base.TaskState.RUNNING, stage="generating")
            case LegacyStatus.COMPLETED:
                # The URL normally comes from /content; keep one if the gateway sends it here.
                url = self._link(task)
                return base.TaskStatus(
                    base.TaskState.SUCCEEDED,
                    stage="completed",
                    result_url=None if url is None else str(url),
                    url_expires_at=None if url is None else self._clock() + catalog.URL_LIFETIME,
                )
            case LegacyStatus.FAILED:
                code, reason = task.failure_text()
                log.info(
                    "apiyi (earlier channel): task %s failed: code=%r reason=%r",
                    task.ref,
                    self._http.scrub(code or ""),
                    self._http.scrub(reason or ""),
                )
                safe = self._http.safe
                return base.TaskStatus(
                    base.TaskState.FAILED,
                    stage="failed",
                    error_code=code if code and safe(code) else ErrorCode.GENERATION_FAILED,
                    error_say=words.could_not_make(
                        reason if reason and safe(reason) else None, default=catalog.FAILED_MSG
                    ),
                )
            case _:
                assert_never(state)

    # -- fetch ----------------------------------------------------------------------------

    async def fetch(
        self, task_id: str, model: str, status: base.TaskStatus, dest: Path, max_bytes: int
    ) -> base.FetchedVideo:
        """Ask /content for a fresh URL every time (a stored one may have expired), then
        stream the file from it."""
        raw = await self._call("GET", catalog.task_url(self._base, task_id, "/content"), "content")
        task = parse_task(raw)
        url = self._link(task)
        if url is None:
            err = parse_error(raw)
            detail = self._detail("content", 200, err)
            if err.plain_code == "video_not_ready" or (
                task is not None
                and task.plain_status in (LegacyStatus.QUEUED, LegacyStatus.PROCESSING)
            ):
                raise _not_ready(detail + " (not ready)")
            raise base.ProviderUnavailable(
                words.BAD_ANSWER, code=ErrorCode.BAD_ANSWER, detail=detail + " (no usable url)"
            )
        expires_at = self._clock() + catalog.URL_LIFETIME
        link = str(url)
        try:
            # No key: the URL is a CDN link, usually on another host.
            size = await self._http.save(
                url,
                dest,
                max_bytes,
                on_error=self._download_error(url),
                with_key=False,
                link=link,
                link_expires_at=expires_at,
            )
        except base.ProviderUnavailable as exc:
            if exc.code != ErrorCode.BAD_ANSWER:
                raise
            # An error page served as the video: the member hears that the link failed
            # (the next attempt asks /content for a fresh one), not that we misread it.
            detail = f"{exc.detail} (host {url.host})"
            raise base.ProviderUnavailable(
                catalog.LINK_MSG, code=ErrorCode.BAD_ANSWER, detail=detail
            ) from None
        log.info("apiyi (earlier channel): fetched task %s, %d bytes", task_id, size)
        return base.FetchedVideo(path=dest, size=size, url=link, url_expires_at=expires_at)

    def _link(self, task: LegacyTask | None) -> yarl.URL | None:
        if task is None or not task.url:
            return None
        return catalog.video_url(task.url, self._base, self._http.scrub)

    def _download_error(self, url: yarl.URL) -> OnError:
        """Every failed CDN download is worth retrying, whatever its status: the next
        attempt asks /content again and gets a fresh link."""

        def on_error(answer: Answer) -> NoReturn:
            err = parse_error(answer.body)
            detail = f"{self._detail('download', answer.status, err)} (host {url.host})"
            log.warning("%s", detail)
            wait = retry_after(answer.headers)
            if answer.status == 429:
                raise base.ProviderUnavailable(
                    words.BUSY, code=ErrorCode.RATE_LIMITED, detail=detail, retry_after=wait
                )
            raise base.ProviderUnavailable(
                catalog.LINK_MSG, code=ErrorCode.DOWNLOAD_FAILED, detail=detail, retry_after=wait
            )

        return on_error

    # -- the vendor's errors --------------------------------------------------------------

    async def _call(self, method: str, url: str | yarl.URL, call: _Call, **kw: Any) -> bytes:
        def on_error(answer: Answer) -> NoReturn:
            err = parse_error(answer.body)
            detail = self._detail(call, answer.status, err)
            own = self._vendor_error(call, answer, err, detail)
            if own is not None:
                log.warning("%s", detail)
                raise own
            message = (err.message or "").strip()
            reason = message if self._http.safe(message) else None
            rejected = words.rejected_because(reason, fallback=catalog.REJECT_FALLBACK)
            self._http.raise_for_status(answer, detail, rejected=rejected)

        return await self._http.call(method, url, on_error, **kw)

    def _vendor_error(
        self, call: _Call, answer: Answer, err: LegacyError, detail: str
    ) -> base.ProviderError | None:
        """What this channel's error codes say where they say more than the status, in the
        order they win; None leaves the status to the shared mapping."""
        status, code = answer.status, err.plain_code
        if code in catalog.QUOTA_CODES or err.plain_type in catalog.QUOTA_CODES:
            return base.ProviderAuthError(words.OUT_OF_CREDIT, code=ErrorCode.QUOTA, detail=detail)
        if status in (401, 403):
            return None  # the key, whatever the body goes on to say
        if status == 402 or code == "invalid_api_key":
            # This channel's 402 is read as the key's refusal: its lack of credit comes as
            # one of the quota codes above.
            return base.ProviderAuthError(words.AUTH, code=ErrorCode.AUTH, detail=detail)
        if code == "video_not_ready":
            return _not_ready(detail, retry_after(answer.headers))
        if code == "video_not_found" and call != "submit":
            return base.TaskNotFound(words.GONE, code=ErrorCode.NOT_FOUND, detail=detail)
        if status == 429 or status >= 500:
            return None  # the vendor for now
        if call == "content" and status in (400, 404):
            # A bare 400/404 right after `completed` is most likely the result not being
            # published yet (the documented code is video_not_ready): wait and try again.
            return _not_ready(detail)
        if call == "status" and status == 404:
            return base.TaskNotFound(words.GONE, code=ErrorCode.NOT_FOUND, detail=detail)
        if code == "invalid_prompt":
            return base.ProviderRejected(
                catalog.PROMPT_MSG, code=ErrorCode.INVALID_PROMPT, detail=detail
            )
        if code == "invalid_model":
            return base.ProviderRejected(
                UNKNOWN_MODEL_MSG, code=ErrorCode.INVALID_MODEL, detail=detail
            )
        return None

    def _detail(self, call: str, status: int, err: LegacyError) -> str:
        return self._http.detail(call, status, *err.shown())
