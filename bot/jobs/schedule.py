"""When to check on a job at the vendor: a few early checks, then the model's schedule.

Every job's checks are planned as offsets from its submit, so the next one follows from
the clock alone and a restart needs no remembered state:

- **early checks** (5, 15, 30 s) catch what vendors decide in seconds: a refused prompt,
  a bad image, a render far faster than documented. `VEO_<P>_EARLY_CHECKS` keeps fewer.
- **the documented schedule**: the first regular check at the model's initial wait, then
  one every poll interval.
- **a learned schedule**, once the model has `MIN_SAMPLES` recent renders on record
  (`storage.render_times`): the first regular check near the fastest renders (the 3rd
  percentile), then every `gap` seconds until most renders are done (the 95th), then
  every poll interval. `gap` is the smallest that keeps the expected number of checks
  within `BUDGET_SHARE` of a loop checking every 5 s from the submit (the vendors'
  samples' cadence), so a narrow distribution gets dense checks and a wide one is not
  checked more than that loop would.

The learned schedule steps aside for the documented one when the vendor's behaviour
shifts: more than a fifth of the latest `RECENT` renders fell outside the range the
earlier ones span (with a margin). An operator's `VEO_<P>_INITIAL_WAIT` replaces the
learned first check and `VEO_<P>_POLL_INTERVAL` the learned gaps.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.jobs.requests import stored_request
from bot.jobs.retry import next_poll_delay
from bot.providers.base import Timing
from bot.providers.registry import ProviderRegistry
from storage import Job
from storage.render_times import RenderKey, RenderTime

EARLY_CHECKS = (5.0, 15.0, 30.0)
MIN_SAMPLES = 20
RECENT = 10  # the latest renders, compared with the ones before them to see a shift
SHIFT_SHARE = 0.2  # more than this share of RECENT outside the learned range: a shift
WINDOW = 50  # the most samples a schedule is learned from (the latest)
LOW_Q, HIGH_Q = 0.03, 0.95
REFERENCE_LOOP = 5.0  # the vendors' samples poll every 5 s from the submit
BUDGET_SHARE = 0.95  # of that loop's expected checks, at most
MIN_GAP = 1.0
_KEYS_KEPT = 10_000  # jobs whose render key is remembered (more than are ever in flight)
RELEARN_SECONDS = 30.0  # a model's plan is worked out again at most this often
RELOAD_SECONDS = 120.0  # and its samples read again (other processes add theirs)
# For a model no longer offered (its vendor was disabled since the job was made).
FALLBACK_TIMING = Timing(initial_wait=30, poll_interval=5, deadline=1800)
_GAP_STEP = 0.25
_DRAWS = 32  # points of the learned distribution the check count is estimated on


@dataclass(frozen=True, slots=True)
class Typical:
    """How long the model's renders took lately, for members: half within `median`,
    nine in ten within `p90` (seconds), from `samples` renders."""

    median: float
    p90: float
    samples: int


class Distribution:
    """The render times seen, each sample spread evenly over its interval (a render polled
    for is known only to lie between two checks)."""

    def __init__(self, samples: Sequence[RenderTime]) -> None:
        self.samples = tuple(samples)
        self._lo = min(s.low for s in self.samples)
        self._hi = max(s.high for s in self.samples)

    def cdf(self, t: float) -> float:
        total = 0.0
        for s in self.samples:
            if t >= s.high:
                total += 1.0
            elif t > s.low:
                total += (t - s.low) / (s.high - s.low)
        return total / len(self.samples)

    def quantile(self, q: float) -> float:
        lo, hi = self._lo, self._hi
        if hi <= lo:
            return hi
        for _ in range(30):
            mid = (lo + hi) / 2
            if self.cdf(mid) < q:
                lo = mid
            else:
                hi = mid
        return hi


@dataclass(frozen=True, slots=True)
class Plan:
    """One job's check times, as seconds after its submit. `first` and the gaps are the
    regular checks: every `gap` from `first` up to `dense_until`, then every `tail_gap`."""

    early: tuple[float, ...]
    first: float
    gap: float
    dense_until: float
    tail_gap: float
    learned: bool = False

    def next_check(self, elapsed: float) -> float:
        """The first check strictly after `elapsed` seconds from the submit."""
        for offset in self.early:
            if offset > elapsed:
                return offset
        if elapsed < self.first:
            return self.first
        dense_steps = max(0, math.ceil((self.dense_until - self.first) / self.gap - 1e-9))
        tail_start = self.first + dense_steps * self.gap
        if elapsed < tail_start:
            return _after(elapsed, self.first, self.gap)
        return _after(elapsed, tail_start, self.tail_gap)

    def checks_until(self, t: float) -> int:
        """How many checks it takes to see a render that finishes `t` s after the submit."""
        count, at = 1, self.next_check(0.0)
        while at < t:
            at = self.next_check(at)
            count += 1
        return count


def _after(elapsed: float, start: float, step: float) -> float:
    """The first of start, start + step, ... strictly after `elapsed` (>= start). Floor
    division can land on `elapsed` itself in floating point; that point is stepped over."""
    at = start + (math.floor((elapsed - start) / step) + 1) * step
    while at <= elapsed:
        at += step
    return at


def documented_plan(timing: Timing, early: int = len(EARLY_CHECKS)) -> Plan:
    first = timing.initial_wait
    return Plan(
        early=tuple(o for o in EARLY_CHECKS[:early] if o < first),
        first=first,
        gap=timing.poll_interval,
        dense_until=first,
        tail_gap=timing.poll_interval,
    )


def learn(
    samples: Sequence[RenderTime], timing: Timing, override: Mapping[str, float] | None = None
) -> Plan | None:
    """The plan learned from a model's samples (oldest first), or None when there are too
    few or the latest ones no longer look like the earlier: the documented plan then."""
    override = override or {}
    samples = samples[-WINDOW:]
    if len(samples) < MIN_SAMPLES or _shifted(samples, timing.poll_interval):
        return None
    dist = Distribution(samples)
    early = int(override.get("early_checks", len(EARLY_CHECKS)))
    tail_gap = override.get("poll_interval", timing.poll_interval)
    first = override.get("initial_wait", dist.quantile(LOW_Q))
    dense_until = max(first, dist.quantile(HIGH_Q))
    draws = [dist.quantile((i + 0.5) / _DRAWS) for i in range(_DRAWS)]
    budget = BUDGET_SHARE * sum(max(1, math.ceil(t / REFERENCE_LOOP)) for t in draws)

    def plan(gap: float) -> Plan:
        return Plan(
            early=tuple(o for o in EARLY_CHECKS[:early] if o < first - gap),
            first=first,
            gap=gap,
            dense_until=dense_until,
            tail_gap=tail_gap,
            learned=True,
        )

    if "poll_interval" in override:
        return plan(tail_gap)
    gap = MIN_GAP
    while gap < tail_gap:
        candidate = plan(gap)
        if sum(candidate.checks_until(t) for t in draws) <= budget:
            return candidate
        gap += _GAP_STEP
    return plan(tail_gap)


def typical(samples: Sequence[RenderTime]) -> Typical | None:
    if len(samples) < MIN_SAMPLES:
        return None
    dist = Distribution(samples[-WINDOW:])
    return Typical(dist.quantile(0.5), dist.quantile(0.9), len(samples[-WINDOW:]))


def _shifted(samples: Sequence[RenderTime], interval: float) -> bool:
    """More than SHIFT_SHARE of the latest RECENT renders lie wholly outside the range the
    earlier ones span (LOW_Q to HIGH_Q, widened by a quarter of it or one poll
    interval, whichever is more)."""
    earlier, recent = samples[:-RECENT], samples[-RECENT:]
    dist = Distribution(earlier)
    low, high = dist.quantile(LOW_Q), dist.quantile(HIGH_Q)
    margin = max(interval, 0.25 * (high - low))
    outside = sum(1 for s in recent if s.high < low - margin or s.low > high + margin)
    return outside > SHIFT_SHARE * len(recent)


def with_overrides(timing: Timing, override: Mapping[str, float] | None) -> Timing:
    """The documented timing with the operator's parts replaced (not the early checks)."""
    parts = {k: v for k, v in (override or {}).items() if k != "early_checks"}
    return dataclasses.replace(timing, **parts) if parts else timing


class RenderTimesStore(Protocol):
    async def render_times(self, key: RenderKey, *, limit: int) -> list[RenderTime]: ...

    async def render_keys(self) -> list[RenderKey]: ...


@dataclass
class _Model:
    """What is known of one model's renders, and the plan last worked out from it."""

    samples: list[RenderTime]
    loaded_at: float
    plan: Plan | None = None
    planned_at: float = -math.inf
    planned_with: int = 0  # samples the plan was worked out from
    planned_for: Mapping[str, float] | None = None  # and the overrides then
    stale: bool = True  # samples came since the plan was worked out
    typical: Typical | None = None
    typical_of: list[RenderTime] | None = None  # the samples list `typical` was made from


class Schedules:
    """Each job's check plan: the model's documented schedule or the one learned from its
    recent renders, with the operator's (or a test's) overrides per vendor. `overrides`
    is kept by reference: changing it changes the plans of jobs from then on.

    Samples are kept in memory per model and read again from the store now and then, so
    several processes learn from each other's renders; plans are worked out again at most
    every RELEARN_SECONDS, so a busy model costs a few milliseconds a minute."""

    def __init__(
        self,
        providers: ProviderRegistry,
        overrides: Mapping[str, Mapping[str, float]],
        *,
        store: RenderTimesStore | None = None,
        learning: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.providers = providers
        self.overrides = overrides
        self.store = store
        self.learning = learning and store is not None
        self._clock = clock
        self._models: dict[RenderKey, _Model] = {}
        self._keys: dict[int, RenderKey] = {}

    def timing(self, job: Job) -> Timing:
        """The documented schedule with the operator's overrides: the deadline, and the
        interval failed checks back off from."""
        spec = self.providers.model(job.provider, job.model)
        timing = FALLBACK_TIMING if spec is None else spec.timing_for(self.key(job).resolution)
        return with_overrides(timing, self.overrides.get(job.provider))

    def key(self, job: Job) -> RenderKey:
        """What the job's render time depends on. Read from the request once per job (a
        job is checked many times), remembered for the jobs in flight."""
        key = self._keys.get(job.id)
        if key is None:
            if len(self._keys) >= _KEYS_KEPT:
                self._keys.clear()
            request = stored_request(job)
            key = RenderKey(
                job.provider, job.model, request.resolution or "", request.duration or 0
            )
            self._keys[job.id] = key
        return key

    async def plan(self, job: Job) -> Plan:
        override = self.overrides.get(job.provider) or {}
        timing = self.timing(job)
        if self.learning:
            model = await self._model(self.key(job))
            now = self._clock()
            # The first time there are enough samples counts at once; after that, the
            # plan keeps for RELEARN_SECONDS however many renders finish meanwhile.
            first_time = model.planned_with < MIN_SAMPLES <= len(model.samples)
            changed = model.stale and (first_time or now - model.planned_at >= RELEARN_SECONDS)
            if changed or model.planned_for != override:
                model.plan = learn(model.samples, timing, override)
                model.planned_at, model.planned_with = now, len(model.samples)
                model.planned_for = dict(override)
                model.stale = False
            if model.plan is not None:
                return model.plan
        return documented_plan(timing, int(override.get("early_checks", len(EARLY_CHECKS))))

    async def next_check_at(self, job: Job, now: float, eta: float | None = None) -> float:
        """When to check a running job again: its plan's next check, or later when the
        vendor's own estimate of the time left says the checks before are pointless."""
        submitted = job.submitted_at if job.submitted_at is not None else now
        plan = await self.plan(job)
        # A check that ran late (a busy bot, a slow vendor) skips the plan's points that
        # are now under half a step away: catching up on them would only add checks when
        # the bot can least afford them.
        # (Reckoned from the submit: on the clock's scale a small step can round away.)
        elapsed = now - submitted
        offset = plan.next_check(elapsed)
        while offset - elapsed < plan.gap / 2:
            offset = plan.next_check(offset)
        planned = submitted + offset
        interval = self.timing(job).poll_interval
        if eta is not None and eta > 2 * interval:
            return max(planned, now + next_poll_delay(interval, eta))
        return planned

    def noted(self, key: RenderKey, sample: RenderTime) -> None:
        """A render of ours just finished (and is stored): learn from it without a read."""
        model = self._models.get(key)
        if model is not None:
            model.samples = [*model.samples[-(WINDOW - 1) :], sample]
            model.stale = True

    async def load(self) -> None:
        """Read every model's recent samples (at start, so the first answers use them)."""
        if self.store is None or not self.learning:
            return
        for key in await self.store.render_keys():
            await self._model(key)

    def typical(self, provider: str, model: str) -> Typical | None:
        """How long a model's renders took lately (its most sampled size and length),
        from what is in memory; None until enough are known."""
        known = [m for k, m in self._models.items() if (k.provider, k.model) == (provider, model)]
        best = max(known, key=lambda m: len(m.samples), default=None)
        return None if best is None else _typical(best)

    def typical_for(self, job: Job) -> Typical | None:
        model = self._models.get(self.key(job))
        return None if model is None else _typical(model)

    async def _model(self, key: RenderKey) -> _Model:
        now = self._clock()
        model = self._models.get(key)
        if model is None or now - model.loaded_at >= RELOAD_SECONDS:
            assert self.store is not None
            samples = await self.store.render_times(key, limit=WINDOW)
            if model is None:
                model = self._models[key] = _Model(samples, now)
            else:
                model.samples, model.loaded_at, model.stale = samples, now, True
        return model


def _typical(model: _Model) -> Typical | None:
    """The model's typical time, worked out again only when its samples changed (they
    are replaced, never edited in place): job messages ask on every edit."""
    if model.typical_of is not model.samples:
        model.typical, model.typical_of = typical(model.samples), model.samples
    return model.typical


def render_time(job: Job, now: float, widest: float) -> RenderTime | None:
    """How long a render took, as far as the checks tell: after the last check that saw it
    running and by `now` (exactly when the vendor's callback said so, if one came since).

    None when the checks were further apart than `widest` (the documented first wait and
    two intervals): the bot was stopped, or backed off from a failing vendor, and a gap
    that long says more about us than about the vendor."""
    if job.submitted_at is None:
        return None
    last_running = job.checked_at if job.checked_at is not None else job.submitted_at
    if job.poked_at is not None and job.poked_at >= last_running:
        exact = min(job.poked_at, now) - job.submitted_at
        return RenderTime(exact, exact, now)
    if now - last_running > widest:
        return None
    return RenderTime(last_running - job.submitted_at, now - job.submitted_at, now)
