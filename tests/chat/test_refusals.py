"""Refusals are sentences by key: every `RequestInvalid` / `QuotaRefused` the job core raises
names a `[refusal]` sentence of the catalogue (never English of its own), every key said
exists with the placeholders given, the job core's English (its logs, `str(exc)`) is the
catalogue's, and a member reads the refusal in their own language.

The source is read with `ast`, as `test_sentences.py` reads the failures' keys.
"""

from __future__ import annotations

import ast
import string
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.chat import i18n
from bot.chat.failures import refusal_text, said_text
from bot.client import VeoBot
from bot.jobs.quota import QuotaRefused
from bot.jobs.refusals import english
from bot.jobs.requests import MODE_LABELS, RequestInvalid
from bot.providers.codes import Say, say
from storage import JobStatus
from tests.cogs.test_generate import generate, job_count, reply_text, used
from tests.conftest import BotFactory, wait_for_job
from tests.sim.discord_sim import DiscordSim

ROOT = Path(__file__).resolve().parents[2]
JOBS = sorted((ROOT / "bot" / "jobs").rglob("*.py"))
SOURCES = sorted(p for part in ("bot", "cogs") for p in (ROOT / part).rglob("*.py"))
REFUSALS = ("RequestInvalid", "QuotaRefused")
PREFIX = "refusal."

# The English source, read as the file it is (not through the merged catalogue), so a key
# that lives in another part of the English catalogue does not count.
SOURCE = tomllib.loads((ROOT / "bot/chat/locales/en.refusals.toml").read_text("utf-8"))
ENGLISH = {f"{PREFIX}{k}": v for k, v in SOURCE["refusal"].items()}


def _placeholders(template: str) -> dict[str, str]:
    return {name: spec or "" for _, name, spec, _ in string.Formatter().parse(template) if name}


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else None


def _refusal_key(node: ast.expr) -> str | None:
    """The key of `say("refusal.…", ...)`, None when `node` is no such call."""
    if not (isinstance(node, ast.Call) and _name(node.func) == "say" and node.args):
        return None
    first = node.args[0]
    if isinstance(first, ast.Constant) and isinstance(first.value, str):
        return first.value if first.value.startswith(PREFIX) else None
    return None


def _trees(paths: list[Path]) -> Iterator[tuple[Path, ast.Module]]:
    for path in paths:
        yield path, ast.parse(path.read_text(), filename=str(path))


def _say_functions() -> set[str]:
    """Functions of the job core that return a `Say` (e.g. `banned_word_refusal`)."""
    found = set()
    for _, tree in _trees(JOBS):
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.returns is not None:
                if ast.unparse(node.returns) == "Say":
                    found.add(node.name)
    return found


def _assigned(tree: ast.Module) -> dict[str, list[ast.expr]]:
    """Every value each name is assigned anywhere in a module."""
    values: dict[str, list[ast.expr]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    values.setdefault(target.id, []).append(node.value)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            values.setdefault(node.target.id, []).append(node.value)
    return values


def _raised() -> Iterator[tuple[str, ast.Call, ast.Module]]:
    for path, tree in _trees(JOBS):
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _name(node.func) in REFUSALS:
                yield f"{path.relative_to(ROOT)}:{node.lineno}", node, tree


RAISED = list(_raised())
SAY_FUNCTIONS = _say_functions()


def _is_key(arg: ast.expr, tree: ast.Module) -> bool:
    """A refusal's argument names a sentence: a `say("refusal.…")`, a call of a function
    that returns a `Say`, or a name only ever bound to one of those."""
    if _refusal_key(arg) is not None:
        return True
    if isinstance(arg, ast.Call) and _name(arg.func) in SAY_FUNCTIONS:
        return True
    if isinstance(arg, ast.Name):
        values = _assigned(tree).get(arg.id, [])
        if values:
            return all(_is_key(v, tree) for v in values)
        # A constant of another module of the job core (`DMS_OFF` of `bot.jobs.rules`).
        source = _imported_from(tree, arg.id)
        return source is not None and _is_key(arg, source)
    return False


def _imported_from(tree: ast.Module, name: str) -> ast.Module | None:
    """The module of the job core `name` is imported from in `tree`, parsed."""
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bot.jobs."):
            if any((alias.asname or alias.name) == name for alias in node.names):
                path = ROOT.joinpath(*node.module.split(".")).with_suffix(".py")
                return ast.parse(path.read_text(), filename=str(path))
    return None


def test_the_walk_finds_the_refusals() -> None:
    # Guards the walk itself: if it found nothing, the test below would pass.
    assert len(RAISED) > 50
    assert "banned_word_refusal" in SAY_FUNCTIONS


@pytest.mark.parametrize(("where", "call", "tree"), RAISED, ids=[r[0] for r in RAISED])
def test_the_job_core_refuses_by_key_only(where: str, call: ast.Call, tree: ast.Module) -> None:
    assert len(call.args) == 1 and not call.keywords, f"{where}: one `Say`, nothing else"
    assert _is_key(call.args[0], tree), (
        f"{where}: {ast.unparse(call)} gives no `say('refusal.…')` (a sentence of its own "
        "would never be translated: add it to en.refusals.toml)"
    )


def _said() -> Iterator[tuple[str, str, set[str] | None]]:
    """(where, key, the parameters given — None when passed as **mapping) for every
    `say("refusal.…", ...)` in the bot and the cogs."""
    for path, tree in _trees(SOURCES):
        for node in ast.walk(tree):
            if not isinstance(node, ast.expr) or (key := _refusal_key(node)) is None:
                continue
            assert isinstance(node, ast.Call)
            given: set[str] | None = {kw.arg for kw in node.keywords if kw.arg is not None}
            if any(kw.arg is None for kw in node.keywords):
                given = None
            yield f"{path.relative_to(ROOT)}:{node.lineno}", key, given


SAID = list(_said())


@pytest.mark.parametrize(("where", "key", "given"), SAID, ids=[s[0] for s in SAID])
def test_every_refusal_said_has_a_sentence_with_the_placeholders_given(
    where: str, key: str, given: set[str] | None
) -> None:
    assert key in ENGLISH, f"{where}: no sentence for {key!r} in en.refusals.toml"
    if given is not None:
        missing = set(_placeholders(ENGLISH[key])) - given
        assert not missing, f"{where}: {key!r} quotes {missing} but is not given them"


def test_every_refusal_is_said_somewhere() -> None:
    said = {key for _, key, _ in SAID}
    labels = {f"{PREFIX}mode.{mode.value}" for mode in MODE_LABELS}
    assert not sorted(set(ENGLISH) - said - labels), "refusals nobody says"


def test_the_mode_labels_are_the_job_cores() -> None:
    for mode, label in MODE_LABELS.items():
        assert ENGLISH[f"{PREFIX}mode.{mode.value}"] == label


def _sample(template: str) -> dict[str, str | int]:
    """A value for each placeholder a sentence quotes: modes where it names modes."""
    return {
        name: "text,reference" if spec == "modes" else 12345
        for name, spec in _placeholders(template).items()
    }


@pytest.mark.parametrize("key", sorted(ENGLISH))
def test_the_job_cores_english_is_the_catalogues(key: str) -> None:
    params = _sample(ENGLISH[key])
    assert english(Say(key, params)) == i18n.text(key, "en", **params)
    assert str(RequestInvalid(Say(key, params))) == i18n.text(key, "en", **params)
    # Only the format specs both renderers know (str.format's own, and `modes`).
    for spec in _placeholders(ENGLISH[key]).values():
        assert spec in ("", ",", "g", "modes"), (key, spec)


def test_a_refusal_reads_in_the_members_language() -> None:
    refused = QuotaRefused(say("refusal.quota_used", limit=3, reset=1_700_000_000))
    assert str(refused) == refusal_text(refused, None) == refusal_text(refused, "fr")
    assert str(refused).startswith("You have used all 3 of today's videos.")
    assert refusal_text(refused, "zh-CN").startswith("您今天的 3 个视频额度已全部用完。")
    assert refusal_text(refused, "es-419").startswith("Has usado los 3 vídeos de hoy.")
    modes = RequestInvalid(
        say("refusal.mode_not_offered", label="Veo", mode="reference", modes="text,first_frame")
    )
    assert str(modes) == "**Veo** cannot use reference images; it can do: text only, first frame."
    assert refusal_text(modes, "zh-CN") == "**Veo** 不支持参考图片模式；它支持：纯文本, 首帧。"
    assert said_text(say("refusal.not_admin"), "es-ES").startswith("Solo los miembros")


def test_a_plain_sentence_is_shown_as_given() -> None:
    # A cog's own words (not yet in the catalogue) still show, in English.
    plain = RequestInvalid("Please choose how to use the images.")
    assert plain.say is None
    assert refusal_text(plain, "zh-CN") == str(plain) == "Please choose how to use the images."
    # A key this bot does not know shows its key and parameters, never a blank.
    unknown = RequestInvalid(say("refusal.from_a_newer_bot", job=3))
    assert refusal_text(unknown, "es-ES") == str(unknown) == "refusal.from_a_newer_bot(job=3)"


async def test_an_empty_prompt_is_refused_in_the_members_language(
    start_bot: BotFactory, make_settings, discord_sim: DiscordSim
) -> None:
    bot: VeoBot = await start_bot(make_settings())
    iid = await generate(bot, discord_sim, prompt="   ", locale="es-ES")
    assert reply_text(discord_sim, iid) == "⚠️ El prompt está vacío: describe el vídeo que quieres."
    assert await job_count(bot) == 0 and await used(bot) == 0


async def test_a_quota_refusal_is_told_in_the_members_language(
    start_bot: BotFactory, make_settings, discord_sim: DiscordSim
) -> None:
    bot: VeoBot = await start_bot(make_settings(VEO_DAILY_QUOTA=1))
    await generate(bot, discord_sim, prompt="a paper boat", locale="zh-CN")
    assert (await wait_for_job(bot, 1)).status is JobStatus.DELIVERED
    iid = await generate(bot, discord_sim, prompt="another paper boat", locale="zh-CN")
    assert reply_text(discord_sim, iid).startswith("⚠️ 您今天的 1 个视频额度已全部用完。")
    assert await job_count(bot) == 1
