"""No member-facing sentence bypasses the catalogues: the modules that talk to members
(`bot/chat`, `cogs`) and the job core write no English sentence of their own; they name
one by key (`bot.chat.i18n.text`, `say`).

Read from the source with `ast`. A "sentence" is a string literal (or the literal parts of
an f-string) with three or more words between spaces (a key like "job.usually_ready" or a
URL is none); docstrings, log lines, exceptions meant for the
operator and the logs, and the English strings that discord.py needs as the commands'
own names and descriptions (translated by `i18n.Translator`) are not what members read.

Modules still to convert are listed in `NOT_YET`, each with how many sentences it holds:
the test fails if one gains a sentence, and when one has none left (so the list only
shrinks).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.chat import i18n

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("bot/chat", "bot/jobs", "cogs")
WORDS = re.compile(r"[^\W\d_]{2,}")

# Calls whose string arguments are not for members: the logs, the operator, Discord's
# command tree (English names and descriptions, translated from the catalogue).
NOT_FOR_MEMBERS = {
    "debug", "info", "warning", "error", "exception", "critical",  # logging
    "ValueError", "TypeError", "RuntimeError", "AssertionError", "KeyError",
    "NotImplementedError", "LookupError", "ConfigError",
    "command", "describe", "Group", "ContextMenu", "context_menu", "rename",
}  # fmt: skip

# Modules not yet converted, and how many sentences each still holds.
NOT_YET: dict[str, int] = {
    "bot/jobs/requests.py": 1,  # MODE_LABELS: the English names of the modes
}


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _named_by_the_catalogue(value: str) -> bool:
    """A literal that is itself part of a key: a stage word (`[stage]`, translated where it
    is shown) or a context menu's name (translated by `i18n.Translator`)."""
    return i18n.has(f"stage.{value}") or f"command.{value}.name" in i18n.catalogue("zh-CN")


def sentences(path: Path) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _call_name(node) in NOT_FOR_MEMBERS:
            for inner in ast.walk(node):
                skipped.add(id(inner))
    for node in ast.walk(tree):
        if id(node) in skipped or not isinstance(node, ast.Constant):
            continue
        value = node.value
        if not isinstance(value, str) or _named_by_the_catalogue(value):
            continue
        if sum(1 for word in value.split() if WORDS.search(word)) >= 3:
            yield node.lineno, value


MODULES = sorted(
    p.relative_to(ROOT).as_posix() for folder in FOLDERS for p in (ROOT / folder).rglob("*.py")
)


@pytest.mark.parametrize("module", MODULES)
def test_no_sentence_is_written_outside_the_catalogue(module: str) -> None:
    found = list(sentences(ROOT / module))
    allowed = NOT_YET.get(module, 0)
    shown = "\n".join(f"{module}:{line}: {text!r}" for line, text in found)
    assert len(found) <= allowed, f"sentences outside the catalogue:\n{shown}"
    if module in NOT_YET:
        assert len(found) == allowed, f"{module} has fewer sentences now: lower NOT_YET"


def test_the_walk_finds_sentences(tmp_path: Path) -> None:
    # Guards the walk: what it must see, and what it must let be.
    module = tmp_path / "words.py"
    module.write_text(
        '"""A docstring of several words."""\n'
        'log.info("a line for the logs only")\n'
        'raise ValueError("an error for the operator")\n'
        'await send(f"Your video of job #{n} is ready")\n'
        'label = "Yes, delete them"\n'
        'key = text("job.usually_ready", locale)\n'
    )
    assert sorted(line for line, _ in sentences(module)) == [4, 5]
