"""The bot as the Discord side sees it.

The composition root (`bot.client.VeoBot`) builds every part and is a `ChatBot`; the
chat side and the cogs type their interactions with this class, so nothing below the
composition root imports it (that would be a circle: the root imports the chat side).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
from discord.ext import commands

if TYPE_CHECKING:
    from bot.chat.publisher import DiscordPublisher
    from bot.jobs.service import VideoService
    from bot.providers import ProviderRegistry
    from bot.settings import Settings


class ChatBot(commands.Bot):
    """What the composition root provides (set in its `setup_hook`)."""

    settings: Settings
    session: aiohttp.ClientSession
    providers: ProviderRegistry
    publisher: DiscordPublisher
    service: VideoService
