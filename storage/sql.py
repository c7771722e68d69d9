"""What the stores write SQL against: one connection shape for SQLite and PostgreSQL.

The stores' SQL is shared between the two engines. It is written with `?` or `:name`
parameters (PostgreSQL's connection rewrites them to `$1…`), in the syntax both accept
(`LEAST`/`GREATEST` are spelled as CASE, `SUM(condition)` as `SUM(CASE …)`), and it says
`FOR UPDATE` / `FOR UPDATE SKIP LOCKED` where PostgreSQL needs a row lock to keep a
read-then-write correct. SQLite's connection drops those clauses: every SQLite write
transaction is `BEGIN IMMEDIATE`, the one writer of the file, so it is already alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any, Literal, Protocol

Dialect = Literal["sqlite", "postgresql"]
Params = Sequence[Any] | Mapping[str, Any]


class Row(Protocol):
    """A result row, by column name or position (sqlite3.Row and asyncpg.Record both are)."""

    def __getitem__(self, key: int | str, /) -> Any: ...

    def keys(self) -> Iterable[str]: ...


class Conn(Protocol):
    """A connection inside one open transaction."""

    dialect: Dialect

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; returns the rows it changed."""
        ...

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None: ...

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None: ...

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]: ...

    async def lock(self, key: int) -> None:
        """Hold `key` until the transaction ends, against every other process on the
        database (PostgreSQL: a transaction-level advisory lock). SQLite's write
        transaction already excludes every other writer: there it does nothing."""
        ...

    async def notify(self, channel: str, payload: str = "") -> None:
        """Tell the other processes listening on `channel`, once this transaction commits
        (PostgreSQL's NOTIFY). SQLite has no other listeners to tell: nothing."""
        ...

    @property
    def changes(self) -> int:
        """Rows changed since the connection opened: a write that failed having changed
        some cannot be left out of a shared transaction alone."""
        ...

    @property
    def usable(self) -> bool:
        """The transaction can still go on (a PostgreSQL error aborts it whole)."""
        ...


# What the processes tell each other (`Conn.notify`): on this channel, the payload says
# what changed, so a listener knows whether the queue's order moved or only a job is due.
NEWS = "veo_jobs"
NEW_JOB = "new"  # a job joined the queue
CANCELLED = "cancel"  # a job was cancelled, or flagged to be
POKED = "poke"  # a vendor's callback made a job due now
LEFT_QUEUE = "sent"  # a job left the queue for its vendor


# Keys for `Conn.lock`: a kind in the high bits, an id below. Discord ids fit in 63 bits
# but not beside a kind, so ids are folded (a shared key costs only needless waiting).
LOCK_MEMBER = 1
LOCK_BOT_SPEND = 2
LOCK_MIGRATIONS = 3
LOCK_LEADER = 4
LOCK_GUILD_SPEND = 5
LOCK_VENDOR = 6


def lock_key(kind: int, ident: int = 0) -> int:
    """A signed 64-bit advisory-lock key for `kind` and `ident`."""
    key = (kind << 56) ^ (ident & ((1 << 56) - 1))
    return key - (1 << 64) if key >= 1 << 63 else key


_LOCK_CLAUSE = re.compile(r"\s+FOR\s+UPDATE(\s+SKIP\s+LOCKED)?\b", re.IGNORECASE)


def for_sqlite(sql: str) -> str:
    """The statement as SQLite takes it: without row-lock clauses (spelled in capitals or
    in lower case). Most statements have none and pass untouched, uncached: some inline
    a thousand job ids (the claims' exclusions), and are new every time."""
    if "FOR UPDATE" not in sql and "for update" not in sql:
        return sql
    return _without_locks(sql)


@lru_cache(maxsize=256)
def _without_locks(sql: str) -> str:
    return _LOCK_CLAUSE.sub("", sql)


# A quoted string or identifier, a `::` cast, or a parameter.
_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|::|\?|:([A-Za-z_][A-Za-z0-9_]*)")


@lru_cache(maxsize=512)
def for_postgresql(sql: str) -> tuple[str, tuple[str, ...] | int]:
    """The statement with `$n` parameters, and how to order the values: the names in
    order of their numbers, or how many positional `?` it takes."""
    names: list[str] = []
    positional = 0

    def number(match: re.Match[str]) -> str:
        nonlocal positional
        text = match.group(0)
        if text == "?":
            positional += 1
            return f"${positional}"
        name = match.group(1)
        if name is None:
            return text
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    rewritten = _TOKEN.sub(number, sql)
    if names and positional:
        raise ValueError("a statement mixes ? and :name parameters")
    return rewritten, (tuple(names) if names else positional)


def pg_args(order: tuple[str, ...] | int, params: Params) -> list[Any]:
    """The values for `for_postgresql`'s statement, in `$n` order."""
    if isinstance(order, int):
        values = list(params.values() if isinstance(params, Mapping) else params)
        if len(values) != order:
            raise ValueError(f"the statement takes {order} parameters, {len(values)} given")
        return values
    if not isinstance(params, Mapping):
        raise TypeError("a statement with :name parameters takes a mapping")
    return [params[name] for name in order]


def in_list(count: int) -> str:
    """`?, ?, …`: the placeholders of an IN list of `count` values."""
    return ", ".join("?" * count)
