"""apixo, Veo 3.1: a submit path and a status path, both naming the vendor's one model.

Why this adapter looks the way it does (the vendor's quirks; the models' own are in
`catalog`):
- images travel as URLs the vendor downloads (`image_transport="url"`): the job manager
  fills `InputImage.url`;
- `request_type: "callback"` + `callback_url` when the bot has a public address; polling
  stays the truth either way (a callback is only a hint to poll now);
- a failed task still answers HTTP 200 with `code: 200`, `state: failed`, `failCode`, and
  an error may come as HTTP 200 with the status in the body's `code`;
- `resultJson` is a JSON *string* holding `resultUrls`; the URLs are plain CDN links (no
  key is ever sent to them) that live about 24 h.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Literal, NoReturn, Unpack, assert_never

import yarl

import bot.providers.base as base
import bot.providers.words as words
from bot.providers.adapter import HTTPAdapter, HTTPOptions, no_task_id
from bot.providers.apixo import catalog, wire
from bot.providers.codes import ErrorCode, Say
from bot.providers.http import Answer, retry_after, usable_task_id

log = logging.getLogger(__name__)

_Call = Literal["submit", "status", "fetch"]


class ApixoProvider(HTTPAdapter):
    """The Provider for apixo's Veo 3.1. Its key lives in its VendorHTTP, which sends it to
    the API host only: result links are plain CDN links and are fetched without it."""

    name = "apixo"
    label = "APIXO"
    default_base_url = catalog.DEFAULT_BASE_URL
    base_suffixes = (catalog.API_SUFFIX,)

    def __init__(self, *, routing: str = "auto", **options: Unpack[HTTPOptions]) -> None:
        super().__init__(options)
        self._routing = catalog.routing(routing)
        self.models = catalog.models_with(self._timing_override)

    def __repr__(self) -> str:
        return f"ApixoProvider(base_url={self._base!r}, routing={self._routing!r})"

    # -- submit ---------------------------------------------------------------------------

    async def submit(self, request: base.SubmitRequest) -> str:
        body = self._body(request)
        url = f"{self._base}{catalog.SUBMIT_PATH}"
        raw = await self._http.call(
            "POST", url, functools.partial(self._raise, "submit"), json=body.json_body()
        )
        # A blank id, or one we could not store or poll with, is no task id.
        task_id = usable_task_id(wire.parse_task_id(raw))
        if task_id:
            log.info("apixo: submitted task %s (%s, %s)", task_id, request.model, body.request_type)
            return task_id
        self._raise_envelope("submit", raw)
        detail = self._http.detail("submit", 200, *wire.parse_error(raw).log_parts())
        raise no_task_id(detail, refused=False)

    def _body(self, request: base.SubmitRequest) -> wire.ApixoSubmitBody:
        vendor_input = catalog.vendor_input(request, self.models)
        callback = request.callback_url
        if callback is not None and not callback.startswith(wire.WEB):
            log.warning("apixo: ignoring a callback address that is not http(s); polling only")
            callback = None
        return wire.ApixoSubmitBody(
            request_type="callback" if callback else "async",
            callback_url=callback,
            provider=self._routing,
            input=vendor_input,
        )

    # -- status ---------------------------------------------------------------------------

    async def status(self, task_id: str, model: str) -> base.TaskStatus:
        url = yarl.URL(f"{self._base}{catalog.STATUS_PATH}").with_query(taskId=task_id)
        raw = await self._http.call("GET", url, functools.partial(self._raise, "status"))
        task = wire.parse_task(raw)
        if task is None or not task.state:
            self._raise_envelope("status", raw)
            raise base.ProviderUnavailable(
                words.BAD_ANSWER,
                code=ErrorCode.BAD_ANSWER,
                detail=self._http.detail("status", 200, *wire.parse_error(raw).log_parts()),
            )
        return self._to_status(task, task_id)

    def _to_status(self, task: wire.ApixoTask, task_id: str) -> base.TaskStatus:
        raw = task.state or ""
        try:
            state = wire.ApixoState(raw.strip().lower())
        except ValueError:
            return self.still_running(raw, task_id)
        match state:
            case wire.ApixoState.PENDING:
                return base.TaskStatus(base.TaskState.PENDING, stage="queued")
            case wire.ApixoState.PROCESSING:
                return base.TaskStatus(base.TaskState.RUNNING, stage="generating")
            case wire.ApixoState.SUCCESS:
                # Our key scrubbed (a JSON escape hides it from the body's scrubbing): the
                # link is stored, and may be posted for members to open.
                urls = [self._http.scrub(u) for u in task.links()]
                if not urls:
                    # Success without a link: nothing to fetch yet. Ask again shortly.
                    raise base.ProviderUnavailable(
                        words.BAD_ANSWER,
                        code=ErrorCode.BAD_ANSWER,
                        detail=f"apixo status: success without resultUrls for {task_id}",
                    )
                expires = catalog.expiry(task.complete_time)
                return base.TaskStatus(
                    base.TaskState.SUCCEEDED,
                    stage="completed",
                    result_url=urls[0],
                    url_expires_at=expires,
                )
            case wire.ApixoState.FAILED:
                return self._failed(task, task_id)
            case _:
                assert_never(state)

    def _failed(self, task: wire.ApixoTask, task_id: str) -> base.TaskStatus:
        """A failed task told by what its code means; the code itself is kept for the
        stats only when it is short, plain and free of our key."""
        scrub = self._http.scrub
        code = (task.fail_code or "").strip()
        kind = catalog.fail_kind(code)
        plain = bool(catalog.PLAIN_CODE.fullmatch(code)) and scrub(code) == code
        reason = scrub(task.fail_msg or "")
        if kind == "credits":
            log.error(
                "apixo: task %s failed for lack of credit on the operator's account: %s",
                task_id,
                reason,
            )
        else:
            log.info("apixo: task %s failed: code=%r msg=%r", task_id, scrub(code), reason)
        return base.TaskStatus(
            base.TaskState.FAILED,
            stage="failed",
            error_code=code if plain else ErrorCode.GENERATION_FAILED,
            error_say=catalog.failed_message(kind),
        )

    # -- fetch ----------------------------------------------------------------------------

    async def fetch(
        self, task_id: str, model: str, status: base.TaskStatus, dest: Path, max_bytes: int
    ) -> base.FetchedVideo:
        url, expires = status.result_url, status.url_expires_at
        if not url:
            # Resumed without the stored link: ask the vendor for it again.
            fresh = await self.status(task_id, model)
            if fresh.state is base.TaskState.FAILED:
                raise base.ProviderRejected(
                    fresh.error_say or catalog.FAILED, code=fresh.error_code or "failed"
                )
            if fresh.state is not base.TaskState.SUCCEEDED or not fresh.result_url:
                raise catalog.not_ready()
            url, expires = fresh.result_url, fresh.url_expires_at
        if expires is None:
            expires = catalog.expiry(None)
        # No key: the result is a CDN link, and the key never leaves for any host but the API's.
        on_error = functools.partial(self._raise_file, url)
        size = await self._http.save(
            url, dest, max_bytes, on_error=on_error, with_key=False, link=url
        )
        log.info("apixo: fetched task %s, %d bytes from %s", task_id, size, catalog.host(url))
        return base.FetchedVideo(path=dest, size=size, url=url, url_expires_at=expires)

    def _raise_file(self, url: str, answer: Answer) -> NoReturn:
        """The CDN's statuses: a 404 is lag right after success, a 403 or 410 a link past
        its life, and nothing it says is about our key or our request."""
        status = answer.status
        detail = f"apixo fetch: HTTP {status} from {catalog.host(url)}"
        if status == 429 or status >= 500:
            self._http.raise_for_status(answer, detail, rejected=words.REJECTED)
        log.warning("%s", detail)
        if status == 404:
            raise catalog.not_ready(detail)
        if status in (403, 410):
            raise base.TaskNotFound(catalog.EXPIRED, code=ErrorCode.RESULT_EXPIRED, detail=detail)
        wait = retry_after(answer.headers)
        raise base.ProviderUnavailable(
            words.DOWN, code=ErrorCode.UNEXPECTED_STATUS, detail=detail, retry_after=wait
        )

    # -- the vendor's errors --------------------------------------------------------------

    def _raise_envelope(self, call: _Call, raw: bytes) -> None:
        """A 200 whose body says another status is an answer with that status."""
        code = wire.envelope_code(raw)
        if code is not None and code != 200:
            self._raise(call, Answer(code, {}, raw))

    def _raise(self, call: _Call, answer: Answer) -> NoReturn:
        """The statuses and failure codes apixo gives its own meaning first; the rest are
        everyone's."""
        err = wire.parse_error(answer.body)
        detail = self._http.detail(call, answer.status, *err.log_parts())
        own = self._own_meaning(call, answer, err, detail)
        if own is not None:
            log.warning("%s", detail)
            raise own
        self._http.raise_for_status(
            answer, detail, rejected=self._reject_message(err), quota=catalog.OUT_OF_CREDIT
        )

    @staticmethod
    def _own_meaning(
        call: _Call, answer: Answer, err: wire.ApixoError, detail: str
    ) -> base.ProviderError | None:
        status, kind = answer.status, catalog.fail_kind(err.fail_code)
        wording = err.wording()
        if kind == "credits" or any(w in wording for w in catalog.CREDIT_WORDS):
            # The operator's credit, whatever the status: 402 is not the only one it comes with.
            return base.ProviderAuthError(
                catalog.OUT_OF_CREDIT, code=ErrorCode.QUOTA, detail=detail
            )
        if status == 403 and (
            kind in catalog.POLICY_KINDS or any(w in wording for w in catalog.POLICY_WORDS)
        ):
            # One vendor page: "API key lacks permission"; another: "content violates policy".
            message = catalog.KIND_MESSAGE[kind or "policy"]
            return base.ProviderRejected(message, code=ErrorCode.CONTENT_POLICY, detail=detail)
        if status >= 500 and kind == "unavailable":
            wait = retry_after(answer.headers)
            return base.ProviderUnavailable(
                catalog.UNAVAILABLE, code=ErrorCode.SERVER_ERROR, detail=detail, retry_after=wait
            )
        if status == 404 and call == "status":
            return base.TaskNotFound(words.GONE, code=ErrorCode.NOT_FOUND, detail=detail)
        if status == 404:
            # "Task or model not found": on a submit, the model.
            return base.ProviderRejected(catalog.NO_MODEL, code=ErrorCode.NOT_FOUND, detail=detail)
        if kind is not None and 400 <= status < 500 and status not in (401, 402, 403, 429):
            # A refusal the vendor named: its kind is the code, and says what to change.
            return base.ProviderRejected(catalog.KIND_MESSAGE[kind], code=kind, detail=detail)
        return None

    def _reject_message(self, err: wire.ApixoError) -> Say:
        """The vendor's reason when a member can act on it; its parser's complaints about
        our JSON are our bug, not the member's, so those get the plain sentence."""
        reason = (err.error or "").strip()
        readable = not catalog.technical(reason) and self._http.safe(reason)
        shown = reason if reason and readable else None
        return words.rejected_because(shown, fallback=catalog.TRY_OTHER)
