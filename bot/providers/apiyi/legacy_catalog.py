"""apiyi's earlier channel: its eight models, what they cost and how long they take, where
its calls go, and the checks and sentences only this channel's members meet.

Everything a model does is in its name: `-landscape` (16:9, else 9:16 portrait), `-fast`,
`-fl` (frame-to-video). Every model makes exactly 8 s at 720p, so the only options are the
prompt and, for `-fl`, the frames; an option that does not match the name would be ignored
by the vendor, and the member would pay for a video that is not the one asked for.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from types import MappingProxyType
from urllib.parse import quote

import yarl

import bot.providers.words as words
from bot.providers.apiyi.legacy_wire import LegacySubmitBody
from bot.providers.base import Mode, ModelSpec, ProviderRejected, SubmitRequest, Timing
from bot.providers.checks import (
    check_prompt,
    check_request,
    find_spec,
    image_count_message,
    unsupported_options,
)
from bot.providers.codes import ErrorCode

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
        image_formats=frozenset({"jpeg", "png", "webp"}),
        # Not documented for this channel; 10 MiB is the common cap of the Veo gateways.
        max_image_bytes=10 * 1024 * 1024,
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
MODELS: Mapping[str, ModelSpec] = MappingProxyType({n: _spec(n) for n in MODEL_NAMES})


def models_with(timing: Timing | None) -> Mapping[str, ModelSpec]:
    """The table, every model on `timing` when the operator set one (tests, a slow vendor)."""
    if timing is None:
        return MODELS
    return MappingProxyType({k: dataclasses.replace(v, timing=timing) for k, v in MODELS.items()})


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

PROMPT_MSG = "The video service did not accept this prompt (too long, or against its content rules). Please change it."
# When the vendor gives no reason a member may read: these are the usual ones.
FAILED_MSG = (
    "The video service could not make this video (often a content review or an unsupported "
    f"image). {words.NOT_CHARGED}"
)
# A link that fails is worth another try: the next attempt asks for a fresh one.
LINK_MSG = "The finished video could not be downloaded from the video service yet."
REJECT_FALLBACK = "Try a different prompt or settings."

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
        mode_message=(
            f"{request.model} makes videos from a first frame (and optionally a last frame)."
            if Mode.FIRST_FRAME in spec.modes
            else f"{request.model} makes videos from text only; use a -fl model for images."
        ),
        count=(wanted, wanted),
        count_message=image_count_message(request.mode),
    )
    if request.aspect_ratio is not None and request.aspect_ratio not in spec.aspect_ratios:
        raise ProviderRejected(
            f"{request.model} only makes {spec.aspect_ratios[0]} videos; "
            + (
                "drop -landscape from the model name for 9:16."
                if "-landscape" in request.model
                else "use its -landscape variant for 16:9."
            ),
            code=ErrorCode.BAD_FORMAT,
            detail=f"{VENDOR}: aspect {request.aspect_ratio} for {request.model}",
        )
    if request.resolution is not None and request.resolution not in spec.resolutions:
        raise ProviderRejected(
            f"{request.model} only renders at {RESOLUTION}.",
            code=ErrorCode.BAD_FORMAT,
            detail=f"{VENDOR}: resolution {request.resolution}",
        )
    if request.duration is not None and request.duration not in spec.durations:
        raise ProviderRejected(
            f"{request.model} only makes {LENGTH}-second videos.",
            code=ErrorCode.BAD_DURATION,
            detail=f"{VENDOR}: {request.duration} s",
        )
    unsupported = unsupported_options(request, spec)
    if unsupported:
        raise ProviderRejected(
            f"{request.model} does not take {' or '.join(unsupported)}.",
            code=ErrorCode.UNSUPPORTED_OPTION,
            detail=f"{VENDOR}: unsupported {unsupported}",
        )
    check_prompt(request, VENDOR, code=ErrorCode.INVALID_PROMPT)
    return LegacySubmitBody(prompt=request.prompt, model=request.model)
