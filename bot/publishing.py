"""What the job manager needs from the chat side, without knowing it is Discord.

The Discord implementation lives in `bot.discord_publisher`; tests and the benchmark
can stand in their own.
"""

from __future__ import annotations

from typing import Protocol

from storage import Job


class DeliveryFailed(Exception):
    """The video could not be posted.

    `retryable`: a later attempt may work (Discord 5xx, a network blip).
    Otherwise the job fails with `member_message` and the member is refunded.
    """

    def __init__(self, member_message: str, *, code: str, retryable: bool = False) -> None:
        super().__init__(member_message)
        self.member_message = member_message
        self.code = code
        self.retryable = retryable


class Publisher(Protocol):
    async def job_updated(self, job: Job) -> None:
        """Show the job's new state to the member. Best effort: must not raise."""
        ...

    async def operator_alert(self, job: Job, text: str) -> None:
        """Tell the server's admins about trouble members cannot fix (a refused key, no
        credits). Best effort: must not raise."""
        ...

    async def deliver(self, job: Job, *, resumed: bool) -> int:
        """Post the finished video (or its link) once; return the message id.

        `resumed` means an earlier attempt may have posted already: look before posting.
        """
        ...
