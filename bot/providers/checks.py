"""The pre-send checks every adapter shares.

Each adapter re-checks a SubmitRequest against its ModelSpec before it pays for a round
trip. The spec-driven parts (unknown model, mode, image count, image type and size, empty
prompt, options the model has no field for) are the same everywhere and live here; the
member sentences that differ between vendors come in as parameters (`Say`: the words
are in the catalogue (`bot/chat/locales/en.toml`, `[failure]`)), and the truly vendor-specific rules stay in the adapters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import assert_never

from .base import InputImage, Mode, ModelSpec, ProviderRejected, SubmitRequest
from .codes import ErrorCode, Say, say

IMAGE_MIMES: Mapping[str, str] = {"image/jpeg": "jpeg", "image/png": "png", "image/webp": "webp"}
UNKNOWN_MODEL_MSG = say("unknown_model")
IMAGE_FORMAT_MSG = say("image_format")
EMPTY_PROMPT_MSG = say("empty_prompt")
NO_IMAGES_MSG = say("no_images")


def find_spec(
    models: Mapping[str, ModelSpec],
    request: SubmitRequest,
    vendor: str,
    *,
    message: Say = UNKNOWN_MODEL_MSG,
) -> ModelSpec:
    """The request's model, or ProviderRejected(unknown_model)."""
    spec = models.get(request.model)
    if spec is None:
        raise ProviderRejected(
            message,
            code="unknown_model",
            detail=f"{vendor}: unknown model {request.model!r}",
        )
    return spec


def check_mode(request: SubmitRequest, spec: ModelSpec, vendor: str, *, message: Say) -> None:
    if request.mode not in spec.modes:
        raise ProviderRejected(
            message,
            code="unsupported_mode",
            detail=f"{vendor}: mode {request.mode} not supported by {request.model}",
        )


def check_prompt(request: SubmitRequest, vendor: str, *, code: str, detail: bool = True) -> None:
    """An all-blank prompt is refused (the code differs between adapters)."""
    if not request.prompt.strip():
        raise ProviderRejected(
            EMPTY_PROMPT_MSG,
            code=code,
            detail=f"{vendor}: empty prompt" if detail else None,
        )


def check_request(
    request: SubmitRequest,
    spec: ModelSpec,
    vendor: str,
    *,
    mode_message: Say | None,
    count: tuple[int, int],
    count_message: Say,
    too_large_message: Say | None = None,
    each: Callable[[InputImage], None] | None = None,
) -> None:
    """The generic spec-driven checks, in order: the mode (skipped when `mode_message` is
    None, for an adapter that checks it earlier itself), the number of images (`count` is
    the inclusive low, high), then each image's type and size, then the adapter's own
    per-image rule (`each`), image by image."""
    if mode_message is not None:
        check_mode(request, spec, vendor, message=mode_message)
    low, high = count
    if not low <= len(request.images) <= high:
        raise ProviderRejected(
            count_message,
            code="bad_images",
            detail=f"{vendor}: {len(request.images)} images for mode {request.mode} "
            f"on {request.model}",
        )
    if too_large_message is None:
        too_large_message = say("image_too_large", mb=spec.max_image_bytes // (1024 * 1024))
    for image in request.images:
        fmt = IMAGE_MIMES.get(image.mime)
        if fmt is None or fmt not in spec.image_formats:
            raise ProviderRejected(
                IMAGE_FORMAT_MSG,
                code="bad_image_format",
                detail=f"{vendor}: image type {image.mime!r}",
            )
        if len(image.data) > spec.max_image_bytes:
            raise ProviderRejected(
                too_large_message,
                code="image_too_large",
                detail=f"{vendor}: image {len(image.data)} bytes",
            )
        if each is not None:
            each(image)


def check_text_or_start_image(request: SubmitRequest, spec: ModelSpec, vendor: str) -> None:
    """check_request for the vendors that take text or exactly one start image."""
    wanted = 1 if request.mode is Mode.FIRST_FRAME else 0
    check_request(
        request,
        spec,
        vendor,
        mode_message=say("text_or_start_image"),
        count=(wanted, wanted),
        count_message=say("one_start_image") if wanted else NO_IMAGES_MSG,
    )


def image_count_message(mode: Mode) -> Say:
    """The sentence for a wrong number of images, for the vendors that word it by mode."""
    match mode:
        case Mode.TEXT:
            return NO_IMAGES_MSG
        case Mode.FIRST_FRAME:
            return say("count.first_frame")
        case Mode.FIRST_LAST:
            return say("count.first_last")
        case Mode.REFERENCE:
            return say("count.reference")
        case _:
            assert_never(mode)


def check_options(
    request: SubmitRequest,
    spec: ModelSpec,
    vendor: str,
    *,
    shape: Say,
    resolution: Say,
    length: Say,
    options: Callable[[list[str]], Say],
) -> None:
    """Refuse what the model cannot honour, in this order: a shape, resolution or length
    it does not list, then options it has no field for (`options` words the refusal from
    their keys, `option.<key>` in the catalogue). The vendor would ignore them silently, and the member pay for a video
    other than the one asked for. The sentences differ between vendors; the checks do not."""
    aspect, size, seconds = request.aspect_ratio, request.resolution, request.duration
    where = f"for {request.model}"
    if aspect is not None and aspect not in spec.aspect_ratios:
        raise ProviderRejected(
            shape, code=ErrorCode.BAD_FORMAT, detail=f"{vendor}: aspect ratio {aspect!r} {where}"
        )
    if size is not None and size not in spec.resolutions:
        raise ProviderRejected(
            resolution, code=ErrorCode.BAD_FORMAT, detail=f"{vendor}: resolution {size!r} {where}"
        )
    if seconds is not None and seconds not in spec.durations:
        raise ProviderRejected(
            length, code=ErrorCode.BAD_DURATION, detail=f"{vendor}: duration {seconds} {where}"
        )
    unsupported = unsupported_options(request, spec)
    if unsupported:
        raise ProviderRejected(
            options(unsupported),
            code=ErrorCode.UNSUPPORTED_OPTION,
            detail=f"{vendor}: unsupported {', '.join(unsupported)} {where}",
        )


def unsupported_options(request: SubmitRequest, spec: ModelSpec) -> list[str]:
    """The options the member gave that the model has no field for, in a fixed order, by
    key: a sentence names them with `{options:options}` (see the catalogue (`bot/chat/locales/en.toml`, `[failure]`))."""
    return [
        what
        for what, given, offered in (
            ("negative_prompt", request.negative_prompt, spec.negative_prompt),
            ("seed", request.seed is not None, spec.seed),
            ("enhance_prompt", request.enhance_prompt, spec.enhance_prompt),
        )
        if given and not offered
    ]
