"""apiyi, current "official" channel: `/v1/videos`, Veo 3.1 preview models.

Why this adapter looks the way it does (the vendor's quirks):
- the length must be a JSON *string*; older documentation calls it `duration`, newer pages
  `seconds` and say `duration` is ignored, so the same string goes in both;
- `generateAudio` is refused (INVALID_ARGUMENT), so it is never sent;
- 1080p and 4k only take 8 s; 4k renders several times slower (own poll schedule);
- image-to-video is multipart with one `input_reference` *file* (no URLs) and the
  undocumented `metadata` travels as one form field holding JSON text;
- `progress` only jumps 0/50/100, so we give a stage text instead of a percentage;
- no URL is ever given: `/content` streams the MP4 (auth required) and may answer 400
  for a few seconds right after `completed` (ResultNotReady, the caller retries);
- 402 is the key's problem here, not the credit's: the credit has its own error codes,
  whatever the status they come with.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Literal, NoReturn, Unpack, assert_never
from urllib.parse import quote

import yarl

import bot.providers.apiyi.catalog as catalog
import bot.providers.apiyi.wire as wire
import bot.providers.base as base
import bot.providers.words as words
from bot.providers.adapter import HTTPAdapter, HTTPOptions, no_task_id
from bot.providers.apiyi.legacy import ApiyiLegacyChannel
from bot.providers.checks import check_text_or_start_image, find_spec
from bot.providers.codes import ErrorCode, Say
from bot.providers.http import Answer, OnError, usable_task_id

log = logging.getLogger(__name__)

_Call = Literal["submit", "status", "fetch"]


class ApiyiProvider(HTTPAdapter):
    """The Provider for apiyi's current channel, and the door to its earlier one: both
    share the host and the key, and a member picks between them by model name only."""

    name = "apiyi"
    label = "APIYI"
    default_base_url = catalog.DEFAULT_BASE_URL
    base_suffixes = (catalog.SDK_SUFFIX,)

    def __init__(self, **options: Unpack[HTTPOptions]) -> None:
        super().__init__(options)
        self._own = catalog.models_with(self._timing_override)
        self._legacy = ApiyiLegacyChannel(**options)
        self.models: Mapping[str, base.ModelSpec] = MappingProxyType(
            {**self._own, **self._legacy.models}
        )

    # -- submit ---------------------------------------------------------------------------

    async def submit(self, request: base.SubmitRequest) -> str:
        if request.model in self._legacy.models:
            return await self._legacy.submit(request)
        body = self._body(request)
        image = request.images[0] if request.mode is base.Mode.FIRST_FRAME else None
        raw = await self._http.call(
            "POST",
            f"{self._base}{catalog.VIDEOS_PATH}",
            self._on_error("submit"),
            json=body.json_body() if image is None else None,
            data=None if image is None else body.multipart(image),
        )
        task = wire.parse_task(raw)
        # A blank id, or one we could not store or poll with, is no task id.
        task_id = usable_task_id(task.ref) if task is not None else None
        if task_id is not None:
            log.info("apiyi: submitted task %s (%s)", task_id, request.model)
            return task_id
        err = wire.parse_error(raw)
        raise no_task_id(self._detail("submit", 200, err), refused=bool(err.message or err.code))

    def _body(self, request: base.SubmitRequest) -> wire.ApiyiSubmitBody:
        """Translate and re-check the request: a rejected submit costs a round trip, and a
        few rules (1080p/4k need 8 s, one image) are easy to get wrong upstream of us."""
        spec = find_spec(self._own, request, "apiyi")
        check_text_or_start_image(request, spec, "apiyi")
        resolution = request.resolution or "720p"
        aspect = request.aspect_ratio or "16:9"
        duration = request.duration if request.duration is not None else spec.default_duration
        if resolution not in spec.resolutions or aspect not in spec.aspect_ratios:
            raise base.ProviderRejected(
                catalog.NO_SUCH_FORMAT,
                code=ErrorCode.BAD_FORMAT,
                detail=f"apiyi: {resolution} {aspect}",
            )
        if duration not in spec.durations_for(resolution):
            raise base.ProviderRejected(
                catalog.only_durations(resolution, spec.durations_for(resolution)),
                code=ErrorCode.BAD_DURATION,
                detail=f"apiyi: {duration} s at {resolution}",
            )
        length = str(duration)
        return wire.ApiyiSubmitBody(
            model=request.model,
            prompt=request.prompt,
            duration=length,
            seconds=length,
            size=catalog.SIZES[(resolution, aspect)],
            metadata=wire.ApiyiMetadata(
                resolution=resolution,
                aspect_ratio=aspect,
                seed=request.seed,
                negative_prompt=request.negative_prompt or None,
            ),
        )

    # -- status ---------------------------------------------------------------------------

    async def status(self, task_id: str, model: str) -> base.TaskStatus:
        if model in self._legacy.models:
            return await self._legacy.status(task_id, model)
        raw = await self._http.call("GET", self._task_url(task_id), self._on_error("status"))
        task = wire.parse_task(raw)
        if task is None or not task.status:
            raise base.ProviderUnavailable(
                words.BAD_ANSWER,
                code=ErrorCode.BAD_ANSWER,
                detail=self._detail("status", 200, wire.parse_error(raw)),
            )
        return self._to_status(task)

    def _to_status(self, task: wire.ApiyiTask) -> base.TaskStatus:
        raw = task.status or ""
        try:
            state = wire.ApiyiStatus(raw.strip().lower())
        except ValueError:
            return self.still_running(raw, task.ref)
        match state:
            case wire.ApiyiStatus.QUEUED:
                return base.TaskStatus(base.TaskState.PENDING, stage="queued")
            case wire.ApiyiStatus.IN_PROGRESS | wire.ApiyiStatus.PROCESSING:
                return base.TaskStatus(base.TaskState.RUNNING, stage="generating")
            case wire.ApiyiStatus.COMPLETED:
                return base.TaskStatus(base.TaskState.SUCCEEDED, stage="completed")
            case wire.ApiyiStatus.FAILED:
                return self._failed(task)
            case _:
                assert_never(state)

    def _failed(self, task: wire.ApiyiTask) -> base.TaskStatus:
        """A failed task in the vendor's words where they are safe to show and store."""
        code, reason = task.failure_text()
        scrub = self._http.scrub
        log.info(
            "apiyi: task %s failed: code=%r reason=%r",
            task.ref,
            scrub(code or ""),
            scrub(reason or ""),
        )
        shown = reason if reason and self._http.safe(reason) else None
        return base.TaskStatus(
            base.TaskState.FAILED,
            stage="failed",
            error_code=code if code and self._http.safe(code) else ErrorCode.GENERATION_FAILED,
            error_say=words.could_not_make(shown, default=catalog.FAILED),
        )

    # -- fetch ----------------------------------------------------------------------------

    async def fetch(
        self, task_id: str, model: str, status: base.TaskStatus, dest: Path, max_bytes: int
    ) -> base.FetchedVideo:
        if model in self._legacy.models:
            return await self._legacy.fetch(task_id, model, status, dest, max_bytes)
        url = self._task_url(task_id, "/content")
        size = await self._http.save(url, dest, max_bytes, on_error=self._on_error("fetch"))
        log.info("apiyi: fetched task %s, %d bytes", task_id, size)
        return base.FetchedVideo(path=dest, size=size, url=None)

    # -- the vendor's errors --------------------------------------------------------------

    def _task_url(self, task_id: str, suffix: str = "") -> yarl.URL:
        # Quote every reserved character, and tell yarl not to re-quote our escapes.
        quoted = quote(task_id, safe="")
        return yarl.URL(f"{self._base}{catalog.VIDEOS_PATH}/{quoted}{suffix}", encoded=True)

    def _detail(self, call: _Call, status: int, err: wire.ApiyiError) -> str:
        return self._http.detail(call, status, *err.log_parts())

    def _on_error(self, call: _Call) -> OnError:
        def on_error(answer: Answer) -> NoReturn:
            self._raise(call, answer)

        return on_error

    def _raise(self, call: _Call, answer: Answer) -> NoReturn:
        """The statuses and codes apiyi gives its own meaning first; the rest are everyone's."""
        err = wire.parse_error(answer.body)
        detail = self._detail(call, answer.status, err)
        own = self._own_meaning(call, answer.status, err, detail)
        if own is not None:
            log.warning("%s", detail)
            raise own
        self._http.raise_for_status(answer, detail, rejected=self._reject_message(err))

    @staticmethod
    def _own_meaning(
        call: _Call, status: int, err: wire.ApiyiError, detail: str
    ) -> base.ProviderError | None:
        code, kind = (err.code or "").lower(), (err.type or "").lower()
        if code in catalog.QUOTA_CODES or kind in catalog.QUOTA_CODES:
            return base.ProviderAuthError(words.OUT_OF_CREDIT, code=ErrorCode.QUOTA, detail=detail)
        if status == 402:
            return base.ProviderAuthError(words.AUTH, code=ErrorCode.AUTH, detail=detail)
        if call == "fetch" and status in (400, 404):
            # The documented early 400 right after `completed`; a 404 there is the same
            # CDN lag seen from another angle. Either way: wait and try again.
            return base.ResultNotReady(
                words.NOT_READY,
                code=ErrorCode.NOT_READY,
                detail=detail,
                retry_after=catalog.CONTENT_RETRY_AFTER,
            )
        if call == "status" and status == 404:
            return base.TaskNotFound(words.GONE, code=ErrorCode.NOT_FOUND, detail=detail)
        return None

    def _reject_message(self, err: wire.ApiyiError) -> Say:
        """The vendor's reason when a member can act on it; its parser's complaints about
        our JSON are our bug, not the member's, so those get the plain sentence."""
        message = (err.message or "").strip()
        readable = not catalog.technical(err.code, message) and self._http.safe(message)
        shown = message if message and readable else None
        return words.rejected_because(shown, fallback=catalog.TRY_OTHER)
