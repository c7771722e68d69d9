"""The benchmark's PostgreSQL side: a fresh database on the throwaway server, and the
server's own CPU.

On SQLite the database's work is done inside the bot's process, so the bot's CPU is the
whole cost; on PostgreSQL most of it is done by the server's backends, in other processes,
and a per-job figure that left them out would flatter PostgreSQL. The server's CPU is read
from /proc: the postmaster and every process it started (backends, the checkpointer, the
WAL writer...), the exited ones included through the postmaster's reaped-children counts.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from storage import Database

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: str) -> list[str] | None:
    """/proc/PID/stat's fields after the command name (field 3 onwards), or None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _cmdline(pid: str) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read()
    except OSError:
        return b""


class ServerCpu:
    """User + system CPU seconds of one PostgreSQL server, read from /proc.

    With the postmaster's pid: the postmaster (with its reaped children's times, so a
    backend that exited still counts) and each live process whose parent it is. Without
    it: every process whose command line starts with `postgres` (another server on the
    machine would count too; the notes say which way it was read)."""

    def __init__(self, postmaster: int | None) -> None:
        self.postmaster = postmaster

    @property
    def how(self) -> str:
        if self.postmaster is not None:
            return f"postmaster {self.postmaster} and its children, from /proc"
        return "every process whose command line starts with 'postgres', from /proc"

    def seconds(self) -> float:
        ticks = 0
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            if self.postmaster is None:
                if not _cmdline(pid).startswith(b"postgres"):
                    continue
                fields = _stat(pid)
                if fields is not None:
                    ticks += int(fields[11]) + int(fields[12])
                continue
            fields = _stat(pid)
            if fields is None:
                continue
            if int(pid) == self.postmaster:
                # utime, stime, and those of its children it has reaped.
                ticks += sum(int(f) for f in fields[11:15])
            elif int(fields[1]) == self.postmaster:
                ticks += int(fields[11]) + int(fields[12])
        return ticks / TICK


async def postmaster_pid(db: Database) -> int | None:
    """The pid of the server `db` is connected to: the first line of postmaster.pid in its
    data directory (readable here when the server is local and we are root or its owner)."""
    from storage.postgres import PostgresDatabase  # a SQLite run never loads asyncpg

    if not isinstance(db, PostgresDatabase):
        return None
    with contextlib.suppress(Exception):
        text = (Path(await db.data_directory()) / "postmaster.pid").read_text()
        return int(text.splitlines()[0])
    return None


async def server_cpu(url: str) -> ServerCpu:
    """The CPU reader for the server at `url` (opened once to find it)."""
    db = await Database.open(url)
    try:
        return ServerCpu(await postmaster_pid(db))
    finally:
        await db.close()


async def fresh_database(admin_dsn: str, name: str) -> str:
    """An empty database `name` (dropped first if a previous run left it), migrated, and
    closed again, so the migration's own row changes are flushed to the server's
    statistics before anything is measured; its URL."""
    from storage.postgres import create_database  # a SQLite run never loads asyncpg

    url = await create_database(admin_dsn, name)
    db = await Database.open(url)
    await db.close()
    return url
