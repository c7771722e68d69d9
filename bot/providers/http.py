"""The vendors' shared HTTP: one `VendorHTTP` per adapter, and the helpers it is made of.

Every vendor is reached the same way: a key in a header, small JSON exchanges read with a
cap, bodies scrubbed of the key before anything else sees them, connection failures and
HTTP statuses mapped to the errors of `base`, `Retry-After` honoured within reason, videos
streamed to disk. An adapter builds one `VendorHTTP` and only says what its vendor does
differently (its auth header, its error envelope, the codes it gives special meaning).
See ARCHITECTURE.md, "Adding a vendor".
"""

from __future__ import annotations

import asyncio
import logging
import math
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import aiohttp
import yarl

import bot.providers.words as words
from bot.netguard import UnsafeURL
from bot.providers.base import (
    ProviderAuthError,
    ProviderError,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
)
from bot.providers.codes import ErrorCode, Say, say
from bot.providers.download import stream_to_file

# The longest wait a vendor's Retry-After may impose on one call: past it, the vendor's
# figure is noise (or hostile), and honouring it would park a job for good.
MAX_RETRY_AFTER = 3600.0
# Task and error bodies are small; never buffer more than this of one.
BODY_LIMIT = 64 * 1024

log = logging.getLogger(__name__)


def _describe(exc: BaseException) -> str:
    # str(), not repr(): some aiohttp errors carry the request headers (the API key) in repr.
    return f"{type(exc).__name__}: {exc}"


def transport_error(exc: BaseException, vendor: str, *, secret: str | None = None) -> ProviderError:
    """Map an aiohttp/asyncio failure to our errors, with `secret` (the API key) scrubbed
    from the detail.

    A refused or unresolvable connection, or a bad configured URL, means the request never
    left: the vendor provably did nothing (ProviderUnavailable). Anything after the
    request was written (timeout, reset, broken body) is ProviderTimeout: for a submit,
    the vendor may have accepted it.
    """
    detail = _describe(exc)
    if secret:
        detail = detail.replace(secret, "***")
    if isinstance(exc, UnsafeURL):
        return ProviderRejected(
            say("unsafe_link", vendor=vendor),
            code=ErrorCode.UNSAFE_URL,
            detail=detail,
        )
    if isinstance(exc, aiohttp.InvalidURL):
        return ProviderUnavailable(
            say("unreachable", vendor=vendor), code=ErrorCode.BAD_URL, detail=detail
        )
    if isinstance(exc, aiohttp.ClientConnectorError):
        return ProviderUnavailable(
            say("unreachable", vendor=vendor),
            code=ErrorCode.CONNECT_FAILED,
            detail=detail,
        )
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return ProviderTimeout(
            say("no_answer_in_time", vendor=vendor), code=ErrorCode.TIMEOUT, detail=detail
        )
    return ProviderTimeout(
        say("connection_broke", vendor=vendor), code=ErrorCode.CONNECTION_LOST, detail=detail
    )


def retry_after(headers: object) -> float | None:
    """Seconds from a Retry-After header given in seconds (the vendors' form): a finite
    number, floored at 0 and capped at MAX_RETRY_AFTER; None when absent or unreadable
    (an HTTP date, "inf", "nan", "1e999")."""
    value = getattr(headers, "get", lambda _k: None)("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(seconds):
        return None
    return min(max(0.0, seconds), MAX_RETRY_AFTER)


def plain_text(text: str) -> str:
    """`text` as it can be stored and sent: anything UTF-8 cannot encode (a lone surrogate,
    which a JSON escape such as "\\ud800" produces) becomes "?"."""
    return text.encode("utf-8", errors="replace").decode("utf-8")


def is_plain_text(text: str) -> bool:
    """Whether `text` encodes to UTF-8 as is (SQLite and URLs need that)."""
    return not any(unicodedata.category(c) == "Cs" for c in text)


def usable_task_id(value: str | None) -> str | None:
    """A vendor's task id we can store and poll with: non-blank text, encodable as UTF-8,
    without control characters. Anything else is "no usable task id" (None), which for a
    submit means its fate is uncertain."""
    if value is None or not value.strip():
        return None
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in value):
        return None
    return value


async def read_capped(
    resp: aiohttp.ClientResponse, limit: int, *, secret: str | None = None
) -> bytes:
    """The body, or its first `limit` bytes: enough for any task or error envelope, and
    never a whole video by mistake. With `secret` (the API key), every trace of it is
    replaced before anything else sees the bytes, including a key the cut splits."""
    extra = len(secret) if secret else 0
    buf = bytearray()
    async for chunk in resp.content.iter_chunked(8192):
        buf += chunk
        if len(buf) >= limit + extra:
            break
    data = redact(bytes(buf[: limit + extra]), secret)
    return redact(data[:limit], secret)


def redact(data: bytes, secret: str | None, *, min_prefix: int = 6) -> bytes:
    """Replace `secret` in `data`, and a trailing piece of it (a body cut mid-key)."""
    if not secret:
        return data
    key = secret.encode()
    data = data.replace(key, b"***")
    for size in range(len(key) - 1, min_prefix - 1, -1):
        if data.endswith(key[:size]):
            return data[:-size] + b"***"
    return data


def member_safe(text: str) -> bool:
    """Whether a vendor's own words may be shown to a member: short, plain, and free of
    anything that looks like a link, a key or markup."""
    lowered = text.lower()
    return (
        0 < len(text) <= 160
        and text.isprintable()
        and not any(
            mark in lowered for mark in ("http", "www.", "sk-", "bearer", "<", "{", "`", "@")
        )
    )


def bearer(key: str) -> Mapping[str, str]:
    """The usual auth header; a vendor that wants another form passes its own."""
    return {"Authorization": f"Bearer {key}"}


@dataclass(frozen=True, slots=True)
class Answer:
    """A vendor's answer to one call: the status, its headers, and the body (capped, the key
    already scrubbed from it)."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


OnError = Callable[[Answer], NoReturn]


class VendorHTTP:
    """One vendor's HTTP client. Holds the key privately: it is sent only in the auth header
    (and only to hosts the adapter says are the vendor's) and scrubbed from every body,
    error and log line."""

    def __init__(
        self,
        *,
        vendor: str,
        label: str,
        api_key: str,
        session: aiohttp.ClientSession,
        request_timeout: float = 30.0,
        download_read_timeout: float = 120.0,
        auth: Callable[[str], Mapping[str, str]] = bearer,
    ) -> None:
        self.vendor = vendor  # how the log and each error's detail name it
        self.label = label  # how a member's sentence names it
        self.__key = api_key
        self._auth = auth
        self.session = session
        # A submit or a status is a small JSON exchange: a total timeout fits it.
        self.timeout = aiohttp.ClientTimeout(total=request_timeout)
        # An upload or a video can be large: bound the silence between reads, not the total.
        self.upload_timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=request_timeout, sock_read=request_timeout
        )
        self.download_timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=request_timeout, sock_read=download_read_timeout
        )

    def __repr__(self) -> str:
        return f"VendorHTTP({self.vendor!r})"

    def headers(self) -> dict[str, str]:
        return dict(self._auth(self.__key))

    def scrub(self, text: str) -> str:
        return text.replace(self.__key, "***") if self.__key else text

    def safe(self, text: str) -> bool:
        """Whether a vendor's words may be kept (shown to a member, stored): member-safe,
        and free of our key even where a JSON escape hid it from the body's scrubbing."""
        return member_safe(text) and self.scrub(text) == text

    def transport(self, exc: BaseException) -> ProviderError:
        return transport_error(exc, self.label, secret=self.__key)

    def detail(self, call: str, status: int, *parts: str | None) -> str:
        """The operator's line about one answer: "<vendor> <call>: HTTP <status> | ..."."""
        shown = [f"{self.vendor} {call}: HTTP {status}"]
        shown += [p.strip() for p in parts if p and p.strip()]
        return self.scrub(" | ".join(shown))

    async def exchange(
        self,
        method: str,
        url: str | yarl.URL,
        *,
        timeout: aiohttp.ClientTimeout | None = None,
        with_key: bool = True,
        **kwargs: Any,
    ) -> Answer:
        """One call, whatever its status: the answer, or our error if none came."""
        try:
            async with self.session.request(
                method,
                url,
                headers=self.headers() if with_key else {},
                timeout=timeout or self.timeout,
                **kwargs,
            ) as resp:
                body = await read_capped(resp, BODY_LIMIT, secret=self.__key)
                return Answer(resp.status, resp.headers, body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self.transport(exc) from exc

    async def call(
        self, method: str, url: str | yarl.URL, on_error: OnError, **kwargs: Any
    ) -> bytes:
        """One small JSON exchange: the body of a 2xx; any other answer goes to `on_error`,
        the adapter's reading of its vendor's error envelope."""
        answer = await self.exchange(method, url, **kwargs)
        if not answer.ok:
            on_error(answer)
        return answer.body

    async def save(
        self,
        url: str | yarl.URL,
        dest: Path,
        max_bytes: int,
        *,
        on_error: OnError,
        with_key: bool = True,
        link: str | None = None,
        link_expires_at: float | None = None,
    ) -> int:
        """Stream a finished video to `dest`: any status but 200 goes to `on_error`, and a
        200 carrying JSON or text (an error page) is never saved as the video. `link` is the
        member's fallback when the video is too large or too slow to fetch."""
        try:
            async with self.session.get(
                url, headers=self.headers() if with_key else {}, timeout=self.download_timeout
            ) as resp:
                if resp.status != 200:
                    body = await read_capped(resp, BODY_LIMIT, secret=self.__key)
                    on_error(Answer(resp.status, resp.headers, body))
                ctype = resp.headers.get("Content-Type", "").lower()
                if ctype.startswith(("application/json", "text/")):
                    body = await read_capped(resp, BODY_LIMIT, secret=self.__key)
                    raise ProviderUnavailable(
                        words.BAD_ANSWER,
                        code=ErrorCode.BAD_ANSWER,
                        detail=self.detail("fetch", 200, ctype, excerpt(body)),
                    )
                return await stream_to_file(
                    resp,
                    dest,
                    max_bytes,
                    vendor=self.label,
                    url=link,
                    url_expires_at=link_expires_at,
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self.transport(exc) from exc

    def raise_for_status(
        self,
        answer: Answer,
        detail: str,
        *,
        rejected: Say,
        quota: Say = words.OUT_OF_CREDIT,
    ) -> NoReturn:
        """What an HTTP status says when the vendor's body said nothing more precise: the
        account (401/403 the key, 402 the credit), the vendor for now (429, 5xx, with its
        Retry-After), this request (other 4xx, told with `rejected`), or an answer no
        vendor documents (1xx/3xx: as far as we can tell, nothing was done)."""
        status, wait = answer.status, retry_after(answer.headers)
        log.warning("%s", detail)
        if status == 402:
            raise ProviderAuthError(quota, code=ErrorCode.QUOTA, detail=detail)
        if status in (401, 403):
            raise ProviderAuthError(words.AUTH, code=ErrorCode.AUTH, detail=detail)
        if status == 429:
            raise ProviderUnavailable(
                words.BUSY, code=ErrorCode.RATE_LIMITED, detail=detail, retry_after=wait
            )
        if status >= 500:
            raise ProviderUnavailable(
                words.DOWN, code=ErrorCode.SERVER_ERROR, detail=detail, retry_after=wait
            )
        if 400 <= status < 500:
            raise ProviderRejected(rejected, code=ErrorCode.REJECTED, detail=detail)
        raise ProviderUnavailable(words.DOWN, code=ErrorCode.UNEXPECTED_STATUS, detail=detail)


def excerpt(body: bytes, limit: int = 300) -> str | None:
    """The start of a body as text, for the operator's log line."""
    text = body.decode("utf-8", errors="replace").strip()
    return text[:limit] or None
