"""Who did what: admin and moderator actions, one server at a time (migration 5).

Every read is by server, so one server's admins can never read another's entries. An
entry keeps ids and a short detail, not sentences: the words are made when it is shown.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from storage.db import Database


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    guild_id: int
    actor_id: int
    action: str
    target_id: int | None  # the member acted on, if any
    job_id: int | None
    detail: str
    created_at: float


class AuditStore:
    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self._clock = clock

    async def record(
        self,
        guild_id: int,
        actor_id: int,
        action: str,
        *,
        target_id: int | None = None,
        job_id: int | None = None,
        detail: str = "",
    ) -> None:
        await self.db.execute(
            "INSERT INTO audit_log (guild_id, actor_id, action, target_id, job_id, detail, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (guild_id, actor_id, action, target_id, job_id, detail, self._clock()),
        )

    async def recent(self, guild_id: int, *, limit: int = 20) -> list[AuditEntry]:
        """The server's newest entries first."""
        rows = await self.db.fetchall(
            "SELECT * FROM audit_log WHERE guild_id = ? ORDER BY id DESC LIMIT ?",
            (guild_id, limit),
        )
        return [AuditEntry(**dict(r)) for r in rows]
