"""A throwaway PostgreSQL server for the tests: real binaries, a temporary cluster, 127.0.0.1 only.

The store's PostgreSQL dialect is only trustworthy if it runs against the real server, so a
missing server is an error (CI must fail), never a reason to skip.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

import pytest

from tests.net import free_port

INSTALL_HINT = "install it with: apt-get install -y postgresql"
# pg_ctl's own wait (-t) and the subprocess timeout around it; a cold start takes about a second.
START_TIMEOUT = 60


def _version_key(path: Path) -> tuple[int, ...]:
    # "/usr/lib/postgresql/16/bin" must beat ".../9.6/bin": compare numbers, not strings.
    try:
        return tuple(int(part) for part in path.parent.name.split("."))
    except ValueError:
        return (-1,)


def find_bindir(lib: Path = Path("/usr/lib/postgresql")) -> Path:
    """The directory of initdb and pg_ctl; Debian keeps them off PATH, so look there first."""
    candidates = [p.parent for p in lib.glob("*/bin/initdb") if (p.parent / "pg_ctl").exists()]
    if candidates:
        return max(candidates, key=_version_key)
    on_path = shutil.which("initdb")
    if on_path is not None:
        # Resolve symlinks such as /usr/local/bin/initdb: pg_ctl lives next to the real file.
        bindir = Path(on_path).resolve().parent
        if (bindir / "pg_ctl").exists():
            return bindir
    raise RuntimeError(
        f"PostgreSQL server binaries (initdb, pg_ctl) not found in {lib}/*/bin or on PATH; "
        f"{INSTALL_HINT}"
    )


class PostgresServer:
    """One PostgreSQL cluster for a whole test session, gone without a trace after `stop`.

    Durability is switched off (fsync, synchronous_commit, full_page_writes): the data is thrown
    away anyway and the tests are about behaviour, not crash safety.
    """

    def __init__(self, bindir: Path | None = None) -> None:
        self.bindir = bindir if bindir is not None else find_bindir()
        self.port = 0
        self.directory: Path | None = None
        # initdb and pg_ctl refuse to run as root: as root, everything runs as `postgres`.
        self._as_root = os.geteuid() == 0

    def __enter__(self) -> PostgresServer:
        if self.directory is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def log_path(self) -> Path:
        return self._directory() / "log"

    def dsn(self, database: str = "postgres") -> str:
        self._directory()  # not started: say so here, not as a refused connection later
        return f"postgresql://postgres@127.0.0.1:{self.port}/{quote(database, safe='')}"

    def start(self) -> None:
        if self.directory is not None:
            raise RuntimeError("the PostgreSQL server is already started")
        directory = Path(tempfile.mkdtemp(prefix="veo-pg-"))
        self.directory = directory
        try:
            if self._as_root:
                try:
                    owner = pwd.getpwnam("postgres")
                except KeyError:
                    raise RuntimeError(
                        f"running as root but there is no 'postgres' user; {INSTALL_HINT}"
                    ) from None
                os.chown(directory, owner.pw_uid, owner.pw_gid)
            # A fixed locale and encoding: sorting and text behave the same on every machine.
            self._run(
                "initdb",
                "-D",
                str(directory),
                "--auth=trust",
                "--no-sync",
                "-U",
                "postgres",
                "--encoding=UTF8",
                "--locale=C",
                timeout=START_TIMEOUT,
            )
            self.port = free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {self.port} "
                f"-c unix_socket_directories={directory} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                "-c max_connections=300"
            )
            self._run(
                "pg_ctl",
                "-D",
                str(directory),
                "-w",
                "-t",
                str(START_TIMEOUT),
                "-l",
                str(self.log_path),
                "start",
                "-o",
                options,
                timeout=START_TIMEOUT + 10,
            )
        except BaseException:
            # The reason the start failed matters more than any trouble cleaning up after it.
            with contextlib.suppress(Exception):
                self.stop()
            raise

    def stop(self) -> None:
        """Idempotent, and safe after a failed start, so cleanup can always call it."""
        directory = self.directory
        if directory is None:
            return
        try:
            if (directory / "postmaster.pid").exists():
                # Immediate: nothing in a throwaway cluster is worth a checkpoint.
                self._run(
                    "pg_ctl", "-D", str(directory), "-w", "stop", "-m", "immediate", timeout=60
                )
        finally:
            self.directory = None
            shutil.rmtree(directory, ignore_errors=True)

    def _directory(self) -> Path:
        if self.directory is None:
            raise RuntimeError("the PostgreSQL server is not started")
        return self.directory

    def _run(self, program: str, *args: str, timeout: float) -> None:
        directory = self._directory()
        command = [str(self.bindir / program), *args]
        if self._as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        # The cwd is the cluster's directory: postgres may not be allowed to read ours.
        done = subprocess.run(
            command, cwd=directory, capture_output=True, text=True, timeout=timeout, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{program} failed (exit {done.returncode}): {' '.join(command)}\n"
                f"{done.stdout}{done.stderr}{self._log_tail()}"
            )

    def _log_tail(self, lines: int = 30) -> str:
        # The server's reason for not starting is in its log, not in pg_ctl's output.
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        tail = "\n".join(text.splitlines()[-lines:])
        return f"--- last lines of {self.log_path} ---\n{tail}" if tail else ""


TEMPLATE = "veo_template"
_migrated: set[str] = set()


async def fresh_database(server: PostgresServer) -> str:
    """A new, empty, migrated database on `server`, copied from a template migrated once
    per session (`CREATE DATABASE … TEMPLATE` takes milliseconds; migrating, not). Each
    test's replaces the previous test's, whose bots have all closed by then."""
    # Imported here: the server above knows nothing of the bot, and tests of it need none.
    from storage import Database
    from storage.postgres import create_database

    if server.dsn() not in _migrated:
        db = await Database.open(await create_database(server.dsn(), TEMPLATE))
        await db.close()
        _migrated.add(server.dsn())
    return await create_database(server.dsn(), "veo_test", template=TEMPLATE)


# For a test that reaches into the SQLite file itself (sqlite3, a trigger, an old schema):
# it runs on SQLite alone, even in a folder whose tests run on both engines.
SQLITE_ONLY = pytest.mark.parametrize("store_kind", ["sqlite"])

# For a test of what only PostgreSQL does (NOTIFY, advisory locks across processes).
POSTGRES_ONLY = pytest.mark.parametrize("store_kind", ["postgresql"])
