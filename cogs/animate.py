"""The "Animate with Veo" message context menu (being written)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.client import VeoBot


async def setup(bot: VeoBot) -> None:
    return None
