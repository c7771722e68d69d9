"""Validation against the real capability tables: bad input gets one clear sentence."""

from __future__ import annotations

import aiohttp
import pytest

from bot.jobs.requests import Draft, RequestInvalid, check_image, clean_text, validate
from bot.media.images import sniff_image
from bot.providers.apiyi.adapter import ApiyiProvider
from bot.providers.base import Mode
from bot.providers.demo import DemoProvider
from bot.providers.registry import ProviderRegistry
from tests.media.test_input_hardening import png

FAST = "veo-3.1-fast-generate-preview"
PNG = png(64, 64)  # a real header: check_image reads the pixel size
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 32
WEBP = b"RIFF\x10\0\0\0WEBPVP8 " + b"\0" * 16
GIF = b"GIF89a" + b"\0" * 16


@pytest.fixture
async def registry():
    async with aiohttp.ClientSession() as session:
        providers = {
            "apiyi": ApiyiProvider(api_key="sk-test", session=session),
            "demo": DemoProvider(),
        }
        yield ProviderRegistry(providers, "apiyi")


def check(registry: ProviderRegistry, **kw: object):
    return validate(Draft(**{"prompt": "a cat", **kw}), registry, max_prompt=2000)  # type: ignore[arg-type]


async def test_defaults_pick_the_default_provider_and_its_first_model(registry) -> None:
    req = check(registry)
    assert (req.provider, req.model, req.mode) == ("apiyi", FAST, Mode.TEXT)


async def test_model_alone_finds_its_provider(registry) -> None:
    assert check(registry, model="demo-veo").provider == "demo"


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        ({"prompt": "   \n "}, "prompt is empty"),
        ({"prompt": "x" * 2001}, "limit is 2,000"),
        ({"provider": "nope"}, "not available here"),
        ({"model": "veo-9"}, "not a model of apiyi"),
        ({"resolution": "1080p", "duration": 4}, "8 s videos at 1080p"),
        ({"resolution": "4k", "duration": 6}, "8 s videos at 4k"),
        ({"aspect_ratio": "1:1"}, "16:9, 9:16"),
        ({"resolution": "8k"}, "720p, 1080p, 4k"),
        ({"has_image": True, "has_last_frame": True}, r"cannot use first \+ last frame"),
        ({"has_image": True, "extra_images": 1}, "cannot use reference images"),
        ({"has_last_frame": True}, "needs a first frame"),
        ({"mode": "first_frame"}, "exactly one image"),
        ({"mode": "bogus"}, "not a mode"),
    ],
)
async def test_impossible_requests_get_one_sentence(
    registry, kw: dict[str, object], words: str
) -> None:
    with pytest.raises(RequestInvalid, match=words):
        check(registry, **kw)


async def test_1080p_without_length_is_fine_because_the_default_is_8(registry) -> None:
    assert check(registry, resolution="1080p").resolution == "1080p"


async def test_image_alone_is_a_first_frame(registry) -> None:
    assert check(registry, has_image=True).mode is Mode.FIRST_FRAME


def test_clean_text_drops_control_characters_but_keeps_newlines() -> None:
    assert clean_text("  a\x00b\u200bc\nd\x07  ") == "abc\nd"


@pytest.mark.parametrize(
    ("data", "kind"),
    [(PNG, "png"), (JPEG, "jpeg"), (WEBP, "webp"), (GIF, "gif"), (b"<html>", None)],
)
def test_sniff_by_magic_bytes(data: bytes, kind: str | None) -> None:
    assert sniff_image(data) == kind


async def test_check_image_trusts_bytes_not_names(registry: ProviderRegistry) -> None:
    spec = registry.model("apiyi", FAST)
    assert spec is not None
    img = check_image(PNG, slot="image", spec=spec, filename="photo.jpg")
    assert (img.mime, img.filename) == ("image/png", "photo.png")
    with pytest.raises(RequestInvalid, match="not an image"):
        check_image(b"MZ\x90\x00 an exe", slot="image", spec=spec, filename="cat.png")
    with pytest.raises(RequestInvalid, match="GIF image"):
        check_image(GIF, slot="image", spec=spec, filename="cat.gif")
    with pytest.raises(RequestInvalid, match="larger than"):
        check_image(PNG + b"\0" * spec.max_image_bytes, slot="image", spec=spec, filename="big.png")


async def test_apixo_references_are_16_9_only_before_anything_is_spent() -> None:
    from bot.providers.apixo.adapter import ApixoProvider

    async with aiohttp.ClientSession() as session:
        registry = ProviderRegistry({"apixo": ApixoProvider(api_key="k", session=session)}, "apixo")
        with pytest.raises(RequestInvalid, match="only 16:9"):
            validate(
                Draft(prompt="x", has_image=True, extra_images=1, aspect_ratio="9:16"),
                registry,
                max_prompt=2000,
            )
        ok = validate(Draft(prompt="x", has_image=True, extra_images=2), registry, max_prompt=2000)
        assert (ok.mode, ok.image_count) == (Mode.REFERENCE, 3)


async def test_two_vendors_with_one_model_name_are_told_apart() -> None:
    from bot.providers.apixo.adapter import ApixoProvider

    async with aiohttp.ClientSession() as session:
        providers = {
            "apiyi": ApiyiProvider(api_key="k", session=session),
            "apixo": ApixoProvider(api_key="k", session=session),
        }
        registry = ProviderRegistry(providers, "apiyi")
        assert (
            "veo-3.1-fast" in providers["apiyi"].models
            and "veo-3.1-fast" in providers["apixo"].models
        )
        picked = validate(Draft(prompt="x", model="apixo/veo-3.1-fast"), registry, max_prompt=2000)
        assert (picked.provider, picked.model) == ("apixo", "veo-3.1-fast")
        bare = validate(Draft(prompt="x", model="veo-3.1-fast"), registry, max_prompt=2000)
        assert bare.provider == "apiyi"
        with pytest.raises(RequestInvalid, match="is a model of apixo, not of apiyi"):
            validate(
                Draft(prompt="x", provider="apiyi", model="apixo/veo-3.1-fast"),
                registry,
                max_prompt=2000,
            )
