"""Every store over one database, opened together by the composition root: the rest of
the bot is handed stores, never the database connection itself."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from storage.audit import AuditStore
from storage.db import Database
from storage.guilds import GuildStore
from storage.jobs import JobStore
from storage.members import MemberStore
from storage.retention import RetentionStore
from storage.stats import StatsStore


@dataclass(frozen=True, slots=True)
class Stores:
    jobs: JobStore
    guilds: GuildStore
    audit: AuditStore
    stats: StatsStore
    retention: RetentionStore
    members: MemberStore

    @classmethod
    def over(cls, db: Database, *, clock: Callable[[], float] = time.time) -> Stores:
        return cls(
            jobs=JobStore(db, clock=clock),
            guilds=GuildStore(db, clock=clock),
            audit=AuditStore(db, clock=clock),
            stats=StatsStore(db),
            retention=RetentionStore(db),
            members=MemberStore(db, clock=clock),
        )
