"""Vendor adapters behind one interface, and the registry the bot builds from settings."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from .base import ModelSpec, Provider

__all__ = ["ModelSpec", "Provider", "ProviderRegistry"]


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
