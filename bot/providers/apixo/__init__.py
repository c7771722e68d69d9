"""apixo: the adapter, its wire models and its catalogue (models, capabilities, prices, schedules)."""

from bot.providers.apixo.adapter import ApixoProvider

__all__ = ["ApixoProvider"]
