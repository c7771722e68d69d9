"""What a member reads when a vendor call goes wrong: the sentences every adapter shares.

An adapter raises with one of these (or with its own, where its vendor says something more
precise); never with a vendor's body, a key or a URL. They live here, in one copy, so one
edit changes what every vendor's members read.
"""

from __future__ import annotations

AUTH = "The video service refused the bot's API key; the server operator has been told."
OUT_OF_CREDIT = "The video service account is out of credit; the server operator has been told."
BUSY = "The video service is busy right now. Please try again in a moment."
DOWN = "The video service is having trouble right now. Please try again in a moment."
BAD_ANSWER = "The video service gave an answer the bot could not read. Please try again."
REJECTED = "The video service did not accept this request."
NOT_READY = "The video is finished but not downloadable yet."
GONE = "The video service no longer knows this task."
NOT_CHARGED = "You were not charged."
NO_TASK_ID = (
    "The video service answered without a task number; the request may or may not have started."
)
TOO_LARGE = "The video is larger than this bot is allowed to download."


def rejected_because(reason: str | None, *, fallback: str) -> str:
    """ "...did not accept this request: <reason>." when the vendor gave a reason a member may
    read (the caller decides that), else the plain sentence and `fallback` (what to try)."""
    if reason:
        return f"{REJECTED[:-1]}: {reason.rstrip('.')}."
    return f"{REJECTED} {fallback}"


def could_not_make(reason: str | None, *, default: str) -> str:
    """A failed task in the vendor's own words when they may be shown, else `default`."""
    if reason:
        return f"The video service could not make this video: {reason.rstrip('.')}. {NOT_CHARGED}"
    return default
