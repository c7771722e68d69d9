"""Each vendor's rate and task limits: the documented ones, and ours where none is."""

from __future__ import annotations

from dataclasses import dataclass

# The vendors' documented limits; None where a vendor documents none (our defaults apply).
DOCUMENTED_RATE_PER_MINUTE: dict[str, float] = {"apixo": 10_000.0}
DOCUMENTED_MAX_TASKS: dict[str, int] = {"apixo": 1_000}
DEFAULT_RATE_PER_MINUTE = 300.0
DEFAULT_MAX_TASKS = 50


@dataclass(frozen=True, slots=True)
class VendorLimits:
    rate_per_minute: float
    max_tasks: int


def limits_for(
    provider: str, *, rate_per_minute: float | None = None, max_tasks: int | None = None
) -> VendorLimits:
    """The operator's numbers where set, else the vendor's documented ones, else ours."""
    return VendorLimits(
        rate_per_minute=rate_per_minute
        or DOCUMENTED_RATE_PER_MINUTE.get(provider, DEFAULT_RATE_PER_MINUTE),
        max_tasks=max_tasks or DOCUMENTED_MAX_TASKS.get(provider, DEFAULT_MAX_TASKS),
    )
