"""Who may see or act on a job: the one rule, written once.

Servers are tenants. A job belongs to the member who made it and to the server (or the
direct-message conversation) it was made in. Job numbers are sequential, so a rule that
only asked "is this person an admin somewhere?" would put every job of every server one
guess away. This module is plain data and one function, free of Discord: the cogs turn an
interaction into an `Asker`, and every path that takes a job number from outside (the
commands, their autocomplete, every button, the modals, the admin commands) asks `may`.
A refusal must read exactly like a missing job, so the answer leaks nothing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from storage import Job


class Action(enum.StrEnum):
    VIEW = "view"  # /veo status, the job in an autocomplete list
    CANCEL = "cancel"  # /veo cancel, the Cancel and "Yes, cancel it" buttons
    RETRY = "retry"  # the Retry button
    REMIX = "remix"  # the Remix (and Edit prompt) button and its form
    CONTINUE = "continue"  # the Continue button and its form
    DELETE = "delete"  # the Delete button under a video
    REFUND = "refund"  # /veo-admin refund: an admin's act, never the owner's own


# Actions the job's owner may take anywhere; the others are admin acts only.
OWNER_ACTIONS = frozenset(
    {Action.VIEW, Action.CANCEL, Action.RETRY, Action.REMIX, Action.CONTINUE, Action.DELETE}
)


@dataclass(frozen=True, slots=True)
class Asker:
    """Who is asking, from where, with which of *that* server's permissions.

    `guild_id` is None in direct messages, where nobody is an admin. The two flags are the
    member's permissions in the server the request came from, as Discord resolved them for
    the interaction; they say nothing about any other server.
    """

    user_id: int
    guild_id: int | None
    manage_guild: bool = False
    manage_messages: bool = False


def may(asker: Asker, job: Job, action: Action) -> bool:
    """Whether `asker` may take `action` on `job`.

    The owner may take every owner action from anywhere. Someone with Manage Server may
    act only from inside the job's own server. Delete is also open to Manage Messages
    there (moderation). Nobody may reach a server's job from another server or a DM.
    """
    if job.user_id == asker.user_id and action in OWNER_ACTIONS:
        return True
    same_server = asker.guild_id is not None and job.guild_id == asker.guild_id
    if not same_server:
        return False
    if asker.manage_guild:
        return True
    return action is Action.DELETE and asker.manage_messages
