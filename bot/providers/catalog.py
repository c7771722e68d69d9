"""What every vendor's catalogue builds its model table with."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType

from bot.providers.base import ModelSpec, Timing


def table(*specs: ModelSpec) -> Mapping[str, ModelSpec]:
    """The models by name, read-only, in the order given."""
    return MappingProxyType({spec.name: spec for spec in specs})


def on_schedule(models: Mapping[str, ModelSpec], timing: Timing | None) -> Mapping[str, ModelSpec]:
    """`models` as offered, or (tests, an operator's forced schedule) every one of them
    polled on `timing`, whatever the resolution: a forced schedule is one schedule."""
    if timing is None:
        return models
    return MappingProxyType(
        {
            name: dataclasses.replace(spec, timing=timing, timing_by_resolution={})
            for name, spec in models.items()
        }
    )
