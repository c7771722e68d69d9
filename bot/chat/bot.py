"""The bot as the Discord side sees it.

The composition root (`bot.client.VeoBot`) builds every part and is a `ChatBot`; the
chat side and the cogs type their interactions with this class, so nothing below the
composition root imports it (that would be a circle: the root imports the chat side).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import aiohttp
import discord
from discord.ext import commands

from storage import Job

if TYPE_CHECKING:
    from bot.jobs.service import VideoService
    from bot.providers.registry import ProviderRegistry
    from bot.settings import Settings


class JobMessages(Protocol):
    """What a new job's announcement (and Delete) needs of the publisher (`DiscordPublisher`
    is one):
    named here so the announcing code does not import the publisher, which imports it."""

    def render(self, job: Job, position: int | None = None) -> str: ...

    def view(self, job: Job) -> discord.ui.View: ...

    async def remove(self, job: Job) -> bool: ...


class ChatBot(commands.AutoShardedBot):
    """What the composition root provides (set in its `setup_hook`)."""

    settings: Settings
    session: aiohttp.ClientSession
    providers: ProviderRegistry
    publisher: JobMessages
    service: VideoService
