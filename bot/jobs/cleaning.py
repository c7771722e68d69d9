"""What a member typed, as a vendor should get it and as it is echoed back: one line break,
no control characters, no invisible formatting; and whether anything visible is left.
(`bot.jobs.requests` checks prompts with these, and is where callers take them from.)"""

from __future__ import annotations

import re
import unicodedata

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
