"""`veo-bot migrate-db --to URL`: move an installation from its SQLite file to PostgreSQL.

The work lives here rather than in cli.py so a test can run it in-process and read what
it prints. The SQLite file is only read (and brought to the current schema, as starting
the bot would): it stays behind as the operator's backup. No line printed here carries
the URL's password, not even an error that happens to quote it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from bot.settings import Settings
from storage import CopyError, Database, copy_database, shown_target
from storage.db import is_postgresql


async def migrate(settings: Settings, url: str, out: TextIO, err: TextIO | None = None) -> int:
    """Copy the configured SQLite database into the empty PostgreSQL database at `url`.

    Returns the exit status: 0 copied, 1 failed (nothing kept in the target), 2 nothing
    to do or a URL that is not PostgreSQL's."""
    err = sys.stderr if err is None else err
    source = settings.database
    if not isinstance(source, Path):
        print(
            "The bot already uses PostgreSQL (VEO_DATABASE_URL): there is no SQLite file to copy.",
            file=err,
        )
        return 2
    try:
        shown = shown_target(url) if is_postgresql(url) else ""
    except ValueError:  # a port that is not a number, and the like
        shown = ""
    if not shown:
        print("--to must be a PostgreSQL URL, like postgresql://user@host/database.", file=err)
        return 2
    if str(source) == ":memory:" or not source.is_file():
        print(
            f"There is no SQLite file at {source}: set VEO_DB_PATH to the bot's database file.",
            file=err,
        )
        return 1
    try:
        from_db = await Database.open(source)
    except Exception as exc:  # the operator needs the reason, whatever it is
        print(f"Cannot open the SQLite file {source}: {_describe(exc, url)}.", file=err)
        return 1
    try:
        try:
            to_db = await Database.open(url)
        except Exception as exc:
            print(f"Cannot open the PostgreSQL database {shown}: {_describe(exc, url)}.", file=err)
            return 1
        try:
            copied = await copy_database(from_db, to_db)
        except CopyError as exc:
            print(_scrub(str(exc), url), file=err)
            return 1
        except Exception as exc:
            print(
                f"The copy failed and nothing was kept in {shown}: {_describe(exc, url)}.",
                file=err,
            )
            return 1
        finally:
            await to_db.close()
    finally:
        await from_db.close()
    for table, rows in copied.items():
        print(f"{table}: {rows} {'row' if rows == 1 else 'rows'}", file=out)
    password = " (put the password back in)" if _passwords(url) else ""
    print(
        f"Done. Next: set VEO_DATABASE_URL={_setting(url)}{password} and restart the bot; "
        f"the SQLite file {source} is left untouched as a backup.",
        file=out,
    )
    return 0


def _setting(url: str) -> str:
    """The URL to put in VEO_DATABASE_URL, as far as it may be shown: no password, but
    its options kept (sslmode and the like are needed to connect)."""
    query = [
        (k, v)
        for k, v in parse_qsl(urlsplit(url).query, keep_blank_values=True)
        if k.lower() != "password"
    ]
    shown = shown_target(url)
    return f"{shown}?{urlencode(query)}" if query else shown


def _passwords(url: str) -> list[str]:
    """Every password the URL carries, as written and decoded (after the user name, or as
    a `password=` option)."""
    parts = urlsplit(url)
    found = [parts.password or ""]
    found += [v for k, v in parse_qsl(parts.query) if k.lower() == "password"]
    raw = parts.netloc.rpartition("@")[0].partition(":")[2]
    found += [raw, unquote(raw)]
    return sorted({p for p in found if p}, key=len, reverse=True)


def _scrub(text: str, url: str) -> str:
    for secret in _passwords(url):
        text = text.replace(secret, "***")
    return text


def _describe(exc: BaseException, url: str) -> str:
    # str(), not repr(): some client errors carry more than their message in their repr.
    text = str(exc).strip().rstrip(".")
    return _scrub(f"{type(exc).__name__}: {text}" if text else type(exc).__name__, url)
