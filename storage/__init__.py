"""The embedded SQLite store: the single source of truth for jobs and quota."""

from storage.db import Database
from storage.jobs import JobStore, NewJob, OverQuota, TooManyActive
from storage.models import ACTIVE, TERMINAL, Job, JobStatus, QuotaState

__all__ = [
    "ACTIVE",
    "TERMINAL",
    "Database",
    "Job",
    "JobStatus",
    "JobStore",
    "NewJob",
    "OverQuota",
    "QuotaState",
    "TooManyActive",
]
