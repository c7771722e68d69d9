"""A member's own settings (`/veo settings`) and their right to be forgotten (`/veo forget`).

Settings belong to the member, not to a server: one row per member, read wherever they
run a command. What each server allows is applied on top by the job core, never here.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from storage.db import Database
from storage.models import MemberSettings
from storage.retention import PurgeReport, purge_finished

SQL_SAVE = """
INSERT INTO member_settings (
    user_id, provider, model, aspect_ratio, duration, resolution, dm_copy, spoiler, ping,
    told, updated_at
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (user_id) DO UPDATE SET
    provider = excluded.provider, model = excluded.model,
    aspect_ratio = excluded.aspect_ratio, duration = excluded.duration,
    resolution = excluded.resolution, dm_copy = excluded.dm_copy,
    spoiler = excluded.spoiler, ping = excluded.ping, told = excluded.told,
    updated_at = excluded.updated_at
"""


class MemberStore:
    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock

    async def get(self, user_id: int) -> MemberSettings:
        """The member's settings; a member who never set any gets the defaults."""
        row = await self._db.fetchone("SELECT * FROM member_settings WHERE user_id = ?", (user_id,))
        return MemberSettings() if row is None else MemberSettings.from_row(row)

    async def save(self, user_id: int, settings: MemberSettings) -> None:
        told = ",".join(str(g) for g in sorted(settings.told))
        await self._db.execute(
            SQL_SAVE,
            (
                user_id,
                settings.provider,
                settings.model,
                settings.aspect_ratio,
                settings.duration,
                settings.resolution,
                int(settings.dm_copy),
                int(settings.spoiler),
                int(settings.ping),
                told,
                self._clock(),
            ),
        )

    async def forget(self, user_id: int) -> PurgeReport:
        """Delete the member's settings and the prompts and images of their finished jobs.
        The job rows stay (numbers are never reused; the quota ledger and spend caps count
        them); jobs still running keep theirs until they end, then age out as usual."""
        await self._db.execute("DELETE FROM member_settings WHERE user_id = ?", (user_id,))
        now = self._clock()
        return await purge_finished(self._db, older_than=now, now=now, user_id=user_id)
