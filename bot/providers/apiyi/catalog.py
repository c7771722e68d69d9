"""apiyi's current channel: what it offers and what its answers mean.

The models, their capabilities, prices and poll schedules, the request shape each
resolution and aspect becomes, and the vendor-only sentences and word lists the adapter
reads failures with. Kept apart from the adapter so a new model or a new price is an edit
here and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import bot.providers.words as words
from bot.providers.base import Mode, ModelSpec, Timing
from bot.providers.catalog import on_schedule, table
from bot.providers.codes import Say, say

DEFAULT_BASE_URL = "https://api.apiyi.com"
VIDEOS_PATH = "/v1/videos"
# The vendor's own samples give ".../v1" as the SDK base, so a base URL may end in it.
SDK_SUFFIX = "/v1"

# The vendor names the frame size, not the resolution: this is the only shape it takes.
SIZES: Mapping[tuple[str, str], str] = MappingProxyType(
    {
        ("720p", "16:9"): "1280x720",
        ("720p", "9:16"): "720x1280",
        ("1080p", "16:9"): "1920x1080",
        ("1080p", "9:16"): "1080x1920",
        ("4k", "16:9"): "3840x2160",
        ("4k", "9:16"): "2160x3840",
    }
)

# Documented: ~3 min for 720p/1080p, up to 10 min for 4k. Deadlines are generous on
# purpose: a job we abandon is still rendered, billed and lost.
TIMING = Timing(initial_wait=60, poll_interval=5, deadline=900)
TIMING_4K = Timing(initial_wait=180, poll_interval=5, deadline=1500)


def _spec(name: str, label: str, price: float) -> ModelSpec:
    return ModelSpec(
        name=name,
        label=label,
        modes=frozenset({Mode.TEXT, Mode.FIRST_FRAME}),
        aspect_ratios=("16:9", "9:16"),
        durations=(4, 6, 8),
        default_duration=8,
        resolutions=("720p", "1080p", "4k"),
        timing=TIMING,
        max_reference_images=0,
        # 1080p and 4k only render 8 s; 4k renders several times slower.
        durations_by_resolution={"1080p": (8,), "4k": (8,)},
        timing_by_resolution={"4k": TIMING_4K},
        negative_prompt=True,
        seed=True,
        # Image formats and size are not documented by apiyi: ModelSpec's defaults, what
        # every Veo gateway takes, apply.
        price_usd=price,
        gives_url=False,
    )


MODELS = table(
    _spec("veo-3.1-fast-generate-preview", "Veo 3.1 Fast", 0.30),
    _spec("veo-3.1-generate-preview", "Veo 3.1", 1.20),
)


def models_with(timing_override: Timing | None) -> Mapping[str, ModelSpec]:
    """The models, or (tests, a forced schedule) the models all polled on one schedule,
    whatever the resolution."""
    return on_schedule(MODELS, timing_override)


# The vendor asks for ~4 s between attempts at `/content` after its early 400.
CONTENT_RETRY_AFTER = 4.0

# -- reading failures -----------------------------------------------------------------------

# Vendor codes that mean "the operator's account", whatever the HTTP status said.
QUOTA_CODES = frozenset(
    {
        "insufficient_quota",
        "insufficient_user_quota",
        "quota_exceeded",
        "pre_consume_token_quota_failed",
    }
)
# Vendor codes and words whose message is a parser/protocol detail, useless to a member.
TECHNICAL_CODES = frozenset({"parse_request_failed", "invalid_argument", "convert_request_failed"})
TECHNICAL_WORDS = ("unmarshal", "go struct", "invalid_argument", "parse_request_failed")


def technical(code: str | None, message: str) -> bool:
    """Whether a refusal is the vendor's parser complaining about our JSON: our bug, which
    the member can do nothing about, so its words are not worth showing."""
    lowered = message.lower()
    return (code or "").lower() in TECHNICAL_CODES or any(w in lowered for w in TECHNICAL_WORDS)


# -- what a member reads (only this vendor says it) -----------------------------------------

# The words are in the catalogue (`bot/chat/locales/en.toml`, `[failure]`), under these keys.

# A failed task, when the vendor gives no reason a member may read: these are the usual ones.
FAILED = say("apiyi.failed").then(words.NOT_CHARGED)
# Said after "did not accept this request" when the vendor's reason is not worth showing.
TRY_OTHER = say("apiyi.try_other")
NO_SUCH_FORMAT = say("apiyi.no_such_format")


def only_durations(resolution: str, allowed: tuple[int, ...]) -> Say:
    """Why a length was refused: some resolutions render fewer lengths than others."""
    return say(
        "apiyi.only_durations",
        resolution=resolution,
        lengths=", ".join(f"{d} s" for d in allowed),
    )
