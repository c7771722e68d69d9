"""The polling schedule's arithmetic."""

from __future__ import annotations

import pytest

from bot.jobs.retry import backoff, next_poll_delay


@pytest.mark.parametrize(
    ("eta", "expected"),
    [(None, 5.0), (0, 5.0), (10, 5.0), (40, 35.0), (600, 60.0)],
)
def test_a_vendor_estimate_skips_pointless_polls_but_never_overshoots(
    eta: float | None, expected: float
) -> None:
    assert next_poll_delay(5.0, eta) == expected


def test_backoff_grows_is_capped_and_honours_retry_after() -> None:
    assert 1.5 <= backoff(1, 2.0) <= 2.5
    assert 6.0 <= backoff(3, 2.0) <= 10.0
    assert backoff(30, 2.0) <= 75.0
    assert backoff(1, 2.0, retry_after=30.0) == 30.0
