"""What a bot process logged at WARNING and above (and its lost leases and deadlocks), so a
run's report can say whether anything went wrong under load without anyone reading the log
files."""

from __future__ import annotations

import logging
import re
from collections import Counter
from typing import Any

SAMPLES = 12  # kinds of message kept (a storm of one error would hide the others)
# Job ids, task ids, pids, message ids: any word with a digit in it.
NUMBERS = re.compile(r"[\w:.-]*\d[\w:.-]*")
# discord.py's notes at start-up that voice is not available: not the bot's doing.
IGNORED = ("voice will NOT be supported",)


class LogTally(logging.Handler):
    """Counts records at WARNING and above by level; lost leases (an INFO line, but under
    several processes the sign of two workers on one job) and the group commit's batches
    rolled back by a PostgreSQL deadlock (logged at INFO: their writes are run again; a write
    whose tries run out fails its caller, which logs that at WARNING or ERROR); keeps one
    example of each kind of message, the
    kind being the message with its ids and numbers taken out."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.levels: Counter[str] = Counter()
        self.leases_lost = 0
        self.deadlocks = 0
        self.kinds: dict[str, dict[str, Any]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string is still a record worth counting
            message = str(record.msg)
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            message += f" [{type(exc).__name__}: {exc}]"
        if "lease lost" in message:
            self.leases_lost += 1
        if record.name == "storage.group_commit" and "deadlock detected" in message:
            self.deadlocks += 1  # a batch's transaction rolled back (and run again)
        if record.levelno < logging.WARNING or any(x in message for x in IGNORED):
            return
        self.levels[record.levelname] += 1
        flat = " ".join(message.split())
        kind = f"{record.levelname} {record.name}: " + NUMBERS.sub("N", flat.split(" DETAIL:")[0])
        if kind in self.kinds:
            self.kinds[kind]["count"] += 1
        elif len(self.kinds) < SAMPLES:
            self.kinds[kind] = {"count": 1, "example": f"{record.name}: {flat[:600]}"}

    def summary(self) -> dict[str, Any]:
        return {
            "levels": dict(self.levels),
            "leases_lost": self.leases_lost,
            "deadlocks": self.deadlocks,
            "kinds": self.kinds,
        }


def tally_logs() -> LogTally:
    """A tally on the root logger, beside the handler `log_to` set."""
    tally = LogTally()
    logging.getLogger().addHandler(tally)
    return tally
