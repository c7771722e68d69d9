"""What the job manager needs from the chat side, without knowing it is Discord.

The Discord implementation lives in `bot.chat.publisher`; tests and the benchmark
can stand in their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from bot.providers.codes import Param, Say
from storage import Job


class DeliveryFailed(Exception):
    """The video could not be posted.

    `retryable`: a later attempt may work (Discord 5xx, a network blip).
    Otherwise the job fails with `code` and the member, refunded, is told `say`.
    """

    def __init__(self, say: Say, *, code: str, retryable: bool = False) -> None:
        super().__init__(code)
        self.say = say
        self.code = code
        self.retryable = retryable


class Publisher(Protocol):
    async def job_updated(self, job: Job, *, position: int | None = None) -> None:
        """Show the job's new state to the member. Best effort: must not raise.

        `position`: the job's place in the queue while it is queued (None: not known).
        """
        ...

    async def operator_alert(
        self, job: Job, params: Mapping[str, Param], *, kind: str = "account"
    ) -> bool:
        """Tell the server's admins about trouble members cannot fix (a refused key, no
        credits, a vendor that is down); True if it was posted. `kind` names the trouble
        ("account", "down", "recovered"): the chat side words it from `params`, and each
        kind is rate-limited on its own. Best effort: must not raise."""
        ...

    async def deliver(self, job: Job, *, resumed: bool) -> int:
        """Post the finished video (or its link) once; return the message id.

        `resumed` means an earlier attempt may have posted already: look before posting.
        """
        ...

    async def close(self) -> None:
        """The manager is stopping: drop work held back for later (rate-limited edits)."""
        ...
