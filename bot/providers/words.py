"""What a member is told when a vendor call goes wrong, by name: the sentences every adapter
shares. The words themselves are in the catalogue (`bot/chat/locales/en.toml`, `[failure]`) (under these keys), so one edit
there changes what every vendor's members read.

An adapter raises with one of these (or with its own, where its vendor says something more
precise); never with a vendor's body, a key or a URL.
"""

from __future__ import annotations

from bot.providers.codes import Say, say

AUTH = say("auth")
OUT_OF_CREDIT = say("out_of_credit")
BUSY = say("busy")
DOWN = say("down")
BAD_ANSWER = say("bad_answer")
REJECTED = say("rejected")
NOT_READY = say("not_ready")
GONE = say("gone")
NO_TASK_ID = say("no_task_id")
TOO_LARGE = say("too_large")
# Said after another sentence (a `then`), never alone.
NOT_CHARGED = "not_charged"


def rejected_because(reason: str | None, *, fallback: Say) -> Say:
    """ "...did not accept this request: <reason>." when the vendor gave a reason a member may
    read (the caller decides that), else the plain sentence and `fallback` (what to try)."""
    if reason:
        return say("rejected_because", reason=reason.rstrip("."))
    return REJECTED.then(fallback.key)


def could_not_make(reason: str | None, *, default: Say) -> Say:
    """A failed task in the vendor's own words when they may be shown, else `default`."""
    if reason:
        return say("could_not_make", reason=reason.rstrip("."))
    return default
