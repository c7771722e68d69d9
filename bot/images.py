"""Recognise an image by its bytes, never by its file name or declared type."""

from __future__ import annotations

import aiohttp

_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "png"),
    (b"GIF87a", 0, "gif"),
    (b"GIF89a", 0, "gif"),
)

MIME = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif"}
EXTENSION = {"jpeg": "jpg", "png": "png", "webp": "webp", "gif": "gif"}


def sniff_image(data: bytes) -> str | None:
    """The image format ('jpeg', 'png', 'webp', 'gif') or None when it is not one we know."""
    for magic, offset, kind in _SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            return kind
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


class ImageTooLarge(Exception):
    pass


async def fetch_capped(session: aiohttp.ClientSession, url: str, max_bytes: int) -> bytes:
    """Download a member's attachment now (Discord's URLs expire), refusing past the cap."""
    timeout = aiohttp.ClientTimeout(total=60, sock_read=20)
    async with session.get(url, timeout=timeout) as response:
        response.raise_for_status()
        if response.content_length is not None and response.content_length > max_bytes:
            raise ImageTooLarge(url)
        buf = bytearray()
        async for chunk in response.content.iter_chunked(64 * 1024):
            buf += chunk
            if len(buf) > max_bytes:
                raise ImageTooLarge(url)
        return bytes(buf)
