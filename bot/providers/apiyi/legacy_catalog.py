"""apiyi's earlier channel: its eight models, what they cost and how long they take, where
its calls go, and the checks and sentences only this channel's members meet.

Everything a model does is in its name: `-landscape` (16:9, else 9:16 portrait), `-fast`,
`-fl` (frame-to-video). Every model makes exactly 8 s at 720p, so the only options are the
prompt and, for `-fl`, the frames; an option that does not match the name would be ignored
by the vendor, and the member would pay for a video that is not the one asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from urllib.parse import quote

import yarl

import bot.providers.words as words
from bot.providers.apiyi.legacy_wire import LegacySubmitBody
from bot.providers.base import Mode, ModelSpec, SubmitRequest, Timing
from bot.providers.catalog import on_schedule, table
from bot.providers.checks import (
    check_options,
    check_prompt,
    check_request,
    find_spec,
    image_count_message,
)
from bot.providers.codes import ErrorCode, say

VENDOR = "apiyi legacy"  # how the log and each error's detail name this channel
LABEL = "APIYI"  # how a member's sentence names it

# The vendor says: fast about 30-60 s, standard about 1-2 min, poll every 5-10 s, give up
# after 10 min. The deadline has margin: a job we abandon is still rendered, billed and lost.
_TIMING_FAST = Timing(initial_wait=30, poll_interval=5, deadline=900)
_TIMING_STANDARD = Timing(initial_wait=60, poll_interval=5, deadline=900)
# The vendor's links are "typically valid for 24 hours".
URL_LIFETIME = 24 * 3600.0
# How long to wait when `/content` says video_not_ready: the vendor's own poll interval.
NOT_READY_RETRY = 5.0
LENGTH = 8
RESOLUTION = "720p"


def _spec(name: str) -> ModelSpec:
    fast = "-fast" in name
    frames = name.endswith("-fl")
    return ModelSpec(
        name=name,
        label=f"{name} (apiyi, earlier channel)",
        modes=frozenset({Mode.FIRST_FRAME, Mode.FIRST_LAST}) if frames else frozenset({Mode.TEXT}),
        aspect_ratios=("16:9",) if "-landscape" in name else ("9:16",),
        durations=(LENGTH,),
        default_duration=LENGTH,
        resolutions=(RESOLUTION,),
        timing=_TIMING_FAST if fast else _TIMING_STANDARD,
        max_reference_images=0,
        negative_prompt=False,
        seed=False,
        enhance_prompt=False,
        # Image formats and size are not documented for this channel: ModelSpec's defaults,
        # what every Veo gateway takes, apply.
        price_usd=0.15 if fast else 0.25,
        gives_url=True,
        image_transport="bytes",
        callbacks=False,
    )


# The eight names of the vendor's model table, in its order.
MODEL_NAMES: tuple[str, ...] = (
    "veo-3.1",
    "veo-3.1-fl",
    "veo-3.1-fast",
    "veo-3.1-fast-fl",
    "veo-3.1-landscape",
    "veo-3.1-landscape-fl",
    "veo-3.1-landscape-fast",
    "veo-3.1-landscape-fast-fl",
)
MODELS = table(*(_spec(n) for n in MODEL_NAMES))


def models_with(timing: Timing | None) -> Mapping[str, ModelSpec]:
    """The table, every model on `timing` when the operator set one (tests, a slow vendor)."""
    return on_schedule(MODELS, timing)


# -- the way there ----------------------------------------------------------------------------


def bare_key(key: str) -> Mapping[str, str]:
    """This channel takes the key alone in the Authorization header: with "Bearer" in
    front (the current channel's form) it is refused."""
    return {"Authorization": key}


def videos_url(base: str) -> str:
    return f"{base}/v1/videos"


def task_url(base: str, task_id: str, suffix: str = "") -> yarl.URL:
    # Quote every reserved character, and tell yarl not to re-quote our escapes: a task id
    # is the vendor's text, and "/" or "?" in it must not change the path.
    return yarl.URL(f"{videos_url(base)}/{quote(task_id, safe='')}{suffix}", encoded=True)


def video_url(text: str, base: str, scrub: Callable[[str], str]) -> yarl.URL | None:
    """The vendor's link as an absolute http(s) URL (a relative one is on the API host),
    or None when it is not one: a link we cannot open is no link. `scrub` takes our key
    out of it (a JSON escape hides it from the body's scrubbing): the link is stored, and
    may be posted for members to open."""
    try:
        url = yarl.URL(scrub(text.strip()))
        if not url.is_absolute():
            url = yarl.URL(base + "/").join(url)
    except (ValueError, TypeError):
        return None
    if url.scheme not in ("http", "https") or not url.host:
        return None
    return url


# -- words only this channel's members read ---------------------------------------------------

# The words are in the catalogue (`bot/chat/locales/en.toml`, `[failure]`), under these keys.

PROMPT_MSG = say("apiyi_legacy.prompt_refused")
# When the vendor gives no reason a member may read: these are the usual ones.
FAILED_MSG = say("apiyi_legacy.failed").then(words.NOT_CHARGED)
# A link that fails is worth another try: the next attempt asks for a fresh one.
LINK_MSG = say("apiyi_legacy.link_failed")
# The same advice as the current channel's, after "did not accept this request".
REJECT_FALLBACK = say("apiyi.try_other")

# The error codes (or types) that mean the account is out of credit, whatever the status.
QUOTA_CODES = frozenset(
    {"quota_exceeded", "insufficient_quota", "insufficient_user_quota", "insufficient_balance"}
)


# -- what a request may ask -------------------------------------------------------------------


def checked_body(models: Mapping[str, ModelSpec], request: SubmitRequest) -> LegacySubmitBody:
    """The body for `request`, once it matches its model's name: the name carries shape,
    length and mode, and the vendor silently ignores an option that contradicts it."""
    spec = find_spec(models, request, VENDOR)
    wanted = {Mode.TEXT: 0, Mode.FIRST_FRAME: 1, Mode.FIRST_LAST: 2}.get(request.mode, -1)
    check_request(
        request,
        spec,
        VENDOR,
        mode_message=say(
            "apiyi_legacy.frames_only"
            if Mode.FIRST_FRAME in spec.modes
            else "apiyi_legacy.text_only",
            model=request.model,
        ),
        count=(wanted, wanted),
        count_message=image_count_message(request.mode),
    )
    check_options(
        request,
        spec,
        VENDOR,
        # The name says the shape: the way to the other one is another name.
        shape=say(
            "apiyi_legacy.only_landscape"
            if "-landscape" in request.model
            else "apiyi_legacy.only_portrait",
            model=request.model,
            aspect=spec.aspect_ratios[0],
        ),
        resolution=say("apiyi_legacy.only_resolution", model=request.model, resolution=RESOLUTION),
        length=say("apiyi_legacy.only_length", model=request.model, length=LENGTH),
        options=lambda keys: say(
            "apiyi_legacy.no_options", model=request.model, options=",".join(keys)
        ),
    )
    check_prompt(request, VENDOR, code=ErrorCode.INVALID_PROMPT)
    return LegacySubmitBody(prompt=request.prompt, model=request.model)
