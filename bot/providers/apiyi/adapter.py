"""apiyi, current "official" channel (seed 001): `/v1/videos`, Veo 3.1 preview models.

Why this adapter looks the way it does (the vendor's quirks):
- the length must be a JSON *string*; the seed calls it `duration`, newer pages `seconds`
  and say `duration` is ignored, so the same string goes in both;
- `generateAudio` is refused (INVALID_ARGUMENT), so it is never sent;
- 1080p and 4k only take 8 s; 4k renders several times slower (own poll schedule);
- image-to-video is multipart with one `input_reference` *file* (no URLs) and the
  undocumented `metadata` travels as one form field holding JSON text;
- `progress` only jumps 0/50/100, so we give a stage text instead of a percentage;
- no URL is ever given: `/content` streams the MP4 (auth required) and may answer 400
  for a few seconds right after `completed` (ResultNotReady, the caller retries).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, NoReturn, assert_never
from urllib.parse import quote

import aiohttp
import yarl

from bot.providers.apiyi.legacy import ApiyiLegacyChannel
from bot.providers.apiyi.wire import (
    ApiyiError,
    ApiyiMetadata,
    ApiyiStatus,
    ApiyiSubmitBody,
    ApiyiTask,
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
from bot.providers.checks import check_text_or_start_image, find_spec
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


_SIZES: Mapping[tuple[str, str], str] = {
    ("720p", "16:9"): "1280x720",
    ("720p", "9:16"): "720x1280",
    ("1080p", "16:9"): "1920x1080",
    ("1080p", "9:16"): "1080x1920",
    ("4k", "16:9"): "3840x2160",
    ("4k", "9:16"): "2160x3840",
}

# Documented: ~3 min for 720p/1080p, up to 10 min for 4k. Deadlines are generous on
# purpose: a job we abandon is still rendered, billed and lost.
_TIMING = Timing(initial_wait=60, poll_interval=5, deadline=900)
_TIMING_4K = Timing(initial_wait=180, poll_interval=5, deadline=1500)


def _spec(name: str, label: str, price: float) -> ModelSpec:
    return ModelSpec(
        name=name,
        label=label,
        modes=frozenset({Mode.TEXT, Mode.FIRST_FRAME}),
        aspect_ratios=("16:9", "9:16"),
        durations=(4, 6, 8),
        default_duration=8,
        resolutions=("720p", "1080p", "4k"),
        timing=_TIMING,
        max_reference_images=0,
        durations_by_resolution={"1080p": (8,), "4k": (8,)},
        timing_by_resolution={"4k": _TIMING_4K},
        negative_prompt=True,
        seed=True,
        image_formats=frozenset({"jpeg", "png", "webp"}),
        # Not documented by apiyi; 10 MiB is the common cap of the other Veo gateways.
        max_image_bytes=10 * 1024 * 1024,
        price_usd=price,
        gives_url=False,
    )


MODELS: Mapping[str, ModelSpec] = MappingProxyType(
    {
        spec.name: spec
        for spec in (
            _spec("veo-3.1-fast-generate-preview", "Veo 3.1 Fast", 0.30),
            _spec("veo-3.1-generate-preview", "Veo 3.1", 1.20),
        )
    }
)

# Member-facing sentences (never a vendor body, a key or a URL).
_AUTH_MSG = "The video service refused the bot's API key; the server operator has been told."
_QUOTA_MSG = "The video service account is out of credit; the server operator has been told."
_BUSY_MSG = "The video service is busy right now. Please try again in a moment."
_DOWN_MSG = "The video service is having trouble right now. Please try again in a moment."
_BAD_ANSWER_MSG = "The video service gave an answer the bot could not read. Please try again."
_REJECT_MSG = "The video service did not accept this request."
_FAILED_MSG = (
    "The video service could not make this video (often a content review or an unsupported "
    "request). You were not charged."
)
_NOT_READY_MSG = "The video is finished but not downloadable yet."
_GONE_MSG = "The video service no longer knows this task."

# Vendor codes that mean "the operator's account", not "this request".
_QUOTA_CODES = frozenset(
    {
        "insufficient_quota",
        "insufficient_user_quota",
        "quota_exceeded",
        "pre_consume_token_quota_failed",
    }
)
# Vendor codes whose message is a parser/protocol detail, useless to a member.
_TECHNICAL_CODES = frozenset({"parse_request_failed", "invalid_argument", "convert_request_failed"})
_TECHNICAL_WORDS = ("unmarshal", "go struct", "invalid_argument", "parse_request_failed")

# The vendor asks for ~4 s between attempts at /content after the early 400.
_CONTENT_RETRY_AFTER = 4.0
# Task and error bodies are small; never buffer more than this of one.
_BODY_LIMIT = 64 * 1024

_Call = Literal["submit", "status", "fetch"]


class ApiyiProvider:
    """The Provider for apiyi's current channel. Holds the key privately: it is sent only
    in the Authorization header and scrubbed from everything we raise or log."""

    name = "apiyi"
    label = "APIYI"

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = "https://api.apiyi.com",
        session: aiohttp.ClientSession,
        timing_override: Timing | None = None,
        request_timeout: float = 30.0,
        download_read_timeout: float = 120.0,
    ) -> None:
        self.__key = api_key
        base = base_url.rstrip("/")
        # The vendor's own samples use ".../v1" as the SDK base; accept it as well.
        self._base = base[: -len("/v1")] if base.endswith("/v1") else base
        self._session = session
        # Submit is "sub-second" and status is a small JSON: a total timeout fits them.
        self._timeout = aiohttp.ClientTimeout(total=request_timeout)
        # Downloads can be large and slow: bound silence between reads, not the total.
        self._download_timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=request_timeout, sock_read=download_read_timeout
        )
        if timing_override is None:
            self._own: Mapping[str, ModelSpec] = MODELS
        else:
            self._own = MappingProxyType(
                {
                    k: dataclasses.replace(v, timing=timing_override, timing_by_resolution={})
                    for k, v in MODELS.items()
                }
            )
        # The earlier channel: same host and key, chosen by model name (seed 003).
        self._legacy = ApiyiLegacyChannel(
            api_key=api_key,
            base_url=base_url,
            session=session,
            request_timeout=request_timeout,
            timing_override=timing_override,
            download_read_timeout=download_read_timeout,
        )
        self.models: Mapping[str, ModelSpec] = MappingProxyType(
            {**self._own, **self._legacy.models}
        )

    def __repr__(self) -> str:
        return f"ApiyiProvider(base_url={self._base!r})"

    async def close(self) -> None:
        """The session belongs to the caller; nothing of ours to release."""

    # -- submit ---------------------------------------------------------------------------

    async def submit(self, request: SubmitRequest) -> str:
        if request.model in self._legacy.models:
            return await self._legacy.submit(request)
        body = self._body(request)
        url = f"{self._base}/v1/videos"
        data: aiohttp.FormData | None = None
        json_body: dict[str, object] | None = None
        if request.mode is Mode.FIRST_FRAME:
            image = request.images[0]
            data = aiohttp.FormData()
            for key, value in body.form_fields().items():
                data.add_field(key, value)
            data.add_field(
                "input_reference", image.data, filename=image.filename, content_type=image.mime
            )
        else:
            json_body = body.json_body()
        raw = await self._call("POST", url, "submit", json=json_body, data=data)
        task = parse_task(raw)
        # A blank id, or one we could not store or poll with, is no task id.
        task_id = usable_task_id(task.ref) if task is not None else None
        if task_id is not None:
            log.info("apiyi: submitted task %s (%s)", task_id, request.model)
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

    def _body(self, request: SubmitRequest) -> ApiyiSubmitBody:
        """Translate and re-check the request: a rejected submit costs a round trip, and a
        few rules (1080p/4k need 8 s, one image) are easy to get wrong upstream of us."""
        spec = find_spec(self._own, request, "apiyi")
        check_text_or_start_image(request, spec, "apiyi")
        resolution = request.resolution or "720p"
        aspect = request.aspect_ratio or "16:9"
        duration = request.duration if request.duration is not None else spec.default_duration
        if resolution not in spec.resolutions or aspect not in spec.aspect_ratios:
            raise ProviderRejected(
                "The video service does not offer this resolution or shape.",
                code="bad_format",
                detail=f"apiyi: {resolution} {aspect}",
            )
        if duration not in spec.durations_for(resolution):
            allowed = ", ".join(f"{d} s" for d in spec.durations_for(resolution))
            raise ProviderRejected(
                f"At {resolution} the video service only makes videos of {allowed}.",
                code="bad_duration",
                detail=f"apiyi: {duration} s at {resolution}",
            )
        length = str(duration)
        return ApiyiSubmitBody(
            model=request.model,
            prompt=request.prompt,
            duration=length,
            seconds=length,
            size=_SIZES[(resolution, aspect)],
            metadata=ApiyiMetadata(
                resolution=resolution,
                aspect_ratio=aspect,
                seed=request.seed,
                negative_prompt=request.negative_prompt or None,
            ),
        )

    async def _call(
        self, method: str, url: str | yarl.URL, op: Literal["submit", "status"], **kwargs: Any
    ) -> bytes:
        """One small JSON exchange: the body (capped) of a 2xx, else our error."""
        try:
            async with self._session.request(
                method, url, headers=self._headers(), timeout=self._timeout, **kwargs
            ) as resp:
                raw = await read_capped(resp, _BODY_LIMIT, secret=self.__key)
                if not 200 <= resp.status < 300:
                    self._raise_http(resp.status, resp.headers, raw, op)
                return raw
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._transport(exc) from exc

    # -- status ---------------------------------------------------------------------------

    async def status(self, task_id: str, model: str) -> TaskStatus:
        if model in self._legacy.models:
            return await self._legacy.status(task_id, model)
        raw = await self._call("GET", self._task_url(task_id), "status")
        task = parse_task(raw)
        if task is None or not task.status:
            raise ProviderUnavailable(
                _BAD_ANSWER_MSG,
                code="bad_answer",
                detail=self._detail("status", 200, parse_error(raw)),
            )
        return self._to_status(task)

    def _to_status(self, task: ApiyiTask) -> TaskStatus:
        raw = task.status or ""
        try:
            state = ApiyiStatus(raw.strip().lower())
        except ValueError:
            # An unknown word is most likely a new in-between stage: keep polling.
            log.warning("apiyi: unknown task status %r for %s", self._scrub(raw), task.ref)
            return TaskStatus(TaskState.RUNNING, stage=plain_text(self._scrub(raw))[:40])
        match state:
            case ApiyiStatus.QUEUED:
                return TaskStatus(TaskState.PENDING, stage="queued")
            case ApiyiStatus.IN_PROGRESS | ApiyiStatus.PROCESSING:
                return TaskStatus(TaskState.RUNNING, stage="generating")
            case ApiyiStatus.COMPLETED:
                return TaskStatus(TaskState.SUCCEEDED, stage="completed")
            case ApiyiStatus.FAILED:
                code, reason = task.failure_text()
                log.info(
                    "apiyi: task %s failed: code=%r reason=%r",
                    task.ref,
                    self._scrub(code or ""),
                    self._scrub(reason or ""),
                )
                message = _FAILED_MSG
                if reason and self._safe(reason):
                    message = (
                        f"The video service could not make this video: {reason.rstrip('.')}. "
                        "You were not charged."
                    )
                return TaskStatus(
                    TaskState.FAILED,
                    stage="failed",
                    error_code=code if code and self._safe(code) else "generation_failed",
                    error_message=message,
                )
            case _:
                assert_never(state)

    # -- fetch ----------------------------------------------------------------------------

    async def fetch(
        self, task_id: str, model: str, status: TaskStatus, dest: Path, max_bytes: int
    ) -> FetchedVideo:
        if model in self._legacy.models:
            return await self._legacy.fetch(task_id, model, status, dest, max_bytes)
        url = self._task_url(task_id, "/content")
        try:
            async with self._session.get(
                url, headers=self._headers(), timeout=self._download_timeout
            ) as resp:
                if resp.status != 200:
                    raw = await read_capped(resp, _BODY_LIMIT, secret=self.__key)
                    self._raise_http(resp.status, resp.headers, raw, "fetch")
                ctype = resp.headers.get("Content-Type", "").lower()
                if ctype.startswith(("application/json", "text/")):
                    # An error page or JSON with a 200: never save it as the video.
                    raw = await read_capped(resp, _BODY_LIMIT, secret=self.__key)
                    raise ProviderUnavailable(
                        _BAD_ANSWER_MSG,
                        code="bad_answer",
                        detail=self._detail("fetch", 200, parse_error(raw)) + f" ({ctype})",
                    )
                size = await stream_to_file(resp, dest, max_bytes, vendor=self.label)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._transport(exc) from exc
        log.info("apiyi: fetched task %s, %d bytes", task_id, size)
        return FetchedVideo(path=dest, size=size, url=None)

    # -- helpers --------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.__key}"}

    def _task_url(self, task_id: str, suffix: str = "") -> yarl.URL:
        # Quote every reserved character, and tell yarl not to re-quote our escapes.
        return yarl.URL(f"{self._base}/v1/videos/{quote(task_id, safe='')}{suffix}", encoded=True)

    def _scrub(self, text: str) -> str:
        return text.replace(self.__key, "***") if self.__key else text

    def _safe(self, text: str) -> bool:
        """Whether a vendor's words may be kept (shown, stored): member-safe, and free of
        our key even where the body hid it from read_capped in a JSON escape."""
        return member_safe(text) and self._scrub(text) == text

    def _detail(self, call: _Call, status: int, err: ApiyiError) -> str:
        parts = [f"apiyi {call}: HTTP {status}"]
        if err.code or err.type:
            parts.append(f"code={err.code or ''} type={err.type or ''}")
        if err.message:
            parts.append(err.message[:300])
        elif err.text:
            parts.append(f"body: {err.text}")
        return self._scrub(" | ".join(parts))

    def _transport(self, exc: BaseException) -> ProviderError:
        return transport_error(exc, self.label, secret=self.__key)

    def _raise_http(self, status: int, headers: object, raw: bytes, call: _Call) -> NoReturn:
        err = parse_error(raw)
        detail = self._detail(call, status, err)
        code = (err.code or "").lower()
        kind = (err.type or "").lower()
        wait = retry_after(headers)
        log.warning("%s", detail)
        if code in _QUOTA_CODES or kind in _QUOTA_CODES:
            raise ProviderAuthError(_QUOTA_MSG, code="quota", detail=detail)
        if status in (401, 403, 402):
            raise ProviderAuthError(_AUTH_MSG, code="auth", detail=detail)
        if status == 429:
            raise ProviderUnavailable(
                _BUSY_MSG, code="rate_limited", detail=detail, retry_after=wait
            )
        if status >= 500:
            raise ProviderUnavailable(
                _DOWN_MSG, code="server_error", detail=detail, retry_after=wait
            )
        if call == "fetch" and status in (400, 404):
            # The documented early 400 right after `completed`; a 404 there is the same
            # CDN lag seen from another angle. Either way: wait and try again.
            raise ResultNotReady(
                _NOT_READY_MSG, code="not_ready", detail=detail, retry_after=_CONTENT_RETRY_AFTER
            )
        if call == "status" and status == 404:
            raise TaskNotFound(_GONE_MSG, code="not_found", detail=detail)
        if 400 <= status < 500:
            raise ProviderRejected(self._reject_message(err), code="rejected", detail=detail)
        # 1xx/3xx: nothing was done with the request as far as we can tell.
        raise ProviderUnavailable(_DOWN_MSG, code="unexpected_status", detail=detail)

    def _reject_message(self, err: ApiyiError) -> str:
        code = (err.code or "").lower()
        message = (err.message or "").strip()
        technical = code in _TECHNICAL_CODES or any(w in message.lower() for w in _TECHNICAL_WORDS)
        if message and not technical and member_safe(message) and self._scrub(message) == message:
            return f"{_REJECT_MSG[:-1]}: {message.rstrip('.')}."
        return f"{_REJECT_MSG} Try a different prompt or settings."
