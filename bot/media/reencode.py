"""Re-encodes a finished video that is over Discord's upload limit so that it fits.

ffmpeg comes from the `imageio-ffmpeg` wheel (the `video` extra), never from the system. It
runs as a subprocess, one at a time, bounded in time; every ffmpeg problem is logged and
answered with None, so the caller falls back to posting a link.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SAFETY = 0.92  # of the limit: container overhead and the encoder's rate control wander
RETRY_FACTOR = 0.8  # the second try, when the first came out over the limit
AUDIO_KBPS = 64
LOW_AUDIO_KBPS = 32  # when the whole budget is small
LOW_BUDGET_KBPS = 500
MIN_VIDEO_KBPS = 100  # below this a video is not worth posting: the link is better
PRESET = "veryfast"
# (lowest video bitrate in kb/s, largest short side in pixels); None keeps the input's size.
SCALE_STEPS: tuple[tuple[int, int | None], ...] = (
    (3500, None),
    (1800, 720),
    (800, 480),
    (0, 360),
)

_DURATION = re.compile(r"Duration:\s*(\d+):(\d{2}):(\d{2}(?:\.\d+)?)")
_VIDEO = re.compile(r"Stream #\S+.*?: Video: .*?(?<![\dx])(\d{2,5})x(\d{2,5})(?![\dx])")


@dataclass(frozen=True)
class Probe:
    duration: float
    width: int
    height: int
    has_audio: bool


def parse_probe(text: str) -> Probe | None:
    """Reads `ffmpeg -i <file>`'s description of its input."""
    duration = _DURATION.search(text)
    video = _VIDEO.search(text)
    if duration is None or video is None:
        return None
    hours, minutes, seconds = duration.groups()
    secs = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    if secs <= 0:
        return None
    return Probe(
        duration=secs,
        width=int(video.group(1)),
        height=int(video.group(2)),
        has_audio=re.search(r"Stream #\S+.*?: Audio: ", text) is not None,
    )


def _ffmpeg_exe() -> str | None:
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    try:
        exe = str(imageio_ffmpeg.get_ffmpeg_exe())
    except (RuntimeError, OSError):
        return None
    return exe if os.path.isfile(exe) and os.access(exe, os.X_OK) else None


def _scale_filter(probe: Probe, video_kbps: int) -> str | None:
    """A smaller size for low bitrates (by the short side, so portrait videos work too)."""
    short = min(probe.width, probe.height)
    target = next(side for floor, side in SCALE_STEPS if video_kbps >= floor)
    if target is None or short <= target:
        return None
    if probe.width <= probe.height:
        return f"scale={target}:-2"
    return f"scale=-2:{target}"


class Reencoder:
    """Makes a video fit a byte limit with ffmpeg; one encode at a time."""

    def __init__(self, *, timeout: float = 300.0, ffmpeg: str | None = None) -> None:
        self.timeout = timeout
        self.ffmpeg = ffmpeg or _ffmpeg_exe()
        self._lock = asyncio.Lock()

    @staticmethod
    def available() -> bool:
        """imageio-ffmpeg is installed and its ffmpeg binary is there."""
        return _ffmpeg_exe() is not None

    async def fit(self, source: Path, limit_bytes: int, dest: Path) -> Path | None:
        """Write a copy of `source` no larger than `limit_bytes` to `dest`; its path, or None
        when that is impossible or ffmpeg failed or ran out of time (`dest` is then removed)."""
        if self.ffmpeg is None:
            return None
        async with self._lock:
            started = time.monotonic()
            deadline = started + self.timeout
            try:
                result = await self._fit(source, limit_bytes, dest, deadline)
            except Exception:  # never let an ffmpeg problem stop a delivery
                log.exception("re-encoding %s failed", source.name)
                result = None
            if result is None:
                with contextlib.suppress(FileNotFoundError):
                    dest.unlink()
            else:
                log.info(
                    "re-encoded %s: %d -> %d bytes (limit %d) in %.1fs",
                    source.name,
                    source.stat().st_size,
                    result.stat().st_size,
                    limit_bytes,
                    time.monotonic() - started,
                )
            return result

    async def _fit(
        self, source: Path, limit_bytes: int, dest: Path, deadline: float
    ) -> Path | None:
        probe = await self._probe(source, deadline)
        if probe is None:
            return None
        total_kbps = limit_bytes * SAFETY * 8 / probe.duration / 1000
        audio_kbps = 0
        if probe.has_audio:
            audio_kbps = AUDIO_KBPS if total_kbps >= LOW_BUDGET_KBPS else LOW_AUDIO_KBPS
        video_kbps = int(total_kbps - audio_kbps)
        for attempt in (1, 2):
            if video_kbps < MIN_VIDEO_KBPS:
                log.info(
                    "%s: %.1f s cannot fit %d bytes (%d kb/s of video); not re-encoding",
                    source.name,
                    probe.duration,
                    limit_bytes,
                    video_kbps,
                )
                return None
            if not await self._encode(source, dest, probe, video_kbps, audio_kbps, deadline):
                return None
            size = dest.stat().st_size if dest.exists() else 0
            if 0 < size <= limit_bytes:
                return dest
            if size == 0:
                log.warning("re-encoding %s produced no output", source.name)
                return None
            log.info(
                "re-encoding %s (try %d) came out at %d bytes, over %d",
                source.name,
                attempt,
                size,
                limit_bytes,
            )
            video_kbps = int(video_kbps * min(RETRY_FACTOR, limit_bytes * SAFETY / size))
        return None

    async def _probe(self, source: Path, deadline: float) -> Probe | None:
        # `ffmpeg -i file` with no output describes the input on stderr and exits with 1.
        result = await self._run(["-hide_banner", "-nostdin", "-i", str(source)], deadline)
        if result is None:
            return None
        _, stderr = result
        probe = parse_probe(stderr)
        if probe is None:
            log.warning("could not read %s as a video: %s", source.name, stderr[-500:])
        return probe

    async def _encode(
        self,
        source: Path,
        dest: Path,
        probe: Probe,
        video_kbps: int,
        audio_kbps: int,
        deadline: float,
    ) -> bool:
        args = ["-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", str(source)]
        args += ["-map", "0:v:0", "-map", "0:a:0?", "-sn", "-dn"]
        args += ["-c:v", "libx264", "-preset", PRESET, "-pix_fmt", "yuv420p"]
        args += [
            "-b:v",
            f"{video_kbps}k",
            "-maxrate",
            f"{video_kbps}k",
            "-bufsize",
            f"{video_kbps}k",
        ]
        scale = _scale_filter(probe, video_kbps)
        if scale is not None:
            args += ["-vf", scale]
        if audio_kbps:
            args += ["-c:a", "aac", "-b:a", f"{audio_kbps}k", "-ac", "2"]
        args += ["-movflags", "+faststart", "-f", "mp4", str(dest)]
        result = await self._run(args, deadline)
        if result is None:
            return False
        code, stderr = result
        if code != 0:
            log.warning("ffmpeg failed on %s (exit %d): %s", source.name, code, stderr[-500:])
            return False
        return True

    async def _run(self, args: list[str], deadline: float) -> tuple[int, str] | None:
        assert self.ffmpeg is not None
        result = await run_ffmpeg(self.ffmpeg, args, deadline)
        if result is None:
            log.warning("re-encoding ran out of time (VEO_REENCODE_TIMEOUT=%gs)", self.timeout)
        return result


async def run_ffmpeg(exe: str, args: list[str], deadline: float) -> tuple[int, str] | None:
    """Run ffmpeg until the deadline (a `time.monotonic()` value): (exit code, stderr), or
    None when it ran out of time. The process never outlives this call: it is killed and
    reaped on a timeout and when the caller is cancelled."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return None
    proc = await asyncio.create_subprocess_exec(
        exe,
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, stderr = await asyncio.wait_for(proc.communicate(), remaining)
    except TimeoutError:
        return None
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, stderr.decode("utf-8", "replace")


__all__ = ["Reencoder", "parse_probe"]
