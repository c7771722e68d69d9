"""Fixtures the vendor tests share. An adapter test module names its vendor in `VENDOR`
(a `kit.Vendor`); `sim` and `provider` are built from it, so each module states only what
is its vendor's."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest

from tests.providers.kit import TINY, ImageHost, Vendor
from tests.sim.vendor_base import VendorSimulator


def _vendor(request: pytest.FixtureRequest) -> Vendor:
    vendor = getattr(request.module, "VENDOR", None)
    assert isinstance(vendor, Vendor), f"{request.module.__name__} names no VENDOR"
    return vendor


@pytest.fixture
async def sim(request: pytest.FixtureRequest) -> AsyncIterator[VendorSimulator]:
    """The module's vendor simulator, expecting its key, its clock stopped: each task stays
    queued until the test moves it."""
    vendor = _vendor(request)
    async with vendor.simulator(api_key=vendor.key, queued_for=None, running_for=None) as s:
        yield s


@pytest.fixture
def make_provider(
    request: pytest.FixtureRequest, sim: VendorSimulator, session: aiohttp.ClientSession
) -> Callable[..., Any]:
    """Build the module's adapter against `sim` with the key (`options` add to or replace
    these; the schedule is the vendor's own unless given)."""
    vendor = _vendor(request)

    def make(**options: Any) -> Any:
        return vendor.provider(
            **{"api_key": vendor.key, "base_url": sim.base_url, "session": session, **options}
        )

    return make


@pytest.fixture
def provider(request: pytest.FixtureRequest, make_provider: Callable[..., Any]) -> Any:
    """The module's adapter against `sim`, on the tests' short schedule."""
    return make_provider(timing_override=TINY, **_vendor(request).options)


@pytest.fixture
async def host() -> AsyncIterator[ImageHost]:
    async with ImageHost() as h:
        yield h
