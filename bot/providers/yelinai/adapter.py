"""yelinai, legacy custom API (seed 000): `/veo/v1/api/video/submit` + `/status/{taskId}`.

Why this adapter looks the way it does (the vendor's quirks):
- images are public URLs the vendor downloads itself (at most 5), so the bot hands it
  `InputImage.url` and never uploads bytes;
- task ids contain a colon (`veo3:<uuid>`) and go into the status *path*: quoted once,
  colon kept as the seed's own example sends it (RFC 3986 allows it in a segment);
- every answer is a `{success, data}` envelope; errors are `{success:false, message,
  error_code, details:{field, reason}}`, possibly on a 200, and `QUOTA_EXCEEDED` means the
  operator's account, not the member's request;
- `data.progress` is a retry counter, not a percentage: we report stage text taken from
  `data.upstreamData.status` (`image_downloading` → `video_generating`) instead;
- the result is a URL on a third-party CDN (`filesystem.site`): downloaded without our key,
  and handed on to the bot so a video too large to upload can still be posted as a link.
  The seed gives no lifetime for it, so none is claimed.
- There are no aspect ratio, length or resolution options. Veo 3 renders 8 s, 16:9, 720p
  with sound, so that is what each model declares: validation then refuses the options we
  could not pass on instead of silently dropping them.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, NoReturn
from urllib.parse import quote, urlsplit

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
from bot.providers.checks import NO_IMAGES_MSG, check_prompt, check_request, find_spec
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
from bot.providers.yelinai.wire import (
    YelinaiError,
    YelinaiStatus,
    YelinaiSubmitBody,
    YelinaiTask,
    YelinaiUpstream,
    parse_error,
    parse_task,
)

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.yelinai.com"
_API = "/veo/v1/api/video"


# The seed documents no timing at all. Veo 3 through such gateways takes 1–3 min (fast
# less, pro more), and the upstream retries a failed render up to 3 times
# (`progress.maxRetries`), so the deadlines are generous: a job we abandon is still
# rendered, billed and lost.
_TIMING_FAST = Timing(initial_wait=30, poll_interval=5, deadline=1200)
_TIMING = Timing(initial_wait=45, poll_interval=5, deadline=1200)
_TIMING_PRO = Timing(initial_wait=60, poll_interval=5, deadline=1800)

# "images: Array of reference image URLs, maximum 5" — for every model; the seed's own
# example sends one with plain `veo3`. How the vendor uses them beyond "reference" is not
# documented, so the three plain models offer reference mode with up to 5 images.
_MAX_IMAGES = 5
_TEXT_AND_REFERENCE = frozenset({Mode.TEXT, Mode.REFERENCE})
# `veo3-pro-frames` is "Pro version + frame control". The seed does not say which frames;
# the other gateways selling the same upstream model describe it as "first frame only, no
# last frame, at most one image", so it is declared first-frame only (not first+last, and
# not text-only, which is what `veo3-pro` is for).
_FRAMES = frozenset({Mode.FIRST_FRAME})


def _spec(name: str, label: str, modes: frozenset[Mode], timing: Timing) -> ModelSpec:
    return ModelSpec(
        name=name,
        label=label,
        modes=modes,
        # No options documented: what Veo 3 produces, and nothing else.
        aspect_ratios=("16:9",),
        durations=(8,),
        default_duration=8,
        resolutions=("720p",),
        timing=timing,
        max_reference_images=_MAX_IMAGES if Mode.REFERENCE in modes else 0,
        negative_prompt=False,
        seed=False,
        enhance_prompt=True,
        # Formats and size are not documented; the vendor fetches the URL itself. These
        # are the formats every Veo gateway takes and their common 10 MiB cap.
        image_formats=frozenset({"jpeg", "png", "webp"}),
        max_image_bytes=10 * 1024 * 1024,
        max_prompt=None,
        price_usd=None,
        gives_url=True,
        image_transport="url",
        callbacks=False,
    )


MODELS: Mapping[str, ModelSpec] = MappingProxyType(
    {
        spec.name: spec
        for spec in (
            _spec("veo3", "Veo 3 (yelinai)", _TEXT_AND_REFERENCE, _TIMING),
            _spec("veo3-fast", "Veo 3 Fast (yelinai)", _TEXT_AND_REFERENCE, _TIMING_FAST),
            _spec("veo3-pro", "Veo 3 Pro (yelinai)", _TEXT_AND_REFERENCE, _TIMING_PRO),
            _spec("veo3-pro-frames", "Veo 3 Pro, start frame (yelinai)", _FRAMES, _TIMING_PRO),
        )
    }
)

# Member-facing sentences (never a vendor body, a key or a URL).
_AUTH_MSG = "The video service refused the bot's API key; the server operator has been told."
_QUOTA_MSG = "The video service account is out of quota; the server operator has been told."
_BUSY_MSG = "The video service is busy right now. Please try again in a moment."
_DOWN_MSG = "The video service is having trouble right now. Please try again in a moment."
_BAD_ANSWER_MSG = "The video service gave an answer the bot could not read. Please try again."
_REJECT_MSG = "The video service did not accept this request."
_PROMPT_MSG = "The video service refused the prompt."
_MODEL_MSG = "The video service does not offer this model right now. Please pick another one."
_GONE_MSG = "The video service no longer knows this task."
_VIDEO_GONE_MSG = "The finished video is no longer available from the video service."
_NOT_READY_MSG = "The video is finished but not downloadable yet."
_REFUNDED = "Your quota was refunded."
_FAILED_MSG = "The video service could not make this video."
_POLICY_MSG = "The video service refused to make this video under its content rules"
_IMAGE_MSG = "The video service could not download or use your image"

# Words in a failure reason that tell the member what kind of problem it was.
_POLICY_WORDS = (
    "policy",
    "safety",
    "unsafe",
    "nsfw",
    "violat",
    "prohibit",
    "sensitive",
    "moderat",
    "inappropriate",
    "blocked",
)
_IMAGE_WORDS = ("image", "download", "picture", "photo")

# A CDN that does not have the file yet (just after `completed`): wait a little.
_CDN_RETRY_AFTER = 4.0
# Task and error bodies are small; never buffer more than this of one.
_BODY_LIMIT = 64 * 1024

_Call = Literal["submit", "status", "fetch"]


class YelinaiProvider:
    """The Provider for yelinai's legacy API. Holds the key privately: it is sent only in
    the Authorization header to the API host, and scrubbed from everything we raise or log."""

    name = "yelinai"
    label = "yelinai"

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
        base = base_url.rstrip("/")
        # Accept the documented path prefix pasted into the base URL as well.
        for suffix in (_API, "/veo/v1"):
            if base.endswith(suffix):
                base = base[: -len(suffix)]
                break
        self._base = base
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=request_timeout)
        # Downloads can be large and slow: bound silence between reads, not the total.
        self._download_timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=request_timeout, sock_read=download_read_timeout
        )
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
        return f"YelinaiProvider(base_url={self._base!r})"

    async def close(self) -> None:
        """The session belongs to the caller; nothing of ours to release."""

    # -- submit ---------------------------------------------------------------------------

    async def submit(self, request: SubmitRequest) -> str:
        body = self._body(request)
        raw = await self._call(
            "POST", f"{self._base}{_API}/submit", "submit", json=body.json_body()
        )
        success, task = parse_task(raw)
        if success is False:
            # The documented error envelope on a 2xx: refused before anything was queued.
            self._raise_http(200, {}, raw, "submit")
        # A blank id, or one we could not store or poll with, is no task id.
        task_id = usable_task_id(task.task_id) if task is not None else None
        if task_id is not None:
            log.info("yelinai: submitted task %s (%s)", task_id, request.model)
            return task_id
        # A 2xx we cannot read may still have queued a (paid) task: that is "uncertain".
        raise ProviderTimeout(
            "The video service answered without a task number; the request may or may not "
            "have started.",
            code="no_task_id",
            detail=self._detail("submit", 200, parse_error(raw)),
        )

    def _body(self, request: SubmitRequest) -> YelinaiSubmitBody:
        """Translate and re-check the request against the model table: a rejected submit
        costs a round trip, and an option the vendor has no field for would be dropped
        silently (the member would get something other than what they asked for)."""
        spec = find_spec(self.models, request, "yelinai")
        check_prompt(request, "yelinai", code="empty_prompt")
        can = (
            "from one start image"
            if spec.modes == _FRAMES
            else "from text, or from text and reference images"
        )
        count, count_message = _image_count(spec, request.mode)
        check_request(
            request,
            spec,
            "yelinai",
            mode_message=f"{spec.label} only makes videos {can}.",
            count=count,
            count_message=count_message,
            each=self._check_url,
        )
        unsupported = [
            what
            for what, given, allowed in (
                ("shape", request.aspect_ratio, spec.aspect_ratios),
                ("resolution", request.resolution, spec.resolutions),
            )
            if given is not None and given not in allowed
        ]
        if request.duration is not None and request.duration not in spec.durations:
            unsupported.append("length")
        if request.negative_prompt:
            unsupported.append("negative prompt")
        if request.seed is not None:
            unsupported.append("seed")
        if unsupported:
            raise ProviderRejected(
                f"{spec.label} makes 8-second 16:9 videos at 720p and has no options for "
                f"{', '.join(unsupported)}.",
                code="unsupported_option",
                detail=f"yelinai: unsupported {unsupported} for {spec.name}",
            )
        urls = [image.url for image in request.images if image.url is not None]
        return YelinaiSubmitBody(
            prompt=request.prompt,
            model=request.model,
            images=urls or None,
            enhance_prompt=request.enhance_prompt,
        )

    @staticmethod
    def _check_url(image: InputImage) -> None:
        scheme, netloc = _scheme_and_host(image.url or "")
        if scheme not in ("http", "https") or not netloc:
            # The vendor can only download a public http(s) URL; without one the image
            # would never reach it.
            raise ProviderRejected(
                "Your image could not be handed to the video service; please attach it again.",
                code="no_image_url",
                detail=f"yelinai: image without a usable public URL (scheme {scheme or 'none'!r})",
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
        raw = await self._call("GET", self._task_url(task_id), "status")
        success, task = parse_task(raw)
        if success is False:
            self._raise_http(200, {}, raw, "status")
        if task is None or not task.status or not task.status.strip():
            raise ProviderUnavailable(
                _BAD_ANSWER_MSG,
                code="bad_answer",
                detail=self._detail("status", 200, parse_error(raw)),
            )
        return self._to_status(task)

    def _to_status(self, task: YelinaiTask) -> TaskStatus:
        raw = task.status or ""
        try:
            state = YelinaiStatus(raw.strip().lower())
        except ValueError:
            # An unknown word is most likely a new in-between stage: keep polling.
            log.warning(
                "yelinai: unknown task status %r for %s",
                self._scrub(raw),
                self._scrub(task.task_id or ""),
            )
            return TaskStatus(TaskState.RUNNING, stage=plain_text(self._scrub(raw.strip()))[:40])
        if state is YelinaiStatus.PROCESSING:
            return self._processing(task)
        if state is YelinaiStatus.COMPLETED:
            url = (task.result.video_url or "").strip() if task.result else ""
            scheme, _ = _scheme_and_host(url)
            if scheme not in ("http", "https") or not is_plain_text(url):
                # Completed without a usable link: most likely a half-written record;
                # asking again shortly is safe.
                raise ProviderUnavailable(
                    _BAD_ANSWER_MSG,
                    code="no_video_url",
                    detail=self._scrub(
                        f"yelinai status: task {task.task_id} completed without a usable "
                        f"video_url ({url[:100]!r})"
                    ),
                )
            # Our key scrubbed (a JSON escape hides it from read_capped): the link is
            # stored, and may be posted for members to open.
            return TaskStatus(TaskState.SUCCEEDED, stage="completed", result_url=self._scrub(url))
        return self._failed(task)

    def _processing(self, task: YelinaiTask) -> TaskStatus:
        upstream = task.upstream.status if task.upstream else None
        if upstream is None and task.progress is not None:
            upstream = task.progress.upstream_status
        if upstream is None or not upstream.strip():
            # Just submitted: the seed's "Task Submitted" answer has no upstream yet.
            return TaskStatus(TaskState.PENDING, stage="queued")
        try:
            stage = {
                YelinaiUpstream.IMAGE_DOWNLOADING: "downloading images",
                YelinaiUpstream.VIDEO_GENERATING: "generating",
            }[YelinaiUpstream(upstream.strip().lower())]
        except ValueError:
            stage = plain_text(self._scrub(upstream.strip()))[:40]
        progress = task.progress
        if progress is not None and progress.retry_count:
            of = f"/{progress.max_retries}" if progress.max_retries else ""
            stage = f"{stage} (retry {progress.retry_count}{of})"
        return TaskStatus(TaskState.RUNNING, stage=stage)

    def _failed(self, task: YelinaiTask) -> TaskStatus:
        code, reason = task.failure_text()
        log.info(
            "yelinai: task %s failed: code=%r reason=%r",
            self._scrub(task.task_id or ""),
            self._scrub(code or ""),
            self._scrub(reason or ""),
        )
        text = f"{code or ''} {reason or ''}".lower()
        if any(word in text for word in _POLICY_WORDS):
            kind, lead = "content_policy", _POLICY_MSG
        elif any(word in text for word in _IMAGE_WORDS):
            kind, lead = "image_failed", _IMAGE_MSG
        else:
            kind, lead = "generation_failed", _FAILED_MSG.rstrip(".")
        if reason and member_safe(reason) and self._scrub(reason) == reason:
            message = f"{lead}: {reason.rstrip('.')}. {_REFUNDED}"
        else:
            message = f"{lead}. {_REFUNDED}"
        return TaskStatus(
            TaskState.FAILED,
            stage="failed",
            error_code=(
                code
                if code and member_safe(code) and " " not in code and self._scrub(code) == code
                else kind
            ),
            error_message=message,
        )

    # -- fetch ----------------------------------------------------------------------------

    async def fetch(
        self, task_id: str, model: str, status: TaskStatus, dest: Path, max_bytes: int
    ) -> FetchedVideo:
        url = status.result_url
        if not url:
            # A caller that lost the link (older row): ask the vendor for it again.
            fresh = await self.status(task_id, model)
            if fresh.state is not TaskState.SUCCEEDED or not fresh.result_url:
                raise ResultNotReady(
                    _NOT_READY_MSG,
                    code="not_ready",
                    detail=f"yelinai fetch: task {task_id} is {fresh.state}",
                    retry_after=_CDN_RETRY_AFTER,
                )
            url = fresh.result_url
        try:
            # A third-party CDN: no Authorization header, our key stays with the API host.
            async with self._session.get(url, timeout=self._download_timeout) as resp:
                if resp.status != 200:
                    raw = await read_capped(resp, _BODY_LIMIT, secret=self.__key)
                    self._raise_cdn(resp.status, resp.headers, raw)
                ctype = resp.headers.get("Content-Type", "").lower()
                if ctype.startswith(("application/json", "text/")):
                    # An error page with a 200: never save it as the video.
                    raw = await read_capped(resp, _BODY_LIMIT, secret=self.__key)
                    raise ProviderUnavailable(
                        _BAD_ANSWER_MSG,
                        code="bad_answer",
                        detail=self._detail("fetch", 200, parse_error(raw)) + f" ({ctype})",
                    )
                size = await stream_to_file(resp, dest, max_bytes, vendor=self.label, url=url)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._transport(exc) from exc
        log.info("yelinai: fetched task %s, %d bytes", task_id, size)
        # The seed documents no lifetime for the link: none is claimed.
        return FetchedVideo(path=dest, size=size, url=url, url_expires_at=None)

    def _raise_cdn(self, status: int, headers: object, raw: bytes) -> NoReturn:
        detail = self._detail("fetch", status, parse_error(raw))
        log.warning("%s", detail)
        wait = retry_after(headers)
        if status == 404:
            raise ResultNotReady(
                _NOT_READY_MSG, code="not_ready", detail=detail, retry_after=_CDN_RETRY_AFTER
            )
        if status in (401, 403, 410):
            # A signed or expired link: asking again will not bring it back.
            raise TaskNotFound(_VIDEO_GONE_MSG, code="video_gone", detail=detail)
        if status == 429:
            raise ProviderUnavailable(
                _BUSY_MSG, code="rate_limited", detail=detail, retry_after=wait
            )
        raise ProviderUnavailable(_DOWN_MSG, code="cdn_error", detail=detail, retry_after=wait)

    # -- helpers --------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.__key}"}

    def _task_url(self, task_id: str) -> yarl.URL:
        # Quote every reserved character but the colon (the seed's own example sends
        # `veo3:<uuid>` as is, and a path segment may hold one), and tell yarl not to
        # quote our escapes a second time.
        return yarl.URL(
            f"{self._base}{_API}/status/{quote(task_id, safe=':')}",
            encoded=True,
        )

    def _scrub(self, text: str) -> str:
        return text.replace(self.__key, "***") if self.__key else text

    def _detail(self, call: _Call, status: int, err: YelinaiError) -> str:
        parts = [f"yelinai {call}: HTTP {status}"]
        if err.code:
            parts.append(f"code={err.code}")
        if err.field or err.reason:
            parts.append(f"field={err.field or ''} reason={(err.reason or '')[:200]}")
        if err.message:
            parts.append(err.message[:300])
        elif err.text:
            parts.append(f"body: {err.text}")
        return self._scrub(" | ".join(parts))

    def _transport(self, exc: BaseException) -> ProviderError:
        return transport_error(exc, self.label, secret=self.__key)

    def _raise_http(
        self, status: int, headers: object, raw: bytes, call: Literal["submit", "status"]
    ) -> NoReturn:
        """Map an error answer (or a `success:false` envelope on a 200) to our errors; the
        vendor's `error_code` wins over the HTTP status, which it uses loosely."""
        err = parse_error(raw)
        detail = self._detail(call, status, err)
        code = (err.code or "").strip().upper()
        wait = retry_after(headers)
        log.warning("%s", detail)
        if code == "QUOTA_EXCEEDED" or "QUOTA" in code or "CREDIT" in code or "BALANCE" in code:
            raise ProviderAuthError(_QUOTA_MSG, code="quota", detail=detail)
        if status in (401, 402, 403):
            raise ProviderAuthError(_AUTH_MSG, code="auth", detail=detail)
        if status == 429:
            raise ProviderUnavailable(
                _BUSY_MSG, code="rate_limited", detail=detail, retry_after=wait
            )
        if call == "status" and (code == "TASK_NOT_FOUND" or status == 404):
            raise TaskNotFound(_GONE_MSG, code="not_found", detail=detail)
        if status >= 500:
            raise ProviderUnavailable(
                _DOWN_MSG, code="server_error", detail=detail, retry_after=wait
            )
        if code == "INVALID_PROMPT":
            raise ProviderRejected(
                self._reject_message(_PROMPT_MSG, err), code="invalid_prompt", detail=detail
            )
        if code == "INVALID_MODEL":
            raise ProviderRejected(_MODEL_MSG, code="invalid_model", detail=detail)
        if 400 <= status < 500:
            raise ProviderRejected(
                self._reject_message(_REJECT_MSG, err), code="rejected", detail=detail
            )
        # `success:false` on a 2xx with a code we do not know, or a 1xx/3xx: nothing was
        # done with the request as far as we can tell, so trying again is safe.
        raise ProviderUnavailable(_DOWN_MSG, code="error_body", detail=detail, retry_after=wait)

    def _reject_message(self, lead: str, err: YelinaiError) -> str:
        for text in (err.reason, err.message):
            text = (text or "").strip()
            if text and member_safe(text) and self._scrub(text) == text:
                return f"{lead[:-1]}: {text.rstrip('.')}."
        return f"{lead} Try a different prompt or settings."


def _scheme_and_host(url: str) -> tuple[str, str]:
    """(scheme, netloc) of a link; ("", "") when it does not parse at all ("http://[" is
    an invalid IPv6 address to urlsplit, which raises ValueError)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "", ""
    return parts.scheme, parts.netloc


def _image_count(spec: ModelSpec, mode: Mode) -> tuple[tuple[int, int], str]:
    """How many images `mode` takes on this model (low, high), and the sentence if not."""
    if mode is Mode.TEXT:
        return (0, 0), NO_IMAGES_MSG
    if mode is Mode.FIRST_FRAME:
        return (1, 1), f"{spec.label} takes exactly one start image."
    if mode is Mode.REFERENCE:
        top = spec.max_reference_images
        return (1, top), f"{spec.label} takes 1 to {top} reference images."
    return (1, 0), f"{spec.label} cannot use this mode."
