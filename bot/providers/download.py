"""Streaming a finished video to disk: capped in size and in total time, never whole in memory."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import aiohttp

import bot.providers.words as words
from bot.providers.base import DownloadTooSlow, ProviderUnavailable, ResultTooLarge
from bot.providers.codes import ErrorCode, say

CHUNK = 64 * 1024
# A download's total time budget: this fixed part, plus the size cap at the slowest rate
# worth waiting for (see download_budget).
DOWNLOAD_BUDGET_BASE = 60.0
DOWNLOAD_SLOWEST_RATE = 256 * 1024  # bytes a second (about 2 Mbit/s)


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
            words.TOO_LARGE,
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
                                words.TOO_LARGE,
                                url=url,
                                url_expires_at=url_expires_at,
                                detail=f"{vendor}: body passed cap {max_bytes}",
                            )
                        fh.write(chunk)
            except TimeoutError:
                if not window.expired():
                    raise  # the read timeout (silence), handled by the adapter
                raise DownloadTooSlow(
                    say("too_slow", seconds=limit),
                    budget=limit,
                    url=url,
                    url_expires_at=url_expires_at,
                    detail=f"{vendor}: {written} bytes in the {limit:.1f} s budget "
                    f"(cap {max_bytes})",
                ) from None
        if written == 0:
            # A 200 with nothing in it is no video: never post (and charge) an empty file.
            raise ProviderUnavailable(
                say("empty_video", vendor=vendor),
                code=ErrorCode.EMPTY_VIDEO,
                detail=f"{vendor}: the video body was empty",
            )
    except BaseException:
        try:
            os.unlink(dest)
        except FileNotFoundError:
            pass
        raise
    return written
