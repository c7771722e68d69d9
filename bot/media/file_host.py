"""Serving videos that are too large for Discord and have no vendor link (apiyi's current
channel streams bytes and never gives a URL).

A copy goes under `<dir>/<token>/<name>` (a hard link where possible: no extra disk); the
web server serves it at `<VEO_PUBLIC_URL>/files/<token>/<name>` until it expires. The files
are the state: a restart keeps serving what was published. A sweep deletes expired files,
and the oldest ones go first when the total would pass the disk budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import secrets
import shutil
import stat
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

SWEEP_INTERVAL = 600.0
# The shape of every token this bot puts in a URL (secrets.token_urlsafe: letters, digits,
# "-" and "_"), and of the names publish() is given (veo-job-<id>.mp4, never a dot first).
# Anything else in a request is not ours, and is refused before the disk is asked.
URL_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")
FILE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}")


class FileHost:
    def __init__(
        self,
        root: Path,
        *,
        public_url: str,
        retention: float,
        max_bytes: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = root
        self.public_url = public_url
        self.retention = retention
        self.max_bytes = max_bytes
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    def publish(self, source: Path, name: str) -> str | None:
        """A public URL for a copy of `source`, or None when it cannot fit the budget."""
        if not FILE_NAME.fullmatch(name):
            raise ValueError(f"not a name path_for would serve: {name!r}")
        size = source.stat().st_size
        if size > self.max_bytes:
            return None
        self.sweep(room_for=size)
        token = secrets.token_urlsafe(24)
        folder = self.root / token
        folder.mkdir(parents=True)
        target = folder / name
        try:
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)
        os.utime(target, (self._clock(), self._clock()))  # the retention counts from now
        return f"{self.public_url}/files/{token}/{name}"

    def path_for(self, token: str, name: str) -> Path | None:
        """The file behind a URL, while it has not expired; None for anything else.

        Only tokens and names of the shapes handed out are looked up: a separator, a
        control character (a NUL made the file system raise), a dot first, a non-ASCII
        letter or an absurd length never reaches the disk. A file that resolves outside
        the folder (a link someone left in it) is not served either.
        """
        if not (URL_TOKEN.fullmatch(token) and FILE_NAME.fullmatch(name)):
            return None
        try:
            root = self.root.resolve(strict=True)
            real = (root / token / name).resolve(strict=True)
            info = real.stat()
        except (OSError, RuntimeError):  # missing, unreadable, or a loop of links
            return None
        if real.parent.parent != root or not stat.S_ISREG(info.st_mode):
            return None
        return real if self._clock() - info.st_mtime < self.retention else None

    def sweep(self, room_for: int = 0) -> int:
        """Delete expired files, then the oldest until `room_for` more bytes fit."""
        if not self.root.exists():
            return 0
        now = self._clock()
        files = sorted(
            ((p.stat().st_mtime, p.stat().st_size, p) for p in self.root.glob("*/*")),
            key=lambda item: item[0],
        )
        total = sum(size for _, size, _ in files)
        removed = 0
        for published, size, path in files:
            expired = now - published >= self.retention
            if not expired and total + room_for <= self.max_bytes:
                continue
            with contextlib.suppress(OSError):
                path.unlink()
                path.parent.rmdir()
            total -= size
            removed += 1
        if removed:
            log.info("served files: removed %d (expired or over the disk budget)", removed)
        return removed

    def start(self) -> None:
        async def loop() -> None:
            while True:
                try:
                    self.sweep()
                except Exception:
                    log.exception("served files: sweep failed")
                await asyncio.sleep(SWEEP_INTERVAL)

        self._task = asyncio.create_task(loop(), name="veo-file-sweep")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
