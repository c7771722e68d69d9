"""apiyi: the adapter, its wire models and its catalogue (models, capabilities, prices, schedules)."""

from bot.providers.apiyi.adapter import ApiyiProvider

__all__ = ["ApiyiProvider"]
