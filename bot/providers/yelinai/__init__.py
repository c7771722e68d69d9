"""yelinai: the adapter, its wire models and its catalogue (models, capabilities, prices, schedules)."""

from bot.providers.yelinai.adapter import YelinaiProvider

__all__ = ["YelinaiProvider"]
