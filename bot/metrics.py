"""Prometheus metrics for `/metrics`.

One registry per bot (not the library's global one), so tests and several bots in one
process do not collide. Counts of jobs by state come from the database at scrape time
(the rows are the truth, and a restart does not reset them); timings and error counts
are recorded as they happen.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Collection, Iterator, Mapping
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_CALL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_LAG_BUCKETS = (0.5, 1, 2, 3, 5, 10, 20, 60, 300)


# Jobs by (state, provider), as the store counts them.
JobCounts = Callable[[], Awaitable[Mapping[tuple[str, str], int]]]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._jobs: _JobsCollector | None = None
        self.vendor_call = Histogram(
            "veo_vendor_call_seconds",
            "Time of one call to a vendor (submit, status or download).",
            ["provider", "call"],
            buckets=_CALL_BUCKETS,
            registry=self.registry,
        )
        self.vendor_errors = Counter(
            "veo_vendor_errors",
            "Failed vendor calls, by our error code.",
            ["provider", "code"],
            registry=self.registry,
        )
        self.quota_refusals = Counter(
            "veo_quota_refusals",
            "Requests refused by quota, active-job limit or spend cap.",
            ["reason"],
            registry=self.registry,
        )
        self.delivery_lag = Histogram(
            "veo_delivery_lag_seconds",
            "From the vendor finishing a render to the video posted (download included).",
            ["provider"],
            buckets=_LAG_BUCKETS,
            registry=self.registry,
        )
        self.jobs_finished = Counter(
            "veo_jobs_finished",
            "Jobs that reached an end, by provider and end state.",
            ["provider", "status"],
            registry=self.registry,
        )

    def watch_jobs(self, counts: JobCounts, *, waiting: str, active: Collection[str]) -> None:
        """Count jobs by state and provider at each scrape, through `counts` (the store's),
        so the metrics know no store: `waiting` is the state of a job not yet sent to a
        vendor, `active` the states of a job not yet ended."""
        self._jobs = _JobsCollector(counts, waiting, frozenset(active))
        self.registry.register(self._jobs)

    @contextmanager
    def timed(self, provider: str, call: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.vendor_call.labels(provider, call).observe(time.perf_counter() - started)

    async def render(self) -> bytes:
        if self._jobs is not None:
            await self._jobs.refresh()
        return generate_latest(self.registry)


class _JobsCollector(Collector):
    """Serves the counts read by the last `refresh` (collect() itself cannot await)."""

    def __init__(self, counts: JobCounts, waiting: str, active: frozenset[str]) -> None:
        self.counts = counts
        self.waiting = waiting
        self.active = active
        self.by_state: list[tuple[str, str, int]] = []

    async def refresh(self) -> None:
        counts = await self.counts()
        self.by_state = [(status, provider, n) for (status, provider), n in counts.items()]

    def collect(self) -> Iterator[GaugeMetricFamily]:
        jobs = GaugeMetricFamily(
            "veo_jobs", "Jobs in the database, by state and provider.", labels=["state", "provider"]
        )
        depth = GaugeMetricFamily("veo_queue_depth", "Jobs waiting to be sent to a vendor.")
        active = GaugeMetricFamily("veo_jobs_active", "Jobs not yet ended.")
        for state, provider, count in self.by_state:
            jobs.add_metric([state, provider], count)
        queued = sum(c for s, _, c in self.by_state if s == self.waiting)
        depth.add_metric([], queued)
        active.add_metric([], sum(c for s, _, c in self.by_state if s in self.active))
        yield jobs
        yield depth
        yield active

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())
