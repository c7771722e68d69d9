"""Re-encoding a video over the upload limit with the bundled ffmpeg (the `video` extra):
the encoder alone on a real generated clip, then end to end through the real bot."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.media.reencode import Reencoder
from bot.settings import Settings
from storage import JobStatus, QuotaState
from tests.conftest import BotFactory, wait_for_job
from tests.jobs.test_manager import deliveries, origin, submit, usage
from tests.providers.yelinai.test_e2e import run as run_yelinai
from tests.sim.apiyi_sim import ApiyiSimulator
from tests.sim.discord_sim import DiscordSim
from tests.sim.yelinai_sim import YelinaiSimulator

imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")

LIMIT = 600 * 1000


def ffmpeg_exe() -> str:
    return str(imageio_ffmpeg.get_ffmpeg_exe())


@pytest.fixture(scope="module")
def big_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 s of 640x360 test pattern with a tone, at a high bitrate (well over 1.5 MB)."""
    path = tmp_path_factory.mktemp("video") / "big.mp4"
    subprocess.run(
        [
            ffmpeg_exe(),
            "-hide_banner",
            "-loglevel",
            "error",
            "-nostdin",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x360:rate=25:duration=6",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=6",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-b:v",
            "3M",
            "-c:a",
            "aac",
            "-b:a",
            "128k",
            "-shortest",
            str(path),
        ],
        check=True,
        timeout=60,
    )
    assert path.stat().st_size > 1_500_000
    return path


def describe(path: Path) -> str:
    """ffmpeg's description of a file's streams."""
    done = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return done.stderr


def ffmpeg_children() -> list[int]:
    """Processes of ours still running an ffmpeg (zombies included)."""
    found: list[int] = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :]
        if "ffmpeg" in comm and int(rest.split()[1]) == os.getpid():
            found.append(int(entry.name))
    return found


async def test_fit_brings_the_video_under_the_limit_keeping_audio(
    big_video: Path, tmp_path: Path
) -> None:
    assert Reencoder.available()
    dest = tmp_path / "small.mp4"
    started = time.monotonic()
    out = await Reencoder(timeout=60).fit(big_video, LIMIT, dest)
    took = time.monotonic() - started
    assert out == dest
    size = dest.stat().st_size
    assert 0 < size <= LIMIT < big_video.stat().st_size
    info = describe(dest)
    assert "Audio:" in info and "Video: h264" in info
    assert "Duration: 00:00:06" in info or "Duration: 00:00:05.9" in info
    print(f"{big_video.stat().st_size} -> {size} bytes in {took:.2f}s")


async def test_an_impossible_limit_gives_none(big_video: Path, tmp_path: Path) -> None:
    dest = tmp_path / "tiny.mp4"
    assert await Reencoder(timeout=60).fit(big_video, 5_000, dest) is None
    assert not dest.exists()


async def test_a_file_that_is_no_video_gives_none(tmp_path: Path) -> None:
    source = tmp_path / "junk.mp4"
    source.write_bytes(b"\0\0\0\x20ftypisom" + b"v" * 5000)
    dest = tmp_path / "out.mp4"
    assert await Reencoder(timeout=60).fit(source, 1000, dest) is None
    assert not dest.exists()


async def test_timeout_gives_none_and_kills_ffmpeg(
    big_video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started_procs: list[asyncio.subprocess.Process] = []
    real_exec = asyncio.create_subprocess_exec

    async def recording_exec(*args: Any, **kw: Any) -> asyncio.subprocess.Process:
        proc = await real_exec(*args, **kw)
        started_procs.append(proc)
        return proc

    monkeypatch.setattr(asyncio, "create_subprocess_exec", recording_exec)
    # A slow preset so that the encode surely outlasts the time limit.
    monkeypatch.setattr("bot.media.reencode.PRESET", "veryslow")
    dest = tmp_path / "slow.mp4"
    started = time.monotonic()
    assert await Reencoder(timeout=0.3).fit(big_video, LIMIT, dest) is None
    assert time.monotonic() - started < 5
    assert started_procs, "ffmpeg never ran"
    assert all(proc.returncode is not None for proc in started_procs)
    assert ffmpeg_children() == []
    assert not dest.exists()


async def test_one_encode_at_a_time(big_video: Path, tmp_path: Path) -> None:
    reencoder = Reencoder(timeout=60)
    first = asyncio.create_task(reencoder.fit(big_video, LIMIT, tmp_path / "a.mp4"))
    await asyncio.sleep(0.05)
    assert reencoder._lock.locked()
    second = await reencoder.fit(big_video, LIMIT, tmp_path / "b.mp4")
    assert await first is not None and second is not None


# -- end to end: the real bot ------------------------------------------------------------


async def test_over_the_limit_is_posted_reencoded(
    start_bot: BotFactory,
    apiyi_settings: Settings,
    apiyi_sim: ApiyiSimulator,
    discord_sim: DiscordSim,
    big_video: Path,
    tmp_path: Path,
) -> None:
    apiyi_sim.video_bytes = big_video.read_bytes()
    bot = await start_bot(apiyi_settings)
    assert bot.publisher.reencoder is not None
    job = await submit(bot, where=origin(filesize_limit=LIMIT))
    done = await wait_for_job(bot, job.id, timeout=30)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    assert done.quota_state is QuotaState.COMMITTED
    assert await usage(bot) == 1
    [post] = deliveries(discord_sim, job.id)
    [attachment] = post["attachments"]
    posted = discord_sim.attachment_bytes(attachment["id"])
    assert len(posted) <= LIMIT < len(apiyi_sim.video_bytes)
    assert "upload limit (0.572 MB), so this is a smaller copy" in str(post["content"])
    assert "Full quality" not in str(post["content"])  # apiyi gives no link
    # Neither the download nor the re-encoded copy is left behind.
    assert not list((tmp_path / "data" / "downloads").glob("*"))


async def test_discord_413_is_answered_with_a_smaller_copy(
    start_bot: BotFactory,
    apiyi_settings: Settings,
    apiyi_sim: ApiyiSimulator,
    discord_sim: DiscordSim,
    big_video: Path,
) -> None:
    """The job's limit said the file fits, but Discord refused it: aim under what it refused."""
    apiyi_sim.video_bytes = big_video.read_bytes()
    discord_sim.upload_limit = len(apiyi_sim.video_bytes) - 1
    bot = await start_bot(apiyi_settings)
    job = await submit(bot)
    done = await wait_for_job(bot, job.id, timeout=30)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    [post] = deliveries(discord_sim, job.id)
    [attachment] = post["attachments"]
    assert len(discord_sim.attachment_bytes(attachment["id"])) < discord_sim.upload_limit
    # Discord's refusal tells no figure: none is claimed.
    assert "upload limit, so this is a smaller copy" in str(post["content"])


@pytest.fixture
async def yelinai_sim(big_video: Path) -> AsyncIterator[YelinaiSimulator]:
    sim = YelinaiSimulator(api_key="yl-bot-test-key", queued_for=0.05, running_for=0.05)
    sim.video_bytes = big_video.read_bytes()
    await sim.start()
    try:
        yield sim
    finally:
        await sim.close()


async def test_the_full_quality_link_is_posted_beside_the_copy(
    start_bot: BotFactory,
    make_settings: Callable[..., Settings],
    yelinai_sim: YelinaiSimulator,
    discord_sim: DiscordSim,
) -> None:
    settings = make_settings(
        YELINAI_API_KEY=yelinai_sim.api_key,
        YELINAI_BASE_URL=yelinai_sim.base_url,
        VEO_YELINAI_INITIAL_WAIT=0.05,
        VEO_YELINAI_POLL_INTERVAL=0.05,
    )
    bot = await start_bot(settings)
    job = await run_yelinai(bot, where=origin(filesize_limit=LIMIT))
    done = await wait_for_job(bot, job.id, timeout=30)
    assert (done.status, done.quota_state) == (JobStatus.DELIVERED, QuotaState.COMMITTED)
    assert done.task_id is not None
    [post] = deliveries(discord_sim, job.id)
    [attachment] = post["attachments"]
    assert len(discord_sim.attachment_bytes(attachment["id"])) <= LIMIT
    content = str(post["content"])
    assert f"Full quality: <{yelinai_sim.video_url(done.task_id)}>" in content
    print(content)
