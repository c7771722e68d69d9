"""`veo-bot` / `python -m bot`: load the configuration, then run the bot.

`veo-bot check` instead checks the configuration, the database and each vendor's key, and
prints what is ready (see bot/check.py); `veo-bot migrate-db --to URL` copies the SQLite
database into PostgreSQL (see bot/migrate.py)."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable

import aiohttp
import discord

from bot.logs import configure_logging
from bot.settings import Settings
from bot.settings.loading import ConfigError, load_settings

log = logging.getLogger("bot")


def _configure_logging(level: str, settings: Settings | None = None) -> None:
    """One `key=value` line per event, with every configured secret redacted."""
    configure_logging(level, settings.secret_values() if settings is not None else ())


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
            if not bot.manager.leader.leading:
                log.info("another process leads: it syncs the slash commands")
                return
            try:
                await bot.sync_commands()
            except discord.HTTPException:
                log.exception("could not sync slash commands")

        bot.loop.create_task(sync_once())
        await run_until_stopped(bot, bot.start(settings.discord_token.get_secret_value()))


USAGE = """usage: veo-bot [check | migrate-db --to URL]

  veo-bot         run the Discord bot
  veo-bot check   check the configuration, the database and each vendor's key (one free
                  status call per vendor: nothing is submitted or spent), then print a
                  table of what is ready; exit status 0 = ready, 1 = not ready, 2 = bad
                  configuration
  veo-bot migrate-db --to postgresql://user:password@host/database
                  copy every table of the SQLite database (VEO_DB_PATH) into an empty
                  PostgreSQL database, to move to it without losing history; stop the
                  bot first. The SQLite file is left as it is. (Leave the password out of
                  the URL and set PGPASSWORD to keep it out of the shell's history.)
                  exit status 0 = copied, 1 = not copied (nothing kept), 2 = bad usage
                  or already on PostgreSQL

Configuration: environment variables or .env (see README.md)."""


def _check(args: list[str]) -> None:
    """`veo-bot check`: a missing DISCORD_TOKEN is a row of the report, not the error screen."""
    if args:
        print(USAGE, file=sys.stderr if args[0] not in {"-h", "--help"} else sys.stdout)
        raise SystemExit(0 if args[0] in {"-h", "--help"} else 2)
    from bot.check import run_check

    try:
        settings = load_settings(need_token=False)
    except ConfigError as exc:
        print(exc.screen(), file=sys.stderr)
        raise SystemExit(2) from None
    _configure_logging("WARNING")
    # The check reports what each vendor answered itself; the adapters' own warnings about
    # the made-up task would only repeat it.
    logging.getLogger("bot.providers").setLevel(logging.ERROR)
    raise SystemExit(asyncio.run(run_check(settings, out=sys.stdout)))


def _migrate_db(args: list[str]) -> None:
    """`veo-bot migrate-db --to URL`: parsing only; bot/migrate.py does the work."""
    if args in (["-h"], ["--help"]):
        print(USAGE)
        raise SystemExit(0)
    url = None
    if len(args) == 2 and args[0] == "--to":
        url = args[1]
    elif len(args) == 1 and args[0].startswith("--to="):
        url = args[0].removeprefix("--to=")
    if not url:
        print(USAGE, file=sys.stderr)
        raise SystemExit(2)
    from bot.migrate import migrate

    try:
        settings = load_settings(need_token=False)
    except ConfigError as exc:
        print(exc.screen(), file=sys.stderr)
        raise SystemExit(2) from None
    _configure_logging("WARNING", settings)
    raise SystemExit(asyncio.run(migrate(settings, url, sys.stdout)))


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in {"-h", "--help"}:
        print(USAGE)
        return
    if args and args[0] == "check":
        _check(args[1:])
    if args and args[0] == "migrate-db":
        _migrate_db(args[1:])
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(exc.screen(), file=sys.stderr)
        raise SystemExit(2) from None
    _configure_logging(settings.log_level, settings)
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
