"""`redact`: what the adapters run over every vendor body before reading it."""

from __future__ import annotations

from bot.providers.http import redact

KEY = "sk-SENTINEL-0123456789abcdef"


def test_every_whole_key_is_replaced() -> None:
    body = f'{{"error": "bad key {KEY}", "again": "{KEY}"}}'.encode()
    assert redact(body, KEY) == b'{"error": "bad key ***", "again": "***"}'


def test_a_key_cut_at_the_end_of_a_body_is_replaced() -> None:
    for cut in range(6, len(KEY)):
        assert redact(f"Authorization: {KEY[:cut]}".encode(), KEY) == b"Authorization: ***"


def test_short_or_unrelated_endings_and_no_key_are_left_alone() -> None:
    assert redact(b"ends with sk-SE", KEY) == b"ends with sk-SE"  # too short to tell
    assert redact(b"nothing here", KEY) == b"nothing here"
    assert redact(b"anything", None) == b"anything"
