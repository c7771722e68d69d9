"""`veo-bot` / `python -m bot`: load the configuration, then run the bot."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable

import aiohttp
import discord

from bot.settings import ConfigError, Settings, load_settings

log = logging.getLogger("bot")


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%Y-%m-%d %H:%M:%S",
    )
    logging.getLogger("discord").setLevel(max(logging.INFO, logging.getLevelName(level)))


SHUTDOWN_BOUND = 30.0  # seconds a stop may take: in-flight calls finish or are cut


async def run_until_stopped(bot: discord.Client, work: Awaitable[None]) -> None:
    """Run `work` (the gateway connection) until it ends or SIGTERM/SIGINT arrives, then
    shut down in order: stop taking work, let in-flight calls finish or time out within
    a bound, persist, close the session and the database (`VeoBot.close`)."""
    loop = asyncio.get_running_loop()
    signalled = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, signalled.set)
    runner = asyncio.ensure_future(work)
    waiter = asyncio.ensure_future(signalled.wait())
    try:
        await asyncio.wait({runner, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if signalled.is_set():
            log.info("stopping: finishing in-flight work (at most %.0f s)", SHUTDOWN_BOUND)
        try:
            await asyncio.wait_for(bot.close(), SHUTDOWN_BOUND)
        except TimeoutError:
            log.warning("shutdown took longer than %.0f s; stopping anyway", SHUTDOWN_BOUND)
        if runner.done() and not runner.cancelled():
            runner.result()  # a login failure and the like surface here
    finally:
        waiter.cancel()
        runner.cancel()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    log.info("stopped")


async def _run(settings: Settings) -> None:
    from bot.client import VeoBot

    assert settings.discord_token is not None
    async with VeoBot(settings) as bot:

        async def sync_once() -> None:
            await bot.wait_until_ready()
            try:
                await bot.sync_commands()
            except discord.HTTPException:
                log.exception("could not sync slash commands")

        bot.loop.create_task(sync_once())
        await run_until_stopped(bot, bot.start(settings.discord_token.get_secret_value()))


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in {"-h", "--help"}:
        print(
            "usage: veo-bot\n\nRuns the Discord bot. Configuration: environment or .env (see README.md)."
        )
        return
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(exc.screen(), file=sys.stderr)
        raise SystemExit(2) from None
    _configure_logging(settings.log_level)
    try:
        asyncio.run(_run(settings))
    except discord.LoginFailure:
        print(
            "veo-bot cannot start: Discord refused DISCORD_TOKEN. Reset the token in the "
            "Developer Portal (Bot > Reset Token) and update .env.",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
    except (aiohttp.ClientConnectionError, OSError) as exc:
        print(f"veo-bot stopped: cannot reach Discord ({exc}). Check the network.", file=sys.stderr)
        raise SystemExit(1) from None
    except discord.PrivilegedIntentsRequired:
        print("veo-bot cannot start: Discord asks for a privileged intent.", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        pass
