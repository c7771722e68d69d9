"""Forget what members typed and uploaded once a finished job is old enough.

Prompts, images (and kept last frames), tokens and video files of finished jobs are kept for Retry, Remix and
history for the retention period only; the job row stays (its number, status, model and
settings), so numbers are never reused and history still lists the job.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from storage.db import Database
from storage.models import TERMINAL

_TERMINAL_SQL = ", ".join(f"'{s.value}'" for s in sorted(TERMINAL))

# Oldest first, so an interrupted sweep resumes where it stopped (jobs_finished index).
SQL_DUE = f"""
SELECT id, request_json, result_path FROM jobs
WHERE finished_at < ? AND purged_at IS NULL AND status IN ({_TERMINAL_SQL})
ORDER BY finished_at, id LIMIT ?
"""
# `/veo forget`: one member's finished jobs, whatever their age.
SQL_DUE_OF_MEMBER = f"""
SELECT id, request_json, result_path FROM jobs
WHERE user_id = ? AND purged_at IS NULL AND status IN ({_TERMINAL_SQL})
ORDER BY id LIMIT ?
"""
SQL_PURGE = """
UPDATE jobs SET request_json = ?, interaction_token = NULL, callback_token = NULL,
    result_path = NULL, purged_at = ?, updated_at = ?
WHERE id = ? AND purged_at IS NULL
"""


@dataclass(frozen=True, slots=True)
class PurgeReport:
    """How many jobs were purged, and the video files they pointed to (for the caller to
    unlink: the store never touches the disk)."""

    purged: int
    result_paths: tuple[str, ...]


def scrub_request(request_json: str) -> str:
    """The request without the member's words; every other key stays for history.

    A request that is not a JSON object cannot be scrubbed key by key, so it is dropped.
    """
    try:
        request: Any = json.loads(request_json)
    except ValueError:
        return "{}"
    if not isinstance(request, dict):
        return "{}"
    request["prompt"] = ""
    request["negative_prompt"] = None
    return json.dumps(request)


async def purge_finished(
    db: Database,
    *,
    older_than: float,
    now: float,
    batch: int = 500,
    user_id: int | None = None,
) -> PurgeReport:
    """Purge terminal jobs that finished before `older_than` (or, given `user_id`, every
    finished job of that member: `/veo forget`).

    Each batch is its own transaction, so a long backlog never holds the writer lock
    for long; a purged job is marked, so a second sweep does nothing.
    """
    if batch <= 0:
        raise ValueError("batch must be positive")
    sql, args = (SQL_DUE, (older_than,)) if user_id is None else (SQL_DUE_OF_MEMBER, (user_id,))
    purged = 0
    paths: list[str] = []
    while True:
        async with db.transaction() as conn:
            rows = await conn.fetchall(sql, (*args, batch))
            if not rows:
                break
            ids = [int(r["id"]) for r in rows]
            marks = ", ".join("?" * len(ids))
            await conn.execute(f"DELETE FROM job_images WHERE job_id IN ({marks})", ids)
            await conn.execute(f"DELETE FROM job_frames WHERE job_id IN ({marks})", ids)
            await conn.executemany(
                SQL_PURGE,
                [(scrub_request(r["request_json"]), now, now, int(r["id"])) for r in rows],
            )
        purged += len(rows)
        paths.extend(str(r["result_path"]) for r in rows if r["result_path"])
        if len(rows) < batch:
            break
    return PurgeReport(purged=purged, result_paths=tuple(paths))


async def forget_departed_guilds(db: Database, *, left_before: float) -> int:
    """Delete the settings and member quotas of servers the bot left before `left_before`
    (kept until then in case it was invited back); returns how many servers."""
    async with db.transaction() as conn:
        rows = await conn.fetchall(
            "SELECT guild_id FROM guild_settings WHERE left_at IS NOT NULL AND left_at < ? "
            "FOR UPDATE",
            (left_before,),
        )
        gone = [int(r[0]) for r in rows]
        if gone:
            marks = ", ".join("?" * len(gone))
            await conn.execute(f"DELETE FROM member_overrides WHERE guild_id IN ({marks})", gone)
            await conn.execute(f"DELETE FROM guild_settings WHERE guild_id IN ({marks})", gone)
            await conn.execute(f"DELETE FROM alerts_sent WHERE guild_id IN ({marks})", gone)
    return len(gone)


class RetentionStore:
    """What the retention sweep asks of the database, in one place."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def purge_finished(self, *, older_than: float, now: float) -> PurgeReport:
        return await purge_finished(self._db, older_than=older_than, now=now)

    async def forget_departed_guilds(self, *, left_before: float) -> int:
        return await forget_departed_guilds(self._db, left_before=left_before)

    async def forget_audit(self, *, created_before: float) -> int:
        """Drop admin-log entries older than the retention period; returns how many."""
        return await self._db.execute(
            "DELETE FROM audit_log WHERE created_at < ?", (created_before,)
        )
