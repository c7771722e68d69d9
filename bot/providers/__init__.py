"""Vendor adapters behind one interface (`base.Provider`), and the registry the bot builds
from settings (`registry`). See ARCHITECTURE.md, "Adding a vendor"."""

from __future__ import annotations

from bot.providers.base import ModelSpec, Provider
from bot.providers.registry import ProviderRegistry

__all__ = ["ModelSpec", "Provider", "ProviderRegistry"]
