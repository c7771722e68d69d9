"""What every step of a job needs, gathered once per job manager.

The loop, the steps, the endings and delivery all work on the same store, vendors and
publisher under the same lease owner; passing one `Crew` keeps their constructors short
and makes plain which parts a step may touch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bot.jobs.pacing import Pacer
from bot.jobs.publishing import Publisher
from bot.jobs.retry import TASK_ID_WRITE_RETRIES
from bot.jobs.schedule import Schedules
from bot.metrics import Metrics
from bot.providers.registry import ProviderRegistry
from storage import JobStore


class PublicAddress(Protocol):
    """The bot's web server as vendors see it: image URLs and callback addresses."""

    ttl: float

    def url_for(self, token: str, filename: str) -> str: ...

    def callback_url(self, provider: str, token: str) -> str: ...


@dataclass
class Crew:
    store: JobStore
    providers: ProviderRegistry
    publisher: Publisher
    owner: str  # the lease owner: every write a step makes is fenced by it
    clock: Callable[[], float]
    pacer: Pacer
    metrics: Metrics
    schedules: Schedules
    work_dir: Path
    max_download_bytes: int
    public: PublicAddress | None = None
    task_id_write_retries: tuple[float, ...] = TASK_ID_WRITE_RETRIES
