"""veo3o1: the adapter, its wire models and its catalogue (models, capabilities, prices, schedules)."""

from bot.providers.veo3o1.adapter import Veo3o1Provider

__all__ = ["Veo3o1Provider"]
