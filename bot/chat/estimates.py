"""How long a render takes, in members' words: learned from the model's recent renders
(`bot.jobs.schedule`), or the documented schedule's rough guess until enough were seen.
The words are the catalogue's `[listing]` section, in `locale` (None reads English)."""

from __future__ import annotations

from bot.chat.i18n import text
from bot.jobs.days import duration_text
from bot.jobs.requests import stored_request
from bot.jobs.schedule import Schedules, Typical
from bot.providers.registry import ProviderRegistry
from storage import Job


def usually(typical: Typical, *, locale: str | None = None) -> str:
    median, p90 = duration_text(typical.median), duration_text(typical.p90)
    return text("listing.usually", locale, median=median, p90=p90)


def ready_after_start(typical: Typical, *, locale: str | None = None) -> str:
    """For a job still in our queue: how long after it starts it is usually ready."""
    median = duration_text(typical.median)
    if typical.samples == 0:
        return text("listing.ready_about", locale, median=median)
    p90 = duration_text(typical.p90)
    return text("listing.ready_learned", locale, median=median, p90=p90)


def render_time_note(typical: Typical | None, *, locale: str | None = None) -> str:
    """A line for `/veo models` once the model's renders were seen (else nothing)."""
    if typical is None:
        return ""
    said = usually(typical, locale=locale)
    return "\n" + text("listing.renders_lately", locale, usually=said, samples=typical.samples)


def typical_for(providers: ProviderRegistry, schedules: Schedules, job: Job) -> Typical | None:
    """How long the job's render usually takes once started: learned from the model's
    recent renders, else twice the documented first wait (None for a retired model)."""
    learned = schedules.typical_for(job)
    if learned is not None:
        return learned
    spec = providers.model(job.provider, job.model)
    if spec is None:
        return None
    guess = spec.timing_for(stored_request(job).resolution).initial_wait * 2
    return Typical(guess, guess, 0)


def service_label(providers: ProviderRegistry, job: Job) -> str | None:
    """The vendor's name as members see it (None once the vendor is disabled)."""
    return providers.get(job.provider).label if job.provider in providers else None
