"""The tree's last net: an unexpected failure gets an apology with a reference id that
the operator finds in the log."""

from __future__ import annotations

import logging
import re

import pytest

from tests.cogs.test_generate import run
from tests.conftest import BotFactory
from tests.sim.discord_payloads import slash_command
from tests.sim.discord_sim import FLAG_EPHEMERAL, DiscordSim


async def test_an_unexpected_failure_is_apologised_for_with_a_reference(
    start_bot: BotFactory,
    make_settings,
    discord_sim: DiscordSim,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bot = await start_bot(make_settings())
    await bot.manager.stop()
    await bot.db.close()  # the database goes away under the bot: a real, unexpected failure
    monkeypatch.setattr(bot, "_resources_open", False)  # closed by the test itself
    with caplog.at_level(logging.ERROR):
        iid = await run(bot, discord_sim, slash_command(name="veo", subcommand="quota"))
    [answer] = discord_sim.interaction(iid).callbacks
    assert answer["data"]["flags"] & FLAG_EPHEMERAL
    match = re.search(r"reference `([0-9a-f]{8})`", answer["data"]["content"])
    assert match is not None
    assert any(match.group(1) in r.getMessage() for r in caplog.records)
    await bot.session.close()
