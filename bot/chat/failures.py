"""What a member (or a server's admins) read when something fails, made from the failure's
code and parameters at the moment it is shown, in the reader's language; the sentences
themselves are in the catalogues (`bot.chat.i18n`: `[ending]`, `[failure]`, `[alert]`);
and what a member reads when a request is refused (`[refusal]`, `refusal_text`).

The job core and the store keep a failure as data (`bot.providers.codes.Failure`: a code,
and the parameters its sentence quotes). A failure that names its sentence (a `say`
parameter: what an adapter or the poster said, see `Say`) is told in that sentence; the job
core's own endings are told by code, refined by their `step` (where in the job it failed)
where the same code reads differently there.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.chat.i18n import has, text
from bot.jobs.endings import Step
from bot.jobs.refusals import Refusal, english
from bot.providers.base import ProviderError
from bot.providers.codes import ErrorCode, Failure, Param, Say
from storage import Job

# (code, step): the sentence of one of the job core's own endings; step None is the code's.
TEMPLATES: Mapping[tuple[str, str | None], str] = {
    (ErrorCode.UNCERTAIN, None): "ending.uncertain",
    (ErrorCode.UNCERTAIN, Step.STORE_TASK_ID): "ending.task_lost",
    (ErrorCode.INTERRUPTED, None): "ending.interrupted",
    (ErrorCode.DEADLINE, None): "ending.deadline",
    (ErrorCode.INTERNAL_ERROR, None): "ending.internal",
    (ErrorCode.PROVIDER_DISABLED, None): "ending.provider_disabled",
    # A running job whose vendor (or task id) is gone: the bot's own trouble to the member.
    (ErrorCode.PROVIDER_DISABLED, Step.POLL): "ending.internal",
    (ErrorCode.VENDOR_DOWN, None): "ending.vendor_gone",
    (ErrorCode.VENDOR_FAILED, None): "ending.failed",
    (ErrorCode.TOO_LARGE, Step.DOWNLOAD): "ending.too_large_no_link",
}


def _said(params: Mapping[str, Param], locale: str | None) -> str | None:
    """The sentence a failure names (and the one it says `then`), or None when it names
    none this bot knows (a row from a newer bot: told by its code instead)."""
    key, then = params.get("say"), params.get("then")
    if not isinstance(key, str) or not has(f"failure.{key}"):
        return None
    said = text(f"failure.{key}", locale, **params)
    if isinstance(then, str) and has(f"failure.{then}"):
        said = f"{said} {text(f'failure.{then}', locale, **params)}"
    return said


def failure_text(
    code: str | None,
    params: Mapping[str, Param],
    legacy_message: str | None = None,
    locale: str | None = None,
) -> str:
    """The sentence for a failure, in `locale`. `legacy_message` is the sentence a row
    written before failures were kept as codes holds: shown as it is."""
    if legacy_message:
        return legacy_message
    step = params.get("step")
    step = step if isinstance(step, str) else None
    said = _said(params, locale)
    if said is not None:
        # A vendor's failure while fetching the video: the member paid nothing for it.
        told = f"{said} {text('ending.refunded', locale)}" if step == Step.DOWNLOAD else said
    elif code is None:
        return text("ending.unknown", locale)
    else:
        # A vendor's code that has no sentence of its own reads as a failed render.
        key = TEMPLATES.get((code, step)) or TEMPLATES.get((code, None)) or "ending.failed"
        told = text(key, locale, **params)
    if code == ErrorCode.CONTENT_POLICY:
        told = f"{told} {text('ending.policy_advice', locale)}"
    return told


def job_failure_text(job: Job, locale: str | None = None) -> str:
    """The sentence for a failed job, from its row: in `locale`, else in the job's own
    (the server's language when the command ran: its public posts')."""
    return failure_text(
        job.error_code,
        Failure.load_params(job.error_params),
        job.error_message,
        locale or job.locale,
    )


def error_text(exc: ProviderError, locale: str | None = None) -> str:
    """What a member is told of a vendor's error (a refusal shown at once, a test's view)."""
    return failure_text(exc.code, exc.say.failure(exc.code).params, locale=locale)


def refusal_text(exc: Refusal, locale: str | None = None) -> str:
    """What a member is told of a refused request (`RequestInvalid`, `QuotaRefused`), in
    `locale`: the `[refusal]` sentence it names; a plain sentence (a cog's own, with no
    key) reads as it was given."""
    return str(exc) if exc.say is None else said_text(exc.say, locale)


def said_text(said: Say, locale: str | None = None) -> str:
    """A refusal's sentence named without the refusal (the job core's `DMS_OFF`,
    `NOT_ADMIN`), in `locale`; a key this bot does not know reads as its English."""
    if not has(said.key):
        return english(said)
    return text(said.key, locale, **said.params)


def alert_text(kind: str, params: Mapping[str, Param], locale: str | None = None) -> str:
    """What the admins read about trouble of `kind` ("down", "recovered", "account");
    `params` carry what the member was told of the failure behind it (its `say`)."""
    said = _said(params, locale) or ""
    values: dict[str, Param] = {**params, "said": said}
    # The member-safe sentence only (never a detail: it may quote a URL or a body).
    values["last"] = said.strip().rstrip(".")[:300]
    provider = str(params.get("provider", ""))
    values.setdefault("key_name", f"{provider.upper()}_API_KEY")
    return text(f"alert.{kind}", locale, **values)
