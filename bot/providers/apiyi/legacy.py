"""apiyi, earlier "reverse" channel (seed 003): `/v1/videos` with the `veo-3.1*` models.

Same host and key as the current channel (apiyi.py), told apart by model name; the
`ApiyiProvider` hands these eight models to this class. Why it looks the way it does:
- the Authorization header is the *bare* key (`Authorization: sk-...`, no `Bearer`);
- everything a model does is in its name: `-landscape` (16:9, else 9:16 portrait),
  `-fast`, `-fl` (frame-to-video). Every model makes exactly 8 s at 720p, so the only
  options are the prompt and, for `-fl`, the frames;
- plain models take JSON `{prompt, model}` (text only); `-fl` models take multipart with
  `input_reference` once (first frame) or twice (first, then last frame) and are not
  documented for text-only use;
- `/content` answers JSON holding a CDN `url` valid ~24 h (not the bytes): we download
  it without our key (the seed's workflow is a plain GET, and the host is a third party),
  and keep the URL so a video too large for Discord can be posted as a link.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, NoReturn, assert_never
from urllib.parse import quote

import aiohttp
import yarl

from bot.providers.apiyi.legacy_wire import (
    LegacyError,
    LegacyStatus,
    LegacySubmitBody,
    LegacyTask,
    parse_error,
    parse_task,
)
from bot.providers.base import (
    FetchedVideo,
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
    check_request,
    find_spec,
    image_count_message,
    unsupported_options,
)
from bot.providers.download import stream_to_file
from bot.providers.http import (
    member_safe,
    plain_text,
    read_capped,
    retry_after,
    transport_error,
    usable_task_id,
)

log = logging.getLogger(__name__)

_VENDOR = "apiyi legacy"

# Documented: fast ~30-60 s, standard ~1-2 min, poll every 5-10 s, give up after 10 min.
# The deadline has margin: a job we abandon is still rendered, billed and lost.
_TIMING_FAST = Timing(initial_wait=30, poll_interval=5, deadline=900)
_TIMING_STANDARD = Timing(initial_wait=60, poll_interval=5, deadline=900)
# "Video URLs are typically valid for 24 hours."
URL_LIFETIME = 24 * 3600.0
LENGTH = 8
RESOLUTION = "720p"


def _spec(name: str) -> ModelSpec:
    fast = "-fast" in name
    frames = name.endswith("-fl")
    return ModelSpec(
        name=name,
        label=f"{name} (apiyi, earlier channel)",
        modes=frozenset({Mode.FIRST_FRAME, Mode.FIRST_LAST}) if frames else frozenset({Mode.TEXT}),
        aspect_ratios=("16:9",) if "-landscape" in name else ("9:16",),
        durations=(LENGTH,),
        default_duration=LENGTH,
        resolutions=(RESOLUTION,),
        timing=_TIMING_FAST if fast else _TIMING_STANDARD,
        max_reference_images=0,
        negative_prompt=False,
        seed=False,
        enhance_prompt=False,
        image_formats=frozenset({"jpeg", "png", "webp"}),
        # Not documented for this channel; 10 MiB is the common cap of the Veo gateways.
        max_image_bytes=10 * 1024 * 1024,
        price_usd=0.15 if fast else 0.25,
        gives_url=True,
        image_transport="bytes",
        callbacks=False,
    )


# The eight names from the seed's table, in its order.
MODEL_NAMES: tuple[str, ...] = (
    "veo-3.1",
    "veo-3.1-fl",
    "veo-3.1-fast",
    "veo-3.1-fast-fl",
    "veo-3.1-landscape",
    "veo-3.1-landscape-fl",
    "veo-3.1-landscape-fast",
    "veo-3.1-landscape-fast-fl",
)
MODELS: Mapping[str, ModelSpec] = MappingProxyType({n: _spec(n) for n in MODEL_NAMES})

# Member-facing sentences (never a vendor body, a key or a URL).
_AUTH_MSG = "The video service refused the bot's API key; the server operator has been told."
_QUOTA_MSG = "The video service account is out of credit; the server operator has been told."
_BUSY_MSG = "The video service is busy right now. Please try again in a moment."
_DOWN_MSG = "The video service is having trouble right now. Please try again in a moment."
_BAD_ANSWER_MSG = "The video service gave an answer the bot could not read. Please try again."
_REJECT_MSG = "The video service did not accept this request."
_PROMPT_MSG = "The video service did not accept this prompt (too long, or against its content rules). Please change it."
_MODEL_MSG = "This model is not offered by the video service."
_FAILED_MSG = (
    "The video service could not make this video (often a content review or an unsupported "
    "image). You were not charged."
)
_NOT_READY_MSG = "The video is finished but not downloadable yet."
_GONE_MSG = "The video service no longer knows this task."
_LINK_MSG = "The finished video could not be downloaded from the video service yet."

_QUOTA_CODES = frozenset(
    {"quota_exceeded", "insufficient_quota", "insufficient_user_quota", "insufficient_balance"}
)
# Seed: "recommended: every 5-10 seconds"; used when `/content` says video_not_ready.
_NOT_READY_RETRY = 5.0
# Task and error bodies are small; never buffer more than this of one.
_BODY_LIMIT = 64 * 1024

_Call = Literal["submit", "status", "content", "download"]


class ApiyiLegacyChannel:
    """A Provider on its own (so it can be tested alone) for apiyi's earlier channel. Holds
    the key privately: it is sent only in the Authorization header to the API host and
    scrubbed from everything we raise or log."""

    name = "apiyi"
    label = "APIYI"

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = "https://api.apiyi.com",
        session: aiohttp.ClientSession,
        request_timeout: float = 30.0,
        timing_override: Timing | None = None,
        download_read_timeout: float = 120.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.__key = api_key
        base = base_url.rstrip("/")
        # The vendor's samples sometimes use ".../v1" as the base; accept it as well.
        self._base = base[: -len("/v1")] if base.endswith("/v1") else base
        self._session = session
        self._clock = clock
        # Submit, status and /content are small JSON exchanges: a total timeout fits them.
        self._timeout = aiohttp.ClientTimeout(total=request_timeout)
        # Downloads can be large and slow: bound silence between reads, not the total.
        self._download_timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=request_timeout, sock_read=download_read_timeout
        )
        if timing_override is None:
            self.models: Mapping[str, ModelSpec] = MODELS
        else:
            self.models = MappingProxyType(
                {k: dataclasses.replace(v, timing=timing_override) for k, v in MODELS.items()}
            )

    def __repr__(self) -> str:
        return f"ApiyiLegacyChannel(base_url={self._base!r})"

    async def close(self) -> None:
        """The session belongs to the caller; nothing of ours to release."""

    # -- submit ---------------------------------------------------------------------------

    async def submit(self, request: SubmitRequest) -> str:
        body = self._body(request)
        url = f"{self._base}/v1/videos"
        if request.mode is Mode.TEXT:
            raw = await self._call("POST", url, "submit", json=body.json_body())
        else:
            form = aiohttp.FormData()
            form.add_field("prompt", body.prompt)
            form.add_field("model", body.model)
            # Order matters: the first file is the first frame, the second the last frame.
            for image in request.images:
                form.add_field(
                    "input_reference", image.data, filename=image.filename, content_type=image.mime
                )
            raw = await self._call("POST", url, "submit", data=form)
        task = parse_task(raw)
        # A blank id, or one we could not store or poll with, is no task id.
        task_id = usable_task_id(task.ref) if task is not None else None
        if task_id is not None:
            log.info("apiyi (earlier channel): submitted task %s (%s)", task_id, request.model)
            return task_id
        err = parse_error(raw)
        if err.message or err.code:
            # A 2xx carrying an error envelope: the gateway refused before queueing.
            raise ProviderUnavailable(
                _DOWN_MSG, code="error_body", detail=self._detail("submit", 200, err)
            )
        # A 2xx we cannot read may still have queued a (paid) task: that is "uncertain".
        raise ProviderTimeout(
            "The video service answered without a task number; the request may or may not "
            "have started.",
            code="no_task_id",
            detail=self._detail("submit", 200, err),
        )

    def _body(self, request: SubmitRequest) -> LegacySubmitBody:
        """Re-check the request against the model table: the model name carries shape,
        length and mode, so an option that does not match it would be silently ignored by
        the vendor (a paid video that is not what the member asked for)."""
        spec = find_spec(self.models, request, _VENDOR, message=_MODEL_MSG)
        wanted = {Mode.TEXT: 0, Mode.FIRST_FRAME: 1, Mode.FIRST_LAST: 2}.get(request.mode, -1)
        check_request(
            request,
            spec,
            _VENDOR,
            mode_message=(
                f"{request.model} makes videos from a first frame (and optionally a last frame)."
                if Mode.FIRST_FRAME in spec.modes
                else f"{request.model} makes videos from text only; use a -fl model for images."
            ),
            count=(wanted, wanted),
            count_message=image_count_message(request.mode),
        )
        if request.aspect_ratio is not None and request.aspect_ratio not in spec.aspect_ratios:
            raise ProviderRejected(
                f"{request.model} only makes {spec.aspect_ratios[0]} videos; "
                + (
                    "drop -landscape from the model name for 9:16."
                    if "-landscape" in request.model
                    else "use its -landscape variant for 16:9."
                ),
                code="bad_format",
                detail=f"apiyi legacy: aspect {request.aspect_ratio} for {request.model}",
            )
        if request.resolution is not None and request.resolution not in spec.resolutions:
            raise ProviderRejected(
                f"{request.model} only renders at {RESOLUTION}.",
                code="bad_format",
                detail=f"apiyi legacy: resolution {request.resolution}",
            )
        if request.duration is not None and request.duration not in spec.durations:
            raise ProviderRejected(
                f"{request.model} only makes {LENGTH}-second videos.",
                code="bad_duration",
                detail=f"apiyi legacy: {request.duration} s",
            )
        unsupported = unsupported_options(request, spec)
        if unsupported:
            raise ProviderRejected(
                f"{request.model} does not take {' or '.join(unsupported)}.",
                code="unsupported_option",
                detail=f"apiyi legacy: unsupported {unsupported}",
            )
        check_prompt(request, _VENDOR, code="invalid_prompt")
        return LegacySubmitBody(prompt=request.prompt, model=request.model)

    # -- status ---------------------------------------------------------------------------

    async def status(self, task_id: str, model: str) -> TaskStatus:
        raw = await self._call("GET", self._task_url(task_id), "status")
        task = parse_task(raw)
        if task is None or not task.status:
            raise ProviderUnavailable(
                _BAD_ANSWER_MSG,
                code="bad_answer",
                detail=self._detail("status", 200, parse_error(raw)),
            )
        return self._to_status(task)

    def _to_status(self, task: LegacyTask) -> TaskStatus:
        raw = task.status or ""
        try:
            state = LegacyStatus(raw.strip().lower())
        except ValueError:
            # An unknown word is most likely a new in-between stage: keep polling.
            log.warning(
                "apiyi (earlier channel): unknown status %r for %s", self._scrub(raw), task.ref
            )
            return TaskStatus(TaskState.RUNNING, stage=plain_text(self._scrub(raw))[:40])
        match state:
            case LegacyStatus.QUEUED:
                return TaskStatus(TaskState.PENDING, stage="queued")
            case LegacyStatus.PROCESSING:
                return TaskStatus(TaskState.RUNNING, stage="generating")
            case LegacyStatus.COMPLETED:
                # The URL normally comes from /content; keep one if the gateway sends it here.
                url = self._video_url(task.url) if task.url else None
                return TaskStatus(
                    TaskState.SUCCEEDED,
                    stage="completed",
                    result_url=str(url) if url is not None else None,
                    url_expires_at=self._clock() + URL_LIFETIME if url is not None else None,
                )
            case LegacyStatus.FAILED:
                code, reason = task.failure_text()
                log.info(
                    "apiyi (earlier channel): task %s failed: code=%r reason=%r",
                    task.ref,
                    self._scrub(code or ""),
                    self._scrub(reason or ""),
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
                    error_code=(
                        code
                        if code and member_safe(code) and self._scrub(code) == code
                        else "generation_failed"
                    ),
                    error_message=message,
                )
            case _:
                assert_never(state)

    # -- fetch ----------------------------------------------------------------------------

    async def fetch(
        self, task_id: str, model: str, status: TaskStatus, dest: Path, max_bytes: int
    ) -> FetchedVideo:
        """Ask /content for a fresh URL every time (a stored one may have expired), then
        stream the file from it."""
        raw = await self._call("GET", self._task_url(task_id, "/content"), "content")
        task = parse_task(raw)
        url = self._video_url(task.url) if task is not None and task.url else None
        if url is None:
            err = parse_error(raw)
            if (err.code or "").strip().lower() == "video_not_ready" or (
                task is not None
                and (task.status or "").strip().lower()
                in (LegacyStatus.QUEUED, LegacyStatus.PROCESSING)
            ):
                raise ResultNotReady(
                    _NOT_READY_MSG,
                    code="not_ready",
                    detail=self._detail("content", 200, err) + " (not ready)",
                    retry_after=_NOT_READY_RETRY,
                )
            raise ProviderUnavailable(
                _BAD_ANSWER_MSG,
                code="bad_answer",
                detail=self._detail("content", 200, err) + " (no usable url)",
            )
        expires_at = self._clock() + URL_LIFETIME
        link = str(url)
        try:
            # No Authorization header: the URL is a CDN link, usually on another host.
            async with self._session.get(url, timeout=self._download_timeout) as resp:
                if resp.status != 200:
                    body = await read_capped(resp, _BODY_LIMIT, secret=self.__key)
                    self._raise_download(resp.status, resp.headers, body, url)
                ctype = resp.headers.get("Content-Type", "").lower()
                if ctype.startswith(("application/json", "text/")):
                    # An error page with a 200: never save it as the video.
                    body = await read_capped(resp, _BODY_LIMIT, secret=self.__key)
                    raise ProviderUnavailable(
                        _LINK_MSG,
                        code="bad_answer",
                        detail=self._detail("download", 200, parse_error(body))
                        + f" ({ctype}, host {url.host})",
                    )
                size = await stream_to_file(
                    resp, dest, max_bytes, vendor=self.label, url=link, url_expires_at=expires_at
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._transport(exc) from exc
        log.info("apiyi (earlier channel): fetched task %s, %d bytes", task_id, size)
        return FetchedVideo(path=dest, size=size, url=link, url_expires_at=expires_at)

    def _video_url(self, raw: str) -> yarl.URL | None:
        """The vendor's link as an absolute http(s) URL, or None when it is not one. Our
        key is scrubbed from it (a JSON escape hides it from read_capped): the link is
        stored, and may be posted for members to open."""
        try:
            url = yarl.URL(self._scrub(raw.strip()))
            if not url.is_absolute():
                url = yarl.URL(self._base + "/").join(url)
        except (ValueError, TypeError):
            return None
        if url.scheme not in ("http", "https") or not url.host:
            return None
        return url

    def _raise_download(self, status: int, headers: object, raw: bytes, url: yarl.URL) -> NoReturn:
        """A failed CDN download is worth retrying: the next attempt asks /content again
        and gets a fresh link."""
        detail = self._detail("download", status, parse_error(raw)) + f" (host {url.host})"
        log.warning("%s", detail)
        wait = retry_after(headers)
        if status == 429:
            raise ProviderUnavailable(
                _BUSY_MSG, code="rate_limited", detail=detail, retry_after=wait
            )
        raise ProviderUnavailable(
            _LINK_MSG, code="download_failed", detail=detail, retry_after=wait
        )

    # -- helpers --------------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        url: str | yarl.URL,
        op: Literal["submit", "status", "content"],
        **kw: Any,
    ) -> bytes:
        """One small JSON exchange with the API host: the body (capped) of a 2xx, else our
        error."""
        try:
            async with self._session.request(
                method, url, headers=self._headers(), timeout=self._timeout, **kw
            ) as resp:
                raw = await read_capped(resp, _BODY_LIMIT, secret=self.__key)
                if not 200 <= resp.status < 300:
                    self._raise_http(resp.status, resp.headers, raw, op)
                return raw
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._transport(exc) from exc

    def _headers(self) -> dict[str, str]:
        # Seed 003: the bare key, no "Bearer" (unlike the current channel).
        return {"Authorization": self.__key}

    def _task_url(self, task_id: str, suffix: str = "") -> yarl.URL:
        # Quote every reserved character, and tell yarl not to re-quote our escapes.
        return yarl.URL(f"{self._base}/v1/videos/{quote(task_id, safe='')}{suffix}", encoded=True)

    def _scrub(self, text: str) -> str:
        return text.replace(self.__key, "***") if self.__key else text

    def _detail(self, call: _Call, status: int, err: LegacyError) -> str:
        parts = [f"apiyi legacy {call}: HTTP {status}"]
        if err.code or err.type:
            parts.append(f"code={err.code or ''} type={err.type or ''}")
        if err.message:
            parts.append(err.message[:300])
        elif err.text:
            parts.append(f"body: {err.text}")
        return self._scrub(" | ".join(parts))

    def _transport(self, exc: BaseException) -> ProviderError:
        return transport_error(exc, self.label, secret=self.__key)

    def _raise_http(
        self, status: int, headers: object, raw: bytes, call: Literal["submit", "status", "content"]
    ) -> NoReturn:
        err = parse_error(raw)
        detail = self._detail(call, status, err)
        code = (err.code or "").strip().lower()
        kind = (err.type or "").strip().lower()
        wait = retry_after(headers)
        log.warning("%s", detail)
        if code in _QUOTA_CODES or kind in _QUOTA_CODES:
            raise ProviderAuthError(_QUOTA_MSG, code="quota", detail=detail)
        if code == "invalid_api_key" or status in (401, 402, 403):
            raise ProviderAuthError(_AUTH_MSG, code="auth", detail=detail)
        if code == "video_not_ready":
            raise ResultNotReady(
                _NOT_READY_MSG,
                code="not_ready",
                detail=detail,
                retry_after=wait if wait is not None else _NOT_READY_RETRY,
            )
        if code == "video_not_found" and call != "submit":
            raise TaskNotFound(_GONE_MSG, code="not_found", detail=detail)
        if status == 429:
            raise ProviderUnavailable(
                _BUSY_MSG, code="rate_limited", detail=detail, retry_after=wait
            )
        if status >= 500:
            raise ProviderUnavailable(
                _DOWN_MSG, code="server_error", detail=detail, retry_after=wait
            )
        if call == "content" and status in (400, 404):
            # A bare 400/404 right after `completed` is most likely the result not being
            # published yet (the documented code is video_not_ready): wait and try again.
            raise ResultNotReady(
                _NOT_READY_MSG, code="not_ready", detail=detail, retry_after=_NOT_READY_RETRY
            )
        if call == "status" and status == 404:
            raise TaskNotFound(_GONE_MSG, code="not_found", detail=detail)
        if code == "invalid_prompt":
            raise ProviderRejected(_PROMPT_MSG, code="invalid_prompt", detail=detail)
        if code == "invalid_model":
            raise ProviderRejected(_MODEL_MSG, code="invalid_model", detail=detail)
        if 400 <= status < 500:
            raise ProviderRejected(self._reject_message(err), code="rejected", detail=detail)
        # 1xx/3xx: nothing was done with the request as far as we can tell.
        raise ProviderUnavailable(_DOWN_MSG, code="unexpected_status", detail=detail)

    def _reject_message(self, err: LegacyError) -> str:
        message = (err.message or "").strip()
        if message and member_safe(message) and self._scrub(message) == message:
            return f"{_REJECT_MSG[:-1]}: {message.rstrip('.')}."
        return f"{_REJECT_MSG} Try a different prompt or settings."
