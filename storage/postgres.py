"""The store for operators past one process: PostgreSQL through asyncpg.

A pool of connections, so transactions of one process run side by side as those of
several processes do; what SQLite's single writer gave for free is kept by the stores'
`FOR UPDATE` row locks, `SKIP LOCKED` claims and advisory locks (`Conn.lock`) where no row
exists yet to lock. The schema version lives in the `schema_version` table.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

import asyncpg

from storage.db import COMMIT_LINGER, Database, shown_target
from storage.sql import Conn, Dialect, Params, Row, for_postgresql, pg_args

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

    async def _close(self) -> None:
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
