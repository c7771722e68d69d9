"""One capability table drives everything: what validation accepts, each adapter also
accepts (it gets as far as the network), and what validation refuses costs nothing.

Every enabled vendor × model × mode, aspect ratio, length/resolution and option is
checked against adapters pointed at a closed port: an accepted request must fail only
because nobody answers (ProviderUnavailable), never because the adapter's own checks
disagree with the table (ProviderRejected)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.jobs.requests import Draft, GenerationRequest, RequestInvalid, validate
from bot.providers.apixo.adapter import ApixoProvider
from bot.providers.apiyi.adapter import ApiyiProvider
from bot.providers.base import InputImage, Mode, ModelSpec, Provider, ProviderUnavailable
from bot.providers.registry import ProviderRegistry
from bot.providers.veo3o1.adapter import Veo3o1Provider
from bot.providers.yelinai.adapter import YelinaiProvider
from tests.net import free_port

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


@pytest.fixture
async def registry() -> AsyncIterator[ProviderRegistry]:
    dead = f"http://127.0.0.1:{free_port()}"
    async with aiohttp.ClientSession() as session:
        common = {"api_key": "k", "base_url": dead, "session": session, "request_timeout": 2.0}
        providers: dict[str, Provider] = {
            "apiyi": ApiyiProvider(**common),  # type: ignore[arg-type]
            "apixo": ApixoProvider(**common),  # type: ignore[arg-type]
            "veo3o1": Veo3o1Provider(**common),  # type: ignore[arg-type]
            "yelinai": YelinaiProvider(**common),  # type: ignore[arg-type]
        }
        yield ProviderRegistry(providers, "apiyi")


def images_for(mode: Mode, spec: ModelSpec) -> dict[str, object]:
    if mode is Mode.TEXT:
        return {}
    # The mode is named: an image alone would otherwise (rightly) become a reference
    # image on models whose only image mode is references.
    if mode is Mode.FIRST_FRAME:
        return {"has_image": True, "mode": mode.value}
    if mode is Mode.FIRST_LAST:
        return {"has_image": True, "has_last_frame": True, "mode": mode.value}
    extra = max(0, min(spec.max_reference_images, 3) - 1)
    return {"has_image": True, "extra_images": extra, "mode": Mode.REFERENCE.value}


async def reaches_the_network(provider: Provider, request: GenerationRequest) -> None:
    url = "http://127.0.0.1:9/member.png"
    images = [
        InputImage(PNG, "image/png", f"i{n}.png", url=url) for n in range(request.image_count)
    ]
    with pytest.raises(ProviderUnavailable):
        await provider.submit(request.to_submit(images))


def all_models(registry: ProviderRegistry) -> list[tuple[Provider, ModelSpec]]:
    return [(p, spec) for p in registry for spec in p.models.values()]


async def test_every_mode_of_every_model(registry: ProviderRegistry) -> None:
    for provider, spec in all_models(registry):
        for mode in Mode:
            draft = Draft(
                prompt="a cat", provider=provider.name, model=spec.name, **images_for(mode, spec)
            )  # type: ignore[arg-type]
            if mode in spec.modes:
                await reaches_the_network(provider, validate(draft, registry, max_prompt=2000))
            else:
                with pytest.raises(RequestInvalid):
                    validate(draft, registry, max_prompt=2000)


async def test_every_aspect_length_and_resolution(registry: ProviderRegistry) -> None:
    checked = 0
    for provider, spec in all_models(registry):
        for mode, aspect, duration, resolution in itertools.product(
            sorted(spec.modes), ("16:9", "9:16", "auto", "1:1"), (4, 6, 8), ("720p", "1080p", "4k")
        ):
            draft = Draft(
                prompt="a cat",
                provider=provider.name,
                model=spec.name,
                aspect_ratio=aspect,
                duration=duration,
                resolution=resolution,
                **images_for(mode, spec),  # type: ignore[arg-type]
            )
            ok = (
                aspect in spec.aspect_ratios
                and aspect in spec.aspect_ratios_by_mode.get(mode, (aspect,))
                and resolution in spec.resolutions
                and duration in spec.durations_for(resolution)
            )
            if ok:
                await reaches_the_network(provider, validate(draft, registry, max_prompt=2000))
                checked += 1
            else:
                with pytest.raises(RequestInvalid):
                    validate(draft, registry, max_prompt=2000)
    assert checked > 40  # the loops really ran


async def test_every_option(registry: ProviderRegistry) -> None:
    for provider, spec in all_models(registry):
        mode = Mode.TEXT if Mode.TEXT in spec.modes else min(spec.modes)
        for option, value, supported in (
            ("negative_prompt", "blurry", spec.negative_prompt),
            ("seed", 42, spec.seed),
            ("enhance_prompt", True, spec.enhance_prompt),
        ):
            draft = Draft(
                prompt="a cat",
                provider=provider.name,
                model=spec.name,
                **{option: value},
                **images_for(mode, spec),
            )  # type: ignore[arg-type]
            if supported:
                await reaches_the_network(provider, validate(draft, registry, max_prompt=2000))
            else:
                with pytest.raises(RequestInvalid):
                    validate(draft, registry, max_prompt=2000)


async def test_too_many_images_and_overlong_prompts_are_refused(registry: ProviderRegistry) -> None:
    for provider, spec in all_models(registry):
        # The vendor's documented limit where there is one, else the operator's VEO_MAX_PROMPT.
        limit = min(spec.max_prompt or 2000, 2000)
        draft = Draft(prompt="x" * (limit + 1), provider=provider.name, model=spec.name)
        with pytest.raises(RequestInvalid, match="Please shorten it"):
            validate(draft, registry, max_prompt=2000)
        if Mode.REFERENCE in spec.modes and spec.max_reference_images < 3:
            draft = Draft(
                prompt="x", provider=provider.name, model=spec.name, has_image=True, extra_images=2
            )
            with pytest.raises(RequestInvalid, match="at most"):
                validate(draft, registry, max_prompt=2000)
