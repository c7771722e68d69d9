"""Videos too large for Discord with no vendor link are served by the bot itself, at an
unguessable URL that expires, within a disk budget."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import aiohttp

from bot.media.file_host import FileHost
from bot.settings import Settings
from storage import JobStatus, QuotaState
from tests.conftest import BotFactory, wait_for_job
from tests.jobs.test_manager import origin, submit
from tests.net import free_port
from tests.sim.apiyi_sim import ApiyiSimulator
from tests.sim.discord_payloads import CHANNEL_ID
from tests.sim.discord_sim import DiscordSim


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def video(tmp_path: Path, name: str, size: int) -> Path:
    path = tmp_path / name
    path.write_bytes(b"v" * size)
    return path


def test_a_published_file_is_served_until_it_expires(tmp_path: Path) -> None:
    clock = Clock()
    host = FileHost(
        tmp_path / "served",
        public_url="https://bot.example",
        retention=3600,
        max_bytes=100,
        clock=clock,
    )
    url = host.publish(video(tmp_path, "a.mp4", 10), "veo-job-1.mp4")
    assert url is not None and url.startswith("https://bot.example/files/")
    token, name = url.rsplit("/", 2)[-2:]
    assert len(token) >= 32 and name == "veo-job-1.mp4"
    assert host.path_for(token, name) is not None
    assert host.path_for("other-token", name) is None
    assert host.path_for(token, "../../a.mp4") is None
    clock.now += 3600
    assert host.path_for(token, name) is None  # expired: no longer served...
    assert host.sweep() == 1 and not list((tmp_path / "served").iterdir())  # ...and deleted


def test_the_oldest_files_make_room_and_a_file_over_the_budget_is_refused(
    tmp_path: Path,
) -> None:
    clock = Clock()
    host = FileHost(
        tmp_path / "served", public_url="https://b", retention=9999, max_bytes=100, clock=clock
    )
    first = host.publish(video(tmp_path, "1.mp4", 40), "1.mp4")
    clock.now += 1
    second = host.publish(video(tmp_path, "2.mp4", 40), "2.mp4")
    clock.now += 1
    third = host.publish(video(tmp_path, "3.mp4", 40), "3.mp4")
    assert first and second and third
    served = sorted(p.name for p in (tmp_path / "served").glob("*/*"))
    assert served == ["2.mp4", "3.mp4"]  # the oldest went to make room
    assert host.publish(video(tmp_path, "big.mp4", 101), "big.mp4") is None


async def test_an_oversize_video_without_a_vendor_link_is_served_by_the_bot(
    start_bot: BotFactory,
    make_settings: Callable[..., Settings],
    apiyi_sim: ApiyiSimulator,
    discord_sim: DiscordSim,
) -> None:
    port = free_port()
    settings = make_settings(
        APIYI_API_KEY=apiyi_sim.api_key,
        APIYI_BASE_URL=apiyi_sim.base_url,
        VEO_HTTP_PORT=port,
        VEO_PUBLIC_URL=f"http://127.0.0.1:{port}",
    )
    bot = await start_bot(settings)
    bot.publisher.reencoder = None  # as without the `video` extra: no copy that fits
    job = await submit(bot, where=origin(filesize_limit=len(apiyi_sim.video_bytes) - 1))
    done = await wait_for_job(bot, job.id)
    assert (done.status, done.quota_state) == (JobStatus.DELIVERED, QuotaState.COMMITTED)
    [post] = [m for m in discord_sim.messages(CHANNEL_ID) if "is ready" in str(m["content"])]
    assert not post["attachments"]
    [link] = [w for w in str(post["content"]).split() if "/files/" in w]
    assert "the link expires <t:" in str(post["content"])
    async with aiohttp.ClientSession() as session, session.get(link) as response:
        assert response.status == 200 and response.content_type == "video/mp4"
        assert await response.read() == apiyi_sim.video_bytes
    # The job's own download is cleaned up; the served copy stays until it expires.
    assert not list(bot.manager.work_dir.glob("*.mp4"))
