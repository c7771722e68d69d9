"""Hostile or broken member input is refused with one clear sentence before anything is
spent: forged image headers (decompression bombs), huge or damaged images, prompts made of
control or invisible characters, more images than a model takes.

The images are built by hand, byte by byte, so each test says exactly what the header claims.
"""

from __future__ import annotations

import dataclasses
import struct
import time
import unicodedata
import zlib
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.jobs.requests import Draft, RequestInvalid, check_image, clean_text, resolve_mode, validate
from bot.media.images import MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE, image_size, sniff_image
from bot.providers.apixo.adapter import ApixoProvider
from bot.providers.apiyi.adapter import ApiyiProvider
from bot.providers.base import Mode, ModelSpec, Provider, Timing
from bot.providers.demo import DemoProvider
from bot.providers.registry import ProviderRegistry
from bot.providers.veo3o1.adapter import Veo3o1Provider
from bot.providers.yelinai.adapter import YelinaiProvider

# -- building images by hand ---------------------------------------------------------------


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(width: int, height: int, *, depth: int = 8, colour: int = 2) -> bytes:
    """A PNG whose IHDR says width×height; the pixel data is one tiny row (never decoded)."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + png_chunk(b"IEND", b"")
    )


def jpeg(width: int, height: int, *, components: int = 3) -> bytes:
    """SOI, a JFIF APP0, a comment, a SOF0 frame header, a scan, EOI."""
    app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    comment = b"made by hand"
    sof = struct.pack(">BHHB", 8, height, width, components) + b"\x01\x11\x00" * components
    sos = b"\x01\x01\x00\x00\x3f\x00"
    return (
        b"\xff\xd8"
        + b"\xff\xe0"
        + struct.pack(">H", 2 + len(app0))
        + app0
        + b"\xff\xfe"
        + struct.pack(">H", 2 + len(comment))
        + comment
        + b"\xff\xff\xc0"  # a fill byte before the marker is allowed
        + struct.pack(">H", 2 + len(sof))
        + sof
        + b"\xff\xda"
        + struct.pack(">H", 2 + len(sos))
        + sos
        + b"\x00\x3f\x00"
        + b"\xff\xd9"
    )


def gif(width: int, height: int, *, frame: tuple[int, int, int, int] | None = None) -> bytes:
    """A GIF89a with a 2-colour global table and one frame (by default the whole screen)."""
    left, top, w, h = frame or (0, 0, width, height)
    return (
        b"GIF89a"
        + struct.pack("<HHBBB", width, height, 0x80, 0, 0)
        + b"\x00\x00\x00\xff\xff\xff"
        + b"\x21\xf9\x04\x00\x00\x00\x00\x00"  # a graphic control extension
        + b"\x2c"
        + struct.pack("<HHHHB", left, top, w, h, 0)
        + b"\x02\x02\x44\x01\x00"  # LZW code size 2, one 2-byte sub-block, terminator
        + b"\x3b"
    )


def riff(*chunks: tuple[bytes, bytes]) -> bytes:
    body = b"WEBP"
    for fourcc, payload in chunks:
        body += fourcc + struct.pack("<I", len(payload)) + payload + b"\x00" * (len(payload) & 1)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def vp8l(width: int, height: int) -> bytes:
    bits = (width - 1) | ((height - 1) << 14)
    return b"\x2f" + struct.pack("<I", bits) + b"\x00" * 8


def vp8(width: int, height: int, *, keyframe: bool = True) -> bytes:
    partition = 4
    tag = (partition << 5) | (1 << 4) | (0 if keyframe else 1)
    return (
        struct.pack("<I", tag)[:3] + b"\x9d\x01\x2a" + struct.pack("<HH", width, height) + b"\0" * 8
    )


def vp8x(width: int, height: int, flags: int = 0) -> bytes:
    return (
        bytes([flags, 0, 0, 0])
        + struct.pack("<I", width - 1)[:3]
        + struct.pack("<I", height - 1)[:3]
    )


def anmf(x: int, y: int, width: int, height: int) -> bytes:
    def u24(value: int) -> bytes:
        return struct.pack("<I", value)[:3]

    return u24(x // 2) + u24(y // 2) + u24(width - 1) + u24(height - 1) + u24(100) + b"\x00"


def webp_lossless(width: int, height: int) -> bytes:
    return riff((b"VP8L", vp8l(width, height)))


def webp_lossy(width: int, height: int) -> bytes:
    return riff((b"VP8 ", vp8(width, height)))


def webp_extended(width: int, height: int) -> bytes:
    return riff((b"VP8X", vp8x(width, height)), (b"VP8L", vp8l(width, height)))


# A model that takes every format we know, so each parser is reachable through check_image.
SPEC = ModelSpec(
    name="any",
    label="Any Model",
    modes=frozenset(Mode),
    aspect_ratios=("16:9",),
    durations=(8,),
    default_duration=8,
    resolutions=("720p",),
    timing=Timing(initial_wait=1, poll_interval=1, deadline=60),
    max_reference_images=3,
    image_formats=frozenset({"jpeg", "png", "webp", "gif"}),
)

BUILDERS: dict[str, Callable[[int, int], bytes]] = {
    "png": png,
    "jpeg": jpeg,
    "gif": gif,
    "webp-lossless": webp_lossless,
    "webp-lossy": webp_lossy,
    "webp-extended": webp_extended,
}


def check(data: bytes, filename: str = "cat.png") -> tuple[int, int] | None:
    image = check_image(data, slot="image", spec=SPEC, filename=filename)
    return image_size(image.data, sniff_image(image.data) or "")


# -- reading the size from the header --------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BUILDERS))
@pytest.mark.parametrize("size", [(1, 1), (640, 360), (1920, 1080), (1080, 1920), (16384, 16)])
def test_the_size_is_read_from_every_format(name: str, size: tuple[int, int]) -> None:
    if name == "webp-lossy" and max(size) > 16383:  # VP8 has 14 bits per side
        size = (16383, size[1])
    data = BUILDERS[name](*size)
    kind = sniff_image(data)
    assert kind is not None
    assert image_size(data, kind) == size
    assert check(data) == size


def test_a_common_large_phone_photo_is_accepted() -> None:
    """A 50 MP phone sensor's full-size photo (8160×6144) is under both caps."""
    assert check(jpeg(8160, 6144)) == (8160, 6144)
    assert check(png(MAX_IMAGE_SIDE, MAX_IMAGE_PIXELS // MAX_IMAGE_SIDE)) is not None


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (png(100_000, 100_000), "`image` is 100000×100000 pixels"),
        (png(2**31 - 1, 1), "`image` is 2147483647×1 pixels"),  # the widest PNG allows
        (png(2**31, 1), "could not be read"),  # beyond what PNG allows at all
        (jpeg(65535, 65535), "`image` is 65535×65535 pixels"),
        (jpeg(16385, 10), "`image` is 16385×10 pixels"),
        (gif(65535, 65535), "`image` is 65535×65535 pixels"),
        # A small screen with a huge frame: decoders allocate for the frame.
        (gif(10, 10, frame=(0, 0, 40000, 40000)), "`image` is 40000×40000 pixels"),
        (gif(10, 10, frame=(65000, 0, 500, 10)), "`image` is 65500×10 pixels"),
        (webp_lossless(16384, 16384), "`image` is 16384×16384 pixels"),  # 268 MP
        (webp_lossy(16383, 16383), "`image` is 16383×16383 pixels"),
        (
            riff((b"VP8X", vp8x(1 << 24, 1 << 24, flags=0x02)), (b"ANMF", anmf(0, 0, 8, 8))),
            "`image` is 16777216×16777216 pixels",
        ),
        (png(9000, 8000), "`image` is 9000×8000 pixels"),  # each side fine, 72 MP in all
    ],
)
def test_decompression_bombs_and_huge_images_are_refused_from_the_header(
    data: bytes, words: str
) -> None:
    started = time.monotonic()
    with pytest.raises(RequestInvalid, match=words) as caught:
        check(data)
    assert time.monotonic() - started < 0.5  # nothing was decoded
    if "pixels" in words:
        assert str(caught.value).endswith(
            "the largest accepted is 16384 pixels per side and 64 megapixels in all. "
            "Please make it smaller and attach it again."
        )


def test_the_bomb_sentence_in_full() -> None:
    with pytest.raises(RequestInvalid) as caught:
        check(png(100_000, 100_000))
    assert str(caught.value) == (
        "`image` is 100000×100000 pixels; the largest accepted is 16384 pixels per side and "
        "64 megapixels in all. Please make it smaller and attach it again."
    )
    # A forged bomb is a few dozen bytes: the byte cap alone would never catch it.
    assert len(png(100_000, 100_000)) < 100


def _forge(data: bytes, offset: int, new: bytes) -> bytes:
    return data[:offset] + new + data[offset + len(new) :]


def _png_with_ihdr(body: bytes) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", body) + png_chunk(b"IEND", b"")


BROKEN = {
    "png-zero-width": png(0, 100),
    "png-zero-height": png(100, 0),
    "png-bad-crc": _forge(png(100, 100), 29, b"\0\0\0\0"),
    "png-crc-kept-but-size-changed": _forge(png(100, 100), 16, struct.pack(">I", 100_000)),
    "png-ihdr-too-long": _png_with_ihdr(struct.pack(">IIBBBBB", 9, 9, 8, 2, 0, 0, 0) + b"\0"),
    "png-bad-depth": png(10, 10, depth=3),
    "png-bad-colour": png(10, 10, colour=5),
    "png-no-ihdr-first": b"\x89PNG\r\n\x1a\n" + png_chunk(b"IEND", b"") + png(9, 9)[8:],
    "png-signature-only": b"\x89PNG\r\n\x1a\n",
    "png-only-zeros": b"\x89PNG\r\n\x1a\n" + b"\0" * 64,
    "jpeg-zero-height": jpeg(100, 0),  # "height comes later" (DNL): refused
    "jpeg-no-frame": b"\xff\xd8\xff\xd9",
    "jpeg-scan-before-frame": b"\xff\xd8\xff\xda\x00\x08" + b"\0" * 6 + jpeg(8, 8)[2:],
    "jpeg-segment-past-the-end": b"\xff\xd8\xff\xe0\xff\xff" + b"\0" * 40,
    "jpeg-segment-length-too-small": b"\xff\xd8\xff\xe0\x00\x01" + jpeg(8, 8)[2:],
    "jpeg-junk-between-segments": b"\xff\xd8\xff\xfe\x00\x02junk" + jpeg(8, 8)[2:],
    "jpeg-sof-length-disagrees": _forge(jpeg(8, 8), jpeg(8, 8).index(b"\xc0") + 1, b"\x00\x12"),
    "jpeg-sof-no-components": jpeg(8, 8, components=0),
    "jpeg-only-ones": b"\xff\xd8\xff\xe0" + b"\x01" * 64,
    "gif-no-frame": b"GIF89a" + struct.pack("<HHBBB", 10, 10, 0, 0, 0) + b"\x3b",
    "gif-header-only": b"GIF89a\x0a\x00",
    "gif-unknown-block": gif(10, 10)[:19] + b"\x99" + gif(10, 10)[19:],
    "gif-zero-size-frame": gif(10, 10, frame=(0, 0, 0, 10)),
    "webp-riff-size-past-the-end": _forge(webp_lossless(10, 10), 4, struct.pack("<I", 10_000)),
    "webp-chunk-past-the-end": _forge(webp_lossless(10, 10), 16, struct.pack("<I", 10_000)),
    "webp-unknown-first-chunk": riff((b"JUNK", b"1234")),
    "webp-vp8-not-a-keyframe": riff((b"VP8 ", vp8(10, 10, keyframe=False))),
    "webp-vp8-bad-start-code": riff((b"VP8 ", _forge(vp8(10, 10), 3, b"\0\0\0"))),
    "webp-vp8-zero-width": riff((b"VP8 ", vp8(0, 10))),
    "webp-vp8l-bad-signature": riff((b"VP8L", b"\x00" + vp8l(10, 10)[1:])),
    "webp-vp8l-bad-version": riff((b"VP8L", vp8l(10, 10)[:4] + b"\xe0" + b"\0" * 8)),
    "webp-vp8x-image-differs-from-canvas": riff(
        (b"VP8X", vp8x(100, 100)), (b"VP8L", vp8l(16384, 16384))
    ),
    "webp-vp8x-frame-outside-canvas": riff(
        (b"VP8X", vp8x(100, 100, flags=0x02)), (b"ANMF", anmf(50, 0, 100, 100))
    ),
    "webp-vp8x-nothing-to-show": riff((b"VP8X", vp8x(100, 100))),
    "webp-vp8-empty": b"RIFF\x10\0\0\0WEBPVP8 " + b"\0" * 16,
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_truncated_or_inconsistent_headers_cannot_be_read(name: str) -> None:
    with pytest.raises(RequestInvalid) as caught:
        check(BROKEN[name])
    text = str(caught.value)
    assert text.startswith("`image` (cat.png) could not be read as an image: the "), text
    assert text.endswith("file is damaged or incomplete. Please save it again and attach it.")


def test_the_damaged_sentence_in_full() -> None:
    with pytest.raises(RequestInvalid) as caught:
        check_image(png(10, 10)[:30], slot="last_frame", spec=SPEC, filename="sunset.png")
    assert str(caught.value) == (
        "`last_frame` (sunset.png) could not be read as an image: the PNG file is damaged or "
        "incomplete. Please save it again and attach it."
    )


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_every_truncation_and_every_corrupted_byte_is_refused_or_accepted_never_a_crash(
    name: str,
) -> None:
    data = BUILDERS[name](300, 200)
    for cut in range(len(data)):
        try:
            check(data[:cut])
        except RequestInvalid:
            pass
    for at in range(len(data)):
        for value in (0x00, 0x01, 0x7F, 0x80, 0xFF):
            try:
                check(data[:at] + bytes([value]) + data[at + 1 :])
            except RequestInvalid:
                pass


def test_cutting_a_header_short_makes_it_unreadable() -> None:
    """Every prefix that ends inside the size information is refused; WebP also checks that
    the RIFF container is whole."""
    for name, build in BUILDERS.items():
        data = build(300, 200)
        magic = {"png": 8, "jpeg": 3, "gif": 6}.get(name, 12)
        if name == "jpeg":
            header_end = data.index(b"\xff\xda")  # the frame header ends where the scan starts
        else:
            header_end = {"png": 33, "gif": 37}.get(name, len(data))
        for cut in range(magic, header_end):
            with pytest.raises(RequestInvalid, match="could not be read"):
                check(data[:cut])
        assert check(data[:header_end]) == (300, 200)


def test_a_flood_of_tiny_jpeg_segments_is_refused_quickly() -> None:
    """Millions of empty markers before any frame header must not block the event loop."""
    flood = b"\xff\xd8" + b"\xff\x01" * 2_000_000 + jpeg(8, 8)[2:]
    started = time.monotonic()
    with pytest.raises(RequestInvalid, match="could not be read"):
        check_image(
            flood,
            slot="image",
            spec=dataclasses.replace(SPEC, max_image_bytes=2**30),
            filename="x.jpg",
        )
    assert time.monotonic() - started < 2


def test_the_file_name_shown_is_tamed() -> None:
    """A name with backticks or hundreds of characters cannot break or flood the message."""
    with pytest.raises(RequestInvalid) as caught:
        check_image(b"<html>", slot="image", spec=SPEC, filename="`@everyone`" + "x" * 300)
    text = str(caught.value)
    assert text.startswith("`image` (@everyone") and "`@everyone`" not in text
    assert len(text) < 150


def test_the_refusal_order_is_type_then_bytes_then_pixels() -> None:
    """Cheap checks first: a too-large file is refused before its header is even parsed."""
    apiyi_like = dataclasses.replace(SPEC, image_formats=frozenset({"png"}), max_image_bytes=100)
    with pytest.raises(RequestInvalid, match="is a GIF image"):
        check_image(gif(10, 10), slot="image", spec=apiyi_like, filename="a.gif")
    with pytest.raises(RequestInvalid, match="larger than"):
        check_image(png(10, 10) + b"\0" * 100, slot="image", spec=apiyi_like, filename="a.png")


SIGNATURES = [b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"RIFF\0\0\0\0WEBP"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(head=st.sampled_from([b"", *SIGNATURES]), tail=st.binary(max_size=200))
def test_check_image_raises_nothing_but_request_invalid_on_any_bytes(
    head: bytes, tail: bytes
) -> None:
    data = head + tail
    if head.startswith(b"RIFF") and len(tail) >= 4:  # sometimes make the RIFF size plausible
        data = head[:4] + struct.pack("<I", len(data) - 8) + data[8:]
    try:
        width, height = check(data) or (0, 0)
    except RequestInvalid:
        return
    assert 0 < width <= MAX_IMAGE_SIDE and 0 < height <= MAX_IMAGE_SIDE
    assert width * height <= MAX_IMAGE_PIXELS


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(sorted(BUILDERS)),
    width=st.integers(1, 70_000),
    height=st.integers(1, 70_000),
    noise=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=4),
)
def test_mutated_real_headers_never_crash_and_never_pass_a_bomb(
    name: str, width: int, height: int, noise: list[tuple[int, int]]
) -> None:
    try:
        data = bytearray(BUILDERS[name](width, height))
    except struct.error:  # the format cannot even express this size
        return
    for at, value in noise:
        if at < len(data):
            data[at] = value
    try:
        got = check(bytes(data))
    except RequestInvalid:
        return
    assert got is not None
    assert max(got) <= MAX_IMAGE_SIDE and got[0] * got[1] <= MAX_IMAGE_PIXELS


# -- prompts ------------------------------------------------------------------------------------


@pytest.fixture
async def registry() -> AsyncIterator[ProviderRegistry]:
    async with aiohttp.ClientSession() as session:
        providers: dict[str, Provider] = {
            "apiyi": ApiyiProvider(api_key="k", session=session),
            "apixo": ApixoProvider(api_key="k", session=session),
            "veo3o1": Veo3o1Provider(api_key="k", session=session),
            "yelinai": YelinaiProvider(api_key="k", session=session),
            "demo": DemoProvider(),
        }
        yield ProviderRegistry(providers, "apiyi")


@pytest.mark.parametrize(
    ("typed", "sent"),
    [
        ("a cat\r\njumps\rhigh", "a cat\njumps\nhigh"),
        ("a\u2028b\u2029c\x85d", "a\nb\nc\nd"),
        ("tab\tkept", "tab\tkept"),
        ("bell\x07 null\x00 esc\x1b[31m red", "bell null esc[31m red"),
        ("c1\x9b controls\x80", "c1 controls"),
        ("zero\u200bwidth\u200c\u200d\u200e\u200f", "zerowidth"),
        ("\u202eevil\u202c \u2066iso\u2069 \u202aemb\u202b\u202d", "evil iso emb"),
        ("\ufeffbom", "bom"),
        ("@everyone <@&1> <@2> stay as typed", "@everyone <@&1> <@2> stay as typed"),
        ("  日本語 のプロンプト 🦊  ", "日本語 のプロンプト 🦊"),
    ],
)
def test_prompts_are_cleaned_of_control_and_invisible_characters(typed: str, sent: str) -> None:
    assert clean_text(typed) == sent


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "   ",
        "\r\n\t\r\n",
        "\x00\x01\x07\x1b\x7f",
        "\u200b\u200b\u202e\u2066\ufeff",
        "\x00 \u200b \r\n \u3164",
        "\u3164\u3000\u3164",  # Hangul fillers and ideographic spaces: nothing visible
        "\u2800\u2800",  # braille blanks
    ],
)
async def test_a_prompt_with_nothing_visible_is_empty(
    registry: ProviderRegistry, typed: str
) -> None:
    with pytest.raises(RequestInvalid) as caught:
        validate(Draft(prompt=typed), registry, max_prompt=2000)
    assert str(caught.value) == "The prompt is empty: describe the video you want."


async def test_the_length_limit_counts_what_is_sent_not_what_was_typed(
    registry: ProviderRegistry,
) -> None:
    padded = "x" * 2000 + "\u200b" * 500 + "\x00" * 500
    assert validate(Draft(prompt=padded), registry, max_prompt=2000).prompt == "x" * 2000
    with pytest.raises(RequestInvalid) as caught:
        validate(Draft(prompt="x" * 2001 + "\u200b" * 10), registry, max_prompt=2000)
    assert str(caught.value) == (
        "The prompt is 2,001 characters long; the limit is 2,000. Please shorten it."
    )


async def test_each_vendor_limit_applies_after_cleaning(registry: ProviderRegistry) -> None:
    tested = 0
    for provider in registry:
        for spec in provider.models.values():
            if Mode.TEXT not in spec.modes:
                continue
            tested += 1
            limit = min(spec.max_prompt or 2000, 2000)
            draft = Draft(
                prompt="\u202e" + "y" * limit + "\x00", provider=provider.name, model=spec.name
            )
            assert validate(draft, registry, max_prompt=2000).prompt == "y" * limit
            over = dataclasses.replace(draft, prompt="y" * (limit + 1))
            with pytest.raises(RequestInvalid, match=f"the limit is {limit:,}"):
                validate(over, registry, max_prompt=2000)
    assert tested >= 10


async def test_the_negative_prompt_is_cleaned_too(registry: ProviderRegistry) -> None:
    """The demo model takes a negative prompt; apiyi's does not."""
    cleaned = validate(
        Draft(prompt="a fox", model="demo-veo", negative_prompt="\u202eblur\x00ry\r\n"),
        registry,
        max_prompt=2000,
    )
    assert cleaned.negative_prompt == "blurry"
    nothing = validate(
        Draft(prompt="a fox", model="demo-veo", negative_prompt="\x00\u200b \u3164"),
        registry,
        max_prompt=2000,
    )
    assert nothing.negative_prompt is None
    # Nothing visible is no negative prompt at all, so a model without one is not refused.
    assert validate(Draft(prompt="a fox", negative_prompt="\u200b"), registry, max_prompt=2000)
    with pytest.raises(RequestInvalid, match="negative prompt is over 2,000"):
        validate(
            Draft(prompt="a fox", model="demo-veo", negative_prompt="n" * 2001),
            registry,
            max_prompt=2000,
        )


_CONTROL_OR_INVISIBLE = {"Cc", "Cf", "Cs", "Co"}


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.characters(codec=None), max_size=200))
def test_cleaned_prompts_never_contain_control_or_invisible_characters(typed: str) -> None:
    cleaned = clean_text(typed)
    assert "\r" not in cleaned
    for ch in cleaned:
        assert ch in "\n\t" or unicodedata.category(ch) not in _CONTROL_OR_INVISIBLE, repr(ch)
    assert clean_text(cleaned) == cleaned  # cleaning twice changes nothing
    assert cleaned == cleaned.strip()


# -- too many images ----------------------------------------------------------------------------


async def test_the_fullest_generate_command_is_accepted_or_refused_in_one_sentence(
    registry: ProviderRegistry,
) -> None:
    """`/veo generate` has three reference slots (`image`, `image2`, `image3`): for every
    model, three images are either within its reference limit or refused by name."""
    for provider in registry:
        for spec in provider.models.values():
            draft = Draft(
                prompt="x", provider=provider.name, model=spec.name, has_image=True, extra_images=2
            )
            if Mode.REFERENCE in spec.modes and spec.max_reference_images >= 3:
                assert validate(draft, registry, max_prompt=2000).image_count == 3
                continue
            with pytest.raises(RequestInvalid) as caught:
                validate(draft, registry, max_prompt=2000)
            assert str(caught.value) in (
                f"**{spec.label}** cannot use reference images; it can do: "
                + ", ".join(
                    label
                    for mode, label in [
                        (Mode.TEXT, "text only"),
                        (Mode.FIRST_FRAME, "first frame"),
                        (Mode.FIRST_LAST, "first + last frame"),
                    ]
                    if mode in spec.modes
                )
                + ".",
                f"**{spec.label}** takes at most {spec.max_reference_images} reference image(s).",
            )


def test_more_references_than_a_model_takes_is_one_sentence() -> None:
    two = dataclasses.replace(SPEC, label="Two Refs", max_reference_images=2)
    draft = Draft(prompt="x", has_image=True, extra_images=2)
    with pytest.raises(RequestInvalid) as caught:
        resolve_mode(draft, two)
    assert str(caught.value) == "**Two Refs** takes at most 2 reference image(s)."
    assert resolve_mode(dataclasses.replace(draft, extra_images=1), two) is Mode.REFERENCE
