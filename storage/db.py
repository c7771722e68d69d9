"""The database the stores share: SQLite (the default) or PostgreSQL, one interface.

Every write goes through `transaction()`, which hands out a `Conn` (`storage/sql.py`);
the job manager's frequent writes go through `batched()` instead: queued, and committed
with the other writes queued at the same time in one transaction (`group_commit`).
`Database.open` picks the engine from what it is given: a path or `sqlite:///path` opens
the embedded file (`storage/sqlite.py`), `postgresql://…` a server (`storage/postgres.py`).
Migrations are one numbered list (`storage/migrations.py`) applied to either, once, by
whichever process gets there first.
"""

from __future__ import annotations

import importlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

from storage.group_commit import GroupCommit, Work
from storage.migrations import MIGRATIONS, statements
from storage.sql import LOCK_MIGRATIONS, Conn, Dialect, Params, Row, lock_key

T = TypeVar("T")

# When writes come together, a batch waits for company until this long (seconds) after
# the last one began, or until `group_commit.FULL` writes are queued: at most 40 batches a
# second however many jobs write, and no wait at all for a write that comes alone.
COMMIT_LINGER = 0.025

log = logging.getLogger(__name__)


def is_postgresql(target: Path | str) -> bool:
    return str(target).startswith(("postgresql://", "postgres://"))


def shown_target(target: Path | str) -> str:
    """A database target fit for a log or an error: a URL loses its password."""
    if not is_postgresql(target):
        return str(target)
    parts = urlsplit(str(target))
    netloc = parts.hostname or ""
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def sqlite_path(target: Path | str) -> Path:
    """The file a target names: a path, or a `sqlite:///path` URL."""
    text = str(target)
    return Path(text.removeprefix("sqlite://")) if text.startswith("sqlite://") else Path(text)


# Each engine's module, imported when a database of its kind is first opened: a bot on
# SQLite never loads asyncpg. Each module has `open_target(target, commit_linger)`.
_ENGINES: dict[Dialect, str] = {"sqlite": "storage.sqlite", "postgresql": "storage.postgres"}


class Database(ABC):
    dialect: Dialect

    def __init__(self, *, commit_linger: float = COMMIT_LINGER) -> None:
        # A lambda, so each batch calls whatever `self.transaction` is at that moment.
        self._group = GroupCommit(
            lambda: self.transaction(), linger=commit_linger, retryable=self.retryable
        )

    @staticmethod
    async def open(target: Path | str, *, commit_linger: float = COMMIT_LINGER) -> Database:
        """Open (and migrate) the database `target` names, on its engine."""
        dialect: Dialect = "postgresql" if is_postgresql(target) else "sqlite"
        engine = importlib.import_module(_ENGINES[dialect])
        database: Database = await engine.open_target(target, commit_linger)
        return database

    @property
    @abstractmethod
    def name(self) -> str:
        """What to call this database in logs and errors (a path, or a URL without its
        password)."""

    @abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[Conn]:
        """The only way to write. Whatever interrupts it, nothing of it is kept."""

    @abstractmethod
    async def fetchone(self, sql: str, params: Params = ()) -> Row | None: ...

    @abstractmethod
    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]: ...

    @abstractmethod
    async def _close(self) -> None: ...

    @abstractmethod
    async def schema_version(self) -> int:
        """The number of the last migration applied."""

    @abstractmethod
    async def _set_version(self, conn: Conn, version: int) -> None: ...

    @abstractmethod
    async def total_changes(self) -> int:
        """Rows inserted, updated or deleted since it opened (by this process on SQLite,
        by every process on PostgreSQL): what the benchmark counts as work per job."""

    async def try_lead(self) -> bool:
        """Hold (or keep) the lock of the process that runs the duties that must run once;
        True while this process holds it. SQLite has no such lock: every process leads."""
        return True

    async def resign(self) -> None:  # noqa: B027  (an engine without leaders has nothing to do)
        """Let another process lead (nothing on SQLite, where every process leads)."""

    @abstractmethod
    async def listen(self, channel: str, callback: Callable[[str], None]) -> None:
        """Call `callback(payload)` for each `Conn.notify` on `channel`, from any process,
        until the database closes; "" also after a lost connection came back (what was
        said meanwhile is lost: look again). Nothing on SQLite, whose processes poll."""

    def retryable(self, exc: BaseException) -> bool:
        """The transaction failed for its timing alone (PostgreSQL chose it as a
        deadlock's victim): run again, it will most likely go through."""
        return False

    async def close(self) -> None:
        await self._group.drain()
        await self._close()

    async def batched(self, work: Work[T], *, last: bool = False, locks: tuple[int, ...] = ()) -> T:
        """Run `work(conn)` inside a write transaction shared with the other writes queued
        at the same time; return its result once that transaction has committed.

        What `work` raises is raised here, to this caller only: a guarded UPDATE that
        matches no row fails its own caller, not the batch. If the shared transaction
        itself fails (locked past the busy timeout, COMMIT refused), nothing of the batch
        is kept and each caller gets that error. `work` writes rows (no schema), reads
        only through `conn`, and never awaits anything but its own statements (not the
        database's other methods: on SQLite they wait for the lock it runs under). It
        may run twice: when a write beside it fails after changing rows, the batch is
        rolled back and run again without that one; so it decides from what it reads
        through `conn`. A caller cancelled before its write ran leaves it out; one
        cancelled later may see it kept. A `last` write runs after the others of its
        batch (a claim: it then sees the leases they gave back and the jobs they made due).
        `locks` are the advisory locks (`Conn.lock`) the work needs: the batch takes every
        write's before running any, in key order, so batches never wait on each other in a
        circle; `work` must not take them itself.
        """
        return await self._group.submit(work, last=last, locks=locks)

    async def execute(self, sql: str, params: Params = ()) -> int:
        """One write statement in its own transaction; returns the rows changed."""
        async with self.transaction() as conn:
            return await conn.execute(sql, params)

    async def fetchone_write(self, sql: str, params: Params = ()) -> Row | None:
        """One write statement that returns a row (`… RETURNING`), in its own transaction."""
        async with self.transaction() as conn:
            return await conn.fetchone(sql, params)

    async def writable(self) -> None:
        """Open a write transaction and let it go (raises when the database cannot be
        written to, or is locked past the busy timeout): what /healthz asks."""
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

    async def _migrate(self) -> None:
        """Bring the schema up to date. The version is read inside the write transaction
        (and, on PostgreSQL, under an advisory lock), so processes starting together on
        one database migrate it once, not once each."""
        async with self.transaction() as conn:
            await conn.lock(lock_key(LOCK_MIGRATIONS))
            version = await self._read_version(conn)
            if version > len(MIGRATIONS):
                raise RuntimeError(
                    f"database {self.name} is at schema {version}, newer than this veo-bot "
                    f"({len(MIGRATIONS)}); upgrade veo-bot or restore a backup"
                )
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in statements(script, self.dialect):
                    await conn.execute(statement)
                await self._set_version(conn, number)
                log.info("database migrated to schema %d", number)

    @abstractmethod
    async def _read_version(self, conn: Conn) -> int: ...


class _RollBack(Exception):
    """Raised inside the write probe so its transaction is rolled back."""
