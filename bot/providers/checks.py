"""The pre-send checks every adapter shares.

Each adapter re-checks a SubmitRequest against its ModelSpec before it pays for a round
trip. The spec-driven parts (unknown model, mode, image count, image type and size, empty
prompt, options the model has no field for) are the same everywhere and live here; the
member sentences that differ between vendors come in as parameters, and the truly
vendor-specific rules stay in the adapters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import assert_never

from .base import InputImage, Mode, ModelSpec, ProviderRejected, SubmitRequest

IMAGE_MIMES: Mapping[str, str] = {"image/jpeg": "jpeg", "image/png": "png", "image/webp": "webp"}
UNKNOWN_MODEL_MSG = "This model is not offered by the video service."
IMAGE_FORMAT_MSG = "The image must be a JPEG, PNG or WebP picture."
EMPTY_PROMPT_MSG = "The prompt is empty: describe the video you want."
NO_IMAGES_MSG = "Images are not used for a text-only video."


def find_spec(
    models: Mapping[str, ModelSpec],
    request: SubmitRequest,
    vendor: str,
    *,
    message: str = UNKNOWN_MODEL_MSG,
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


def check_mode(request: SubmitRequest, spec: ModelSpec, vendor: str, *, message: str) -> None:
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
    mode_message: str | None,
    count: tuple[int, int],
    count_message: str,
    too_large_message: str | None = None,
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
        too_large_message = (
            "The image is too large for the video service "
            f"({spec.max_image_bytes // (1024 * 1024)} MB at most)."
        )
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
        mode_message="This video service only makes videos from text or from one start image.",
        count=(wanted, wanted),
        count_message="This video service takes exactly one start image."
        if wanted
        else NO_IMAGES_MSG,
    )


def image_count_message(mode: Mode) -> str:
    """The sentence for a wrong number of images, for the vendors that word it by mode."""
    match mode:
        case Mode.TEXT:
            return NO_IMAGES_MSG
        case Mode.FIRST_FRAME:
            return "First-frame mode takes exactly one image."
        case Mode.FIRST_LAST:
            return "First + last frame mode takes exactly two images."
        case Mode.REFERENCE:
            return "Reference mode takes one to three images."
        case _:
            assert_never(mode)


def unsupported_options(request: SubmitRequest, spec: ModelSpec) -> list[str]:
    """The options the member gave that the model has no field for, in a fixed order."""
    return [
        what
        for what, given, offered in (
            ("a negative prompt", request.negative_prompt, spec.negative_prompt),
            ("a seed", request.seed is not None, spec.seed),
            ("prompt enhancement", request.enhance_prompt, spec.enhance_prompt),
        )
        if given and not offered
    ]
