"""The catalogue and the code that names its sentences agree: every key said exists, with the
placeholders the caller fills, and every sentence is said somewhere.

Read from the source with `ast`, so a key misspelled in a rarely taken branch (a vendor's
odd failure) fails here rather than showing a member "unknown error".
"""

from __future__ import annotations

import ast
import string
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.chat.i18n import catalogue

# The failures' and alerts' sentences (what `say` names), by key, in English.
SENTENCES = {
    k.removeprefix("failure."): v for k, v in catalogue("en").items() if k.startswith("failure.")
}
ALERTS = {k.removeprefix("alert."): v for k, v in catalogue("en").items() if k.startswith("alert.")}

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(p for part in ("bot", "cogs") for p in (ROOT / part).rglob("*.py"))


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _names_sentences(tree: ast.Module) -> bool:
    """Whether a module takes `say`/`Say` from bot.providers.codes (another `say`, such as
    the operator's report printer in check.py, is not this one)."""
    return any(
        isinstance(node, ast.ImportFrom)
        and node.module == "bot.providers.codes"
        and any(alias.name in ("say", "Say") for alias in node.names)
        for node in tree.body
    )


def _said() -> Iterator[tuple[str, str, set[str] | None]]:
    """(where, key, the parameters given — None when passed as **mapping) for every
    `say("key", ...)` / `Say("key", ...)` with a literal key."""
    for path in SOURCES:
        tree = ast.parse(path.read_text(), filename=str(path))
        if not _names_sentences(tree):
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else None
            if isinstance(node.func, ast.Name):
                name = node.func.id
            first = node.args[0]
            if name not in ("say", "Say") or not isinstance(first, ast.Constant):
                continue
            if not isinstance(first.value, str):
                continue
            if first.value.startswith("refusal."):
                continue  # a refused request's sentence: see test_refusals.py
            given: set[str] | None = set()
            for kw in node.keywords:
                if kw.arg is None:
                    given = None
                    break
                assert given is not None
                given.add(kw.arg)
            if name == "Say" and len(node.args) > 1:
                given = None  # a params mapping: not read here
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            yield where, first.value, given


SAID = list(_said())


def test_the_source_names_sentences_at_all() -> None:
    # Guards the walk itself: if it found nothing, every other test here would pass.
    assert len(SAID) > 60


@pytest.mark.parametrize(("where", "key", "given"), SAID, ids=[s[0] for s in SAID])
def test_every_key_said_has_a_sentence_with_the_placeholders_given(
    where: str, key: str, given: set[str] | None
) -> None:
    assert key in SENTENCES, f"{where}: no sentence for {key!r}"
    if given is not None:
        missing = _placeholders(SENTENCES[key]) - given
        assert not missing, f"{where}: {key!r} quotes {missing} but is not given them"


def test_every_sentence_is_said_somewhere() -> None:
    literals: set[str] = set()
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                literals.add(node.value)
    # An option's name is looked up by its key ("option.<key>", `{options:options}`): said
    # when the key itself is named.
    unused = sorted(
        k for k in SENTENCES if k not in literals and k.removeprefix("option.") not in literals
    )
    assert not unused, f"sentences nobody says: {unused}"


def test_the_alerts_quote_only_what_the_job_core_gives() -> None:
    known = {"provider", "count", "last", "said", "code", "job", "key_name"}
    for kind, template in ALERTS.items():
        assert _placeholders(template) <= known, kind
