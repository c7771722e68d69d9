"""veo3o1: what it offers and what its answers mean.

The one model, its capabilities and poll schedule, the API's paths, and the vendor-only
sentences and word lists the adapter reads failures with. Kept apart from the adapter so a
new model, option or schedule is an edit here and nothing else.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping
from types import MappingProxyType
from urllib.parse import quote

import yarl

import bot.providers.words as words
from bot.providers.base import (
    Mode,
    ModelSpec,
    ProviderRejected,
    SubmitRequest,
    TaskState,
    TaskStatus,
    Timing,
)
from bot.providers.catalog import on_schedule, table
from bot.providers.checks import (
    check_options,
    check_prompt,
    check_text_or_start_image,
    find_spec,
)
from bot.providers.codes import ErrorCode, say
from bot.providers.veo3o1.wire import Veo3o1Code

DEFAULT_BASE_URL = "https://veo3o1.com/api"
MODEL = "veo3o1-veo-3.1"

GENERATE_PATH = "/generate-video"
UPLOAD_PATH = "/upload-video-image"
STATUS_PATH = "/video-status/"


def status_url(base: str, task_id: str) -> yarl.URL:
    # Quote every reserved character, and tell yarl not to re-quote our escapes.
    return yarl.URL(f"{base}{STATUS_PATH}{quote(task_id, safe='')}", encoded=True)


def same_origin(url: str, base: str) -> bool:
    """Whether `url` lives on the API's own host: the only host the key may go to."""
    try:
        return yarl.URL(url).origin() == yarl.URL(base).origin()
    except ValueError:
        return False


# No timing is documented. Veo 3.1 renders take about 1-3 min (the vendor's own example
# answer says `estimatedTime: 120`), so the first look is at 30 s; the vendor asks for polls
# every 5-10 s; the deadline is several times the typical render, because a job we abandon
# is still rendered and billed.
TIMING = Timing(initial_wait=30, poll_interval=5, deadline=1200)

MODELS = table(
    ModelSpec(
        name=MODEL,
        label="Veo 3.1 (veo3o1)",
        modes=frozenset({Mode.TEXT, Mode.FIRST_FRAME}),
        # The documented values; `auto` is also what the vendor does when none is sent.
        aspect_ratios=("auto", "16:9", "9:16"),
        # There is no length or resolution option: Veo 3.1's fixed 8 s at its default
        # 720p is all this API can be asked for.
        durations=(8,),
        default_duration=8,
        resolutions=("720p",),
        timing=TIMING,
        max_reference_images=0,
        image_formats=frozenset({"jpeg", "png", "webp"}),
        max_image_bytes=50 * 1024 * 1024,
        gives_url=True,
        image_transport="upload",
        callbacks=False,
    )
)


def models_with(timing_override: Timing | None) -> Mapping[str, ModelSpec]:
    """The models, or (tests, a forced schedule) the models polled on one given schedule."""
    return on_schedule(MODELS, timing_override)


def check(models: Mapping[str, ModelSpec], request: SubmitRequest) -> ModelSpec:
    """The request's model, once the request is checked against it: a refused submit costs
    a round trip (two with an upload), and the vendor's only answer is a bare 1000."""
    spec = find_spec(models, request, "veo3o1")
    check_text_or_start_image(request, spec, "veo3o1")
    check_prompt(request, "veo3o1", code=ErrorCode.EMPTY_PROMPT)
    if spec.max_prompt is not None and len(request.prompt) > spec.max_prompt:
        raise ProviderRejected(
            say("veo3o1.prompt_too_long", limit=spec.max_prompt),
            code=ErrorCode.PROMPT_TOO_LONG,
            detail=f"veo3o1: prompt of {len(request.prompt)} characters",
        )
    check_options(
        request,
        spec,
        "veo3o1",
        shape=say("veo3o1.shape"),
        resolution=say("veo3o1.no_resolution"),
        length=say("veo3o1.only_length", seconds=spec.default_duration),
        # Names the first option only, as it always has.
        options=lambda keys: say("veo3o1.no_option", options=keys[0]),
    )
    return spec


# How many tasks' remaining-time estimates the adapter keeps (one per job being polled).
ETA_MEMORY = 1024


class Estimates:
    """The vendor's latest `estimatedTime` of each task being polled, for the newest
    ETA_MEMORY tasks: a hint for when the next poll is worth making."""

    def __init__(self, size: int = ETA_MEMORY) -> None:
        self._size = size
        self._seconds: OrderedDict[str, float] = OrderedDict()

    def get(self, task_id: str) -> float | None:
        return self._seconds.get(task_id)

    def note(self, task_id: str, eta: float | None) -> None:
        if eta is None:
            self._seconds.pop(task_id, None)
            return
        self._seconds[task_id] = eta
        self._seconds.move_to_end(task_id)
        while len(self._seconds) > self._size:
            self._seconds.popitem(last=False)


# -- reading failures -----------------------------------------------------------------------

# A failed task carries no documented reason; one of these in the words it does give means
# the vendor's content review refused it.
POLICY_WORDS = ("policy", "safety", "nsfw", "moderation", "prohibited", "inappropriate")
# Envelope messages that say nothing a member could act on.
GENERIC_MSGS = frozenset({"", "success", "ok", "failed", "error", "invalid parameters"})


# The documented codes that say what an HTTP status says (the key, the rate, the server):
# they read as that status, whatever the status line of their answer was.
STATUS_FOR_CODE: Mapping[int, int] = MappingProxyType(
    {Veo3o1Code.AUTH_FAILED: 401, Veo3o1Code.RATE_LIMITED: 429, Veo3o1Code.SERVER_ERROR: 500}
)


def status_for(code: int | None, *, ok: bool) -> int | None:
    """The HTTP status an envelope's code stands for, if any: a documented one by the table;
    an undocumented 5xxx with an HTTP 2xx as a server error (the documented 1xxx codes are
    about the request or the account, 5xxx about the server)."""
    if code is None:
        return None
    if code in STATUS_FOR_CODE:
        return STATUS_FOR_CODE[code]
    return 500 if ok and code >= Veo3o1Code.SERVER_ERROR else None


def failure_reason(task_text: str | None, envelope_msg: str | None) -> str | None:
    """A failed task's reason: its own words, else (the vendor says "check error message")
    the envelope's `msg` unless that is boilerplate."""
    if task_text is None and envelope_msg and not is_generic(envelope_msg):
        return envelope_msg.strip()
    return task_text


def is_policy(reason: str | None) -> bool:
    """Whether a failed task's words point at the vendor's content rules."""
    return bool(reason) and any(word in (reason or "").lower() for word in POLICY_WORDS)


def is_generic(message: str) -> bool:
    """Whether an envelope's `msg` is boilerplate rather than a reason."""
    return message.strip().lower() in GENERIC_MSGS


# -- what a member is told (only this vendor says it; the words are in the catalogue, bot/chat/locales) --

# The vendor names the credits, and its 1001 answer says how many the task needed.
CREDITS = say("veo3o1.credits")
# Said after "did not accept this request" when the vendor gave no reason worth showing.
TRY_OTHER = say("veo3o1.try_other")
FAILED = say("veo3o1.failed").then(words.NOT_CHARGED)
POLICY = say("veo3o1.policy").then(words.NOT_CHARGED)
UPLOAD_FAILED = say("veo3o1.upload_failed")


def with_eta(stage: str, eta: float | None) -> str:
    """'generating, about 40 s left'. Rounded (5 s, then whole minutes) so the member's
    message does not change on every poll for a second's difference."""
    if eta is None:
        return stage
    if eta <= 0:
        return stage if stage == "queued" else f"{stage}, almost done"
    if eta < 60:
        return f"{stage}, about {max(5, 5 * math.ceil(eta / 5))} s left"
    return f"{stage}, about {max(1, round(eta / 60))} min left"


def in_progress(running: bool, progress: int | None, eta: float | None) -> TaskStatus:
    """A task still queued or rendering, its stage carrying the vendor's estimate."""
    return TaskStatus(
        TaskState.RUNNING if running else TaskState.PENDING,
        progress=progress,
        stage=with_eta("generating" if running else "queued", eta),
        eta_seconds=eta,
    )


def completed(url: str) -> TaskStatus:
    """A finished task: its link has no documented lifetime."""
    return TaskStatus(
        TaskState.SUCCEEDED, progress=100, stage="completed", result_url=url, url_expires_at=None
    )
