"""Who is asking, read from a Discord interaction, for the access rule in `bot.jobs.access`;
and which job they name, read from what they typed.

Every command, button and form turns its interaction into an `Asker` here and nowhere
else, so the rule sees the same facts however a job number reached the bot. The
permissions are the ones Discord resolved for the member in the interaction's own server
and channel; they say nothing about any other server. Outside a server nobody holds any,
whatever a payload claims.
"""

from __future__ import annotations

import re
from typing import Any

import discord

from bot.chat.i18n import text
from bot.jobs.access import Asker
from bot.jobs.requests import RequestInvalid

JOB_NUMBER = re.compile(r"#?\s*(\d{1,18})")  # 18 digits: always a valid SQLite integer


def asker_of(interaction: discord.Interaction[Any]) -> Asker:
    """The asker behind `interaction`: Administrator counts as every permission."""
    perms = interaction.permissions
    in_server = interaction.guild_id is not None
    return Asker(
        user_id=interaction.user.id,
        guild_id=interaction.guild_id,
        manage_guild=in_server and (perms.manage_guild or perms.administrator),
        manage_messages=in_server and (perms.manage_messages or perms.administrator),
    )


def parse_job_number(typed: str, locale: str | None = None) -> int:
    """`#12`, `12` or ` # 12 ` → 12; anything else is refused in the member's words (and
    `locale`, their language)."""
    match = JOB_NUMBER.fullmatch(typed.strip())
    if match is None:
        raise RequestInvalid(text("chat.not_a_job_number", locale))
    return int(match[1])
