"""Taking a video's last frame with the bundled ffmpeg (the `video` extra), on real tiny
generated clips: it must be the very last frame, small, never scaled up, and every failure
must be a quiet None."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bot.media import frames
from bot.media.frames import Frame, last_frame

imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")


def ffmpeg_exe() -> str:
    return str(imageio_ffmpeg.get_ffmpeg_exe())


def make_video(path: Path, size: str, *, colour: str = "red", last: str | None = None) -> Path:
    """A 1 s clip of `colour` at 25 fps; with `last`, its final frame (only) is that colour."""
    args = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y"]
    args += ["-f", "lavfi", "-i", f"color=c={colour}:s={size}:r=25:d={0.96 if last else 1}"]
    if last:
        args += ["-f", "lavfi", "-i", f"color=c={last}:s={size}:r=25:d=0.04"]
        args += ["-filter_complex", "[0:v][1:v]concat=n=2:v=1[v]", "-map", "[v]"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)]
    subprocess.run(args, check=True, timeout=60)
    return path


def pixel(data: bytes) -> tuple[int, ...]:
    """The JPEG's average colour, decoded by ffmpeg itself to a single rgb24 pixel."""
    done = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "image2pipe", "-i", "-"]
        + ["-vf", "scale=1:1:flags=area", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        input=data,
        capture_output=True,
        check=True,
        timeout=30,
    )
    assert len(done.stdout) == 3
    return tuple(done.stdout)


def close(actual: tuple[int, ...], expected: tuple[int, ...], slack: int = 24) -> bool:
    return all(abs(a - e) <= slack for a, e in zip(actual, expected, strict=True))


def is_jpeg(frame: Frame) -> bool:
    return frame.mime == "image/jpeg" and frame.data[:2] == b"\xff\xd8"


async def test_the_last_frame_is_the_last_one(tmp_path: Path) -> None:
    video = make_video(tmp_path / "v.mp4", "320x240", colour="red", last="lime")
    frame = await last_frame(video)
    assert frame is not None and is_jpeg(frame)
    assert close(pixel(frame.data), (0, 255, 0)), pixel(frame.data)


async def test_landscape_is_scaled_to_the_longer_side(tmp_path: Path) -> None:
    frame = await last_frame(make_video(tmp_path / "v.mp4", "1920x1080"))
    assert frame is not None and is_jpeg(frame)
    assert (frame.width, frame.height) == (1280, 720)
    assert close(pixel(frame.data), (255, 0, 0)), pixel(frame.data)


async def test_portrait_is_scaled_to_the_longer_side(tmp_path: Path) -> None:
    frame = await last_frame(make_video(tmp_path / "v.mp4", "720x1280"), max_side=640)
    assert frame is not None
    assert (frame.width, frame.height) == (360, 640)
    frame = await last_frame(tmp_path / "v.mp4")
    assert frame is not None
    assert (frame.width, frame.height) == (720, 1280)


async def test_a_small_video_is_not_scaled_up(tmp_path: Path) -> None:
    frame = await last_frame(make_video(tmp_path / "v.mp4", "320x240"))
    assert frame is not None
    assert (frame.width, frame.height) == (320, 240)


async def test_a_720p_frame_is_small(tmp_path: Path) -> None:
    # testsrc2 is busy, unlike a flat colour: closer to a real frame's size.
    video = tmp_path / "v.mp4"
    subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y"]
        + ["-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25:duration=1"]
        + ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(video)],
        check=True,
        timeout=60,
    )
    frame = await last_frame(video)
    assert frame is not None
    assert (frame.width, frame.height) == (1280, 720)
    assert len(frame.data) < 300_000


async def test_a_video_whose_audio_outlasts_it_still_gives_its_last_frame(tmp_path: Path) -> None:
    # The tail seek lands after the last video frame; the whole file is decoded instead.
    video = tmp_path / "v.mp4"
    subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y"]
        + ["-f", "lavfi", "-i", "color=c=blue:s=320x240:r=25:d=0.5"]
        + ["-f", "lavfi", "-i", "sine=frequency=440:duration=2.5"]
        + ["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(video)],
        check=True,
        timeout=60,
    )
    frame = await last_frame(video)
    assert frame is not None
    assert close(pixel(frame.data), (0, 0, 255)), pixel(frame.data)


async def test_a_file_that_is_not_a_video_gives_none(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("not a video at all\n")
    assert await last_frame(text) is None
    assert await last_frame(tmp_path / "missing.mp4") is None


async def test_no_ffmpeg_gives_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    video = make_video(tmp_path / "v.mp4", "320x240")
    monkeypatch.setattr(frames, "_ffmpeg_exe", lambda: None)
    assert await last_frame(video) is None
    monkeypatch.setattr(frames, "_ffmpeg_exe", lambda: str(tmp_path / "no-such-ffmpeg"))
    assert await last_frame(video) is None


async def test_an_oversized_frame_gives_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    video = make_video(tmp_path / "v.mp4", "320x240")
    monkeypatch.setattr(frames, "MAX_BYTES", 100)
    assert await last_frame(video) is None


async def test_a_timeout_gives_none_and_leaves_no_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    video = make_video(tmp_path / "v.mp4", "1920x1080")
    started: list[asyncio.subprocess.Process] = []
    real = asyncio.create_subprocess_exec

    async def spy(*args: Any, **kwargs: Any) -> asyncio.subprocess.Process:
        proc = await real(*args, **kwargs)
        started.append(proc)
        return proc

    monkeypatch.setattr(asyncio, "create_subprocess_exec", spy)
    assert await last_frame(video, timeout=0.01) is None
    assert len(started) == 1
    proc = started[0]
    assert proc.returncode is not None  # killed and reaped
    with pytest.raises(ProcessLookupError):
        os.kill(proc.pid, 0)
