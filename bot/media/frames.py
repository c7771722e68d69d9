"""The last frame of a delivered video, for the "Continue" feature.

A follow-up job starts from where a delivered video ended, but the video file only lives on
disk around delivery. So at delivery the last frame is taken once and kept with the job as a
small JPEG; the follow-up later sends it as its first frame without needing the video again.

It is a nice-to-have: any ffmpeg problem (none installed, a file that is not a video, a slow
or stuck run, an oversized result) is logged and answered with None, and delivery goes on.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bot.media.reencode import _ffmpeg_exe, run_ffmpeg

log = logging.getLogger(__name__)

QUALITY = 4  # mjpeg -q:v (2 best .. 31 worst): a 720p frame comes out well under 300 KB
MAX_BYTES = 1_000_000  # a frame bigger than this is not "small" any more: something is off
SEEK_FROM_END = 1.0  # seconds; only this tail is decoded, and the last frame written is kept

_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})


@dataclass(frozen=True)
class Frame:
    data: bytes
    mime: str
    width: int
    height: int


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the JPEG's frame header: what was written, not what was asked for."""
    if data[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 9 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker in _SOF:
            height = int.from_bytes(data[i + 5 : i + 7], "big")
            width = int.from_bytes(data[i + 7 : i + 9], "big")
            return (width, height) if width and height else None
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    return None


async def last_frame(path: Path, *, max_side: int = 1280, timeout: float = 30.0) -> Frame | None:
    """The video's last frame as a JPEG no larger than `max_side` on its longer side, or None."""
    exe = _ffmpeg_exe()
    if exe is None:
        log.info("no ffmpeg (the `video` extra): no last frame for %s", path.name)
        return None
    deadline = time.monotonic() + timeout
    # Fit inside max_side x max_side keeping the aspect; min() means never scaling up.
    scale = f"scale='min(iw,{max_side})':'min(ih,{max_side})':force_original_aspect_ratio=decrease"
    try:
        with tempfile.TemporaryDirectory(prefix="veo-frame-") as tmp:
            out = Path(tmp) / "last.jpg"
            common = ["-i", str(path), "-map", "0:v:0", "-an", "-sn", "-dn", "-vf", scale]
            # yuvj420p: full-range YUV, which every ffmpeg's mjpeg encoder takes without -strict.
            common += ["-c:v", "mjpeg", "-q:v", str(QUALITY), "-pix_fmt", "yuvj420p"]
            # -update 1 rewrites the same file for every frame, so the one left is the last.
            common += ["-update", "1", "-y", str(out)]
            head = ["-hide_banner", "-nostdin", "-loglevel", "error"]
            # The tail first (cheap); the whole file when the video stream ends earlier than
            # the container does (a longer audio track) and the tail holds no video frame.
            for seek in (["-sseof", f"-{SEEK_FROM_END:g}"], []):
                result = await run_ffmpeg(exe, head + seek + common, deadline)
                if result is None:
                    log.info(
                        "taking the last frame of %s ran out of time (%gs)", path.name, timeout
                    )
                    return None
                code, stderr = result
                if code != 0:
                    log.info("ffmpeg failed on %s (exit %d): %s", path.name, code, stderr[-500:])
                    return None
                if out.is_file() and out.stat().st_size > 0:
                    break
            else:
                log.info("%s has no video frame to take", path.name)
                return None
            if out.stat().st_size > MAX_BYTES:
                log.info(
                    "last frame of %s is %d bytes; not keeping it", path.name, out.stat().st_size
                )
                return None
            data = out.read_bytes()
    except OSError as e:  # ffmpeg not runnable, temp dir trouble
        log.info("could not take the last frame of %s: %s", path.name, e)
        return None
    size = _jpeg_size(data)
    if size is None:
        log.info("ffmpeg wrote something that is not a JPEG for %s", path.name)
        return None
    return Frame(data=data, mime="image/jpeg", width=size[0], height=size[1])


__all__ = ["Frame", "last_frame"]
