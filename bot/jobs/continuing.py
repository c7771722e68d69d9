"""Continue: a new job that starts where a delivered video ended, from its last frame
(kept with the job at delivery), on a model that takes a first frame.

The model is the video's own when it takes a first frame and the server still allows
it, else the server's default, else the first allowed model that does: a member never
has to know which models can start from an image.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.jobs.requests import GenerationRequest, RequestInvalid, prompt_limit
from bot.providers.base import Mode
from bot.providers.codes import say
from bot.providers.registry import ProviderRegistry
from storage import GuildSettings, Job

NOTHING_TAKES_A_FRAME = say("refusal.nothing_takes_a_frame")


@dataclass(frozen=True, slots=True)
class Continuation:
    """What a Continue of one job will use, shown in its form before anything is spent."""

    provider: str
    model: str
    label: str
    prompt_limit: int
    units: int  # what it uses of the member's quota (0: exempt)
    aspect_ratio: str | None  # the video's own, where the model takes it


def plan(
    job: Job,
    request: GenerationRequest,
    rules: GuildSettings | None,
    providers: ProviderRegistry,
    *,
    max_prompt: int,
    exempt: bool = False,
) -> Continuation:
    candidates = [(job.provider, job.model)]
    if rules is not None and rules.default_provider and rules.default_model:
        candidates.append((rules.default_provider, rules.default_model))
    candidates += [(p.name, s.name) for p in providers for s in p.models.values()]
    for provider, model in candidates:
        spec = providers.model(provider, model)
        if spec is None or Mode.FIRST_FRAME not in spec.modes:
            continue
        if rules is not None and not rules.allows(provider, model):
            continue
        aspects = spec.aspect_ratios_by_mode.get(Mode.FIRST_FRAME, spec.aspect_ratios)
        units = 0 if exempt else rules.weight(provider, model) if rules else 1
        return Continuation(
            provider=provider,
            model=model,
            label=spec.label,
            prompt_limit=prompt_limit(spec, max_prompt),
            units=units,
            aspect_ratio=request.aspect_ratio if request.aspect_ratio in aspects else None,
        )
    raise RequestInvalid(NOTHING_TAKES_A_FRAME)
