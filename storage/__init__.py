"""The store: the single source of truth for jobs and quota, on SQLite (the embedded
default) or PostgreSQL (for several processes), behind one `Database`."""

from storage.copy import TABLES, CopyError, SchemaMismatch, TargetNotEmpty, copy_database
from storage.db import Database, shown_target
from storage.guilds import GuildSettings, GuildStore
from storage.jobs import JobStore, NewJob, OverBudget, OverQuota, SpendCaps, TooManyActive
from storage.models import (
    ACTIVE,
    TERMINAL,
    Billing,
    CancelReason,
    Job,
    JobStatus,
    MemberSettings,
    QuotaState,
)
from storage.stores import Stores

__all__ = [
    "ACTIVE",
    "TERMINAL",
    "Billing",
    "CancelReason",
    "Database",
    "GuildSettings",
    "GuildStore",
    "Job",
    "JobStatus",
    "JobStore",
    "MemberSettings",
    "NewJob",
    "OverBudget",
    "OverQuota",
    "QuotaState",
    "SpendCaps",
    "TooManyActive",
    "Stores",
    "shown_target",
    "TABLES",
    "CopyError",
    "SchemaMismatch",
    "TargetNotEmpty",
    "copy_database",
]
