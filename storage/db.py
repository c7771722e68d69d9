"""One aiosqlite connection, one writer, WAL, and numbered migrations.

aiosqlite runs every statement of a connection on one thread, and coroutines sharing
it share its transaction; so every write goes through `transaction()`, which holds
an asyncio lock and opens `BEGIN IMMEDIATE` (other processes wait on busy_timeout).
The job manager's frequent writes go through `batched()` instead: queued, and committed
with the other writes queued at the same time in one such transaction (`group_commit`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from storage.group_commit import GroupCommit, Work
from storage.migrations import MIGRATIONS

T = TypeVar("T")

# When writes come together, a batch waits for company until this long (seconds) after
# the last one began, or until `group_commit.FULL` writes are queued: at most 40 batches a
# second however many jobs write, and no wait at all for a write that comes alone.
COMMIT_LINGER = 0.025

# How long a statement waits for another process's lock before "database is locked".
BUSY_TIMEOUT = 10.0

log = logging.getLogger(__name__)


async def _enter_wal(conn: aiosqlite.Connection) -> None:
    """Turn the file to WAL, waiting out other processes doing the same.

    Switching a new file to WAL takes it whole, and SQLite tells whoever loses that race
    "database is locked" at once, without calling the busy handler; so processes started
    together on a fresh data directory retry here for as long as busy_timeout would wait.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BUSY_TIMEOUT
    pause = 0.01
    while True:
        try:
            await conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or loop.time() + pause > deadline:
                raise
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.25)


class Database:
    def __init__(
        self, conn: aiosqlite.Connection, path: Path, *, commit_linger: float = COMMIT_LINGER
    ) -> None:
        self._conn = conn
        self.path = path
        self._lock = asyncio.Lock()
        # A lambda, so each batch calls whatever `self.transaction` is at that moment.
        self._group = GroupCommit(lambda: self.transaction(), linger=commit_linger)

    @classmethod
    async def open(cls, path: Path | str, *, commit_linger: float = COMMIT_LINGER) -> Database:
        path = Path(path)
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(str(path), isolation_level=None)
        conn.row_factory = aiosqlite.Row
        db = cls(conn, path, commit_linger=commit_linger)
        try:
            await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT * 1000:.0f}")
            await _enter_wal(conn)
            await conn.execute("PRAGMA synchronous = NORMAL")
            await conn.execute("PRAGMA foreign_keys = ON")
            await db._migrate()
        except BaseException:
            await conn.close()
            raise
        return db

    async def close(self) -> None:
        await self._group.drain()
        async with self._lock:
            await self._conn.close()

    async def _migrate(self) -> None:
        """Bring the schema up to date. The version is read inside the write transaction,
        so two processes starting together on one file migrate it once, not twice."""
        async with self.transaction() as conn:
            async with conn.execute("PRAGMA user_version") as cur:
                row = await cur.fetchone()
            version = int(row[0]) if row else 0
            if version > len(MIGRATIONS):
                raise RuntimeError(
                    f"database {self.path} is at schema {version}, newer than this veo-bot "
                    f"({len(MIGRATIONS)}); upgrade veo-bot or restore a backup"
                )
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in _statements(script):
                    await conn.execute(statement)
                await conn.execute(f"PRAGMA user_version = {number}")
                log.info("database migrated to schema %d", number)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """The only way to write: serialised in-process, IMMEDIATE across processes.

        Whatever interrupts it (an error, a failed COMMIT, a task cancelled even while
        BEGIN was in flight), the connection is left with no transaction open.
        """
        async with self._lock:
            try:
                await self._conn.execute("BEGIN IMMEDIATE")
                yield self._conn
                await self._conn.execute("COMMIT")
            except BaseException:
                await asyncio.shield(self._rollback())
                raise

    async def batched(self, work: Work[T], *, last: bool = False) -> T:
        """Run `work(conn)` inside a write transaction shared with the other writes queued
        at the same time; return its result once that transaction has committed.

        What `work` raises is raised here, to this caller only: a guarded UPDATE that
        matches no row fails its own caller, not the batch. If the shared transaction
        itself fails (locked past the busy timeout, COMMIT refused), nothing of the batch
        is kept and each caller gets that error. `work` runs on the shared connection
        with the database's lock held: it writes rows (no schema), reads only through
        `conn`, and never awaits anything but its own statements (not the database's
        other methods, which would wait for the lock it runs under). It may run twice: when
        a write beside it fails after changing rows, the batch is rolled back and run again
        without that one; so it decides from what it reads through `conn`. A caller
        cancelled before its write ran leaves it out; one cancelled later may see it kept.
        A `last` write runs after the others of its batch (a claim: it then sees the
        leases they gave back and the jobs they made due).
        """
        return await self._group.submit(work, last=last)

    async def _rollback(self) -> None:
        # Statements run in order on the connection's thread, so this ROLLBACK follows
        # any BEGIN whose await was cancelled; "no transaction is active" is fine.
        with contextlib.suppress(sqlite3.OperationalError):
            await self._conn.execute("ROLLBACK")

    async def schema_version(self) -> int:
        """The number of the last migration applied."""
        row = await self.fetchone("PRAGMA user_version")
        return int(row[0]) if row else 0

    async def total_changes(self) -> int:
        """Rows inserted, updated or deleted on this connection since it opened: what the
        benchmark counts as the database's work per job."""
        row = await self.fetchone("SELECT total_changes()")
        return int(row[0]) if row is not None else 0

    async def writable(self) -> None:
        """Take the write lock and let it go (raises when the file cannot be written to, or
        another writer holds it past the busy timeout): what /healthz asks."""
        async with self.transaction():
            pass

    async def prove_writable(self) -> None:
        """Write a row in a transaction that is then rolled back: proves the disk takes a
        write (a full disk or a read-only file fails here), leaving nothing behind."""
        try:
            async with self.transaction() as conn:
                await conn.execute("CREATE TABLE veo_bot_check_probe (x INTEGER)")
                await conn.execute("INSERT INTO veo_bot_check_probe VALUES (1)")
                raise _RollBack
        except _RollBack:
            pass

    async def execute(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> int:
        """One write statement in its own transaction; returns the rows changed."""
        async with self.transaction() as conn:
            cur = await conn.execute(sql, params)
            return cur.rowcount

    async def fetchone(
        self, sql: str, params: Iterable[Any] | dict[str, Any] = ()
    ) -> aiosqlite.Row | None:
        # Reads take the lock too, so they never see another coroutine's half-done
        # transaction on this shared connection.
        async with self._lock, self._conn.execute(sql, params) as cur:
            row: aiosqlite.Row | None = await cur.fetchone()
            return row

    async def fetchall(
        self, sql: str, params: Iterable[Any] | dict[str, Any] = ()
    ) -> list[aiosqlite.Row]:
        async with self._lock, self._conn.execute(sql, params) as cur:
            return list(await cur.fetchall())


class _RollBack(Exception):
    """Raised inside the write probe so its transaction is rolled back."""


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
