"""What a member (or a server's admins) read when something fails, made from the failure's
code and parameters at the moment it is shown; the sentences themselves are in
`bot.chat.sentences`.

The job core and the store keep a failure as data (`bot.providers.codes.Failure`: a code,
and the parameters its sentence quotes). A failure that names its sentence (a `say`
parameter: what an adapter or the poster said, see `Say`) is told in that sentence; the job
core's own endings are told by code, refined by their `step` (where in the job it failed)
where the same code reads differently there.
"""

from __future__ import annotations

import string
from collections.abc import Mapping

import bot.chat.sentences as sentences
from bot.jobs.endings import Step
from bot.providers.base import ProviderError
from bot.providers.codes import ErrorCode, Failure, Param
from bot.providers.download import spoken_duration
from storage import Job

# (code, step): the sentence of one of the job core's own endings; step None is the code's.
TEMPLATES: Mapping[tuple[str, str | None], str] = {
    (ErrorCode.UNCERTAIN, None): sentences.UNCERTAIN,
    (ErrorCode.UNCERTAIN, Step.STORE_TASK_ID): sentences.TASK_LOST,
    (ErrorCode.INTERRUPTED, None): sentences.INTERRUPTED,
    (ErrorCode.DEADLINE, None): sentences.DEADLINE,
    (ErrorCode.INTERNAL_ERROR, None): sentences.INTERNAL,
    (ErrorCode.PROVIDER_DISABLED, None): sentences.PROVIDER_DISABLED,
    # A running job whose vendor (or task id) is gone: the bot's own trouble to the member.
    (ErrorCode.PROVIDER_DISABLED, Step.POLL): sentences.INTERNAL,
    (ErrorCode.VENDOR_DOWN, None): sentences.VENDOR_GONE,
    (ErrorCode.VENDOR_FAILED, None): sentences.FAILED,
    (ErrorCode.TOO_LARGE, Step.DOWNLOAD): sentences.TOO_LARGE_NO_LINK,
}


class _Fill(string.Formatter):
    """`str.format` that leaves a missing parameter empty rather than raising: a row
    written by an older or newer bot must still show a sentence."""

    def get_value(self, key: int | str, args: object, kwargs: Mapping[str, object]) -> object:
        return kwargs.get(str(key), "")

    def format_field(self, value: object, format_spec: str) -> str:
        # "{seconds:duration}": a number of seconds as a member says it ("2 minutes").
        if format_spec == "duration":
            return spoken_duration(float(value)) if isinstance(value, int | float) else ""
        # "{options:options}": option keys ("seed,negative_prompt") as a member reads them.
        if format_spec == "options":
            names = [sentences.SENTENCES.get(f"option.{key}", key) for key in str(value).split(",")]
            return " or ".join(names)
        try:
            return str(super().format_field(value, format_spec))
        except ValueError:  # "{limit:,}" of a parameter a row lacks: shown plainly
            return str(value)


_FILL = _Fill()


def _said(params: Mapping[str, Param]) -> str | None:
    """The sentence a failure names (and the one it says `then`), or None when it names
    none this bot knows (a row from a newer bot: told by its code instead)."""
    key, then = params.get("say"), params.get("then")
    if not isinstance(key, str) or key not in sentences.SENTENCES:
        return None
    text = _FILL.format(sentences.SENTENCES[key], **params)
    if isinstance(then, str) and then in sentences.SENTENCES:
        text = f"{text} {_FILL.format(sentences.SENTENCES[then], **params)}"
    return text


def failure_text(
    code: str | None, params: Mapping[str, Param], legacy_message: str | None = None
) -> str:
    """The sentence for a failure. `legacy_message` is the sentence a row written before
    failures were kept as codes holds: shown as it is."""
    if legacy_message:
        return legacy_message
    step = params.get("step")
    step = step if isinstance(step, str) else None
    said = _said(params)
    if said is not None:
        # A vendor's failure while fetching the video: the member paid nothing for it.
        text = f"{said} {sentences.REFUNDED}" if step == Step.DOWNLOAD else said
    elif code is None:
        return sentences.UNKNOWN
    else:
        # A vendor's code that has no sentence of its own reads as a failed render.
        template = TEMPLATES.get((code, step)) or TEMPLATES.get((code, None)) or sentences.FAILED
        text = _FILL.format(template, **params)
    if code == ErrorCode.CONTENT_POLICY:
        text = f"{text} {sentences.POLICY_ADVICE}"
    return text


def job_failure_text(job: Job) -> str:
    """The sentence for a failed job, from its row."""
    return failure_text(job.error_code, Failure.load_params(job.error_params), job.error_message)


def error_text(exc: ProviderError) -> str:
    """What a member is told of a vendor's error (a refusal shown at once, a test's view)."""
    return failure_text(exc.code, exc.say.failure(exc.code).params)


def alert_text(kind: str, params: Mapping[str, Param]) -> str:
    """What the admins read about trouble of `kind` ("down", "recovered", "account");
    `params` carry what the member was told of the failure behind it (its `say`)."""
    said = _said(params) or ""
    values: dict[str, Param] = {**params, "said": said}
    # The member-safe sentence only (never a detail: it may quote a URL or a body).
    values["last"] = said.strip().rstrip(".")[:300]
    provider = str(params.get("provider", ""))
    values.setdefault("key_name", f"{provider.upper()}_API_KEY")
    return _FILL.format(sentences.ALERTS[kind], **values)
