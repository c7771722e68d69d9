"""yelinai, legacy custom API: `/veo/v1/api/video/submit` + `/status/{taskId}`.

Why this adapter looks the way it does (the vendor's quirks):
- images are public URLs the vendor downloads itself (at most 5), so the bot hands it
  `InputImage.url` and never uploads bytes;
- task ids contain a colon (`veo3:<uuid>`) and go into the status *path*: quoted once,
  colon kept as the vendor's own example sends it (RFC 3986 allows it in a segment);
- every answer is a `{success, data}` envelope; errors are `{success:false, message,
  error_code, details:{field, reason}}`, possibly on a 200. The `error_code` wins over the
  HTTP status, which the vendor uses loosely: `QUOTA_EXCEEDED` means the operator's
  account whatever the status, and a 402 is the key's problem, not the credit's;
- `data.progress` is a retry counter, not a percentage: we report stage text taken from
  `data.upstreamData.status` (`image_downloading` → `video_generating`) instead;
- the result is a URL on a third-party CDN (`filesystem.site`): downloaded without our key,
  and handed on to the bot so a video too large to upload can still be posted as a link.
  The vendor gives no lifetime for it, so none is claimed;
- there are no options but the prompt, the model and the images (see `catalog`).
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import Literal, NoReturn, Unpack

import bot.providers.base as base
import bot.providers.words as words
import bot.providers.yelinai.catalog as catalog
from bot.providers.adapter import HTTPAdapter, HTTPOptions, no_task_id
from bot.providers.codes import ErrorCode
from bot.providers.http import Answer, plain_text, retry_after, usable_task_id
from bot.providers.yelinai.wire import (
    YelinaiError,
    YelinaiStatus,
    YelinaiTask,
    parse_error,
    parse_task,
)

log = logging.getLogger(__name__)

_Api = Literal["submit", "status"]
_Call = Literal["submit", "status", "fetch"]


class YelinaiProvider(HTTPAdapter):
    """The Provider for yelinai's legacy API. The key lives in its VendorHTTP and goes only
    to the API host: the CDN that serves the video never sees it."""

    name = "yelinai"
    label = "yelinai"

    default_base_url = catalog.DEFAULT_BASE_URL
    base_suffixes = catalog.BASE_SUFFIXES

    def __init__(self, **options: Unpack[HTTPOptions]) -> None:
        super().__init__(options)
        self.models = catalog.models_with(self._timing_override)

    # -- submit ---------------------------------------------------------------------------

    async def submit(self, request: base.SubmitRequest) -> str:
        body = catalog.submit_body(request, self.models).json_body()
        url = f"{self._base}{catalog.API}/submit"
        raw = await self._http.call("POST", url, partial(self._raise, "submit"), json=body)
        success, task = parse_task(raw)
        if success is False:
            # The documented error envelope on a 2xx: refused before anything was queued.
            self._raise("submit", Answer(200, {}, raw))
        # A blank id, or one we could not store or poll with, is no task id.
        task_id = usable_task_id(task.task_id) if task is not None else None
        if task_id is not None:
            log.info("yelinai: submitted task %s (%s)", task_id, request.model)
            return task_id
        raise no_task_id(self._detail("submit", 200, parse_error(raw)), refused=False)

    # -- status ---------------------------------------------------------------------------

    async def status(self, task_id: str, model: str) -> base.TaskStatus:
        url = catalog.status_url(self._base, task_id)
        raw = await self._http.call("GET", url, partial(self._raise, "status"))
        success, task = parse_task(raw)
        if success is False:
            self._raise("status", Answer(200, {}, raw))
        if task is None or not task.status or not task.status.strip():
            raise base.ProviderUnavailable(
                words.BAD_ANSWER,
                code=ErrorCode.BAD_ANSWER,
                detail=self._detail("status", 200, parse_error(raw)),
            )
        return self._to_status(task)

    def _to_status(self, task: YelinaiTask) -> base.TaskStatus:
        raw, scrub = task.status or "", self._http.scrub
        try:
            state = YelinaiStatus(raw.strip().lower())
        except ValueError:
            return self.still_running(raw, task.task_id)
        if state is YelinaiStatus.PROCESSING:
            return self._processing(task)
        if state is YelinaiStatus.COMPLETED:
            url = (task.result.video_url or "").strip() if task.result else ""
            if not catalog.usable_link(url):
                # Completed without a usable link: most likely a half-written record;
                # asking again shortly is safe.
                raise base.ProviderUnavailable(
                    words.BAD_ANSWER,
                    code=ErrorCode.NO_VIDEO_URL,
                    detail=scrub(
                        f"yelinai status: task {task.task_id} completed without a usable "
                        f"video_url ({url[:100]!r})"
                    ),
                )
            # Our key scrubbed (a JSON escape hides it from the body's scrubbing): the link
            # is stored, and may be posted for members to open.
            return base.TaskStatus(
                base.TaskState.SUCCEEDED, stage="completed", result_url=scrub(url)
            )
        return self._failed(task)

    def _processing(self, task: YelinaiTask) -> base.TaskStatus:
        upstream = (task.upstream_status() or "").strip()
        if not upstream:
            # Just submitted: the "Task Submitted" answer has no upstream yet.
            return base.TaskStatus(base.TaskState.PENDING, stage="queued")
        stage = catalog.STAGES.get(upstream.lower()) or plain_text(self._http.scrub(upstream))[:40]
        return base.TaskStatus(base.TaskState.RUNNING, stage=stage + catalog.retries(task.progress))

    def _failed(self, task: YelinaiTask) -> base.TaskStatus:
        """A failed task in the vendor's words where they are safe to show and store."""
        code, reason = task.failure_text()
        scrub, safe = self._http.scrub, self._http.safe
        log.info(
            "yelinai: task %s failed: code=%r reason=%r",
            scrub(task.task_id or ""),
            scrub(code or ""),
            scrub(reason or ""),
        )
        kind, lead = catalog.failure_kind(code, reason)
        return base.TaskStatus(
            base.TaskState.FAILED,
            stage="failed",
            error_code=code if code and " " not in code and safe(code) else kind,
            error_say=catalog.failed_because(lead, reason if reason and safe(reason) else None),
        )

    # -- fetch ----------------------------------------------------------------------------

    async def fetch(
        self, task_id: str, model: str, status: base.TaskStatus, dest: Path, max_bytes: int
    ) -> base.FetchedVideo:
        url = status.result_url
        if not url:
            # A caller that lost the link (older row): ask the vendor for it again.
            fresh = await self.status(task_id, model)
            if fresh.state is not base.TaskState.SUCCEEDED or not fresh.result_url:
                raise base.ResultNotReady(
                    words.NOT_READY,
                    code=ErrorCode.NOT_READY,
                    detail=f"yelinai fetch: task {task_id} is {fresh.state}",
                    retry_after=catalog.CDN_RETRY_AFTER,
                )
            url = fresh.result_url
        # A third-party CDN: no Authorization header, our key stays with the API host.
        size = await self._http.save(
            url, dest, max_bytes, on_error=self._cdn_error, with_key=False, link=url
        )
        log.info("yelinai: fetched task %s, %d bytes", task_id, size)
        return base.FetchedVideo(path=dest, size=size, url=url, url_expires_at=None)

    def _cdn_error(self, answer: Answer) -> NoReturn:
        """The CDN's statuses mean other things than the API's: a 404 is a file not there
        yet, a refused or gone link will not come back, any other trouble is the CDN's."""
        status = answer.status
        detail = self._detail("fetch", status, parse_error(answer.body))
        if status == 429:
            self._http.raise_for_status(answer, detail, rejected=words.REJECTED)
        log.warning("%s", detail)
        if status == 404:
            raise base.ResultNotReady(
                words.NOT_READY,
                code=ErrorCode.NOT_READY,
                detail=detail,
                retry_after=catalog.CDN_RETRY_AFTER,
            )
        if status in (401, 403, 410):
            # A signed or expired link: asking again will not bring it back.
            raise base.TaskNotFound(catalog.VIDEO_GONE, code=ErrorCode.VIDEO_GONE, detail=detail)
        wait = retry_after(answer.headers)
        raise base.ProviderUnavailable(
            words.DOWN, code=ErrorCode.CDN_ERROR, detail=detail, retry_after=wait
        )

    # -- the vendor's errors --------------------------------------------------------------

    def _detail(self, call: _Call, status: int, err: YelinaiError) -> str:
        return self._http.detail(call, status, *err.log_parts())

    def _raise(self, call: _Api, answer: Answer) -> NoReturn:
        """An error answer, or a `success:false` envelope on a 200: the codes and statuses
        yelinai gives its own meaning first; the rest are everyone's."""
        err = parse_error(answer.body)
        detail = self._detail(call, answer.status, err)
        own = self._own_meaning(call, answer, err, detail)
        if own is not None:
            log.warning("%s", detail)
            raise own
        shown = self._shown_reason(err)
        rejected = words.rejected_because(shown, fallback=catalog.TRY_OTHER)
        self._http.raise_for_status(answer, detail, rejected=rejected)

    def _own_meaning(
        self, call: _Api, answer: Answer, err: YelinaiError, detail: str
    ) -> base.ProviderError | None:
        """What yelinai's codes say, and the statuses it uses otherwise (None: the common
        reading holds). The order is the vendor's: the account and the rate limit first,
        then a lost task, then a failing server, then what the body says of the request."""
        status, code = answer.status, (err.code or "").strip().upper()
        if catalog.is_quota(code):
            return base.ProviderAuthError(catalog.QUOTA, code=ErrorCode.QUOTA, detail=detail)
        if status == 402:
            return base.ProviderAuthError(words.AUTH, code=ErrorCode.AUTH, detail=detail)
        if status in (401, 403, 429):
            return None  # the key and the rate limit come before what the body says
        if call == "status" and (code == catalog.TASK_NOT_FOUND or status == 404):
            return base.TaskNotFound(words.GONE, code=ErrorCode.NOT_FOUND, detail=detail)
        if status >= 500:
            return None
        if code == catalog.INVALID_PROMPT:
            refused = catalog.prompt_refused(self._shown_reason(err))
            return base.ProviderRejected(refused, code=ErrorCode.INVALID_PROMPT, detail=detail)
        if code == catalog.INVALID_MODEL:
            return base.ProviderRejected(
                catalog.NO_MODEL, code=ErrorCode.INVALID_MODEL, detail=detail
            )
        if status < 400:
            # `success:false` on a 2xx with a code we do not know, or a 1xx/3xx: nothing
            # was done with the request as far as we can tell, so trying again is safe.
            wait = retry_after(answer.headers)
            return base.ProviderUnavailable(
                words.DOWN, code=ErrorCode.ERROR_BODY, detail=detail, retry_after=wait
            )
        return None

    def _shown_reason(self, err: YelinaiError) -> str | None:
        """The vendor's words about a refusal that a member may read, if any."""
        return next((text for text in err.reasons() if self._http.safe(text)), None)
