"""Numbered schema migrations, one list for both engines.

Append only: a released migration is never edited; a change is a new entry. Scripts are
written in SQLite's words and must mean the same on PostgreSQL once `statements` has
swapped the column types: INTEGER (64-bit in SQLite) becomes BIGINT, REAL becomes DOUBLE
PRECISION, BLOB becomes BYTEA, and `INTEGER PRIMARY KEY AUTOINCREMENT` an identity column.
So both schemas move in step (`tests/storage/test_schema_parity.py` compares them). SQLite
counts the applied ones in `PRAGMA user_version`, PostgreSQL in the `schema_version` table.
"""

from __future__ import annotations

import re
from typing import Literal

MIGRATIONS: tuple[str, ...] = (
    # 1: jobs, their input images, and the daily quota ledger.
    """
    CREATE TABLE jobs (
        id                      INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id                 INTEGER NOT NULL,
        guild_id                INTEGER,
        channel_id              INTEGER NOT NULL,
        request_json            TEXT    NOT NULL,
        provider                TEXT    NOT NULL,
        model                   TEXT    NOT NULL,
        status                  TEXT    NOT NULL,
        task_id                 TEXT,
        progress                INTEGER,
        stage                   TEXT,
        attempts                INTEGER NOT NULL DEFAULT 0,
        next_poll_at            REAL    NOT NULL,
        deadline_at             REAL,
        lease_owner             TEXT,
        lease_until             REAL,
        error_code              TEXT,
        error_message           TEXT,
        result_path             TEXT,
        result_url              TEXT,
        result_url_expires_at   REAL,
        result_size             INTEGER,
        filesize_limit          INTEGER NOT NULL,
        status_message_id       INTEGER,
        delivery_mode           TEXT    NOT NULL DEFAULT 'channel',
        interaction_app_id      INTEGER,
        interaction_token       TEXT,
        interaction_expires_at  REAL,
        delivery_started_at     REAL,
        delivered_message_id    INTEGER,
        cancel_requested_at     REAL,
        callback_token          TEXT UNIQUE,
        quota_day               TEXT    NOT NULL,
        quota_state             TEXT    NOT NULL,
        created_at              REAL    NOT NULL,
        submitted_at            REAL,
        completed_at            REAL,
        finished_at             REAL,
        updated_at              REAL    NOT NULL
    );
    CREATE INDEX jobs_due ON jobs (status, next_poll_at);
    CREATE INDEX jobs_user ON jobs (user_id, created_at);
    CREATE TABLE job_images (
        job_id    INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        position  INTEGER NOT NULL,
        filename  TEXT    NOT NULL,
        mime      TEXT    NOT NULL,
        data      BLOB    NOT NULL,
        source_url       TEXT,
        url_token        TEXT UNIQUE,
        url_expires_at   REAL,
        PRIMARY KEY (job_id, position)
    );
    CREATE TABLE quota_usage (
        user_id  INTEGER NOT NULL,
        day      TEXT    NOT NULL,
        used     INTEGER NOT NULL DEFAULT 0 CHECK (used >= 0),
        PRIMARY KEY (user_id, day)
    );
    """,
    # 2: per-server settings (one typed row per guild; lists as JSON arrays) and
    # per-member daily quota overrides. No row = the environment's defaults.
    """
    CREATE TABLE guild_settings (
        guild_id          INTEGER PRIMARY KEY,
        daily_quota       INTEGER CHECK (daily_quota IS NULL OR daily_quota > 0),
        allowed_channels  TEXT    NOT NULL DEFAULT '[]',
        banned_words      TEXT    NOT NULL DEFAULT '[]',
        default_provider  TEXT,
        default_model     TEXT,
        alert_channel_id  INTEGER,
        updated_at        REAL    NOT NULL
    );
    CREATE TABLE member_overrides (
        guild_id     INTEGER NOT NULL,
        user_id      INTEGER NOT NULL,
        daily_quota  INTEGER NOT NULL CHECK (daily_quota >= 0),
        updated_at   REAL    NOT NULL,
        PRIMARY KEY (guild_id, user_id)
    );
    """,
    # 3: the quota ledger is keyed by member, server and day (guild 0: direct
    # messages) and counts weighted units; each job records what it reserved and what it
    # may cost the operator; a server may exempt roles, limit models, weigh them and cap
    # its daily spend. The new ledger is rebuilt from the jobs that still hold a charge.
    """
    CREATE TABLE quota_ledger (
        user_id   INTEGER NOT NULL,
        guild_id  INTEGER NOT NULL,
        day       TEXT    NOT NULL,
        used      INTEGER NOT NULL DEFAULT 0 CHECK (used >= 0),
        PRIMARY KEY (user_id, guild_id, day)
    );
    ALTER TABLE jobs ADD COLUMN quota_units INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE jobs ADD COLUMN cost_usd REAL;
    ALTER TABLE jobs ADD COLUMN purged_at REAL;
    INSERT INTO quota_ledger (user_id, guild_id, day, used)
        SELECT user_id, COALESCE(guild_id, 0), quota_day, COUNT(*) FROM jobs
        WHERE quota_state IN ('reserved', 'committed')
        GROUP BY user_id, COALESCE(guild_id, 0), quota_day;
    DROP TABLE quota_usage;
    CREATE INDEX jobs_day ON jobs (quota_day, guild_id);
    CREATE INDEX jobs_finished ON jobs (finished_at);
    ALTER TABLE guild_settings ADD COLUMN exempt_roles TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE guild_settings ADD COLUMN allowed_models TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE guild_settings ADD COLUMN model_weights TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE guild_settings ADD COLUMN daily_budget_usd REAL
        CHECK (daily_budget_usd IS NULL OR daily_budget_usd > 0);
    """,
    # 4: when the member was shown a job's end, so a crash between the two is told after
    # a restart. Jobs that ended before this migration were told at the time.
    """
    ALTER TABLE jobs ADD COLUMN told_at REAL;
    UPDATE jobs SET told_at = finished_at WHERE status IN ('delivered', 'failed', 'cancelled');
    CREATE INDEX jobs_untold ON jobs (finished_at) WHERE told_at IS NULL;
    """,
    # 5: trust between servers and money that cannot leak.
    # - sent_at: when the submit request was let go, decided in the same transaction that
    #   saw no cancel; a job without it was never sent and cannot have been billed.
    # - billing: what the vendor probably charged (pending while it runs; then billed,
    #   possibly_billed or not_billed). Spend caps count all but not_billed. Before this,
    #   a job the vendor did not bill had its cost zeroed: those (and only those) are
    #   not billed, so every day's spend reads as it did.
    # - cancel_reason: who stopped the job ('member', or 'bot_removed' when the bot left
    #   the server: such a job ends quietly, its member refunded, its spend counted).
    # - guild_settings.left_at: the bot was removed from the server; the settings are kept
    #   for the retention period in case it is invited back.
    # - audit_log: admin and moderator actions, per server.
    """
    ALTER TABLE jobs ADD COLUMN sent_at REAL;
    UPDATE jobs SET sent_at = COALESCE(submitted_at, updated_at)
        WHERE task_id IS NOT NULL OR status = 'submitting';
    ALTER TABLE jobs ADD COLUMN billing TEXT NOT NULL DEFAULT 'pending';
    UPDATE jobs SET billing = CASE
        WHEN status NOT IN ('delivered', 'failed', 'cancelled') THEN 'pending'
        WHEN cost_usd = 0 AND completed_at IS NULL THEN 'not_billed'
        ELSE 'billed' END;
    ALTER TABLE jobs ADD COLUMN cancel_reason TEXT;
    CREATE INDEX jobs_guild_active ON jobs (guild_id, status);
    ALTER TABLE guild_settings ADD COLUMN left_at REAL;
    CREATE TABLE audit_log (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        guild_id    INTEGER NOT NULL,
        actor_id    INTEGER NOT NULL,
        action      TEXT    NOT NULL,
        target_id   INTEGER,
        job_id      INTEGER,
        detail      TEXT    NOT NULL DEFAULT '',
        created_at  REAL    NOT NULL
    );
    CREATE INDEX audit_by_guild ON audit_log (guild_id, id);
    """,
    # 6: a failure is kept as its code and the parameters its sentence quotes (JSON text,
    # NULL for none); the sentence is made when it is shown. `error_message` is no longer
    # written: rows that ended before this keep theirs, and it is shown as it is.
    """
    ALTER TABLE jobs ADD COLUMN error_params TEXT;
    """,
    # 7: how long renders take, to plan each job's status checks from what was seen.
    # - jobs.checked_at: the last check that found the task still running; jobs.poked_at:
    #   the last callback. With the check that found it done they bound the render time.
    # - render_times: one row per finished render, shared by every server (it holds no
    #   member's data, only a model's timing), kept for a recent window.
    """
    ALTER TABLE jobs ADD COLUMN checked_at REAL;
    ALTER TABLE jobs ADD COLUMN poked_at REAL;
    CREATE TABLE render_times (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        provider     TEXT    NOT NULL,
        model        TEXT    NOT NULL,
        resolution   TEXT    NOT NULL,
        duration     INTEGER NOT NULL,
        low          REAL    NOT NULL,
        high         REAL    NOT NULL,
        finished_at  REAL    NOT NULL
    );
    CREATE INDEX render_times_by_model
        ON render_times (provider, model, resolution, duration, finished_at);
    """,
    # 8: when each server was last alerted about each vendor's trouble, so that several
    # processes together post an alert at most once an hour, not once each.
    """
    CREATE TABLE alerts_sent (
        guild_id  INTEGER NOT NULL,
        vendor    TEXT    NOT NULL,
        kind      TEXT    NOT NULL,
        sent_at   REAL    NOT NULL,
        PRIMARY KEY (guild_id, vendor, kind)
    );
    """,
    # 9: members' own defaults, and what a job keeps of them and of where it came from.
    # - member_settings: one row per member (not per server): the model, aspect, length
    #   and resolution they want when they type none, and three delivery toggles;
    #   `told` lists the servers already told that one of these is not allowed there.
    # - jobs.parent_job_id / parent_link: the job a Retry, New take or Remix was made
    #   from, and where that job is shown ("from #12").
    # - jobs.spoiler / dm_copy / ping: the member's delivery toggles as they were when the
    #   command ran (the process that posts may be another one).
    """
    CREATE TABLE member_settings (
        user_id       INTEGER PRIMARY KEY,
        provider      TEXT,
        model         TEXT,
        aspect_ratio  TEXT,
        duration      INTEGER,
        resolution    TEXT,
        dm_copy       INTEGER NOT NULL DEFAULT 0,
        spoiler       INTEGER NOT NULL DEFAULT 0,
        ping          INTEGER NOT NULL DEFAULT 1,
        told          TEXT    NOT NULL DEFAULT '',
        updated_at    REAL    NOT NULL
    );
    ALTER TABLE jobs ADD COLUMN parent_job_id INTEGER;
    ALTER TABLE jobs ADD COLUMN parent_link TEXT;
    ALTER TABLE jobs ADD COLUMN spoiler INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN dm_copy INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN ping INTEGER NOT NULL DEFAULT 1;
    """,
    # 10: a delivered video's last frame, taken while the file is still on disk, so that
    # "Continue" can start the next job from it (deleted with the prompt and images).
    # jobs.frame_at says it was kept, for the buttons under the video.
    """
    CREATE TABLE job_frames (
        job_id    INTEGER PRIMARY KEY REFERENCES jobs(id),
        mime      TEXT    NOT NULL,
        data      BLOB    NOT NULL
    );
    ALTER TABLE jobs ADD COLUMN frame_at REAL;
    """,
    # 11: a server's choice that "Animate with Veo" works on its members' own messages
    # only; and the language a job's public posts are written in (the server's, as the
    # command saw it: the process that posts may not have the server cached).
    """
    ALTER TABLE guild_settings ADD COLUMN animate_own_only INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN locale TEXT;
    """,
    # 12: 0 is the number zero in every admin setting: a server quota of 0 makes no
    # videos, a daily spend cap of $0 spends nothing (None is still "the default" / "no
    # cap"). Neither engine can loosen a CHECK in place in the same words, so the table
    # is copied into one with the new checks, same columns in the same order.
    """
    CREATE TABLE guild_settings_new (
        guild_id          INTEGER PRIMARY KEY,
        daily_quota       INTEGER CHECK (daily_quota IS NULL OR daily_quota >= 0),
        allowed_channels  TEXT    NOT NULL DEFAULT '[]',
        banned_words      TEXT    NOT NULL DEFAULT '[]',
        default_provider  TEXT,
        default_model     TEXT,
        alert_channel_id  INTEGER,
        updated_at        REAL    NOT NULL,
        exempt_roles      TEXT    NOT NULL DEFAULT '[]',
        allowed_models    TEXT    NOT NULL DEFAULT '[]',
        model_weights     TEXT    NOT NULL DEFAULT '{}',
        daily_budget_usd  REAL    CHECK (daily_budget_usd IS NULL OR daily_budget_usd >= 0),
        left_at           REAL,
        animate_own_only  INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO guild_settings_new (
        guild_id, daily_quota, allowed_channels, banned_words, default_provider,
        default_model, alert_channel_id, updated_at, exempt_roles, allowed_models,
        model_weights, daily_budget_usd, left_at, animate_own_only
    )
    SELECT guild_id, daily_quota, allowed_channels, banned_words, default_provider,
        default_model, alert_channel_id, updated_at, exempt_roles, allowed_models,
        model_weights, daily_budget_usd, left_at, animate_own_only
    FROM guild_settings;
    DROP TABLE guild_settings;
    ALTER TABLE guild_settings_new RENAME TO guild_settings;
    """,
)


_PG_TYPES = (
    (re.compile(r"\bINTEGER\s+PRIMARY\s+KEY\s+AUTOINCREMENT\b"),
     "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    (re.compile(r"\bINTEGER\b"), "BIGINT"),
    (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"),
    (re.compile(r"\bBLOB\b"), "BYTEA"),
)  # fmt: skip


def statements(script: str, dialect: Literal["sqlite", "postgresql"]) -> list[str]:
    """The statements of one migration, as `dialect` takes them."""
    found = [s.strip() for s in script.split(";") if s.strip()]
    if dialect == "sqlite":
        return found
    for pattern, replacement in _PG_TYPES:
        found = [pattern.sub(replacement, s) for s in found]
    return found
