"""Structured logs: one line per event, `key=value` pairs, secrets redacted.

The job manager works each job in its own asyncio task and sets `job_context` there, so
every line a job's work logs (in the manager, an adapter or the publisher) carries the
job id, provider and state without each call site passing them. Tracebacks stay on the
same line (newlines escaped), so a log shipper sees one event per line.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
from collections.abc import Iterable

job_context: contextvars.ContextVar[dict[str, object] | None] = contextvars.ContextVar(
    "veo_job_context", default=None
)

MIN_SECRET_PIECE = 8  # a cut-off piece of a key this long is still redacted


def set_job_context(job_id: int, provider: str, state: str) -> None:
    job_context.set({"job": job_id, "provider": provider, "state": state})


def _quote(value: object) -> str:
    text = str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    return f'"{text}"' if (not text or any(c in text for c in ' ="')) else text


class Redactor:
    """Replaces each secret, and any piece of one at least MIN_SECRET_PIECE long that
    starts or ends it (a key cut short by someone's excerpt)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = sorted({s for s in secrets if len(s) >= MIN_SECRET_PIECE}, key=len)[::-1]

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            head, tail = secret[:MIN_SECRET_PIECE], secret[-MIN_SECRET_PIECE:]
            if head not in text and tail not in text:
                continue  # no piece of it can be here: every piece holds one of these
            text = text.replace(secret, "***")
            for size in range(len(secret) - 1, MIN_SECRET_PIECE - 1, -1):
                head, tail = secret[:size], secret[-size:]
                if head in text:
                    text = text.replace(head, "***")
                if tail in text:
                    text = text.replace(tail, "***")
        return text


class LogfmtFormatter(logging.Formatter):
    def __init__(self, redact: Redactor | None = None) -> None:
        super().__init__()
        self.redact = redact or Redactor(())

    def format(self, record: logging.LogRecord) -> str:
        when = dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds")
        fields: dict[str, object] = {
            "time": when.replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        context = getattr(record, "veo_job", None)
        if isinstance(context, dict):
            fields.update(context)
        fields["msg"] = record.getMessage()
        if record.exc_info:
            fields["exc"] = self.formatException(record.exc_info)
        line = " ".join(f"{key}={_quote(value)}" for key, value in fields.items())
        return self.redact(line)


class JobContextFilter(logging.Filter):
    """Attach the current job's context to every record (set by the manager per task)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.veo_job = job_context.get()
        return True


def configure_logging(level: str, secrets: Iterable[str] = ()) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(JobContextFilter())
    handler.setFormatter(LogfmtFormatter(Redactor(secrets)))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("discord").setLevel(max(logging.INFO, logging.getLevelName(level)))
