"""The session's PostgreSQL server is real and usable, and PostgresServer leaves nothing behind."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import asyncpg
import pytest

from tests.postgres import PostgresServer, find_bindir


async def test_server_answers_and_creates_databases(postgres_server: PostgresServer) -> None:
    conn = await asyncpg.connect(postgres_server.dsn())
    try:
        assert "PostgreSQL" in await conn.fetchval("SELECT version()")
        # A fresh name: the server lives for the whole session and other tests share it.
        name = f"probe_{uuid.uuid4().hex[:12]}"
        await conn.execute(f'CREATE DATABASE "{name}"')
        other = await asyncpg.connect(postgres_server.dsn(name))
        try:
            assert await other.fetchval("SELECT current_database()") == name
            assert await other.fetchval("SELECT 1 + 1") == 2
        finally:
            await other.close()
        await conn.execute(f'DROP DATABASE "{name}"')
        gone = "SELECT count(*) FROM pg_database WHERE datname = $1"
        assert await conn.fetchval(gone, name) == 0
    finally:
        await conn.close()


def test_stop_leaves_no_server_and_no_directory() -> None:
    server = PostgresServer()
    with server:
        directory, port = server.directory, server.port
        assert directory is not None and (directory / "postmaster.pid").exists()
    assert server.directory is None
    assert not directory.exists()
    with socket.socket() as s, pytest.raises(ConnectionRefusedError):
        s.connect(("127.0.0.1", port))


def test_missing_binaries_fail_with_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeError, match=r"apt-get install -y postgresql"):
        find_bindir(tmp_path / "no-postgresql")
