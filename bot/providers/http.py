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
    DownloadTooSlow,
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
# A download's total time budget: this fixed part, plus the size cap at the slowest rate
# worth waiting for (see download_budget).
DOWNLOAD_BUDGET_BASE = 60.0
DOWNLOAD_SLOWEST_RATE = 256 * 1024  # bytes a second (about 2 Mbit/s)


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


def download_budget(
    max_bytes: int,
    *,
    base: float = DOWNLOAD_BUDGET_BASE,
    slowest_rate: float = DOWNLOAD_SLOWEST_RATE,
) -> float:
    """Seconds one download's body may take in all: `base` plus the time a video of the
    full cap takes at `slowest_rate` bytes a second (60 s + cap / 256 KiB/s; for the
    default 500 MB cap, 2,060 s, about 34 minutes).

    The read timeout only bounds the silence between pieces, so a CDN that trickles would
    otherwise hold a job slot, and with every slot taken the whole queue, for good. The
    rate is far below any working CDN (a 500 MB file at 256 KiB/s takes 33 minutes), so
    only a broken link runs out: failing it costs a refund or a link instead of a file,
    while waiting on it costs everyone's turn. The base covers a slow start on small caps.
    It grows with the cap, not with the size the answer declares, which a link may not
    give. Tests inject small values through the keyword defaults.
    """
    return base + max_bytes / slowest_rate


def spoken_duration(seconds: float) -> str:
    """A time as a member reads it: whole seconds under a minute and a half, else minutes."""
    if seconds < 90:
        count, unit = max(1, round(seconds)), "second"
    else:
        count, unit = round(seconds / 60), "minute"
    return f"{count} {unit}{'' if count == 1 else 's'}"


async def stream_to_file(
    response: aiohttp.ClientResponse,
    dest: Path,
    max_bytes: int,
    *,
    vendor: str,
    url: str | None = None,
    url_expires_at: float | None = None,
    budget: float | None = None,
) -> int:
    """Write the body to `dest` chunk by chunk; never hold the video in memory.

    Refuses early on a Content-Length over the cap and stops as soon as the body
    passes it, or when the body has taken longer than `budget` seconds (None: the
    download_budget of `max_bytes`); the connect and the headers have their own limits.
    The partial file is removed on any failure.
    """
    declared = response.content_length
    if declared is not None and declared > max_bytes:
        raise ResultTooLarge(
            "The video is larger than this bot is allowed to download.",
            url=url,
            url_expires_at=url_expires_at,
            detail=f"{vendor}: Content-Length {declared} > cap {max_bytes}",
        )
    limit = download_budget(max_bytes) if budget is None else budget
    dest.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    try:
        with open(dest, "wb") as fh:
            window = asyncio.timeout(limit)
            try:
                async with window:
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
            except TimeoutError:
                if not window.expired():
                    raise  # the read timeout (silence), handled by the adapter
                raise DownloadTooSlow(
                    "The video service sent the video too slowly, so the bot stopped "
                    f"downloading it after {spoken_duration(limit)}.",
                    budget=limit,
                    url=url,
                    url_expires_at=url_expires_at,
                    detail=f"{vendor}: {written} bytes in the {limit:.1f} s budget "
                    f"(cap {max_bytes})",
                ) from None
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
