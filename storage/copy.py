"""Moving an installation from its SQLite file to PostgreSQL without losing its history.

Everything is written in one transaction on the target, so a copy that fails halfway (a
row PostgreSQL refuses, a lost connection) leaves the target as empty as it was and can
simply be run again. The source is read inside one transaction too: the copy is the file
as it was at one moment, and a bot still writing to it waits until the copy is done.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from storage.db import Database
from storage.sql import Conn, in_list

# Every table with its primary key, parents before children (job_images refers to jobs).
# Rows are read in key order a page at a time, each page starting after the last key
# seen, so no table is ever held in memory whole.
KEYS: dict[str, tuple[str, ...]] = {
    "jobs": ("id",),
    "job_images": ("job_id", "position"),
    "job_frames": ("job_id",),
    "quota_ledger": ("user_id", "guild_id", "day"),
    "guild_settings": ("guild_id",),
    "member_overrides": ("guild_id", "user_id"),
    "audit_log": ("id",),
    "render_times": ("id",),
    "alerts_sent": ("guild_id", "vendor", "kind"),
    "member_settings": ("user_id",),
}
TABLES: tuple[str, ...] = tuple(KEYS)

# Tables whose ids PostgreSQL hands out itself (identity columns): after the copy, their
# sequences must start past every id SQLite ever gave, or the next new row collides.
IDENTITY_TABLES: tuple[str, ...] = ("jobs", "audit_log", "render_times")

# An image row can be megabytes: pages of them stay this small whatever `batch` says.
IMAGE_BATCH = 20

Progress = Callable[[str, int], None]


class CopyError(Exception):
    """The copy was refused or failed, and nothing of it was kept; the message is a plain
    sentence the operator can act on."""


class TargetNotEmpty(CopyError):
    def __init__(self, table: str, rows: int) -> None:
        noun = "row" if rows == 1 else "rows"
        super().__init__(
            f"The target database already holds {rows} {noun} in {table}, and the copy "
            "only goes into an empty database: create a new one (or empty this one) first."
        )
        self.table = table
        self.rows = rows


class SchemaMismatch(CopyError):
    def __init__(self, source: int, target: int) -> None:
        super().__init__(
            f"The SQLite file is at schema {source} but the target database at schema "
            f"{target}: open both with the same version of veo-bot, then copy again."
        )
        self.source = source
        self.target = target


async def copy_database(
    source: Database,
    target: Database,
    *,
    batch: int = 500,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Copy every row of every table from the SQLite `source` into the empty PostgreSQL
    `target`; returns the rows copied per table, in `TABLES` order.

    `progress(table, rows so far)` is told after each page written (and once for an
    empty table). Raises `TargetNotEmpty` when any table of the target has a row, and
    `CopyError` for the wrong engines, different schemas, or a row the target refused.
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    if source.dialect != "sqlite" or target.dialect != "postgresql":
        raise CopyError(
            f"The copy goes from a SQLite file into PostgreSQL, not from {source.dialect} "
            f"into {target.dialect}."
        )
    have, want = await source.schema_version(), await target.schema_version()
    if have != want:
        raise SchemaMismatch(have, want)
    copied: dict[str, int] = {}
    async with target.transaction() as into:
        # No other process may write while the target is checked and filled: the check
        # that it is empty holds until the copy commits.
        await into.execute(f"LOCK TABLE {', '.join(TABLES)} IN EXCLUSIVE MODE")
        for table in TABLES:
            row = await into.fetchone(f"SELECT COUNT(*) FROM {table}")
            if row is not None and int(row[0]) > 0:
                raise TargetNotEmpty(table, int(row[0]))
        async with source.transaction() as src:
            for table in TABLES:
                copied[table] = await _copy_table(src, into, table, batch, progress)
            given = await _ids_given(src)
        for table in IDENTITY_TABLES:
            await into.fetchone(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"GREATEST(COALESCE(MAX(id), 0), ?) + 1, false) FROM {table}",
                (given.get(table, 0),),
            )
    return copied


async def _copy_table(
    src: Conn, into: Conn, table: str, batch: int, progress: Progress | None
) -> int:
    key = KEYS[table]
    size = min(batch, IMAGE_BATCH) if table == "job_images" else batch
    order = ", ".join(key)
    first = f"SELECT * FROM {table} ORDER BY {order} LIMIT ?"
    after = (
        f"SELECT * FROM {table} WHERE ({order}) > ({in_list(len(key))}) ORDER BY {order} LIMIT ?"
    )
    copied = 0
    last: Sequence[Any] | None = None
    while True:
        if last is None:
            rows = await src.fetchall(first, (size,))
        else:
            rows = await src.fetchall(after, (*last, size))
        if not rows:
            break
        columns = list(rows[0].keys())
        names = ", ".join(f'"{c}"' for c in columns)
        insert = f"INSERT INTO {table} ({names}) VALUES ({in_list(len(columns))})"
        values = [[r[c] for c in columns] for r in rows]
        try:
            await into.executemany(insert, values)
        except Exception as exc:
            raise CopyError(
                f"PostgreSQL refused a row of {table} ({type(exc).__name__}: {exc}); "
                "nothing was kept in the target."
            ) from exc
        copied += len(rows)
        last = [rows[-1][k] for k in key]
        if progress is not None:
            progress(table, copied)
    if copied == 0 and progress is not None:
        progress(table, 0)
    return copied


async def _ids_given(src: Conn) -> dict[str, int]:
    """The highest id SQLite ever gave per table, deleted rows' included (the retention
    sweep drops old audit entries and render times): PostgreSQL must not hand one out
    again either, as SQLite's AUTOINCREMENT would not."""
    rows = await src.fetchall("SELECT name, seq FROM sqlite_sequence")
    return {str(r[0]): int(r[1]) for r in rows}
