"""Turn what a member typed into a request a provider can do — or one clear sentence.

Everything here runs before any quota is reserved or anything is submitted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from bot.jobs.cleaning import clean_text as clean_text
from bot.jobs.cleaning import is_blank as is_blank
from bot.jobs.refusals import Refusal
from bot.media.images import (
    EXTENSION,
    MAX_IMAGE_PIXELS,
    MAX_IMAGE_SIDE,
    MIME,
    image_size,
    sniff_image,
)
from bot.providers.base import InputImage, Mode, ModelSpec, SubmitRequest
from bot.providers.codes import say
from bot.providers.registry import ProviderRegistry
from storage import Job

MAX_SEED = 2**32 - 1

MODE_LABELS = {
    Mode.TEXT: "text only",
    Mode.FIRST_FRAME: "first frame",
    Mode.FIRST_LAST: "first + last frame",
    Mode.REFERENCE: "reference images",
}


class RequestInvalid(Refusal):
    """A member's request that cannot be done: a `[refusal]` sentence by key (see
    `bot.jobs.refusals`), told in the member's language by the chat side."""


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


def _listing(values: tuple[str, ...] | list[str]) -> str:
    return ", ".join(values)


def resolve_mode(draft: Draft, spec: ModelSpec) -> Mode:
    """Map the filled image slots (and the `mode` option) to one generation mode."""
    slots = int(draft.has_image) + int(draft.has_last_frame) + draft.extra_images
    if draft.has_last_frame and not draft.has_image:
        raise RequestInvalid(say("refusal.last_frame_alone"))
    if draft.mode is not None:
        try:
            mode = Mode(draft.mode)
        except ValueError:
            raise RequestInvalid(say("refusal.unknown_mode", mode=draft.mode)) from None
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
        raise RequestInvalid(say("refusal.text_with_images"))
    if mode is Mode.FIRST_FRAME and (draft.has_last_frame or draft.extra_images or not slots):
        raise RequestInvalid(say("refusal.first_frame_one_image"))
    if mode is Mode.FIRST_LAST and not (draft.has_image and draft.has_last_frame):
        raise RequestInvalid(say("refusal.first_last_needs_both"))
    if mode is Mode.FIRST_LAST and draft.extra_images:
        raise RequestInvalid(say("refusal.first_last_only_two"))
    if mode is Mode.REFERENCE:
        if draft.has_last_frame:
            raise RequestInvalid(say("refusal.reference_not_last_frame"))
        if slots == 0:
            raise RequestInvalid(say("refusal.reference_needs_image"))
        _takes_references(spec, slots)
    return mode


def _offers(spec: ModelSpec, mode: Mode) -> None:
    if mode not in spec.modes:
        can = ",".join(m.value for m in Mode if m in spec.modes)
        raise RequestInvalid(
            say("refusal.mode_not_offered", label=spec.label, mode=mode.value, modes=can)
        )


def _takes_references(spec: ModelSpec, count: int) -> None:
    if count > spec.max_reference_images:
        most = spec.max_reference_images
        raise RequestInvalid(say("refusal.references_at_most", label=spec.label, most=most))


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
            raise RequestInvalid(
                say("refusal.model_of_another", model=model, named=named, provider=provider)
            )
        provider = named
    provider = provider or _provider_of(model, registry) or registry.default
    if provider not in registry:
        names = _listing(registry.names())
        raise RequestInvalid(say("refusal.provider_unknown", provider=provider, providers=names))
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
        raise RequestInvalid(
            say("refusal.model_unknown", model=model, provider=provider, models=names)
        )
    return spec


def prompt_words(text: str) -> str:
    """The prompt as the vendor will get it, refused when nothing visible is left."""
    prompt = clean_text(text)
    if is_blank(prompt):
        raise RequestInvalid(say("refusal.empty_prompt"))
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
        raise RequestInvalid(say("refusal.seed_range", most=MAX_SEED))
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
        raise RequestInvalid(say("refusal.prompt_too_long", length=len(prompt), limit=limit))
    if negative and not spec.negative_prompt:
        raise RequestInvalid(say("refusal.no_negative_prompt", label=spec.label))
    if negative and len(negative) > limit:
        raise RequestInvalid(say("refusal.negative_too_long", limit=limit))
    if seed is not None and not spec.seed:
        raise RequestInvalid(say("refusal.no_seed", label=spec.label))


def _fits_shape(
    spec: ModelSpec,
    aspect_ratio: str | None,
    resolution: str | None,
    duration: int | None,
    enhance_prompt: bool | None,
) -> None:
    label = spec.label
    if aspect_ratio is not None and aspect_ratio not in spec.aspect_ratios:
        shapes = _listing(spec.aspect_ratios)
        raise RequestInvalid(
            say("refusal.aspect_not_offered", label=label, aspects=shapes, aspect=aspect_ratio)
        )
    if resolution is not None and resolution not in spec.resolutions:
        sizes = _listing(spec.resolutions)
        raise RequestInvalid(
            say("refusal.resolution_not_offered", label=label, sizes=sizes, size=resolution)
        )
    allowed = spec.durations_for(resolution)
    if duration is not None and duration not in allowed:
        lengths = _listing([f"{d} s" for d in allowed])
        said = say("refusal.duration_not_offered", label=label, lengths=lengths, length=duration)
        if resolution is not None and resolution in spec.durations_by_resolution:
            said = say("refusal.duration_not_offered_at", **said.params, size=resolution)
        raise RequestInvalid(said)
    if duration is None and resolution is not None and spec.default_duration not in allowed:
        raise RequestInvalid(
            say("refusal.length_at_resolution", size=resolution, length=allowed[0])
        )
    if enhance_prompt and not spec.enhance_prompt:
        raise RequestInvalid(say("refusal.no_enhance", label=label))


def _fits_mode_ratio(spec: ModelSpec, mode: Mode, aspect_ratio: str | None) -> None:
    mode_ratios = spec.aspect_ratios_by_mode.get(mode)
    if mode_ratios and aspect_ratio is not None and aspect_ratio not in mode_ratios:
        shapes = _listing(mode_ratios)
        raise RequestInvalid(
            say("refusal.mode_aspects", mode=mode.value, label=spec.label, aspects=shapes)
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
        name = _shown(filename)
        raise RequestInvalid(say("refusal.not_an_image", slot=slot, name=name, formats=allowed))
    if kind not in spec.image_formats:
        raise RequestInvalid(
            say(
                "refusal.image_format",
                slot=slot,
                kind=kind.upper(),
                label=spec.label,
                formats=allowed,
            )
        )
    if len(data) > spec.max_image_bytes:
        mb = spec.max_image_bytes / (1024 * 1024)
        raise RequestInvalid(say("refusal.image_too_heavy", slot=slot, mb=mb, label=spec.label))
    size = image_size(data, kind)
    if size is None:
        raise RequestInvalid(
            say("refusal.image_unreadable", slot=slot, name=_shown(filename), kind=kind.upper())
        )
    width, height = size
    if max(width, height) > MAX_IMAGE_SIDE or width * height > MAX_IMAGE_PIXELS:
        raise RequestInvalid(
            say(
                "refusal.image_too_big",
                slot=slot,
                width=width,
                height=height,
                side=MAX_IMAGE_SIDE,
                megapixels=MAX_IMAGE_PIXELS // 1_000_000,
            )
        )
    stem = filename.rsplit(".", 1)[0] or slot
    safe = "".join(ch for ch in stem if ch.isalnum() or ch in "-_")[:40] or slot
    return InputImage(data=data, mime=MIME[kind], filename=f"{safe}.{EXTENSION[kind]}")
