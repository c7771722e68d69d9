"""The providers members may pick, and how the bot builds them from settings.

Here, not in the Discord composition root, so that `veo-bot check` and the benchmark build
the same adapters without importing discord.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import aiohttp

from bot.providers.base import ModelSpec, Provider
from bot.providers.demo import DemoProvider
from bot.settings import Settings


class ProviderRegistry:
    """The providers members may pick, in the order they are offered."""

    def __init__(self, providers: Mapping[str, Provider], default: str) -> None:
        if default not in providers:
            raise ValueError(f"default provider {default!r} is not enabled")
        self._providers = dict(providers)
        self.default = default

    def __contains__(self, name: object) -> bool:
        return name in self._providers

    def __iter__(self) -> Iterator[Provider]:
        return iter(self._providers.values())

    def get(self, name: str) -> Provider:
        return self._providers[name]

    def names(self) -> list[str]:
        return list(self._providers)

    def model(self, provider: str, model: str) -> ModelSpec | None:
        p = self._providers.get(provider)
        return None if p is None else p.models.get(model)

    def default_model(self, provider: str) -> str:
        return next(iter(self._providers[provider].models))

    async def close(self) -> None:
        for provider in self._providers.values():
            await provider.close()


def build_providers(settings: Settings, session: aiohttp.ClientSession) -> ProviderRegistry:
    """One adapter per enabled vendor; imported lazily so a missing one costs nothing."""
    providers: dict[str, Provider] = {}
    for name in settings.enabled_providers():
        if name == "demo":
            providers[name] = DemoProvider(
                delay=settings.demo_delay, poll_interval=settings.demo_poll_interval
            )
            continue
        common: dict[str, Any] = {
            "api_key": settings.api_key(name),
            "base_url": settings.base_url(name),
            "session": session,
            "request_timeout": settings.request_timeout,
        }
        if name == "apiyi":
            from bot.providers.apiyi.adapter import ApiyiProvider

            providers[name] = ApiyiProvider(**common)
        elif name == "apixo":
            from bot.providers.apixo.adapter import ApixoProvider

            providers[name] = ApixoProvider(**common, routing=settings.apixo_routing)
        elif name == "veo3o1":
            from bot.providers.veo3o1.adapter import Veo3o1Provider

            providers[name] = Veo3o1Provider(**common)
        elif name == "yelinai":
            from bot.providers.yelinai.adapter import YelinaiProvider

            providers[name] = YelinaiProvider(**common)
    return ProviderRegistry(providers, settings.resolved_default_provider())
