"""apixo: what it offers and what its answers mean, so a new model, price or failure code
is an edit here and nothing else.

The vendor has one model (`veo-3-1`) with a `mode` of `quality` or `fast`: members see two
models, `veo-3.1-fast` and `veo-3.1-quality`, named like the other vendors' Veo 3.1 models
so the choice reads the same everywhere. Reference images work only in `fast` mode and only
at 16:9, so the quality model does not offer them and a 9:16 (or `auto`) reference request
is refused before it costs a round trip. There is no length or resolution option: the
output is Veo 3.1's fixed 8 s.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal

import yarl

import bot.providers.checks as checks
import bot.providers.words as words
from bot.providers.apixo.wire import WEB, ApixoInput, GenerationType
from bot.providers.base import (
    InputImage,
    Mode,
    ModelSpec,
    ProviderRejected,
    ResultNotReady,
    SubmitRequest,
    Timing,
)
from bot.providers.catalog import on_schedule, table
from bot.providers.codes import ErrorCode, Say, say

DEFAULT_BASE_URL = "https://api.apixo.ai"
# The vendor's newer pages give ".../api/v1" as the base URL, so a base URL may end in it.
API_SUFFIX = "/api/v1"
SUBMIT_PATH = "/api/v1/generateTask/veo-3-1"
STATUS_PATH = "/api/v1/statusTask/veo-3-1"

# Which upstream the vendor routes a task to; "auto" lets it choose.
Routing = Literal["auto", "value", "official"]
ROUTINGS: tuple[Routing, ...] = ("auto", "value", "official")


def routing(value: str) -> Routing:
    """An operator's routing setting, refused at start-up when the vendor has no such one."""
    for known in ROUTINGS:
        if value == known:
            return known
    raise ValueError(f"apixo routing must be one of {', '.join(ROUTINGS)}")


FAST = "veo-3.1-fast"
QUALITY = "veo-3.1-quality"
# One vendor model with a `mode`: members pick it by our model name.
VENDOR_MODE: Mapping[str, Literal["fast", "quality"]] = MappingProxyType(
    {FAST: "fast", QUALITY: "quality"}
)

MAX_PROMPT = 10_000
# One vendor page says 24 h, another 15 days: plan for the shorter.
URL_LIFETIME = 24 * 3600.0
# A CDN 404 right after success is most likely propagation lag: wait this long and retry.
FILE_RETRY_AFTER = 5.0


def not_ready(detail: str | None = None) -> ResultNotReady:
    """The video is made but its link does not answer yet: ask again shortly."""
    return ResultNotReady(
        words.NOT_READY, code=ErrorCode.NOT_READY, detail=detail, retry_after=FILE_RETRY_AFTER
    )


# Documented: ~2 min on average; "wait 90 seconds, then poll every 5 seconds". The deadline
# is generous on purpose: a job we abandon is still rendered, billed and lost.
TIMING = Timing(initial_wait=90, poll_interval=5, deadline=900)


def _spec(name: str, label: str, modes: frozenset[Mode], refs: int, price: float) -> ModelSpec:
    return ModelSpec(
        name=name,
        label=label,
        modes=modes,
        aspect_ratios=("16:9", "9:16", "auto"),
        # No length or resolution option: Veo 3.1's fixed output.
        durations=(8,),
        default_duration=8,
        resolutions=("720p",),
        timing=TIMING,
        max_reference_images=refs,
        # References are documented for 16:9 only: refused at the command, before quota.
        aspect_ratios_by_mode={Mode.REFERENCE: ("16:9",)},
        negative_prompt=False,
        seed=True,
        enhance_prompt=False,
        image_formats=frozenset({"jpeg", "png", "webp"}),
        max_image_bytes=10 * 1024 * 1024,
        max_prompt=MAX_PROMPT,
        price_usd=price,
        gives_url=True,
        image_transport="url",
        callbacks=True,
    )


MODELS = table(
    # Fast first: the cheaper one, and the only one with every mode, is the default.
    _spec(
        FAST,
        "Veo 3.1 Fast (apixo)",
        frozenset({Mode.TEXT, Mode.FIRST_FRAME, Mode.FIRST_LAST, Mode.REFERENCE}),
        3,
        0.20,
    ),
    _spec(
        QUALITY,
        "Veo 3.1 Quality (apixo)",
        frozenset({Mode.TEXT, Mode.FIRST_FRAME, Mode.FIRST_LAST}),
        0,
        1.50,
    ),
)


def models_with(timing_override: Timing | None) -> Mapping[str, ModelSpec]:
    """The models as offered, or all on one forced schedule (tests, an operator's setting)."""
    return on_schedule(MODELS, timing_override)


# Mode → (generation type, fewest images, most images).
GENERATION: Mapping[Mode, tuple[GenerationType, int, int]] = MappingProxyType(
    {
        Mode.TEXT: (GenerationType.TEXT_2_VIDEO, 0, 0),
        Mode.FIRST_FRAME: (GenerationType.FIRST_AND_LAST_FRAMES_2_VIDEO, 1, 1),
        Mode.FIRST_LAST: (GenerationType.FIRST_AND_LAST_FRAMES_2_VIDEO, 2, 2),
        Mode.REFERENCE: (GenerationType.REFERENCE_2_VIDEO, 1, 3),
    }
)


def vendor_input(request: SubmitRequest, models: Mapping[str, ModelSpec]) -> ApixoInput:
    """The request as the vendor's `input`, re-checked against the model table first: a
    refused submit costs a round trip, and the reference rules (fast only, 16:9 only) are
    easy to miss."""
    spec = checks.find_spec(models, request, "apixo")
    checks.check_mode(
        request,
        spec,
        "apixo",
        message=say("apixo.no_references", model=spec.label, instead=MODELS[FAST].label)
        if request.mode is Mode.REFERENCE
        else say("apixo.no_mode", model=spec.label),
    )
    checks.check_prompt(request, "apixo", code=ErrorCode.BAD_PROMPT, detail=False)
    if len(request.prompt) > MAX_PROMPT:
        raise ProviderRejected(
            PROMPT_LONG,
            code=ErrorCode.PROMPT_TOO_LONG,
            detail=f"apixo: {len(request.prompt)} chars",
        )
    generation_type, low, high = GENERATION[request.mode]
    urls: list[str] = []

    def take_url(image: InputImage) -> None:
        if not image.url or not image.url.startswith(WEB):
            # The vendor only takes URLs; the job manager should have given one.
            raise ProviderRejected(
                NO_IMAGE_URL,
                code=ErrorCode.NO_IMAGE_URL,
                detail="apixo: image without a public URL",
            )
        urls.append(image.url)

    checks.check_request(
        request,
        spec,
        "apixo",
        mode_message=None,  # checked above, before the prompt
        count=(low, high),
        count_message=checks.image_count_message(request.mode),
        too_large_message=IMAGE_LARGE,
        each=take_url,
    )
    # The vendor's default is 16:9; say it anyway so the request is explicit.
    aspect = request.aspect_ratio or "16:9"
    _check_shape(request, spec, aspect)
    return ApixoInput(
        mode=VENDOR_MODE[request.model],
        prompt=request.prompt,
        generation_type=generation_type,
        aspect_ratio=aspect,
        image_urls=urls or None,
        seed=request.seed,
    )


def _check_shape(request: SubmitRequest, spec: ModelSpec, aspect: str) -> None:
    """The frame, resolution and length the model makes: the vendor has no option for the
    last two, and would make its fixed output whatever was asked."""

    def refuse(message: Say, code: ErrorCode, why: str) -> ProviderRejected:
        return ProviderRejected(message, code=code, detail=f"apixo: {why}")

    if aspect not in spec.aspect_ratios:
        shapes = ", ".join(spec.aspect_ratios)
        raise refuse(
            say("apixo.bad_aspect", model=spec.label, shapes=shapes, aspect=aspect),
            ErrorCode.BAD_FORMAT,
            f"aspect {aspect}",
        )
    if request.mode is Mode.REFERENCE and aspect != "16:9":
        raise refuse(REFERENCE_LANDSCAPE, ErrorCode.BAD_FORMAT, f"reference with aspect {aspect}")
    if request.resolution is not None and request.resolution not in spec.resolutions:
        sizes = ", ".join(spec.resolutions)
        raise refuse(
            say("apixo.bad_resolution", model=spec.label, sizes=sizes),
            ErrorCode.BAD_FORMAT,
            f"resolution {request.resolution}",
        )
    if request.duration is not None and request.duration not in spec.durations:
        raise refuse(
            say("apixo.bad_duration", model=spec.label, seconds=spec.default_duration),
            ErrorCode.BAD_DURATION,
            f"duration {request.duration}",
        )


def expiry(complete_ms: int | None) -> float:
    """When the result link stops working: 24 h after completion, counted from the vendor's
    completion time when it is plausible and earlier than now (the conservative choice)."""
    now = time.time()
    start = now
    # Compared in milliseconds first: an absurd int (past float's range) must not be
    # divided, which would raise OverflowError.
    if complete_ms is not None and (now - 7 * 86400) * 1000 < complete_ms < now * 1000:
        start = complete_ms / 1000.0
    return start + URL_LIFETIME


def host(url: str) -> str:
    """Only the host of a result link goes to the log: the rest may be a signature."""
    try:
        return yarl.URL(url).host or "?"
    except ValueError:
        return "?"


# -- what a member reads (only this vendor says it; the words are in the catalogue, bot/chat/locales) --

OUT_OF_CREDIT = say("apixo.out_of_credit")
NO_MODEL = say("apixo.no_model")
EXPIRED = say("apixo.expired")
NO_IMAGE_URL = say("apixo.no_image_url")
REFERENCE_LANDSCAPE = say("apixo.reference_landscape")
# Said after "did not accept this request" when the vendor's reason is not shown.
TRY_OTHER = say("apixo.try_other")

PROMPT_LONG = say("apixo.prompt_long")
IMAGE_LARGE = say("apixo.image_large")
UNAVAILABLE = say("apixo.unavailable")
FAILED = say("apixo.failed")

# -- reading failures -----------------------------------------------------------------------

# What a failure is about; on a refused request, the kind is also the error code.
Kind = Literal[
    "policy",
    "nsfw",
    "image_policy",
    "prompt_long",
    "bad_prompt",
    "image_url",
    "image_large",
    "image_format",
    "image_download",
    "timeout",
    "unavailable",
    "credits",
    "failed",
]
# The kinds that are a content review's refusal.
POLICY_KINDS: frozenset[Kind | None] = frozenset({"policy", "nsfw", "image_policy"})

KIND_MESSAGE: Mapping[Kind, Say] = MappingProxyType(
    {
        "policy": say("apixo.policy"),
        "nsfw": say("apixo.nsfw"),
        "image_policy": say("apixo.image_policy"),
        "prompt_long": PROMPT_LONG,
        "bad_prompt": say("apixo.bad_prompt"),
        "image_url": say("apixo.image_url"),
        "image_large": IMAGE_LARGE,
        "image_format": say("apixo.image_format"),
        "image_download": say("apixo.image_download"),
        "timeout": say("apixo.timeout"),
        "unavailable": UNAVAILABLE,
        "credits": OUT_OF_CREDIT,
        "failed": FAILED,
    }
)


def failed_message(kind: Kind | None) -> Say:
    """What a member reads about a task that ended in failure (never charged for)."""
    return KIND_MESSAGE[kind or "failed"].then(words.NOT_CHARGED)


# The vendor documents its failure codes twice, once in upper snake case and once in
# CamelCase: both are compared with case and underscores removed.
_FAIL_KINDS: Mapping[str, Kind] = MappingProxyType(
    {
        "CONTENTVIOLATION": "policy",
        "SENSITIVECONTENT": "policy",
        "SENSITIVECONTENTDETECTED": "policy",
        "PROHIBITEDCONTENTDETECTED": "policy",
        "INPUTOUTPUTSENSITIVECONTENTDETECTED": "policy",
        "NSFWDETECTED": "nsfw",
        "NSFW": "nsfw",
        "INPUTIMAGESENSITIVECONTENTDETECTED": "image_policy",
        "PROMPTTOOLONG": "prompt_long",
        "PROMPTLENGTHEXCEEDED": "prompt_long",
        "INVALIDPROMPT": "bad_prompt",
        "INVALIDIMAGEURL": "image_url",
        "IMAGETOOLARGE": "image_large",
        "UNSUPPORTEDFORMAT": "image_format",
        "IMAGEDOWNLOADFAILED": "image_download",
        "PROCESSINGTIMEOUT": "timeout",
        "MODELUNAVAILABLE": "unavailable",
        "GENERATIONFAILED": "failed",
        "INSUFFICIENTCREDITS": "credits",
    }
)


def fail_kind(code: str | None) -> Kind | None:
    """What a vendor failure code means, from the documented tables, else from its words:
    the vendor adds codes without notice, and a new one is most often a variant of these."""
    if not code:
        return None
    key = re.sub(r"[^A-Z0-9]", "", code.upper())
    if key in _FAIL_KINDS:
        return _FAIL_KINDS[key]
    if "NSFW" in key:
        return "nsfw"
    if any(w in key for w in ("SENSITIVE", "VIOLAT", "PROHIBIT", "POLICY", "MODERAT")):
        return "image_policy" if "IMAGE" in key else "policy"
    if "PROMPT" in key and any(w in key for w in ("LONG", "LENGTH", "EXCEED")):
        return "prompt_long"
    if any(w in key for w in ("CREDIT", "BALANCE", "QUOTA")):
        return "credits"
    if "TIMEOUT" in key:
        return "timeout"
    if "IMAGE" in key:
        return "image_download" if "DOWNLOAD" in key else "image_url"
    return None


# Words of an error message that tell what it is about when no failure code does.
POLICY_WORDS = ("content", "policy", "sensitive", "nsfw", "violat", "prohibit", "moderat")
CREDIT_WORDS = ("insufficient credit", "insufficient balance", "no credits", "out of credit")
TECHNICAL_WORDS = ("unmarshal", "json", "struct", "traceback", "exception")


def technical(reason: str) -> bool:
    """Whether a refusal is the vendor's parser complaining about our JSON: our bug, which
    the member can do nothing about, so its words are not worth showing."""
    return any(w in reason.lower() for w in TECHNICAL_WORDS)


# A vendor failure code short and plain enough to store as the job's error code.
PLAIN_CODE = re.compile(r"[A-Za-z0-9_.\-]{1,40}")
