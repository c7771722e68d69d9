"""yelinai: what it offers and what its answers mean.

The models and what each can do, the checks a request passes before it costs a round
trip, their poll schedules, the API's paths, and the sentences (by key: the words are in
the catalogue (`bot/chat/locales/en.toml`, `[failure]`)) and word lists only this vendor needs to read its answers. Kept apart from the adapter so a new model or a changed
schedule is an edit here and nothing else.

There are no aspect ratio, length or resolution options. Veo 3 renders 8 s, 16:9, 720p
with sound, so that is what each model declares: validation then refuses the options we
could not pass on instead of silently dropping them.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from urllib.parse import quote, urlsplit

import yarl

from bot.providers.base import InputImage, Mode, ModelSpec, ProviderRejected, SubmitRequest, Timing
from bot.providers.catalog import on_schedule, table
from bot.providers.checks import NO_IMAGES_MSG, check_prompt, check_request, find_spec
from bot.providers.codes import ErrorCode, Say, say
from bot.providers.http import is_plain_text
from bot.providers.yelinai.wire import YelinaiProgress, YelinaiSubmitBody, YelinaiUpstream

DEFAULT_BASE_URL = "https://api.yelinai.com"
API = "/veo/v1/api/video"
# Operators paste the documented path prefix into the base URL too: both forms are taken.
BASE_SUFFIXES = (API, "/veo/v1")


def status_url(base: str, task_id: str) -> yarl.URL:
    """Where a task's status is. Every reserved character of the id is quoted but the colon
    (the vendor's own example sends `veo3:<uuid>` as is, and a path segment may hold one),
    and yarl is told not to quote our escapes a second time."""
    return yarl.URL(f"{base}{API}/status/{quote(task_id, safe=':')}", encoded=True)


# -- the models -----------------------------------------------------------------------------

# The vendor documents no timing at all. Veo 3 through such gateways takes 1–3 min (fast
# less, pro more), and the upstream retries a failed render up to 3 times
# (`progress.maxRetries`), so the deadlines are generous: a job we abandon is still
# rendered, billed and lost.
_TIMING_FAST = Timing(initial_wait=30, poll_interval=5, deadline=1200)
_TIMING = Timing(initial_wait=45, poll_interval=5, deadline=1200)
_TIMING_PRO = Timing(initial_wait=60, poll_interval=5, deadline=1800)

# `images` is an array of reference image URLs, at most 5, for every model; the vendor's
# own example sends one with plain `veo3`. How the vendor uses them beyond "reference" is
# not documented, so the three plain models offer reference mode with up to 5 images.
_MAX_IMAGES = 5
_TEXT_AND_REFERENCE = frozenset({Mode.TEXT, Mode.REFERENCE})
# `veo3-pro-frames` is "Pro version + frame control", without saying which frames; the
# other gateways selling the same upstream model describe it as "first frame only, no last
# frame, at most one image", so it is declared first-frame only (not first+last, and not
# text-only, which is what `veo3-pro` is for).
_FRAMES = frozenset({Mode.FIRST_FRAME})


def _spec(name: str, label: str, modes: frozenset[Mode], timing: Timing) -> ModelSpec:
    return ModelSpec(
        name=name,
        label=label,
        modes=modes,
        # No options documented: what Veo 3 produces, and nothing else.
        aspect_ratios=("16:9",),
        durations=(8,),
        default_duration=8,
        resolutions=("720p",),
        timing=timing,
        max_reference_images=_MAX_IMAGES if Mode.REFERENCE in modes else 0,
        negative_prompt=False,
        seed=False,
        enhance_prompt=True,
        # Image formats and size are not documented (the vendor fetches the URL itself):
        # ModelSpec's defaults, what every Veo gateway takes, apply.
        max_prompt=None,
        price_usd=None,
        gives_url=True,
        image_transport="url",
        callbacks=False,
    )


MODELS = table(
    _spec("veo3", "Veo 3 (yelinai)", _TEXT_AND_REFERENCE, _TIMING),
    _spec("veo3-fast", "Veo 3 Fast (yelinai)", _TEXT_AND_REFERENCE, _TIMING_FAST),
    _spec("veo3-pro", "Veo 3 Pro (yelinai)", _TEXT_AND_REFERENCE, _TIMING_PRO),
    _spec("veo3-pro-frames", "Veo 3 Pro, start frame (yelinai)", _FRAMES, _TIMING_PRO),
)


def models_with(timing: Timing | None) -> Mapping[str, ModelSpec]:
    """The models, or (tests, a forced schedule) every one of them on `timing`."""
    return on_schedule(MODELS, timing)


# -- checking a request before it costs a round trip ----------------------------------------


def submit_body(request: SubmitRequest, models: Mapping[str, ModelSpec]) -> YelinaiSubmitBody:
    """The request as the vendor takes it, once re-checked against the model table: a
    rejected submit costs a round trip, and an option the vendor has no field for would be
    dropped silently (the member would get something other than what they asked for)."""
    spec = find_spec(models, request, "yelinai")
    check_prompt(request, "yelinai", code=ErrorCode.EMPTY_PROMPT)
    count, count_message = _image_count(spec, request.mode)
    can = "yelinai.start_image_only" if spec.modes == _FRAMES else "yelinai.text_or_references"
    check_request(
        request,
        spec,
        "yelinai",
        mode_message=say(can, label=spec.label),
        count=count,
        count_message=count_message,
        each=_check_url,
    )
    missing = _unsupported(request, spec)
    if missing:
        raise ProviderRejected(
            say("yelinai.no_options", label=spec.label, options=", ".join(missing)),
            code=ErrorCode.UNSUPPORTED_OPTION,
            detail=f"yelinai: unsupported {missing} for {spec.name}",
        )
    urls = [image.url for image in request.images if image.url is not None]
    return YelinaiSubmitBody(
        prompt=request.prompt,
        model=request.model,
        images=urls or None,
        enhance_prompt=request.enhance_prompt,
    )


def _image_count(spec: ModelSpec, mode: Mode) -> tuple[tuple[int, int], Say]:
    """How many images `mode` takes on this model (low, high), and the sentence if not."""
    if mode is Mode.TEXT:
        return (0, 0), NO_IMAGES_MSG
    if mode is Mode.FIRST_FRAME:
        return (1, 1), say("yelinai.one_start_image", label=spec.label)
    if mode is Mode.REFERENCE:
        top = spec.max_reference_images
        return (1, top), say("yelinai.reference_images", label=spec.label, most=top)
    return (1, 0), say("yelinai.no_such_mode", label=spec.label)


def _unsupported(request: SubmitRequest, spec: ModelSpec) -> list[str]:
    """The options asked for that the vendor has no field for, by the names a member
    reads (`yelinai.no_options` quotes them)."""
    missing = [
        what
        for what, given, allowed in (
            ("shape", request.aspect_ratio, spec.aspect_ratios),
            ("resolution", request.resolution, spec.resolutions),
        )
        if given is not None and given not in allowed
    ]
    if request.duration is not None and request.duration not in spec.durations:
        missing.append("length")
    if request.negative_prompt:
        missing.append("negative prompt")
    if request.seed is not None:
        missing.append("seed")
    return missing


def _check_url(image: InputImage) -> None:
    scheme, netloc = _scheme_and_host(image.url or "")
    if scheme not in ("http", "https") or not netloc:
        # The vendor can only download a public http(s) URL; without one the image
        # would never reach it.
        raise ProviderRejected(
            say("yelinai.no_image_url"),
            code=ErrorCode.NO_IMAGE_URL,
            detail=f"yelinai: image without a usable public URL (scheme {scheme or 'none'!r})",
        )


def _scheme_and_host(url: str) -> tuple[str, str]:
    """(scheme, netloc) of a link; ("", "") when it does not parse at all ("http://[" is
    an invalid IPv6 address to urlsplit, which raises ValueError)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "", ""
    return parts.scheme, parts.netloc


# -- reading answers ------------------------------------------------------------------------

# The vendor's `error_code`s the adapter gives a meaning of their own.
TASK_NOT_FOUND = "TASK_NOT_FOUND"
INVALID_PROMPT = "INVALID_PROMPT"
INVALID_MODEL = "INVALID_MODEL"
# A code holding one of these (`QUOTA_EXCEEDED`, ...) is the operator's account, whatever
# the HTTP status it came with.
_QUOTA_MARKS = ("QUOTA", "CREDIT", "BALANCE")


def is_quota(code: str) -> bool:
    return any(mark in code for mark in _QUOTA_MARKS)


def usable_link(url: str) -> bool:
    """Whether a finished task's link can be stored and opened: http(s), and text that
    encodes as UTF-8."""
    scheme, _ = _scheme_and_host(url)
    return scheme in ("http", "https") and is_plain_text(url)


# What `data.upstreamData.status` says while processing, as a member reads it.
STAGES: Mapping[str, str] = MappingProxyType(
    {
        YelinaiUpstream.IMAGE_DOWNLOADING: "downloading images",
        YelinaiUpstream.VIDEO_GENERATING: "generating",
    }
)


def retries(progress: YelinaiProgress | None) -> str:
    """The upstream's own retries of a failed render, which a long wait is often down to."""
    if progress is None or not progress.retry_count:
        return ""
    of = f"/{progress.max_retries}" if progress.max_retries else ""
    return f" (retry {progress.retry_count}{of})"


# A CDN that does not have the file yet (just after `completed`): wait a little.
CDN_RETRY_AFTER = 4.0

# Words in a failure reason that tell the member what kind of problem it was.
_POLICY_WORDS = (
    "policy",
    "safety",
    "unsafe",
    "nsfw",
    "violat",
    "prohibit",
    "sensitive",
    "moderat",
    "inappropriate",
    "blocked",
)
_IMAGE_WORDS = ("image", "download", "picture", "photo")

# -- what a member reads (only this vendor says it; the words are in the catalogue, bot/chat/locales) --

# The vendor counts the account in quota (`QUOTA_EXCEEDED`), not in credit.
QUOTA = say("yelinai.quota")
NO_MODEL = say("yelinai.no_model")
VIDEO_GONE = say("yelinai.video_gone")
TRY_OTHER = say("yelinai.try_other")
# Members of this bot spend quota, so a failed task tells them it came back (a `then`).
_REFUNDED = "yelinai.refunded"
# What kind of failure a task's end was: its sentence without a reason, and the one
# quoting the vendor's reason.
Lead = tuple[str, str]
_FAILED: Lead = ("yelinai.failed", "yelinai.failed_because")
_POLICY: Lead = ("yelinai.policy", "yelinai.policy_because")
_IMAGE_FAILED: Lead = ("yelinai.image_failed", "yelinai.image_failed_because")


def prompt_refused(reason: str | None) -> Say:
    """The refused prompt, with the vendor's reason when a member may read it."""
    if reason:
        return say("yelinai.prompt_refused_because", reason=reason.rstrip("."))
    return say("yelinai.prompt_refused").then(TRY_OTHER.key)


def failure_kind(code: str | None, reason: str | None) -> tuple[str, Lead]:
    """(our code, the sentence's lead) for a failed task: the vendor's words decide whether
    it was the content rules, the member's image, or the render itself."""
    text = f"{code or ''} {reason or ''}".lower()
    if any(word in text for word in _POLICY_WORDS):
        return ErrorCode.CONTENT_POLICY, _POLICY
    if any(word in text for word in _IMAGE_WORDS):
        return "image_failed", _IMAGE_FAILED
    return ErrorCode.GENERATION_FAILED, _FAILED


def failed_because(lead: Lead, reason: str | None) -> Say:
    """A failed task, in the vendor's own words when they may be shown."""
    plain, because = lead
    told = say(because, reason=reason.rstrip(".")) if reason else say(plain)
    return told.then(_REFUNDED)
