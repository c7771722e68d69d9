"""The embedded store: one SQLite file, one aiosqlite connection, one writer, WAL.

aiosqlite runs every statement of a connection on one thread, and coroutines sharing it
share its transaction; so every write holds an asyncio lock and opens `BEGIN IMMEDIATE`
(other processes on the same file wait on busy_timeout). Reads take the lock too, so they
never see another coroutine's half-done transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite

from storage.db import COMMIT_LINGER, Database, sqlite_path
from storage.sql import Conn, Dialect, Params, Row, for_sqlite

# How long a statement waits for another process's lock before "database is locked".
BUSY_TIMEOUT = 10.0


class SqliteConn:
    """`Conn` over the one aiosqlite connection, inside `BEGIN IMMEDIATE`."""

    dialect: Dialect = "sqlite"

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Params = ()) -> int:
        cur = await self._conn.execute(for_sqlite(sql), params)
        return cur.rowcount

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        await self._conn.executemany(for_sqlite(sql), rows)

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        async with self._conn.execute(for_sqlite(sql), params) as cur:
            row: Row | None = await cur.fetchone()
            return row

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        async with self._conn.execute(for_sqlite(sql), params) as cur:
            return list(await cur.fetchall())

    async def lock(self, key: int) -> None:
        """Nothing to do: `BEGIN IMMEDIATE` made this the file's only writer."""

    async def notify(self, channel: str, payload: str = "") -> None:
        """Nothing: processes sharing a SQLite file find out by their own polling."""

    @property
    def changes(self) -> int:
        return self._conn.total_changes

    @property
    def usable(self) -> bool:
        return self._conn.in_transaction


class SqliteDatabase(Database):
    dialect: Dialect = "sqlite"

    def __init__(
        self, conn: aiosqlite.Connection, path: Path, *, commit_linger: float = COMMIT_LINGER
    ) -> None:
        super().__init__(commit_linger=commit_linger)
        self._conn = conn
        self._wrapped = SqliteConn(conn)
        self.path = path
        self._lock = asyncio.Lock()

    @classmethod
    async def open_file(cls, path: Path, *, commit_linger: float = COMMIT_LINGER) -> SqliteDatabase:
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

    @property
    def name(self) -> str:
        return str(self.path)

    async def listen(self, channel: str, callback: Callable[[str], None]) -> None:
        """Nothing to hear: processes sharing the file find new work by polling."""

    async def _close(self) -> None:
        async with self._lock:
            await self._conn.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Conn]:
        """Serialised in-process, IMMEDIATE across processes. Whatever interrupts it (an
        error, a failed COMMIT, a task cancelled even while BEGIN was in flight), the
        connection is left with no transaction open."""
        async with self._lock:
            try:
                await self._conn.execute("BEGIN IMMEDIATE")
                yield self._wrapped
                await self._conn.execute("COMMIT")
            except BaseException:
                await asyncio.shield(self._rollback())
                raise

    async def _rollback(self) -> None:
        # Statements run in order on the connection's thread, so this ROLLBACK follows
        # any BEGIN whose await was cancelled; "no transaction is active" is fine.
        with contextlib.suppress(sqlite3.OperationalError):
            await self._conn.execute("ROLLBACK")

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        async with self._lock:
            return await self._wrapped.fetchone(sql, params)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        async with self._lock:
            return await self._wrapped.fetchall(sql, params)

    async def schema_version(self) -> int:
        row = await self.fetchone("PRAGMA user_version")
        return int(row[0]) if row else 0

    async def _read_version(self, conn: Conn) -> int:
        row = await conn.fetchone("PRAGMA user_version")
        return int(row[0]) if row else 0

    async def _set_version(self, conn: Conn, version: int) -> None:
        await conn.execute(f"PRAGMA user_version = {int(version)}")

    async def total_changes(self) -> int:
        row = await self.fetchone("SELECT total_changes()")
        return int(row[0]) if row is not None else 0


async def open_target(target: Path | str, commit_linger: float) -> Database:
    return await SqliteDatabase.open_file(sqlite_path(target), commit_linger=commit_linger)


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
