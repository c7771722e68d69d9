"""Figures for veo-bot: run `python -m bench.run` from the repository root (see README.md)."""
