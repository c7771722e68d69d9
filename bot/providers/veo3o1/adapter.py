"""veo3o1: Veo 3.1 text- and image-to-video behind a `code`/`msg`/`data` envelope.

Why this adapter looks the way it does (the vendor's quirks):
- errors are a numeric `code` in the body (1000 parameters, 1001 credits, 1002 auth,
  1003 rate limit, 5000 server), with HTTP 200 or an HTTP error status: both are read, and
  a known body code wins; the credits have their own sentence and `insufficient_credits`;
- images go up first and the generate body names the upload: Discord's own URLs expire,
  and an upload that fails has provably not started (nor billed) a video;
- `progress` and `estimatedTime` are real: both reach the member and the scheduler;
- the video is a URL of undocumented lifetime, fetched without the key unless it lives on
  the API's own host; a failed task gives no documented reason.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any, Literal, NoReturn, Unpack, assert_never

import yarl

import bot.providers.base as base
import bot.providers.words as words
from bot.providers.adapter import HTTPAdapter, HTTPOptions, no_task_id
from bot.providers.codes import ErrorCode, Say
from bot.providers.http import Answer, excerpt, usable_task_id
from bot.providers.veo3o1 import catalog, wire

log = logging.getLogger(__name__)

_Call = Literal["upload", "submit", "status"]


def _not_ready(why: str) -> base.ResultNotReady:
    return base.ResultNotReady(
        words.NOT_READY, code=ErrorCode.NOT_READY, detail=f"veo3o1 fetch: {why}"
    )


class Veo3o1Provider(HTTPAdapter):
    """The Provider for veo3o1. Its key stays inside its VendorHTTP: sent only to the API's
    own host and scrubbed from everything we raise or log."""

    name = "veo3o1"
    label = "veo3o1"

    default_base_url = catalog.DEFAULT_BASE_URL

    def __init__(self, **options: Unpack[HTTPOptions]) -> None:
        super().__init__(options)
        self._eta = catalog.Estimates()
        self.models = catalog.models_with(self._timing_override)

    def estimated_seconds_left(self, task_id: str) -> float | None:
        """The vendor's last `estimatedTime` for this task, from the last status() call:
        a hint for when the next poll is worth making."""
        return self._eta.get(task_id)

    # -- submit ---------------------------------------------------------------------------

    async def submit(self, request: base.SubmitRequest) -> str:
        catalog.check(self.models, request)
        image = (
            await self._upload(request.images[0]) if request.mode is base.Mode.FIRST_FRAME else None
        )
        body = wire.Veo3o1SubmitBody.for_video(request.prompt, request.aspect_ratio, image)
        url = f"{self._base}{catalog.GENERATE_PATH}"
        envelope, raw = await self._call("POST", url, "submit", json=body.json_body())
        video = envelope.video() if envelope is not None else None
        # A blank id, or one we could not store or poll with, is no task id.
        task_id = usable_task_id(video.uuid) if video is not None else None
        if task_id is not None:
            log.info("veo3o1: submitted task %s (%s)", task_id, request.model)
            return task_id
        raise no_task_id(self._detail("submit", 200, envelope, raw), refused=False)

    async def _upload(self, image: base.InputImage) -> wire.Veo3o1Upload:
        """Send the start image; the generate body names it by the answer's link and key.

        Whatever goes wrong here, the generate call has not been made: nothing was started
        or billed, so every failure is a provable non-submit, and a timeout or a broken
        connection (for generate, "uncertain") becomes a retryable ProviderUnavailable."""
        url = f"{self._base}{catalog.UPLOAD_PATH}"
        form, timeout = wire.upload_form(image), self._http.upload_timeout
        try:
            envelope, raw = await self._call("POST", url, "upload", data=form, timeout=timeout)
        except base.ProviderTimeout as exc:
            raise base.ProviderUnavailable(
                catalog.UPLOAD_FAILED, code=f"upload_{exc.code}", detail=exc.detail
            ) from exc
        upload = envelope.upload() if envelope is not None else None
        if upload is None or not wire.is_http_url(upload.image_url):
            raise base.ProviderUnavailable(
                words.BAD_ANSWER,
                code=ErrorCode.BAD_UPLOAD_ANSWER,
                detail=self._detail("upload", 200, envelope, raw),
            )
        log.info("veo3o1: uploaded %s (%d bytes)", image.filename, len(image.data))
        return upload

    async def _call(
        self, method: str, url: str | yarl.URL, call: _Call, **kwargs: Any
    ) -> tuple[wire.Veo3o1Envelope | None, bytes]:
        """One exchange with the API: the envelope of a success (None when a 2xx body is
        unreadable; the caller decides what that means) and the body, else our error. An
        error may come with HTTP 200, so the envelope is read whatever the status."""
        answer = await self._http.exchange(method, url, **kwargs)
        envelope = wire.parse_envelope(answer.body)
        if not answer.ok or (envelope is not None and not envelope.ok):
            self._raise(call, answer, envelope)
        return envelope, answer.body

    # -- status ---------------------------------------------------------------------------

    async def status(self, task_id: str, model: str) -> base.TaskStatus:
        envelope, raw = await self._call("GET", catalog.status_url(self._base, task_id), "status")
        task = envelope.video_status() if envelope is not None else None
        if task is None or not task.status:
            raise base.ProviderUnavailable(
                words.BAD_ANSWER,
                code=ErrorCode.BAD_ANSWER,
                detail=self._detail("status", 200, envelope, raw),
            )
        self._eta.note(task_id, task.eta_seconds())
        return self._to_status(task_id, task, envelope.msg if envelope is not None else None)

    def _to_status(
        self, task_id: str, task: wire.Veo3o1VideoStatus, msg: str | None
    ) -> base.TaskStatus:
        raw = task.status or ""
        try:
            state = wire.Veo3o1State(raw.strip().lower())
        except ValueError:
            return self.still_running(raw, task_id, progress=task.percent())
        match state:
            case wire.Veo3o1State.PENDING | wire.Veo3o1State.PROCESSING:
                running = state is wire.Veo3o1State.PROCESSING
                return catalog.in_progress(running, task.percent(), task.eta_seconds())
            case wire.Veo3o1State.COMPLETED:
                link = task.link()
                if link is None:
                    # Completed without a usable link: poll again; it may be filled in late.
                    shown = f"{(task.video_url or '')[:100]!r}"
                    detail = f"veo3o1 status: task {task_id} completed without a videoUrl ({shown})"
                    raise base.ProviderUnavailable(
                        words.BAD_ANSWER,
                        code=ErrorCode.NO_VIDEO_URL,
                        detail=self._http.scrub(detail),
                    )
                # Our key scrubbed (a JSON escape hides it from the body's scrubbing): the
                # link is stored, and may be posted for members to open.
                return catalog.completed(self._http.scrub(link))
            case wire.Veo3o1State.FAILED:
                return self._failed(task_id, task, msg)
            case _:
                assert_never(state)

    def _failed(
        self, task_id: str, task: wire.Veo3o1VideoStatus, msg: str | None
    ) -> base.TaskStatus:
        reason = catalog.failure_reason(task.failure_text(), msg)
        log.info("veo3o1: task %s failed: reason=%r", task_id, self._http.scrub(reason or ""))
        if catalog.is_policy(reason):
            code, told = ErrorCode.CONTENT_POLICY, catalog.POLICY
        else:
            shown = reason if reason and self._http.safe(reason) else None
            code = ErrorCode.GENERATION_FAILED
            told = words.could_not_make(shown, default=catalog.FAILED)
        return base.TaskStatus(
            base.TaskState.FAILED, stage="failed", error_code=code, error_say=told
        )

    # -- fetch ----------------------------------------------------------------------------

    async def fetch(
        self, task_id: str, model: str, status: base.TaskStatus, dest: Path, max_bytes: int
    ) -> base.FetchedVideo:
        """Download `videoUrl`. The URL's lifetime is undocumented: when the one we hold
        answers 4xx (expired, or not there yet), ask the status once for a fresh one."""
        held = status.result_url if wire.is_http_url(status.result_url) else None
        url = held or await self._fresh_url(task_id, model)
        try:
            size = await self._download(task_id, url, dest, max_bytes)
        except base.ResultNotReady:
            if held is None:
                raise  # the link was fresh already
            url = await self._fresh_url(task_id, model)
            size = await self._download(task_id, url, dest, max_bytes)
        log.info("veo3o1: fetched task %s, %d bytes", task_id, size)
        return base.FetchedVideo(path=dest, size=size, url=url, url_expires_at=None)

    async def _fresh_url(self, task_id: str, model: str) -> str:
        current = await self.status(task_id, model)
        if current.state is not base.TaskState.SUCCEEDED or current.result_url is None:
            raise _not_ready(f"task {task_id} is {current.stage or current.state}")
        return current.result_url

    async def _download(self, task_id: str, url: str, dest: Path, max_bytes: int) -> int:
        def on_error(answer: Answer) -> NoReturn:
            # A 4xx other than 429 is a link gone stale (or not there yet): ResultNotReady,
            # which fetch answers with one fresh link. The rest mean what they mean anywhere.
            detail = self._http.detail(
                "fetch", answer.status, f"body: {excerpt(answer.body) or ''}"
            )
            if answer.status == 429 or not 400 <= answer.status < 500:
                self._http.raise_for_status(answer, detail, rejected=words.REJECTED)
            log.warning("%s", detail)
            raise _not_ready(f"video URL of task {task_id} answered HTTP {answer.status}")

        # The key goes only to the API's own host; a CDN or storage host never sees it.
        with_key = catalog.same_origin(url, self._base)
        return await self._http.save(
            url, dest, max_bytes, on_error=on_error, with_key=with_key, link=url
        )

    # -- the vendor's errors --------------------------------------------------------------

    def _detail(
        self, call: str, status: int, envelope: wire.Veo3o1Envelope | None, raw: bytes
    ) -> str:
        return self._http.detail(call, status, *wire.log_parts(envelope, raw))

    def _raise(self, call: _Call, answer: Answer, envelope: wire.Veo3o1Envelope | None) -> NoReturn:
        """An error answer, whether it came as HTTP 200 with a non-zero `code` or as an
        HTTP error status. The codes and statuses veo3o1 gives its own meaning first; a
        code that says what a status says reads as that status; the rest are everyone's."""
        detail = self._detail(call, answer.status, envelope, answer.body)
        code = envelope.code if envelope is not None else None
        reject = self._reject_message(envelope)
        own: base.ProviderError | None = None
        if code == wire.Veo3o1Code.INVALID_PARAMETERS and call == "status":
            # The only parameter of a status call is the task id.
            own = base.TaskNotFound(words.GONE, code=ErrorCode.NOT_FOUND, detail=detail)
        elif code == wire.Veo3o1Code.INVALID_PARAMETERS:
            own = base.ProviderRejected(reject, code=ErrorCode.INVALID_PARAMETERS, detail=detail)
        elif code in catalog.STATUS_FOR_CODE:
            pass  # the status it stands for decides, not the status line
        elif code == wire.Veo3o1Code.INSUFFICIENT_CREDITS or answer.status == 402:
            credits = ErrorCode.INSUFFICIENT_CREDITS
            own = base.ProviderAuthError(catalog.CREDITS, code=credits, detail=detail)
        elif call == "status" and answer.status == 404:
            own = base.TaskNotFound(words.GONE, code=ErrorCode.NOT_FOUND, detail=detail)
        elif code is not None and answer.ok and code < wire.Veo3o1Code.SERVER_ERROR:
            # An undocumented request or account code with HTTP 200: keep the vendor's code.
            own = base.ProviderRejected(reject, code=f"vendor_{code}", detail=detail)
        if own is not None:
            log.warning("%s", detail)
            raise own
        as_status = catalog.status_for(code, ok=answer.ok)
        if as_status is not None:
            answer = dataclasses.replace(answer, status=as_status)
        self._http.raise_for_status(answer, detail, rejected=reject)

    def _reject_message(self, envelope: wire.Veo3o1Envelope | None) -> Say:
        """The vendor's reason when a member can act on it, else the plain sentence."""
        message = ((envelope.msg if envelope is not None else None) or "").strip()
        readable = not catalog.is_generic(message) and self._http.safe(message)
        return words.rejected_because(message if readable else None, fallback=catalog.TRY_OTHER)
