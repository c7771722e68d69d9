"""The store for operators past one process: PostgreSQL through asyncpg.

A pool of connections, so transactions of one process run side by side as those of
several processes do; what SQLite's single writer gave for free is kept by the stores'
`FOR UPDATE` row locks, `SKIP LOCKED` claims and advisory locks (`Conn.lock`) where no row
exists yet to lock. The schema version lives in the `schema_version` table.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from storage.db import COMMIT_LINGER, Database, shown_target
from storage.sql import LOCK_LEADER, Conn, Dialect, Params, Row, for_postgresql, lock_key, pg_args

log = logging.getLogger(__name__)

# Connections per process: the group commit keeps writes to a few at a time, and the rest
# are short reads (a command's lookups, the loop's next wake-up).
POOL_SIZE = 10


def _count(status: str) -> int:
    """Rows a command changed, from its status ("UPDATE 3", "INSERT 0 1")."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


def _writes(sql: str) -> bool:
    return sql.lstrip().split(None, 1)[0].upper() in {"INSERT", "UPDATE", "DELETE", "WITH"}


class PostgresConn:
    """`Conn` over one pooled asyncpg connection, inside a transaction."""

    dialect: Dialect = "postgresql"

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn
        self._changes = 0
        self._usable = True

    async def execute(self, sql: str, params: Params = ()) -> int:
        text, order = for_postgresql(sql)
        try:
            if order == 0:
                status = await self._conn.execute(text)
            else:
                status = await self._conn.execute(text, *pg_args(order, params))
        except asyncpg.PostgresError:
            self._usable = False
            raise
        changed = _count(status) if _writes(sql) else 0
        self._changes += changed
        return changed

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        text, order = for_postgresql(sql)
        args = [pg_args(order, r) for r in rows]
        if not args:
            return
        try:
            await self._conn.executemany(text, args)
        except asyncpg.PostgresError:
            self._usable = False
            raise
        self._changes += len(args)

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        text, order = for_postgresql(sql)
        try:
            rows: list[Row] = await self._conn.fetch(text, *pg_args(order, params))
        except asyncpg.PostgresError:
            self._usable = False
            raise
        if _writes(sql):
            self._changes += len(rows)
        return rows

    async def lock(self, key: int) -> None:
        await self.execute("SELECT pg_advisory_xact_lock(?::bigint)", (key,))

    async def notify(self, channel: str, payload: str = "") -> None:
        await self.execute("SELECT pg_notify(?, ?)", (channel, payload))

    @property
    def changes(self) -> int:
        return self._changes

    @property
    def usable(self) -> bool:
        return self._usable


class PostgresDatabase(Database):
    dialect: Dialect = "postgresql"

    def __init__(
        self, pool: asyncpg.Pool, url: str, *, commit_linger: float = COMMIT_LINGER
    ) -> None:
        super().__init__(commit_linger=commit_linger)
        self._pool = pool
        self.url = url
        self._listeners: list[_Listener] = []
        self._leading_conn: asyncpg.Connection | None = None
        self._leads = False

    @classmethod
    async def connect(
        cls, url: str, *, commit_linger: float = COMMIT_LINGER, pool_size: int = POOL_SIZE
    ) -> PostgresDatabase:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=pool_size)
        db = cls(pool, url, commit_linger=commit_linger)
        try:
            await db._migrate()
        except BaseException:
            await pool.close()
            raise
        return db

    @property
    def name(self) -> str:
        return shown_target(self.url)

    async def listen(self, channel: str, callback: Callable[[str], None]) -> None:
        listener = _Listener(self.url, channel, callback)
        await listener.connect()
        self._listeners.append(listener)

    async def try_lead(self) -> bool:
        """A session lock on a connection of its own: it goes with the connection, so a
        process that dies (or loses the database) stops leading at once."""
        conn = self._leading_conn
        if conn is not None and not conn.is_closed():
            try:
                if self._leads:
                    await conn.execute("SELECT 1")
                    return True
                self._leads = bool(
                    await conn.fetchval("SELECT pg_try_advisory_lock($1)", lock_key(LOCK_LEADER))
                )
                return self._leads
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                with contextlib.suppress(Exception):
                    await conn.close(timeout=1)
        self._leads = False
        self._leading_conn = await asyncpg.connect(self.url)
        return await self.try_lead()

    async def resign(self) -> None:
        """Closing the lock's connection lets it go, whatever else that connection held."""
        conn, self._leading_conn, self._leads = self._leading_conn, None, False
        if conn is not None:
            with contextlib.suppress(OSError, asyncpg.InterfaceError):
                await conn.close(timeout=5)

    async def _close(self) -> None:
        await self.resign()
        for listener in self._listeners:
            await listener.close()
        self._listeners.clear()
        await self._pool.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Conn]:
        async with self._pool.acquire() as conn, conn.transaction():
            yield PostgresConn(conn)

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        text, order = for_postgresql(sql)
        row: Row | None = await self._pool.fetchrow(text, *pg_args(order, params))
        return row

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        text, order = for_postgresql(sql)
        rows: list[Row] = await self._pool.fetch(text, *pg_args(order, params))
        return rows

    async def data_directory(self) -> str:
        """Where the server keeps its files (the benchmark finds the server's processes
        from its postmaster.pid there)."""
        row = await self.fetchone("SELECT current_setting('data_directory')")
        return str(row[0]) if row is not None else ""

    def retryable(self, exc: BaseException) -> bool:
        return isinstance(exc, asyncpg.DeadlockDetectedError | asyncpg.SerializationError)

    async def schema_version(self) -> int:
        async with self.transaction() as conn:
            return await self._read_version(conn)

    async def _read_version(self, conn: Conn) -> int:
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
        row = await conn.fetchone("SELECT version FROM schema_version")
        if row is None:
            await conn.execute("INSERT INTO schema_version (version) VALUES (0)")
            return 0
        return int(row[0])

    async def _set_version(self, conn: Conn, version: int) -> None:
        await conn.execute("UPDATE schema_version SET version = ?", (version,))

    async def total_changes(self) -> int:
        row = await self.fetchone(
            "SELECT tup_inserted + tup_updated + tup_deleted FROM pg_stat_database "
            "WHERE datname = current_database()"
        )
        return int(row[0]) if row is not None else 0


async def create_database(server_url: str, name: str, *, template: str | None = None) -> str:
    """Make an empty database `name` on the server `server_url` reaches (dropped first if
    it exists), copied from `template` if given; returns its URL. For the test suite and
    the benchmark, which start throwaway servers: the bot itself never creates databases."""
    if not name.replace("_", "").isalnum() or (
        template and not template.replace("_", "").isalnum()
    ):
        raise ValueError("database names here are letters, digits and underscores")
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        copy = f' TEMPLATE "{template}"' if template else ""
        await admin.execute(f'CREATE DATABASE "{name}"{copy}')
    finally:
        await admin.close()
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


async def open_target(target: Path | str, commit_linger: float) -> Database:
    return await PostgresDatabase.connect(str(target), commit_linger=commit_linger)


class _Listener:
    """One connection kept for LISTEN. NOTIFY reaches only sessions listening when it is
    sent, so after a lost connection comes back the callback is told "" (look again)."""

    RETRY_MAX = 30.0

    def __init__(self, url: str, channel: str, callback: Callable[[str], None]) -> None:
        self._url = url
        self._channel = channel
        self._callback = callback
        self._conn: asyncpg.Connection | None = None
        self._retry: asyncio.Task[None] | None = None
        self._closed = False

    async def connect(self) -> None:
        conn = await asyncpg.connect(self._url)
        await conn.add_listener(self._channel, self._heard)
        conn.add_termination_listener(self._lost)
        self._conn = conn

    def _heard(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        self._callback(payload)

    def _lost(self, _conn: object) -> None:
        if not self._closed and (self._retry is None or self._retry.done()):
            self._retry = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        pause = 0.5
        while not self._closed:
            try:
                await self.connect()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("lost the database's notifications; retrying (%s)", exc)
                await asyncio.sleep(pause)
                pause = min(pause * 2, self.RETRY_MAX)
            else:
                self._callback("")
                return

    async def close(self) -> None:
        self._closed = True
        if self._retry is not None:
            self._retry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retry
        if self._conn is not None:
            with contextlib.suppress(OSError, asyncpg.InterfaceError):
                await self._conn.close(timeout=5)
