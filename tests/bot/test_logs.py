"""Structured log lines: one per event, job context from the manager, secrets redacted."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Callable, Iterator

import pytest

from bot.logs import JobContextFilter, LogfmtFormatter, Redactor, set_job_context
from bot.settings import Settings
from storage import JobStatus
from tests.conftest import BotFactory, wait_for_job
from tests.jobs.test_manager import submit
from tests.sim.discord_sim import DiscordSim

KEY = "sk-SENTINEL-LOGS-0123456789abcdef"


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """The root logger writing through the bot's formatter into a buffer."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(JobContextFilter())
    handler.setFormatter(LogfmtFormatter(Redactor([KEY])))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield out
    root.removeHandler(handler)
    root.setLevel(old_level)


def test_a_line_carries_the_job_and_keeps_a_traceback_on_one_line(lines: io.StringIO) -> None:
    async def in_a_job_task() -> None:
        set_job_context(12, "apiyi", "running")
        try:
            raise ValueError("boom\nsecond line")
        except ValueError:
            logging.getLogger("bot.jobs.loop").exception('job 12: "odd" failure')

    asyncio.run(in_a_job_task())
    logging.getLogger("bot.jobs.loop").info("outside any job")
    first, second = lines.getvalue().splitlines()
    assert " level=error logger=bot.jobs.loop job=12 provider=apiyi state=running " in first
    assert 'msg="job 12: \\"odd\\" failure"' in first
    assert "exc=" in first and "ValueError: boom\\nsecond line" in first
    assert "job=" not in second and second.endswith('msg="outside any job"')


def test_secrets_and_pieces_of_them_are_redacted(lines: io.StringIO) -> None:
    log = logging.getLogger("bot.providers.apiyi.adapter")
    log.warning("refused: Authorization: Bearer %s", KEY)
    log.warning("excerpt cut the key: %s", KEY[:20])
    log.warning("and from the other end: %s", KEY[-12:])
    text = lines.getvalue()
    assert KEY[:8] not in text and KEY[-8:] not in text
    assert text.count("***") == 3


async def test_the_managers_lines_for_a_job_say_which_job(
    start_bot: BotFactory,
    make_settings: Callable[..., Settings],
    discord_sim: DiscordSim,
    lines: io.StringIO,
) -> None:
    bot = await start_bot(make_settings())
    job = await submit(bot, provider="demo", model="demo-veo")
    await wait_for_job(bot, job.id, frozenset({JobStatus.DELIVERED}))
    delivered = [line for line in lines.getvalue().splitlines() if "delivered as message" in line]
    assert len(delivered) == 1
    assert f"job={job.id} provider=demo state=delivered" in delivered[0]
