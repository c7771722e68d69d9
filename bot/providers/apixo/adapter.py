"""apixo, Veo 3.1 (seed 002): `/api/v1/generateTask/veo-3-1` + `/api/v1/statusTask/veo-3-1`.

Why this adapter looks the way it does (the vendor's quirks):
- one vendor model (`veo-3-1`) with a `mode` of `quality` or `fast`: members see two models,
  `veo-3.1-fast` and `veo-3.1-quality`, named like the other vendors' Veo 3.1 models so the
  choice reads the same everywhere, with the mode in the name;
- three generation types; reference images only in `fast` mode and only at 16:9, so the
  quality model does not offer REFERENCE and a 9:16 (or `auto`) reference request is
  refused here, before it costs a round trip;
- images travel as URLs the vendor downloads (`image_transport="url"`): the job manager
  fills `InputImage.url`;
- `request_type: "callback"` + `callback_url` when the bot has a public address; polling
  stays the truth either way (a callback is only a hint to poll now);
- a failed task still answers HTTP 200 with `code: 200`, `state: failed`, `failCode`;
- `resultJson` is a JSON *string* holding `resultUrls`; the URLs are plain CDN links (no
  key is ever sent to them) valid 24 h by one vendor page, 15 days by another: we plan for
  24 h;
- no length or resolution option: the output is Veo 3.1's fixed 8 s.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, NoReturn, assert_never, cast

import aiohttp
import yarl

from bot.providers.apixo.wire import (
    ApixoError,
    ApixoInput,
    ApixoState,
    ApixoSubmitBody,
    ApixoTask,
    GenerationType,
    envelope_code,
    parse_error,
    parse_task,
    parse_task_id,
)
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
    check_mode,
    check_prompt,
    check_request,
    find_spec,
    image_count_message,
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

log = logging.getLogger(__name__)

FAST = "veo-3.1-fast"
QUALITY = "veo-3.1-quality"
_VENDOR_MODE: Mapping[str, Literal["fast", "quality"]] = {FAST: "fast", QUALITY: "quality"}

ROUTINGS = ("auto", "value", "official")
_SUBMIT_PATH = "/api/v1/generateTask/veo-3-1"
_STATUS_PATH = "/api/v1/statusTask/veo-3-1"

_MAX_PROMPT = 10_000
# One vendor page says 24 h, another 15 days: plan for the shorter.
URL_LIFETIME = 24 * 3600.0

# Documented: ~2 min on average; "wait 90 seconds, then poll every 5 seconds". The deadline
# is generous on purpose: a job we abandon is still rendered, billed and lost.
_TIMING = Timing(initial_wait=90, poll_interval=5, deadline=900)


def _spec(name: str, label: str, modes: frozenset[Mode], refs: int, price: float) -> ModelSpec:
    return ModelSpec(
        name=name,
        label=label,
        modes=modes,
        aspect_ratios=("16:9", "9:16", "auto"),
        # No length or resolution option: Veo 3.1's fixed output.
        durations=(8,),
        default_duration=8,
        resolutions=("720p",),
        timing=_TIMING,
        max_reference_images=refs,
        # REFERENCE_2_VIDEO is documented for 16:9 only: refused at the command, before quota.
        aspect_ratios_by_mode={Mode.REFERENCE: ("16:9",)},
        negative_prompt=False,
        seed=True,
        enhance_prompt=False,
        image_formats=frozenset({"jpeg", "png", "webp"}),
        max_image_bytes=10 * 1024 * 1024,
        max_prompt=_MAX_PROMPT,
        price_usd=price,
        gives_url=True,
        image_transport="url",
        callbacks=True,
    )


MODELS: Mapping[str, ModelSpec] = MappingProxyType(
    {
        spec.name: spec
        for spec in (
            # Fast first: the cheaper one, and the only one with every mode, is the default.
            _spec(
                FAST,
                "Veo 3.1 Fast (apixo)",
                frozenset({Mode.TEXT, Mode.FIRST_FRAME, Mode.FIRST_LAST, Mode.REFERENCE}),
                3,
                0.20,
            ),
            _spec(
                QUALITY,
                "Veo 3.1 Quality (apixo)",
                frozenset({Mode.TEXT, Mode.FIRST_FRAME, Mode.FIRST_LAST}),
                0,
                1.50,
            ),
        )
    }
)

# Member-facing sentences (never a vendor body, a key or a URL).
_NOT_CHARGED = " You were not charged."
_AUTH_MSG = "The video service refused the bot's API key; the server operator has been told."
_QUOTA_MSG = (
    "The video service account of this server's operator is out of credit; "
    "the operator has been told."
)
_BUSY_MSG = "The video service is busy right now. Please try again in a moment."
_DOWN_MSG = "The video service is having trouble right now. Please try again in a moment."
_BAD_ANSWER_MSG = "The video service gave an answer the bot could not read. Please try again."
_REJECT_MSG = "The video service did not accept this request."
_NO_MODEL_MSG = (
    "The video service does not offer this model right now; the server operator has been told."
)
_GONE_MSG = "The video service no longer knows this task."
_EXPIRED_MSG = "The video service no longer has this video (its download link expired)."
_NOT_READY_MSG = "The video is finished but not downloadable yet."

_POLICY_MSG = "The video service's content review refused this request. Please change the prompt and try again."
_NSFW_MSG = "The video service flagged this request as adult or unsafe content, so it was not made."
_IMAGE_POLICY_MSG = (
    "The video service's content review refused your image. Please use a different image."
)
_PROMPT_LONG_MSG = (
    "The prompt is too long for the video service (10,000 characters at most). Please shorten it."
)
_BAD_PROMPT_MSG = "The video service could not read this prompt. Please rephrase it."
_IMAGE_URL_MSG = "The video service could not open your image. Please attach it again."
_IMAGE_LARGE_MSG = "Your image is too large for the video service (10 MB at most)."
_IMAGE_FORMAT_MSG = (
    "The video service cannot use your image: please use a JPEG, PNG or WebP picture."
)
_IMAGE_DOWNLOAD_MSG = "The video service could not download your image. Please try again."
_TIMEOUT_MSG = "The video service took too long to make this video and gave up. Please try again."
_UNAVAILABLE_MSG = (
    "This model is temporarily unavailable at the video service. Please try again later."
)
_FAILED_MSG = (
    "The video service could not make this video. Try again, perhaps with a different prompt."
)

_Kind = Literal[
    "policy",
    "nsfw",
    "image_policy",
    "prompt_long",
    "bad_prompt",
    "image_url",
    "image_large",
    "image_format",
    "image_download",
    "timeout",
    "unavailable",
    "credits",
    "failed",
]

_KIND_MSG: Mapping[_Kind, str] = {
    "policy": _POLICY_MSG,
    "nsfw": _NSFW_MSG,
    "image_policy": _IMAGE_POLICY_MSG,
    "prompt_long": _PROMPT_LONG_MSG,
    "bad_prompt": _BAD_PROMPT_MSG,
    "image_url": _IMAGE_URL_MSG,
    "image_large": _IMAGE_LARGE_MSG,
    "image_format": _IMAGE_FORMAT_MSG,
    "image_download": _IMAGE_DOWNLOAD_MSG,
    "timeout": _TIMEOUT_MSG,
    "unavailable": _UNAVAILABLE_MSG,
    "credits": _QUOTA_MSG,
    "failed": _FAILED_MSG,
}

# The seed's codes (upper snake case) and the vendor's other error page (CamelCase), both
# compared with case and underscores removed.
_FAIL_KINDS: Mapping[str, _Kind] = {
    "CONTENTVIOLATION": "policy",
    "SENSITIVECONTENT": "policy",
    "SENSITIVECONTENTDETECTED": "policy",
    "PROHIBITEDCONTENTDETECTED": "policy",
    "INPUTOUTPUTSENSITIVECONTENTDETECTED": "policy",
    "NSFWDETECTED": "nsfw",
    "NSFW": "nsfw",
    "INPUTIMAGESENSITIVECONTENTDETECTED": "image_policy",
    "PROMPTTOOLONG": "prompt_long",
    "PROMPTLENGTHEXCEEDED": "prompt_long",
    "INVALIDPROMPT": "bad_prompt",
    "INVALIDIMAGEURL": "image_url",
    "IMAGETOOLARGE": "image_large",
    "UNSUPPORTEDFORMAT": "image_format",
    "IMAGEDOWNLOADFAILED": "image_download",
    "PROCESSINGTIMEOUT": "timeout",
    "MODELUNAVAILABLE": "unavailable",
    "GENERATIONFAILED": "failed",
    "INSUFFICIENTCREDITS": "credits",
}


def fail_kind(code: str | None) -> _Kind | None:
    """What a vendor failure code means, from the documented tables, else from its words."""
    if not code:
        return None
    key = re.sub(r"[^A-Z0-9]", "", code.upper())
    if key in _FAIL_KINDS:
        return _FAIL_KINDS[key]
    if "NSFW" in key:
        return "nsfw"
    if any(w in key for w in ("SENSITIVE", "VIOLAT", "PROHIBIT", "POLICY", "MODERAT")):
        return "image_policy" if "IMAGE" in key else "policy"
    if "PROMPT" in key and any(w in key for w in ("LONG", "LENGTH", "EXCEED")):
        return "prompt_long"
    if any(w in key for w in ("CREDIT", "BALANCE", "QUOTA")):
        return "credits"
    if "TIMEOUT" in key:
        return "timeout"
    if "IMAGE" in key:
        return "image_download" if "DOWNLOAD" in key else "image_url"
    return None


_POLICY_WORDS = ("content", "policy", "sensitive", "nsfw", "violat", "prohibit", "moderat")
_CREDIT_WORDS = ("insufficient credit", "insufficient balance", "no credits", "out of credit")
_TECHNICAL_WORDS = ("unmarshal", "json", "struct", "traceback", "exception")
# Small JSON answers only; never buffer more than this of one.
_BODY_LIMIT = 64 * 1024
# A CDN 404 right after success is most likely propagation lag: wait this long and retry.
_FILE_RETRY_AFTER = 5.0

_Call = Literal["submit", "status", "fetch"]


class ApixoProvider:
    """The Provider for apixo's Veo 3.1. Holds the key privately: it is sent only in the
    Authorization header to the API host and scrubbed from everything we raise or log."""

    name = "apixo"
    label = "APIXO"

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = "https://api.apixo.ai",
        session: aiohttp.ClientSession,
        request_timeout: float = 30.0,
        timing_override: Timing | None = None,
        routing: str = "auto",
        download_read_timeout: float = 120.0,
    ) -> None:
        if routing not in ROUTINGS:
            raise ValueError(f"apixo routing must be one of {', '.join(ROUTINGS)}")
        self.__key = api_key
        base = base_url.rstrip("/")
        # The vendor's newer pages give ".../api/v1" as the base URL; accept it as well.
        self._base = base[: -len("/api/v1")] if base.endswith("/api/v1") else base
        self._session = session
        self._routing = cast(Literal["auto", "value", "official"], routing)
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
        return f"ApixoProvider(base_url={self._base!r}, routing={self._routing!r})"

    async def close(self) -> None:
        """The session belongs to the caller; nothing of ours to release."""

    # -- submit ---------------------------------------------------------------------------

    async def submit(self, request: SubmitRequest) -> str:
        body = self._body(request)
        raw = await self._call(
            "POST", f"{self._base}{_SUBMIT_PATH}", "submit", json=body.json_body()
        )
        # A blank id, or one we could not store or poll with, is no task id.
        task_id = usable_task_id(parse_task_id(raw))
        if task_id:
            log.info("apixo: submitted task %s (%s, %s)", task_id, request.model, body.request_type)
            return task_id
        code = envelope_code(raw)
        if code is not None and code != 200:
            # An HTTP 200 carrying an error envelope: treat it like that HTTP status.
            self._raise_http(code, {}, raw, "submit")
        # A 200 we cannot read may still have queued a (paid) task: that is "uncertain".
        raise ProviderTimeout(
            "The video service answered without a task number; the request may or may not "
            "have started.",
            code="no_task_id",
            detail=self._detail("submit", 200, parse_error(raw)),
        )

    def _body(self, request: SubmitRequest) -> ApixoSubmitBody:
        """Translate and re-check the request against the model table: a refused submit costs
        a round trip, and the reference rules (fast only, 16:9 only) are easy to miss."""
        spec = find_spec(self.models, request, "apixo")
        check_mode(
            request,
            spec,
            "apixo",
            message=f"{spec.label} cannot use reference images; pick {MODELS[FAST].label}."
            if request.mode is Mode.REFERENCE
            else f"{spec.label} does not offer this mode.",
        )
        check_prompt(request, "apixo", code="bad_prompt", detail=False)
        if len(request.prompt) > _MAX_PROMPT:
            raise ProviderRejected(
                _PROMPT_LONG_MSG,
                code="prompt_too_long",
                detail=f"apixo: {len(request.prompt)} chars",
            )
        gen_type, low, high = _GENERATION[request.mode]
        urls: list[str] = []

        def take_url(image: InputImage) -> None:
            if not image.url or not image.url.startswith(("https://", "http://")):
                # The vendor only takes URLs; the job manager should have given one.
                raise ProviderRejected(
                    "The bot could not give your image to the video service. Please try again.",
                    code="no_image_url",
                    detail="apixo: image without a public URL",
                )
            urls.append(image.url)

        check_request(
            request,
            spec,
            "apixo",
            mode_message=None,  # checked above, before the prompt
            count=(low, high),
            count_message=image_count_message(request.mode),
            too_large_message=_IMAGE_LARGE_MSG,
            each=take_url,
        )
        # The vendor's default is 16:9; say it anyway so the request is explicit.
        aspect = request.aspect_ratio or "16:9"
        if aspect not in spec.aspect_ratios:
            raise ProviderRejected(
                f"{spec.label} makes {', '.join(spec.aspect_ratios)} videos, not {aspect}.",
                code="bad_format",
                detail=f"apixo: aspect {aspect}",
            )
        if request.mode is Mode.REFERENCE and aspect != "16:9":
            raise ProviderRejected(
                "Reference images only work for 16:9 (landscape) videos at this video service.",
                code="bad_format",
                detail=f"apixo: reference with aspect {aspect}",
            )
        if request.resolution is not None and request.resolution not in spec.resolutions:
            raise ProviderRejected(
                f"{spec.label} renders at {', '.join(spec.resolutions)} only.",
                code="bad_format",
                detail=f"apixo: resolution {request.resolution}",
            )
        if request.duration is not None and request.duration not in spec.durations:
            raise ProviderRejected(
                f"{spec.label} only makes videos of {spec.default_duration} s.",
                code="bad_duration",
                detail=f"apixo: duration {request.duration}",
            )
        callback = request.callback_url
        if callback is not None and not callback.startswith(("https://", "http://")):
            log.warning("apixo: ignoring a callback address that is not http(s); polling only")
            callback = None
        return ApixoSubmitBody(
            request_type="callback" if callback else "async",
            callback_url=callback,
            provider=self._routing,
            input=ApixoInput(
                mode=_VENDOR_MODE[request.model],
                prompt=request.prompt,
                generation_type=gen_type,
                aspect_ratio=aspect,
                image_urls=urls or None,
                seed=request.seed,
            ),
        )

    async def _call(self, method: str, url: str | yarl.URL, op: _Call, **kwargs: Any) -> bytes:
        """One small JSON exchange with the API: the body (capped) of a 2xx, else our error."""
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
        url = yarl.URL(f"{self._base}{_STATUS_PATH}").with_query(taskId=task_id)
        raw = await self._call("GET", url, "status")
        task = parse_task(raw)
        if task is None or not task.state:
            code = envelope_code(raw)
            if code is not None and code != 200:
                self._raise_http(code, {}, raw, "status")
            raise ProviderUnavailable(
                _BAD_ANSWER_MSG,
                code="bad_answer",
                detail=self._detail("status", 200, parse_error(raw)),
            )
        return self._to_status(task, task_id)

    def _to_status(self, task: ApixoTask, task_id: str) -> TaskStatus:
        raw = task.state or ""
        try:
            state = ApixoState(raw.strip().lower())
        except ValueError:
            # An unknown word is most likely a new in-between stage: keep polling.
            log.warning("apixo: unknown task state %r for %s", self._scrub(raw), task_id)
            return TaskStatus(TaskState.RUNNING, stage=plain_text(self._scrub(raw))[:40])
        match state:
            case ApixoState.PENDING:
                return TaskStatus(TaskState.PENDING, stage="queued")
            case ApixoState.PROCESSING:
                return TaskStatus(TaskState.RUNNING, stage="generating")
            case ApixoState.SUCCESS:
                # Our key scrubbed (a JSON escape hides it from read_capped): the link is
                # stored, and may be posted for members to open.
                urls = [
                    self._scrub(u)
                    for u in task.result_urls()
                    if u.startswith(("https://", "http://")) and is_plain_text(u)
                ]
                if not urls:
                    # Success without a link: nothing to fetch yet. Ask again shortly.
                    raise ProviderUnavailable(
                        _BAD_ANSWER_MSG,
                        code="bad_answer",
                        detail=f"apixo status: success without resultUrls for {task_id}",
                    )
                return TaskStatus(
                    TaskState.SUCCEEDED,
                    stage="completed",
                    result_url=urls[0],
                    url_expires_at=_expiry(task.complete_time),
                )
            case ApixoState.FAILED:
                return self._failed(task, task_id)
            case _:
                assert_never(state)

    def _failed(self, task: ApixoTask, task_id: str) -> TaskStatus:
        code = (task.fail_code or "").strip()
        kind = fail_kind(code)
        plain = bool(re.fullmatch(r"[A-Za-z0-9_.\-]{1,40}", code)) and self._scrub(code) == code
        safe_code = code if plain else "generation_failed"
        if kind == "credits":
            log.error(
                "apixo: task %s failed for lack of credit on the operator's account: %s",
                task_id,
                self._scrub(task.fail_msg or ""),
            )
        else:
            log.info(
                "apixo: task %s failed: code=%r msg=%r",
                task_id,
                self._scrub(code),
                self._scrub(task.fail_msg or ""),
            )
        message = _KIND_MSG[kind or "failed"] + _NOT_CHARGED
        return TaskStatus(
            TaskState.FAILED, stage="failed", error_code=safe_code, error_message=message
        )

    # -- fetch ----------------------------------------------------------------------------

    async def fetch(
        self, task_id: str, model: str, status: TaskStatus, dest: Path, max_bytes: int
    ) -> FetchedVideo:
        url, expires = status.result_url, status.url_expires_at
        if not url:
            # Resumed without the stored link: ask the vendor for it again.
            fresh = await self.status(task_id, model)
            if fresh.state is TaskState.FAILED:
                raise ProviderRejected(
                    fresh.error_message or _FAILED_MSG, code=fresh.error_code or "failed"
                )
            if fresh.state is not TaskState.SUCCEEDED or not fresh.result_url:
                raise ResultNotReady(
                    _NOT_READY_MSG, code="not_ready", retry_after=_FILE_RETRY_AFTER
                )
            url, expires = fresh.result_url, fresh.url_expires_at
        if expires is None:
            expires = _expiry(None)
        try:
            # No Authorization header: the result is a CDN link, and the key never leaves
            # for any host but the API's.
            async with self._session.get(url, timeout=self._download_timeout) as resp:
                if resp.status != 200:
                    self._raise_file(resp.status, resp.headers, url)
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
        log.info("apixo: fetched task %s, %d bytes from %s", task_id, size, _host(url))
        return FetchedVideo(path=dest, size=size, url=url, url_expires_at=expires)

    def _raise_file(self, status: int, headers: object, url: str) -> NoReturn:
        detail = f"apixo fetch: HTTP {status} from {_host(url)}"
        log.warning("%s", detail)
        if status == 404:
            raise ResultNotReady(
                _NOT_READY_MSG, code="not_ready", detail=detail, retry_after=_FILE_RETRY_AFTER
            )
        if status in (403, 410):
            raise TaskNotFound(_EXPIRED_MSG, code="result_expired", detail=detail)
        if status == 429:
            raise ProviderUnavailable(
                _BUSY_MSG, code="rate_limited", detail=detail, retry_after=retry_after(headers)
            )
        raise ProviderUnavailable(
            _DOWN_MSG,
            code="server_error" if status >= 500 else "unexpected_status",
            detail=detail,
            retry_after=retry_after(headers),
        )

    # -- helpers --------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.__key}"}

    def _scrub(self, text: str) -> str:
        return text.replace(self.__key, "***") if self.__key else text

    def _detail(self, call: _Call, status: int, err: ApixoError) -> str:
        parts = [f"apixo {call}: HTTP {status}"]
        if err.code is not None or err.fail_code:
            parts.append(f"code={err.code if err.code is not None else ''} {err.fail_code or ''}")
        if err.message:
            parts.append(err.message[:200])
        if err.error:
            parts.append(err.error[:300])
        if not (err.message or err.error) and err.text:
            parts.append(f"body: {err.text}")
        return self._scrub(" | ".join(p.strip() for p in parts))

    def _transport(self, exc: BaseException) -> ProviderError:
        return transport_error(exc, self.label, secret=self.__key)

    def _raise_http(self, status: int, headers: object, raw: bytes, call: _Call) -> NoReturn:
        err = parse_error(raw)
        detail = self._detail(call, status, err)
        words = " ".join(filter(None, (err.message, err.error))).lower()
        kind = fail_kind(err.fail_code)
        wait = retry_after(headers)
        log.warning("%s", detail)
        if status == 402 or kind == "credits" or any(w in words for w in _CREDIT_WORDS):
            raise ProviderAuthError(_QUOTA_MSG, code="quota", detail=detail)
        if status == 401:
            raise ProviderAuthError(_AUTH_MSG, code="auth", detail=detail)
        if status == 403:
            # One vendor page: "API key lacks permission"; another: "content violates policy".
            if kind in ("policy", "nsfw", "image_policy") or any(w in words for w in _POLICY_WORDS):
                raise ProviderRejected(
                    _KIND_MSG[kind or "policy"], code="content_policy", detail=detail
                )
            raise ProviderAuthError(_AUTH_MSG, code="auth", detail=detail)
        if status == 429:
            raise ProviderUnavailable(
                _BUSY_MSG, code="rate_limited", detail=detail, retry_after=wait
            )
        if status >= 500:
            raise ProviderUnavailable(
                _UNAVAILABLE_MSG if kind == "unavailable" else _DOWN_MSG,
                code="server_error",
                detail=detail,
                retry_after=wait,
            )
        if status == 404:
            if call == "status":
                raise TaskNotFound(_GONE_MSG, code="not_found", detail=detail)
            raise ProviderRejected(_NO_MODEL_MSG, code="not_found", detail=detail)
        if 400 <= status < 500:
            if kind is not None:
                raise ProviderRejected(_KIND_MSG[kind], code=kind, detail=detail)
            raise ProviderRejected(self._reject_message(err), code="rejected", detail=detail)
        # 1xx/3xx: nothing was done with the request as far as we can tell.
        raise ProviderUnavailable(_DOWN_MSG, code="unexpected_status", detail=detail)

    def _reject_message(self, err: ApixoError) -> str:
        reason = (err.error or "").strip()
        technical = any(w in reason.lower() for w in _TECHNICAL_WORDS)
        if reason and not technical and member_safe(reason) and self._scrub(reason) == reason:
            return f"{_REJECT_MSG[:-1]}: {reason.rstrip('.')}."
        return f"{_REJECT_MSG} Try a different prompt or settings."


# Mode → (generation type, fewest images, most images).
_GENERATION: Mapping[Mode, tuple[GenerationType, int, int]] = {
    Mode.TEXT: (GenerationType.TEXT_2_VIDEO, 0, 0),
    Mode.FIRST_FRAME: (GenerationType.FIRST_AND_LAST_FRAMES_2_VIDEO, 1, 1),
    Mode.FIRST_LAST: (GenerationType.FIRST_AND_LAST_FRAMES_2_VIDEO, 2, 2),
    Mode.REFERENCE: (GenerationType.REFERENCE_2_VIDEO, 1, 3),
}


def _expiry(complete_ms: int | None) -> float:
    """When the result link stops working: 24 h after completion, counted from the vendor's
    completion time when it is plausible and earlier than now (the conservative choice)."""
    now = time.time()
    start = now
    # Compared in milliseconds first: an absurd int (past float's range) must not be
    # divided, which would raise OverflowError.
    if complete_ms is not None and (now - 7 * 86400) * 1000 < complete_ms < now * 1000:
        start = complete_ms / 1000.0
    return start + URL_LIFETIME


def _host(url: str) -> str:
    """Only the host of a result link goes to the log: the rest may be a signature."""
    try:
        return yarl.URL(url).host or "?"
    except ValueError:
        return "?"
