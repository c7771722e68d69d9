"""apiyi: the adapter (`adapter.py`), its wire models and its catalogue (models, capabilities, prices, schedules)."""
