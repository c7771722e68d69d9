"""Recognise an image by its bytes, never by its file name or declared type, and read its
pixel size from the header alone, so a decompression bomb is refused without decoding it."""

from __future__ import annotations

import re
import zlib

import aiohttp

_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "png"),
    (b"GIF87a", 0, "gif"),
    (b"GIF89a", 0, "gif"),
)

MIME = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif"}
EXTENSION = {"jpeg": "jpg", "png": "png", "webp": "webp", "gif": "gif"}

# The largest picture a member may send. Veo renders at most 4K (3840×2160, 8.3 MP), so
# anything bigger is only downscaled by the vendor; the caps are set to let every unedited
# camera or phone photo through (48–61 MP sensors: 8064×6048, 8160×6144, 9504×6336) while a
# forged header cannot make the vendor (or a Pillow-based check) decode more than 64 MP —
# 256 MB as RGBA, below Pillow's own DecompressionBombWarning at 89.5 MP. 16384 is also the
# largest side WebP can encode.
MAX_IMAGE_SIDE = 16384
MAX_IMAGE_PIXELS = 64_000_000

# Header walks stop after this many segments, chunks or blocks: a real file needs a few
# dozen before its size (GIF: a few hundred thousand sub-blocks in a 50 MB animation),
# a hostile one could otherwise keep the event loop busy with millions of tiny ones.
_MAX_STEPS = 250_000


def sniff_image(data: bytes) -> str | None:
    """The image format ('jpeg', 'png', 'webp', 'gif') or None when it is not one we know."""
    for magic, offset, kind in _SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            return kind
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def image_size(data: bytes, kind: str) -> tuple[int, int] | None:
    """(width, height) in pixels as the header declares it, without decoding any pixels;
    None when the header is truncated, inconsistent or declares an empty image (a decoder
    would fail on it too, after the member's quota was spent).

    `kind` is what `sniff_image` said. Never raises, whatever the bytes.
    """
    parser = _PARSERS.get(kind)
    size = parser(data) if parser is not None else None
    if size is None or size[0] <= 0 or size[1] <= 0:
        return None
    return size


def _u16be(data: bytes, pos: int) -> int:
    return int.from_bytes(data[pos : pos + 2], "big")


def _u16le(data: bytes, pos: int) -> int:
    return int.from_bytes(data[pos : pos + 2], "little")


def _u24le(data: bytes, pos: int) -> int:
    return int.from_bytes(data[pos : pos + 3], "little")


def _u32be(data: bytes, pos: int) -> int:
    return int.from_bytes(data[pos : pos + 4], "big")


def _u32le(data: bytes, pos: int) -> int:
    return int.from_bytes(data[pos : pos + 4], "little")


# -- PNG: the first chunk must be a 13-byte IHDR with a correct CRC -------------------------

# Colour type → the bit depths the PNG specification allows for it.
_PNG_DEPTHS = {0: {1, 2, 4, 8, 16}, 2: {8, 16}, 3: {1, 2, 4, 8}, 4: {8, 16}, 6: {8, 16}}


def _png_size(data: bytes) -> tuple[int, int] | None:
    if len(data) < 33 or _u32be(data, 8) != 13 or data[12:16] != b"IHDR":
        return None
    if zlib.crc32(data[12:29]) != _u32be(data, 29):
        return None
    width, height = _u32be(data, 16), _u32be(data, 20)
    depth, colour, compression, filtering, interlace = data[24:29]
    if depth not in _PNG_DEPTHS.get(colour, ()):
        return None
    if compression != 0 or filtering != 0 or interlace not in (0, 1):
        return None
    if width > 2**31 - 1 or height > 2**31 - 1:
        return None
    return width, height


# -- JPEG: walk the marker segments up to the first start-of-frame ------------------------

# SOF0–SOF15 except DHT (C4), JPG (C8) and DAC (CC), which share the range.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length: TEM and the restart markers.
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
_JPEG_FILL = re.compile(rb"\xff+")


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    pos, end = 2, len(data)
    for _ in range(_MAX_STEPS):
        fill = _JPEG_FILL.match(data, pos)  # a marker is 0xFF (repeated as padding) + a code
        if fill is None or fill.end() >= end:
            return None
        marker, pos = data[fill.end()], fill.end() + 1
        if marker in _JPEG_STANDALONE:
            continue
        # A stuffed zero, a second SOI, the end, or scan data before any frame header.
        if marker in (0x00, 0xD8, 0xD9, 0xDA) or pos + 2 > end:
            return None
        length = _u16be(data, pos)
        if length < 2 or pos + length > end:
            return None
        if marker in _JPEG_SOF:
            # length, precision, height, width, component count, 3 bytes per component.
            if length < 8:
                return None
            components = data[pos + 7]
            if components == 0 or length != 8 + 3 * components:
                return None
            return _u16be(data, pos + 5), _u16be(data, pos + 3)
        pos += length
    return None


# -- GIF: the logical screen, widened by every frame that reaches beyond it ---------------


def _gif_size(data: bytes) -> tuple[int, int] | None:
    end = len(data)
    if end < 13:
        return None
    width, height = _u16le(data, 6), _u16le(data, 8)
    pos = 13
    if data[10] & 0x80:  # a global colour table follows
        pos += 3 << ((data[10] & 0x07) + 1)
    frames = 0
    steps = 0
    while pos < end:
        steps += 1
        if steps > _MAX_STEPS:
            return None
        block = data[pos]
        if block == 0x3B:  # trailer
            break
        if block == 0x2C:  # image descriptor: left, top, width, height, flags
            if pos + 10 > end:
                break
            left, top = _u16le(data, pos + 1), _u16le(data, pos + 3)
            w, h = _u16le(data, pos + 5), _u16le(data, pos + 7)
            if w == 0 or h == 0:
                return None
            width, height = max(width, left + w), max(height, top + h)
            frames += 1
            flags = data[pos + 9]
            pos += 10
            if flags & 0x80:  # a local colour table
                pos += 3 << ((flags & 0x07) + 1)
            pos += 1  # LZW minimum code size
        elif block == 0x21:  # extension: label, then sub-blocks
            pos += 2
        else:  # anything else is not GIF (some decoders skip it: we refuse)
            return None
        while pos < end:  # data sub-blocks, ended by a zero-length one
            steps += 1
            if steps > _MAX_STEPS:
                return None
            size = data[pos]
            pos += 1 + size
            if size == 0:
                break
    # A missing trailer is common and harmless; a file without one whole frame is not.
    return (width, height) if frames else None


# -- WebP: a VP8, VP8L or VP8X chunk first; VP8X's canvas must agree with what follows ----


def _vp8_size(payload: bytes) -> tuple[int, int] | None:
    """A lossy key frame: 3-byte frame tag, start code 9D 01 2A, 14-bit width and height."""
    if len(payload) < 10:
        return None
    tag = _u24le(payload, 0)
    keyframe, version, partition = not tag & 1, (tag >> 1) & 7, tag >> 5
    if not keyframe or version > 3 or partition >= len(payload):
        return None
    if payload[3:6] != b"\x9d\x01\x2a":
        return None
    return _u16le(payload, 6) & 0x3FFF, _u16le(payload, 8) & 0x3FFF


def _vp8l_size(payload: bytes) -> tuple[int, int] | None:
    """A lossless image: signature 0x2F, then 14-bit width−1, height−1, alpha, version 0."""
    if len(payload) < 5 or payload[0] != 0x2F:
        return None
    bits = _u32le(payload, 1)
    if bits >> 29:
        return None
    return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1


def _webp_chunks(data: bytes, end: int) -> list[tuple[bytes, bytes]] | None:
    """The RIFF chunks as (fourcc, payload); None when one runs past the end."""
    chunks: list[tuple[bytes, bytes]] = []
    pos = 12
    while pos + 8 <= end:
        if len(chunks) >= _MAX_STEPS:
            return None
        fourcc, size = data[pos : pos + 4], _u32le(data, pos + 4)
        if pos + 8 + size > end:
            return None
        chunks.append((fourcc, data[pos + 8 : pos + 8 + size]))
        pos += 8 + size + (size & 1)  # chunks are padded to an even length
    return chunks


def _webp_size(data: bytes) -> tuple[int, int] | None:
    riff = _u32le(data, 4)
    if len(data) < 20 or riff < 12 or riff + 8 > len(data):
        return None
    chunks = _webp_chunks(data, riff + 8)
    if not chunks:
        return None
    fourcc, payload = chunks[0]
    if fourcc == b"VP8 ":
        return _vp8_size(payload)
    if fourcc == b"VP8L":
        return _vp8l_size(payload)
    if fourcc != b"VP8X" or len(payload) < 10:
        return None
    canvas = _u24le(payload, 4) + 1, _u24le(payload, 7) + 1
    pictures = 0
    for fourcc, payload in chunks[1:]:
        if fourcc in (b"VP8 ", b"VP8L"):
            # A still image must be exactly the canvas.
            size = _vp8_size(payload) if fourcc == b"VP8 " else _vp8l_size(payload)
            if size != canvas:
                return None
            pictures += 1
        elif fourcc == b"ANMF":
            # An animation frame: x/2, y/2, width−1, height−1 (24 bits each); must fit.
            if len(payload) < 16:
                return None
            x, y = 2 * _u24le(payload, 0), 2 * _u24le(payload, 3)
            w, h = _u24le(payload, 6) + 1, _u24le(payload, 9) + 1
            if x + w > canvas[0] or y + h > canvas[1]:
                return None
            pictures += 1
    return canvas if pictures else None


_PARSERS = {"png": _png_size, "jpeg": _jpeg_size, "gif": _gif_size, "webp": _webp_size}


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
