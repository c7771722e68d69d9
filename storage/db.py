"""One aiosqlite connection, one writer, WAL, and numbered migrations.

aiosqlite runs every statement of a connection on one thread, and coroutines sharing
it share its transaction; so every write goes through `transaction()`, which holds
an asyncio lock and opens `BEGIN IMMEDIATE` (other processes wait on busy_timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from storage.migrations import MIGRATIONS

log = logging.getLogger(__name__)


class Database:
    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path | str) -> Database:
        path = Path(path)
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(str(path), isolation_level=None)
        conn.row_factory = aiosqlite.Row
        db = cls(conn, path)
        try:
            await conn.execute("PRAGMA busy_timeout = 10000")
            await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute("PRAGMA synchronous = NORMAL")
            await conn.execute("PRAGMA foreign_keys = ON")
            await db._migrate()
        except BaseException:
            await conn.close()
            raise
        return db

    async def close(self) -> None:
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
