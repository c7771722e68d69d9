"""The names of what went wrong: raised by the adapters, the job core and the poster, read
by the job core, the stats and the words a member is shown.

A `StrEnum`, so a code is still the plain string stored in `jobs.error_code`, counted in
the metrics and shown in `/veo-admin stats`; the enum only makes sure the spelling the job
core branches on (`too_large`, `rate_limited`, ...) is the spelling the adapters raise. A
vendor's own failure code (a finished task's reason) may still travel as a plain string.

`Failure` is a code with its parameters: what a failed job keeps instead of a sentence. The
words are made by the chat side when the failure is shown (`bot.chat.failures`), so the
job core and the store hold no English and a catalogue can word every code in one place.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

# A failure's parameter: plain data a sentence may quote (a count, a limit, a name).
Param = str | int | float


class ErrorCode(enum.StrEnum):
    # -- the account: the operator must act
    AUTH = "auth"
    QUOTA = "quota"
    INSUFFICIENT_CREDITS = "insufficient_credits"
    TOKEN_EXPIRED = "token_expired"
    # -- the vendor for now: try again later
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    UNEXPECTED_STATUS = "unexpected_status"
    ERROR_BODY = "error_body"
    BAD_ANSWER = "bad_answer"
    BAD_UPLOAD_ANSWER = "bad_upload_answer"
    UNAVAILABLE = "unavailable"
    # -- the way there
    BAD_URL = "bad_url"
    CONNECT_FAILED = "connect_failed"
    TIMEOUT = "timeout"
    CONNECTION_LOST = "connection_lost"
    UNSAFE_URL = "unsafe_url"
    NO_TASK_ID = "no_task_id"
    # -- this request
    REJECTED = "rejected"
    BAD_FORMAT = "bad_format"
    BAD_DURATION = "bad_duration"
    BAD_IMAGES = "bad_images"
    BAD_IMAGE_FORMAT = "bad_image_format"
    BAD_PROMPT = "bad_prompt"
    EMPTY_PROMPT = "empty_prompt"
    PROMPT_TOO_LONG = "prompt_too_long"
    INVALID_PROMPT = "invalid_prompt"
    INVALID_MODEL = "invalid_model"
    INVALID_PARAMETERS = "invalid_parameters"
    UNKNOWN_MODEL = "unknown_model"
    UNSUPPORTED_MODE = "unsupported_mode"
    UNSUPPORTED_OPTION = "unsupported_option"
    IMAGE_TOO_LARGE = "image_too_large"
    NO_IMAGE_URL = "no_image_url"
    CONTENT_POLICY = "content_policy"
    # -- the task and its result
    NOT_FOUND = "not_found"
    NOT_READY = "not_ready"
    GENERATION_FAILED = "generation_failed"
    NO_VIDEO_URL = "no_video_url"
    VIDEO_GONE = "video_gone"
    RESULT_EXPIRED = "result_expired"
    EMPTY_VIDEO = "empty_video"
    CDN_ERROR = "cdn_error"
    DOWNLOAD_FAILED = "download_failed"
    TOO_LARGE = "too_large"
    DOWNLOAD_TOO_SLOW = "download_too_slow"
    # -- the job core's own endings
    PROVIDER_DISABLED = "provider_disabled"
    UNCERTAIN = "uncertain"
    VENDOR_DOWN = "vendor_down"
    VENDOR_FAILED = "vendor_failed"
    INTERRUPTED = "interrupted"
    DEADLINE = "deadline"
    INTERNAL_ERROR = "internal_error"
    # -- posting to Discord
    CHANNEL_GONE = "channel_gone"
    MISSING_PERMISSIONS = "missing_permissions"
    NETWORK = "network"
    # -- the base classes' defaults
    PROVIDER_ERROR = "provider_error"


@dataclass(frozen=True, slots=True)
class Say:
    """Which sentence a member reads, and what it quotes: a key of the chat side's
    catalogue (`bot.chat.failures.SENTENCES`) and its parameters. An adapter says what
    happened with one; only the chat side turns it into words, when it is shown.

    A `then` parameter names a second sentence read after the first (a shared "try a
    different prompt", "you were not charged"); `reason` is, by convention, the vendor's
    own words, passed only when they are safe for a member to read."""

    key: str
    params: Mapping[str, Param] = field(default_factory=dict, hash=False)

    def then(self, key: str) -> Say:
        return Say(self.key, {**self.params, "then": key})

    def failure(self, code: str, **extra: Param) -> Failure:
        """This sentence as a job's failure under `code` (plus where it happened)."""
        return Failure(code, {"say": self.key, **self.params, **extra})


def say(key: str, /, **params: Param) -> Say:
    return Say(key, params)


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a job failed, as data: its code (an `ErrorCode`, or a vendor's own) and the
    parameters its sentence quotes. Stored as `jobs.error_code` and `jobs.error_params`."""

    code: str
    params: Mapping[str, Param] = field(default_factory=dict, hash=False)

    def params_json(self) -> str | None:
        """The parameters as the store keeps them: JSON text, None when there are none."""
        if not self.params:
            return None
        return json.dumps(dict(self.params), ensure_ascii=False, sort_keys=True)

    @staticmethod
    def load_params(text: str | None) -> dict[str, Param]:
        """Parameters read back from the store; anything unreadable counts as none, so a
        damaged row still shows its code's sentence."""
        if not text:
            return {}
        try:
            value = json.loads(text)
        except ValueError:
            return {}
        if not isinstance(value, dict):
            return {}
        return {
            str(k): v
            for k, v in value.items()
            if isinstance(v, str | int | float) and not isinstance(v, bool)
        }
