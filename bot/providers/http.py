"""Transport helpers shared by the adapters: error mapping and capped streaming."""

from __future__ import annotations

import asyncio
import math
import os
import unicodedata
from pathlib import Path

import aiohttp

from bot.netguard import UnsafeURL

from .base import (
    ProviderError,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    ResultTooLarge,
)

CHUNK = 64 * 1024
# The longest wait a vendor's Retry-After may impose on one call: past it, the vendor's
# figure is noise (or hostile), and honouring it would park a job for good.
MAX_RETRY_AFTER = 3600.0


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
            f"{vendor} returned a link this bot is not allowed to open.",
            code="unsafe_url",
            detail=detail,
        )
    if isinstance(exc, aiohttp.InvalidURL):
        return ProviderUnavailable(
            f"{vendor} could not be reached right now.", code="bad_url", detail=detail
        )
    if isinstance(exc, aiohttp.ClientConnectorError):
        return ProviderUnavailable(
            f"{vendor} could not be reached right now.", code="connect_failed", detail=detail
        )
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return ProviderTimeout(f"{vendor} did not answer in time.", code="timeout", detail=detail)
    return ProviderTimeout(
        f"The connection to {vendor} broke off.", code="connection_lost", detail=detail
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


async def stream_to_file(
    response: aiohttp.ClientResponse,
    dest: Path,
    max_bytes: int,
    *,
    vendor: str,
    url: str | None = None,
    url_expires_at: float | None = None,
) -> int:
    """Write the body to `dest` chunk by chunk; never hold the video in memory.

    Refuses early on a Content-Length over the cap and stops as soon as the body
    passes it. The partial file is removed on any failure.
    """
    declared = response.content_length
    if declared is not None and declared > max_bytes:
        raise ResultTooLarge(
            "The video is larger than this bot is allowed to download.",
            url=url,
            url_expires_at=url_expires_at,
            detail=f"{vendor}: Content-Length {declared} > cap {max_bytes}",
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    try:
        with open(dest, "wb") as fh:
            async for chunk in response.content.iter_chunked(CHUNK):
                written += len(chunk)
                if written > max_bytes:
                    raise ResultTooLarge(
                        "The video is larger than this bot is allowed to download.",
                        url=url,
                        url_expires_at=url_expires_at,
                        detail=f"{vendor}: body passed cap {max_bytes}",
                    )
                fh.write(chunk)
        if written == 0:
            # A 200 with nothing in it is no video: never post (and charge) an empty file.
            raise ProviderUnavailable(
                f"{vendor} sent an empty video file.",
                code="empty_video",
                detail=f"{vendor}: the video body was empty",
            )
    except BaseException:
        try:
            os.unlink(dest)
        except FileNotFoundError:
            pass
        raise
    return written


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
