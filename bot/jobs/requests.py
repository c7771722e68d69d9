"""Turn what a member typed into a request a provider can do — or one clear sentence.

Everything here runs before any quota is reserved or anything is submitted.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from bot.media.images import (
    EXTENSION,
    MAX_IMAGE_PIXELS,
    MAX_IMAGE_SIDE,
    MIME,
    image_size,
    sniff_image,
)
from bot.providers.base import InputImage, Mode, ModelSpec, SubmitRequest
from bot.providers.registry import ProviderRegistry
from storage import Job

MAX_SEED = 2**32 - 1

MODE_LABELS = {
    Mode.TEXT: "text only",
    Mode.FIRST_FRAME: "first frame",
    Mode.FIRST_LAST: "first + last frame",
    Mode.REFERENCE: "reference images",
}


class RequestInvalid(Exception):
    """A member's request that cannot be done; the message is shown to them as is."""


class GenerationRequest(BaseModel):
    """The validated request, as stored with the job (images are stored beside it) and
    read back by `stored_request`. Its field names are the stored JSON's keys: renaming
    one would leave the rows of existing databases unreadable."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: str
    model: str
    prompt: str
    mode: Mode = Mode.TEXT
    aspect_ratio: str | None = None
    duration: int | None = None
    resolution: str | None = None
    negative_prompt: str | None = None
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)
    enhance_prompt: bool | None = None
    image_count: int = 0

    @model_validator(mode="before")
    @classmethod
    def _row_columns(cls, data: Any, info: ValidationInfo) -> Any:
        """Read back from a job row, the row's provider and model (and, once purged, no
        words) stand in for keys its JSON lacks: the retention sweep keeps a request it
        could not read as `{}`."""
        row = info.context
        if isinstance(row, Job) and isinstance(data, dict):
            known: dict[str, Any] = {"provider": row.provider, "model": row.model}
            if row.purged_at is not None:
                known["prompt"] = ""
            return {**known, **data}
        return data

    @field_validator("prompt")
    @classmethod
    def _has_words(cls, prompt: str, info: ValidationInfo) -> str:
        """Never empty, but in a job the retention sweep purged: it deletes the words and
        keeps the settings, which history and the status still show."""
        row = info.context
        if not prompt and not (isinstance(row, Job) and row.purged_at is not None):
            raise ValueError("a request needs a prompt")
        return prompt

    def to_submit(self, images: list[InputImage]) -> SubmitRequest:
        return SubmitRequest(
            model=self.model,
            prompt=self.prompt,
            mode=self.mode,
            images=tuple(images),
            aspect_ratio=self.aspect_ratio,
            duration=self.duration,
            resolution=self.resolution,
            negative_prompt=self.negative_prompt,
            seed=self.seed,
            enhance_prompt=self.enhance_prompt,
        )


def stored_request(job: Job) -> GenerationRequest:
    """The request a job was accepted with, read from its row: the one way anything
    past `accept` reads it (the steps, the words members see, Retry and Remix)."""
    return GenerationRequest.model_validate_json(job.request_json, context=job)


@dataclass(frozen=True, slots=True)
class Draft:
    """What the member typed; None means 'not given'."""

    prompt: str
    provider: str | None = None
    model: str | None = None
    mode: str | None = None
    aspect_ratio: str | None = None
    duration: int | None = None
    resolution: str | None = None
    negative_prompt: str | None = None
    seed: int | None = None
    enhance_prompt: bool | None = None
    # Which image slots were filled: first image, last frame, image2, image3.
    has_image: bool = False
    has_last_frame: bool = False
    extra_images: int = 0


# Characters that draw nothing yet are not whitespace: a prompt of only these is empty.
_BLANK_LOOKING = "\u115f\u1160\u3164\uffa0\u2800"
# Line breaks other than "\n" (CR LF, CR, NEL, the Unicode line and paragraph separators).
_LINE_BREAKS = re.compile("\r\n?|[\x85\u2028\u2029]")


def clean_text(text: str) -> str:
    """What a vendor should see: line breaks as "\\n", no control characters (tabs and
    newlines stay), and no invisible formatting — zero-width characters, bidi overrides
    and isolates (U+200B–U+200F, U+202A–U+202E, U+2066–U+2069), the BOM — which could make
    the echoed prompt read differently from what is sent; then trimmed."""
    text = _LINE_BREAKS.sub("\n", text)
    kept = [
        ch
        for ch in text
        if ch in "\n\t" or unicodedata.category(ch) not in {"Cc", "Cf", "Cs", "Co"}
    ]
    return "".join(kept).strip()


def is_blank(text: str) -> bool:
    """Nothing visible: only whitespace and characters that draw nothing."""
    return all(ch.isspace() or ch in _BLANK_LOOKING for ch in text)


def _listing(values: tuple[str, ...] | list[str]) -> str:
    return ", ".join(values)


def resolve_mode(draft: Draft, spec: ModelSpec) -> Mode:
    """Map the filled image slots (and the `mode` option) to one generation mode."""
    slots = int(draft.has_image) + int(draft.has_last_frame) + draft.extra_images
    if draft.has_last_frame and not draft.has_image:
        raise RequestInvalid("A `last_frame` needs a first frame too: attach it as `image`.")
    if draft.mode is not None:
        try:
            mode = Mode(draft.mode)
        except ValueError:
            raise RequestInvalid(f"`{draft.mode}` is not a mode I know.") from None
    elif slots == 0:
        mode = Mode.TEXT
    elif draft.has_last_frame:
        mode = Mode.FIRST_LAST
    elif draft.extra_images:
        mode = Mode.REFERENCE
    elif Mode.FIRST_FRAME in spec.modes:
        mode = Mode.FIRST_FRAME
    elif Mode.REFERENCE in spec.modes:
        mode = Mode.REFERENCE
    else:
        mode = Mode.FIRST_FRAME
    _offers(spec, mode)
    if mode is Mode.TEXT and slots:
        raise RequestInvalid("You chose text only but attached images: remove them or pick a mode.")
    if mode is Mode.FIRST_FRAME and (draft.has_last_frame or draft.extra_images or not slots):
        raise RequestInvalid("First-frame mode takes exactly one image, attached as `image`.")
    if mode is Mode.FIRST_LAST and not (draft.has_image and draft.has_last_frame):
        raise RequestInvalid("First + last frame mode needs both `image` and `last_frame`.")
    if mode is Mode.FIRST_LAST and draft.extra_images:
        raise RequestInvalid("First + last frame mode takes only `image` and `last_frame`.")
    if mode is Mode.REFERENCE:
        if draft.has_last_frame:
            raise RequestInvalid(
                "Reference mode uses `image`, `image2` and `image3`, not `last_frame`."
            )
        if slots == 0:
            raise RequestInvalid("Reference mode needs at least one image.")
        _takes_references(spec, slots)
    return mode


def _offers(spec: ModelSpec, mode: Mode) -> None:
    if mode not in spec.modes:
        can = _listing([MODE_LABELS[m] for m in Mode if m in spec.modes])
        raise RequestInvalid(f"**{spec.label}** cannot use {MODE_LABELS[mode]}; it can do: {can}.")


def _takes_references(spec: ModelSpec, count: int) -> None:
    if count > spec.max_reference_images:
        raise RequestInvalid(
            f"**{spec.label}** takes at most {spec.max_reference_images} reference image(s)."
        )


def _provider_of(model: str | None, registry: ProviderRegistry) -> str | None:
    """The first enabled provider offering `model`, so members need not name both."""
    if model is None:
        return None
    return next((p.name for p in registry if model in p.models), None)


def choose_model(
    provider: str | None, model: str | None, registry: ProviderRegistry
) -> tuple[str, str]:
    """Resolve the provider and model a member picked.

    Two vendors may use the same model name (apixo's and apiyi's `veo-3.1-fast`), so the
    model autocomplete answers `provider/model`; a bare model name means the first
    enabled provider that has it.
    """
    if model is not None and "/" in model:
        named, _, model = model.partition("/")
        if provider is not None and provider != named:
            raise RequestInvalid(f"`{model}` is a model of {named}, not of {provider}.")
        provider = named
    provider = provider or _provider_of(model, registry) or registry.default
    if provider not in registry:
        raise RequestInvalid(
            f"`{provider}` is not available here. Pick one of: {_listing(registry.names())}."
        )
    return provider, model or registry.default_model(provider)


def prompt_limit(spec: ModelSpec, max_prompt: int) -> int:
    """How long a prompt (or negative prompt) may be for `spec`: the operator's
    VEO_MAX_PROMPT, or the model's own limit where that is lower. Every limit a member
    meets (validation, the Animate form) comes from here."""
    return min(max_prompt, spec.max_prompt or max_prompt)


def model_spec(registry: ProviderRegistry, provider: str, model: str) -> ModelSpec:
    spec = registry.model(provider, model)
    if spec is None:
        names = _listing(list(registry.get(provider).models))
        raise RequestInvalid(f"`{model}` is not a model of {provider}. Pick one of: {names}.")
    return spec


def prompt_words(text: str) -> str:
    """The prompt as the vendor will get it, refused when nothing visible is left."""
    prompt = clean_text(text)
    if is_blank(prompt):
        raise RequestInvalid("The prompt is empty: describe the video you want.")
    return prompt


def validate(draft: Draft, registry: ProviderRegistry, *, max_prompt: int) -> GenerationRequest:
    """Check a draft against the chosen model's capabilities: each check runs here once,
    in the order a member meets the refusals; what depends on the model is shared with
    `fit`, which is all a request moved to another model needs."""
    provider, model = choose_model(draft.provider, draft.model, registry)
    spec = model_spec(registry, provider, model)
    prompt = prompt_words(draft.prompt)
    negative = clean_text(draft.negative_prompt) if draft.negative_prompt else None
    if negative is not None and is_blank(negative):
        negative = None  # optional, so nothing visible simply means none
    _fits_words(spec, prompt_limit(spec, max_prompt), prompt, negative, draft.seed)
    if draft.seed is not None and not 0 <= draft.seed <= MAX_SEED:
        raise RequestInvalid(f"The seed must be a whole number from 0 to {MAX_SEED}.")
    _fits_shape(spec, draft.aspect_ratio, draft.resolution, draft.duration, draft.enhance_prompt)
    mode = resolve_mode(draft, spec)
    _fits_mode_ratio(spec, mode, draft.aspect_ratio)
    return GenerationRequest(
        provider=provider,
        model=model,
        prompt=prompt,
        mode=mode,
        aspect_ratio=draft.aspect_ratio,
        duration=draft.duration,
        resolution=draft.resolution,
        negative_prompt=negative or None,
        seed=draft.seed,
        enhance_prompt=draft.enhance_prompt,
        image_count=int(draft.has_image) + int(draft.has_last_frame) + draft.extra_images,
    )


def fit(request: GenerationRequest, spec: ModelSpec, *, max_prompt: int) -> None:
    """The checks that depend on the model alone (prompt limit, options, modes), for a
    validated request put on another model (`request.model_copy`, when its vendor is
    down) or asked again on a model that may have changed since (Retry, Remix). What
    does not depend on the model (a blank prompt, the slots of the images) held already."""
    limit = prompt_limit(spec, max_prompt)
    _fits_words(spec, limit, request.prompt, request.negative_prompt, request.seed)
    _fits_shape(
        spec, request.aspect_ratio, request.resolution, request.duration, request.enhance_prompt
    )
    _offers(spec, request.mode)
    if request.mode is Mode.REFERENCE:
        _takes_references(spec, request.image_count)
    _fits_mode_ratio(spec, request.mode, request.aspect_ratio)


def _fits_words(
    spec: ModelSpec, limit: int, prompt: str, negative: str | None, seed: int | None
) -> None:
    if len(prompt) > limit:
        raise RequestInvalid(
            f"The prompt is {len(prompt):,} characters long; the limit is {limit:,}. Please shorten it."
        )
    if negative and not spec.negative_prompt:
        raise RequestInvalid(f"**{spec.label}** does not take a negative prompt.")
    if negative and len(negative) > limit:
        raise RequestInvalid(f"The negative prompt is over {limit:,} characters.")
    if seed is not None and not spec.seed:
        raise RequestInvalid(f"**{spec.label}** does not take a seed.")


def _fits_shape(
    spec: ModelSpec,
    aspect_ratio: str | None,
    resolution: str | None,
    duration: int | None,
    enhance_prompt: bool | None,
) -> None:
    if aspect_ratio is not None and aspect_ratio not in spec.aspect_ratios:
        raise RequestInvalid(
            f"**{spec.label}** makes {_listing(spec.aspect_ratios)} videos, not {aspect_ratio}."
        )
    if resolution is not None and resolution not in spec.resolutions:
        raise RequestInvalid(
            f"**{spec.label}** renders at {_listing(spec.resolutions)}, not {resolution}."
        )
    allowed = spec.durations_for(resolution)
    if duration is not None and duration not in allowed:
        seconds = _listing([f"{d} s" for d in allowed])
        where = f" at {resolution}" if resolution in spec.durations_by_resolution else ""
        raise RequestInvalid(f"**{spec.label}** makes {seconds} videos{where}, not {duration} s.")
    if duration is None and resolution is not None and spec.default_duration not in allowed:
        raise RequestInvalid(f"At {resolution}, choose a length of {allowed[0]} s.")
    if enhance_prompt and not spec.enhance_prompt:
        raise RequestInvalid(f"**{spec.label}** cannot enhance prompts.")


def _fits_mode_ratio(spec: ModelSpec, mode: Mode, aspect_ratio: str | None) -> None:
    mode_ratios = spec.aspect_ratios_by_mode.get(mode)
    if mode_ratios and aspect_ratio is not None and aspect_ratio not in mode_ratios:
        raise RequestInvalid(
            f"With {MODE_LABELS[mode]}, **{spec.label}** makes only {_listing(mode_ratios)} videos."
        )


def _shown(filename: str) -> str:
    """An attachment's name as it may appear in a message: no markup, not too long."""
    name = "".join(ch for ch in clean_text(filename) if ch not in "`\n\t") or "no name"
    return name if len(name) <= 60 else name[:59] + "…"


def check_image(data: bytes, *, slot: str, spec: ModelSpec, filename: str) -> InputImage:
    """Accept an attachment only if its bytes are an image format the model takes, within
    the byte cap, with a readable header of a sensible pixel size: a forged header (a
    decompression bomb) or a damaged file would otherwise fail at the vendor, after the
    member waited. Raises nothing but RequestInvalid, whatever the bytes."""
    kind = sniff_image(data)
    allowed = _listing(sorted(spec.image_formats)).upper()
    if kind is None:
        raise RequestInvalid(f"`{slot}` ({_shown(filename)}) is not an image. Use {allowed}.")
    if kind not in spec.image_formats:
        raise RequestInvalid(f"`{slot}` is a {kind.upper()} image; {spec.label} takes {allowed}.")
    if len(data) > spec.max_image_bytes:
        mb = spec.max_image_bytes / (1024 * 1024)
        raise RequestInvalid(f"`{slot}` is larger than {mb:g} MB, the limit for {spec.label}.")
    size = image_size(data, kind)
    if size is None:
        raise RequestInvalid(
            f"`{slot}` ({_shown(filename)}) could not be read as an image: the {kind.upper()} "
            "file is damaged or incomplete. Please save it again and attach it."
        )
    width, height = size
    if max(width, height) > MAX_IMAGE_SIDE or width * height > MAX_IMAGE_PIXELS:
        raise RequestInvalid(
            f"`{slot}` is {width}×{height} pixels; the largest accepted is {MAX_IMAGE_SIDE} "
            f"pixels per side and {MAX_IMAGE_PIXELS // 1_000_000} megapixels in all. "
            "Please make it smaller and attach it again."
        )
    stem = filename.rsplit(".", 1)[0] or slot
    safe = "".join(ch for ch in stem if ch.isalnum() or ch in "-_")[:40] or slot
    return InputImage(data=data, mime=MIME[kind], filename=f"{safe}.{EXTENSION[kind]}")
