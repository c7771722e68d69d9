"""veo3o1 (seed 004): Veo 3.1 text- and image-to-video behind a `code`/`msg`/`data` envelope.

Why this adapter looks the way it does (the vendor's quirks):
- errors are a numeric `code` in the body (1000 parameters, 1001 credits, 1002 auth,
  1003 rate limit, 5000 server); they may come with HTTP 200 or with an HTTP error status,
  so both are read, and a known body code wins over the HTTP status;
- images go up first (`/upload-video-image`, multipart `file`) and the answer's
  `imageUrl`/`imageKey` go into the generate body: Discord's own URLs expire, and an upload
  that fails has provably not started (nor billed) a video;
- `progress` is a real percentage and `estimatedTime` real seconds left: both are used
  (the estimate in the stage text, and via `estimated_seconds_left` for the scheduler);
- the finished video is a URL with no documented lifetime; it is downloaded without the
  API key unless it lives on the API's own host;
- a failed task carries no documented reason, so the member gets a plain sentence;
- no timing is documented: see `_TIMING`.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, NoReturn, assert_never
from urllib.parse import quote

import aiohttp
import yarl

from bot.providers.base import (
    FetchedVideo,
    InputImage,
    Mode,
    ModelSpec,
    ProviderAuthError,
    ProviderError,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    ResultNotReady,
    SubmitRequest,
    TaskNotFound,
    TaskState,
    TaskStatus,
    Timing,
)
from bot.providers.checks import (
    check_prompt,
    check_text_or_start_image,
    find_spec,
    unsupported_options,
)
from bot.providers.download import stream_to_file
from bot.providers.http import (
    is_plain_text,
    member_safe,
    plain_text,
    read_capped,
    retry_after,
    transport_error,
    usable_task_id,
)
from bot.providers.veo3o1.wire import (
    Veo3o1Code,
    Veo3o1Envelope,
    Veo3o1GenerationType,
    Veo3o1State,
    Veo3o1SubmitBody,
    Veo3o1VideoStatus,
    excerpt,
    parse_envelope,
)

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://veo3o1.com/api"
MODEL = "veo3o1-veo-3.1"


# No timing is documented. Veo 3.1 renders take about 1-3 min (the seed's own example
# says `estimatedTime: 120`), so the first look is at 30 s; the seed asks for polls every
# 5-10 s; the deadline is several times the typical render, because a job we abandon is
# still rendered and billed.
_TIMING = Timing(initial_wait=30, poll_interval=5, deadline=1200)

MODELS: Mapping[str, ModelSpec] = MappingProxyType(
    {
        MODEL: ModelSpec(
            name=MODEL,
            label="Veo 3.1 (veo3o1)",
            modes=frozenset({Mode.TEXT, Mode.FIRST_FRAME}),
            # The seed's values; `auto` is also what the vendor does when none is sent.
            aspect_ratios=("auto", "16:9", "9:16"),
            # There is no length or resolution option: Veo 3.1's fixed 8 s at its default
            # 720p is all this API can be asked for.
            durations=(8,),
            default_duration=8,
            resolutions=("720p",),
            timing=_TIMING,
            max_reference_images=0,
            image_formats=frozenset({"jpeg", "png", "webp"}),
            max_image_bytes=50 * 1024 * 1024,
            gives_url=True,
            image_transport="upload",
            callbacks=False,
        )
    }
)

# Member-facing sentences (never a vendor body, a key or a URL).
_AUTH_MSG = "The video service refused the bot's API key; the server operator has been told."
_CREDITS_MSG = (
    "The server operator's account with the video service is out of credits; "
    "the operator has been told."
)
_BUSY_MSG = "The video service is busy right now. Please try again in a moment."
_DOWN_MSG = "The video service is having trouble right now. Please try again in a moment."
_BAD_ANSWER_MSG = "The video service gave an answer the bot could not read. Please try again."
_REJECT_MSG = "The video service did not accept this request."
_FAILED_MSG = (
    "The video service could not make this video (it gives no reason; often a content "
    "review of the prompt or image). You were not charged."
)
_POLICY_MSG = (
    "The video service refused this video under its content rules. Try a different "
    "prompt or image. You were not charged."
)
_NOT_READY_MSG = "The video is finished but not downloadable yet."
_GONE_MSG = "The video service no longer knows this task."

_POLICY_WORDS = ("policy", "safety", "nsfw", "moderation", "prohibited", "inappropriate")
_GENERIC_MSGS = frozenset({"", "success", "ok", "failed", "error", "invalid parameters"})

# Task, upload and error bodies are small; never buffer more than this of one.
_BODY_LIMIT = 64 * 1024
# How many tasks' remaining-time estimates we keep (one per job being polled).
_ETA_MEMORY = 1024

_Op = Literal["upload", "submit", "status"]


class _UrlGone(Exception):
    """The video URL answered 4xx: expired or not there yet. Internal to fetch()."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class Veo3o1Provider:
    """The Provider for veo3o1. Holds the key privately: it is sent only in the
    Authorization header to the API's own host and scrubbed from everything we raise or log."""

    name = "veo3o1"
    label = "veo3o1"

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        session: aiohttp.ClientSession,
        request_timeout: float = 30.0,
        timing_override: Timing | None = None,
        download_read_timeout: float = 120.0,
    ) -> None:
        self.__key = api_key
        self._base = base_url.rstrip("/")
        self._session = session
        # Generate and status are small JSON exchanges: a total timeout fits them.
        self._timeout = aiohttp.ClientTimeout(total=request_timeout)
        # An upload can be 50 MB and a video far more: bound the silence, not the total.
        self._upload_timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=request_timeout, sock_read=request_timeout
        )
        self._download_timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=request_timeout, sock_read=download_read_timeout
        )
        self._eta: OrderedDict[str, float] = OrderedDict()
        if timing_override is None:
            self.models: Mapping[str, ModelSpec] = MODELS
        else:
            self.models = MappingProxyType(
                {
                    k: dataclasses.replace(v, timing=timing_override, timing_by_resolution={})
                    for k, v in MODELS.items()
                }
            )

    def __repr__(self) -> str:
        return f"Veo3o1Provider(base_url={self._base!r})"

    async def close(self) -> None:
        """The session belongs to the caller; nothing of ours to release."""

    def estimated_seconds_left(self, task_id: str) -> float | None:
        """The vendor's last `estimatedTime` for this task, from the last status() call:
        a hint for when the next poll is worth making."""
        return self._eta.get(task_id)

    # -- submit ---------------------------------------------------------------------------

    async def submit(self, request: SubmitRequest) -> str:
        self._check(request)
        body = Veo3o1SubmitBody(
            generation_type=Veo3o1GenerationType.TEXT_TO_VIDEO,
            prompt=request.prompt,
            aspect_ratio=request.aspect_ratio,
        )
        if request.mode is Mode.FIRST_FRAME:
            image_url, image_key = await self._upload(request.images[0])
            body = body.model_copy(
                update={
                    "generation_type": Veo3o1GenerationType.IMAGE_TO_VIDEO,
                    "image_url": image_url,
                    "image_key": image_key,
                }
            )
        envelope, raw = await self._call(
            "POST", self._url("/generate-video"), "submit", json=body.json_body()
        )
        video = envelope.video() if envelope is not None else None
        # A blank id, or one we could not store or poll with, is no task id.
        task_id = usable_task_id(video.uuid) if video is not None else None
        if task_id is not None:
            log.info("veo3o1: submitted task %s (%s)", task_id, request.model)
            return task_id
        # A 2xx we cannot read may still have queued a (paid) task: that is "uncertain".
        raise ProviderTimeout(
            "The video service answered without a task number; the request may or may not "
            "have started.",
            code="no_task_id",
            detail=self._detail("submit", 200, envelope, raw),
        )

    def _check(self, request: SubmitRequest) -> ModelSpec:
        """Re-check the request against the model table: a refused submit costs a round trip
        (two with an upload), and the vendor's only answer is a bare 1000."""
        spec = find_spec(self.models, request, "veo3o1")
        check_text_or_start_image(request, spec, "veo3o1")
        check_prompt(request, "veo3o1", code="empty_prompt")
        if spec.max_prompt is not None and len(request.prompt) > spec.max_prompt:
            raise ProviderRejected(
                f"The prompt is longer than the video service allows ({spec.max_prompt:,}).",
                code="prompt_too_long",
                detail=f"veo3o1: prompt of {len(request.prompt)} characters",
            )
        if request.aspect_ratio is not None and request.aspect_ratio not in spec.aspect_ratios:
            raise ProviderRejected(
                "The video service makes 16:9 or 9:16 videos (or picks the shape itself).",
                code="bad_format",
                detail=f"veo3o1: aspect ratio {request.aspect_ratio!r}",
            )
        if request.resolution is not None and request.resolution not in spec.resolutions:
            raise ProviderRejected(
                "The video service has no resolution option.",
                code="bad_format",
                detail=f"veo3o1: resolution {request.resolution!r}",
            )
        if request.duration is not None and request.duration not in spec.durations:
            raise ProviderRejected(
                f"The video service only makes {spec.default_duration}-second videos.",
                code="bad_duration",
                detail=f"veo3o1: duration {request.duration}",
            )
        unsupported = unsupported_options(request, spec)
        if unsupported:
            raise ProviderRejected(
                f"The video service does not take {unsupported[0]}.",
                code="unsupported_option",
                detail=f"veo3o1: unsupported {', '.join(unsupported)}",
            )
        return spec

    async def _upload(self, image: InputImage) -> tuple[str, str | None]:
        """POST the bytes to `/upload-video-image`; return (imageUrl, imageKey).

        Whatever goes wrong here, the generate call has not been made: no video was
        started and nothing billed, so every failure is a provable non-submit. Errors keep
        their mapping (429/5xx/1003/5000 retryable, 4xx/1000 rejected, 1001/1002 auth); a
        timeout or a broken connection, which for generate would be "uncertain", becomes a
        retryable ProviderUnavailable here.
        """
        form = aiohttp.FormData()
        form.add_field("file", image.data, filename=image.filename, content_type=image.mime)
        try:
            envelope, raw = await self._call(
                "POST",
                self._url("/upload-video-image"),
                "upload",
                data=form,
                timeout=self._upload_timeout,
            )
        except ProviderTimeout as exc:
            raise ProviderUnavailable(
                "Sending your image to the video service failed. Please try again in a moment.",
                code=f"upload_{exc.code}",
                detail=exc.detail,
            ) from exc
        upload = envelope.upload() if envelope is not None else None
        if upload is None or not _is_http_url(upload.image_url):
            raise ProviderUnavailable(
                _BAD_ANSWER_MSG,
                code="bad_upload_answer",
                detail=self._detail("upload", 200, envelope, raw),
            )
        assert upload.image_url is not None
        log.info("veo3o1: uploaded %s (%d bytes)", image.filename, len(image.data))
        return upload.image_url, upload.image_key or None

    async def _call(
        self,
        method: str,
        url: str | yarl.URL,
        op: _Op,
        *,
        timeout: aiohttp.ClientTimeout | None = None,
        **kwargs: Any,
    ) -> tuple[Veo3o1Envelope | None, bytes]:
        """One exchange with the API: the envelope of a success (None when a 2xx body is
        unreadable; the caller decides what that means) and the raw body, else our error."""
        try:
            async with self._session.request(
                method,
                url,
                headers=self._headers(),
                timeout=timeout or self._timeout,
                **kwargs,
            ) as resp:
                raw = await read_capped(resp, _BODY_LIMIT, secret=self.__key)
                status, headers = resp.status, resp.headers
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._transport(exc) from exc
        envelope = parse_envelope(raw)
        if not 200 <= status < 300 or (envelope is not None and not envelope.ok):
            self._raise_error(op, status, headers, envelope, raw)
        return envelope, raw

    # -- status ---------------------------------------------------------------------------

    async def status(self, task_id: str, model: str) -> TaskStatus:
        envelope, raw = await self._call("GET", self._status_url(task_id), "status")
        task = envelope.video_status() if envelope is not None else None
        if task is None or not task.status:
            raise ProviderUnavailable(
                _BAD_ANSWER_MSG,
                code="bad_answer",
                detail=self._detail("status", 200, envelope, raw),
            )
        self._remember_eta(task_id, task.eta_seconds())
        return self._to_status(task_id, task, envelope)

    def _to_status(
        self, task_id: str, task: Veo3o1VideoStatus, envelope: Veo3o1Envelope | None
    ) -> TaskStatus:
        raw = task.status or ""
        progress = task.percent()
        eta = task.eta_seconds()
        try:
            state = Veo3o1State(raw.strip().lower())
        except ValueError:
            # An unknown word is most likely a new in-between stage: keep polling.
            log.warning("veo3o1: unknown task status %r for %s", self._scrub(raw), task_id)
            return TaskStatus(
                TaskState.RUNNING, progress=progress, stage=plain_text(self._scrub(raw))[:40]
            )
        match state:
            case Veo3o1State.PENDING:
                return TaskStatus(
                    TaskState.PENDING,
                    progress=progress,
                    stage=_with_eta("queued", eta),
                    eta_seconds=eta,
                )
            case Veo3o1State.PROCESSING:
                return TaskStatus(
                    TaskState.RUNNING,
                    progress=progress,
                    stage=_with_eta("generating", eta),
                    eta_seconds=eta,
                )
            case Veo3o1State.COMPLETED:
                if not _is_http_url(task.video_url) or not is_plain_text(task.video_url or ""):
                    # Completed without a usable link: poll again; it may be filled in late.
                    raise ProviderUnavailable(
                        _BAD_ANSWER_MSG,
                        code="no_video_url",
                        detail=self._scrub(
                            f"veo3o1 status: task {task_id} completed without a videoUrl "
                            f"({(task.video_url or '')[:100]!r})"
                        ),
                    )
                return TaskStatus(
                    TaskState.SUCCEEDED,
                    progress=100,
                    stage="completed",
                    # Our key scrubbed (a JSON escape hides it from read_capped): the link
                    # is stored, and may be posted for members to open.
                    result_url=self._scrub(task.video_url or ""),
                    url_expires_at=None,  # no lifetime is documented
                )
            case Veo3o1State.FAILED:
                return self._failed(task_id, task, envelope)
            case _:
                assert_never(state)

    def _failed(
        self, task_id: str, task: Veo3o1VideoStatus, envelope: Veo3o1Envelope | None
    ) -> TaskStatus:
        reason = task.failure_text()
        if reason is None and envelope is not None and envelope.msg:
            # "check error message": the envelope's msg is the only other candidate.
            if envelope.msg.strip().lower() not in _GENERIC_MSGS:
                reason = envelope.msg.strip()
        log.info("veo3o1: task %s failed: reason=%r", task_id, self._scrub(reason or ""))
        if reason and any(word in reason.lower() for word in _POLICY_WORDS):
            return TaskStatus(
                TaskState.FAILED,
                stage="failed",
                error_code="content_policy",
                error_message=_POLICY_MSG,
            )
        message = _FAILED_MSG
        if reason and member_safe(reason) and self._scrub(reason) == reason:
            message = (
                f"The video service could not make this video: {reason.rstrip('.')}. "
                "You were not charged."
            )
        return TaskStatus(
            TaskState.FAILED,
            stage="failed",
            error_code="generation_failed",
            error_message=message,
        )

    def _remember_eta(self, task_id: str, eta: float | None) -> None:
        if eta is None:
            self._eta.pop(task_id, None)
            return
        self._eta[task_id] = eta
        self._eta.move_to_end(task_id)
        while len(self._eta) > _ETA_MEMORY:
            self._eta.popitem(last=False)

    # -- fetch ----------------------------------------------------------------------------

    async def fetch(
        self, task_id: str, model: str, status: TaskStatus, dest: Path, max_bytes: int
    ) -> FetchedVideo:
        """Download `videoUrl`. The URL's lifetime is undocumented: when the one we hold
        answers 4xx (expired, or not there yet), ask the status once for a fresh one."""
        url = status.result_url if _is_http_url(status.result_url) else None
        fresh = url is None
        if url is None:
            url = await self._fresh_url(task_id, model)
        try:
            size = await self._download(url, dest, max_bytes)
        except _UrlGone as gone:
            if fresh:
                raise self._not_ready(task_id, gone) from gone
            url = await self._fresh_url(task_id, model)
            try:
                size = await self._download(url, dest, max_bytes)
            except _UrlGone as again:
                raise self._not_ready(task_id, again) from again
        log.info("veo3o1: fetched task %s, %d bytes", task_id, size)
        return FetchedVideo(path=dest, size=size, url=url, url_expires_at=None)

    async def _fresh_url(self, task_id: str, model: str) -> str:
        current = await self.status(task_id, model)
        if current.state is not TaskState.SUCCEEDED or current.result_url is None:
            raise ResultNotReady(
                _NOT_READY_MSG,
                code="not_ready",
                detail=f"veo3o1 fetch: task {task_id} is {current.stage or current.state}",
            )
        return current.result_url

    def _not_ready(self, task_id: str, gone: _UrlGone) -> ResultNotReady:
        return ResultNotReady(
            _NOT_READY_MSG,
            code="not_ready",
            detail=f"veo3o1 fetch: video URL of task {task_id} answered {gone}",
        )

    async def _download(self, url: str, dest: Path, max_bytes: int) -> int:
        # The key goes only to the API's own host; a CDN or storage host never sees it.
        headers = self._headers() if self._same_origin(url) else {}
        try:
            async with self._session.get(
                url, headers=headers, timeout=self._download_timeout
            ) as resp:
                if resp.status != 200:
                    raw = await read_capped(resp, _BODY_LIMIT, secret=self.__key)
                    detail = self._scrub(
                        f"veo3o1 fetch: HTTP {resp.status} | body: {excerpt(raw) or ''}"
                    )
                    log.warning("%s", detail)
                    wait = retry_after(resp.headers)
                    if resp.status == 429:
                        raise ProviderUnavailable(
                            _BUSY_MSG, code="rate_limited", detail=detail, retry_after=wait
                        )
                    if resp.status >= 500:
                        raise ProviderUnavailable(
                            _DOWN_MSG, code="server_error", detail=detail, retry_after=wait
                        )
                    if 400 <= resp.status < 500:
                        raise _UrlGone(resp.status)
                    raise ProviderUnavailable(_DOWN_MSG, code="unexpected_status", detail=detail)
                ctype = resp.headers.get("Content-Type", "").lower()
                if ctype.startswith(("application/json", "text/")):
                    # An error page or JSON with a 200: never save it as the video.
                    raw = await read_capped(resp, _BODY_LIMIT, secret=self.__key)
                    raise ProviderUnavailable(
                        _BAD_ANSWER_MSG,
                        code="bad_answer",
                        detail=self._scrub(
                            f"veo3o1 fetch: HTTP 200 {ctype} | body: {excerpt(raw) or ''}"
                        ),
                    )
                return await stream_to_file(resp, dest, max_bytes, vendor=self.label, url=url)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._transport(exc) from exc

    # -- helpers --------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.__key}"}

    def _url(self, path: str) -> str:
        return f"{self._base}{path}"

    def _status_url(self, task_id: str) -> yarl.URL:
        # Quote every reserved character, and tell yarl not to re-quote our escapes.
        return yarl.URL(f"{self._base}/video-status/{quote(task_id, safe='')}", encoded=True)

    def _same_origin(self, url: str) -> bool:
        try:
            return yarl.URL(url).origin() == yarl.URL(self._base).origin()
        except ValueError:
            return False

    def _scrub(self, text: str) -> str:
        return text.replace(self.__key, "***") if self.__key else text

    def _detail(self, op: str, status: int, envelope: Veo3o1Envelope | None, raw: bytes) -> str:
        parts = [f"veo3o1 {op}: HTTP {status}"]
        if envelope is not None:
            parts.append(f"code={envelope.code}")
            if envelope.msg:
                parts.append(envelope.msg[:300])
            if envelope.code == Veo3o1Code.INSUFFICIENT_CREDITS:
                credits = envelope.credits()
                if credits is not None:
                    parts.append(
                        f"credits required={_fmt(credits.required)} current={_fmt(credits.current)}"
                    )
        else:
            parts.append(f"body: {excerpt(raw) or '(empty)'}")
        return self._scrub(" | ".join(parts))

    def _transport(self, exc: BaseException) -> ProviderError:
        return transport_error(exc, self.label, secret=self.__key)

    def _raise_error(
        self,
        op: _Op,
        status: int,
        headers: object,
        envelope: Veo3o1Envelope | None,
        raw: bytes,
    ) -> NoReturn:
        """An error answer, whether it came as HTTP 200 with a non-zero `code` or as an
        HTTP error status. A documented body code is the more precise of the two."""
        detail = self._detail(op, status, envelope, raw)
        wait = retry_after(headers)
        code = envelope.code if envelope is not None else None
        log.warning("%s", detail)
        if code == Veo3o1Code.INSUFFICIENT_CREDITS:
            raise ProviderAuthError(_CREDITS_MSG, code="insufficient_credits", detail=detail)
        if code == Veo3o1Code.AUTH_FAILED:
            raise ProviderAuthError(_AUTH_MSG, code="auth", detail=detail)
        if code == Veo3o1Code.RATE_LIMITED:
            raise ProviderUnavailable(
                _BUSY_MSG, code="rate_limited", detail=detail, retry_after=wait
            )
        if code == Veo3o1Code.SERVER_ERROR:
            raise ProviderUnavailable(
                _DOWN_MSG, code="server_error", detail=detail, retry_after=wait
            )
        if code == Veo3o1Code.INVALID_PARAMETERS:
            if op == "status":
                # The only parameter of a status call is the task id.
                raise TaskNotFound(_GONE_MSG, code="not_found", detail=detail)
            raise ProviderRejected(
                self._reject_message(envelope), code="invalid_parameters", detail=detail
            )
        # No documented code: the HTTP status decides.
        if status in (401, 403):
            raise ProviderAuthError(_AUTH_MSG, code="auth", detail=detail)
        if status == 402:
            raise ProviderAuthError(_CREDITS_MSG, code="insufficient_credits", detail=detail)
        if status == 429:
            raise ProviderUnavailable(
                _BUSY_MSG, code="rate_limited", detail=detail, retry_after=wait
            )
        if status >= 500:
            raise ProviderUnavailable(
                _DOWN_MSG, code="server_error", detail=detail, retry_after=wait
            )
        if op == "status" and status == 404:
            raise TaskNotFound(_GONE_MSG, code="not_found", detail=detail)
        if 400 <= status < 500:
            raise ProviderRejected(self._reject_message(envelope), code="rejected", detail=detail)
        if code is not None and 200 <= status < 300:
            # An undocumented non-zero code with HTTP 200: the table's 1xxx codes are about
            # the request or account, 5xxx about the server.
            if code >= Veo3o1Code.SERVER_ERROR:
                raise ProviderUnavailable(
                    _DOWN_MSG, code="server_error", detail=detail, retry_after=wait
                )
            raise ProviderRejected(
                self._reject_message(envelope), code=f"vendor_{code}", detail=detail
            )
        # 1xx/3xx: nothing was done with the request as far as we can tell.
        raise ProviderUnavailable(_DOWN_MSG, code="unexpected_status", detail=detail)

    def _reject_message(self, envelope: Veo3o1Envelope | None) -> str:
        message = ((envelope.msg if envelope is not None else None) or "").strip()
        if (
            message.lower() not in _GENERIC_MSGS
            and member_safe(message)
            and self._scrub(message) == message
        ):
            return f"{_REJECT_MSG[:-1]}: {message.rstrip('.')}."
        return f"{_REJECT_MSG} Try a different prompt or image."


def _with_eta(stage: str, eta: float | None) -> str:
    """'generating, about 40 s left'. Rounded (5 s, then whole minutes) so the member's
    message does not change on every poll for a second's difference."""
    if eta is None:
        return stage
    if eta <= 0:
        return stage if stage == "queued" else f"{stage}, almost done"
    if eta < 60:
        return f"{stage}, about {max(5, 5 * math.ceil(eta / 5))} s left"
    return f"{stage}, about {max(1, round(eta / 60))} min left"


def _fmt(value: float | None) -> str:
    if value is None:
        return "?"
    return str(int(value)) if value == int(value) else str(value)


def _is_http_url(value: str | None) -> bool:
    if not value:
        return False
    try:
        url = yarl.URL(value)
    except ValueError:
        return False
    return url.scheme in ("http", "https") and bool(url.host)
