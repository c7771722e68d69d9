"""The embedded SQLite store: the single source of truth for jobs and quota."""

from storage.db import Database
from storage.guilds import GuildSettings, GuildStore
from storage.jobs import JobStore, NewJob, OverBudget, OverQuota, SpendCaps, TooManyActive
from storage.models import (
    ACTIVE,
    TERMINAL,
    Billing,
    CancelReason,
    Job,
    JobStatus,
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
    "NewJob",
    "OverBudget",
    "OverQuota",
    "QuotaState",
    "SpendCaps",
    "TooManyActive",
    "Stores",
]
