"""The house as ARCHITECTURE.md draws it, kept so by reading the source (`ast`), not running it.

Each part may import only what its row below allows; imports under `TYPE_CHECKING` and
inside functions count the same as any other, because a circle hidden in either is still a
circle a reader has to untangle. The test also holds the size limit (no module over 400
lines, no vendor adapter over 300) and keeps SQL in `storage/`.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIRS = ("bot", "cogs", "storage", "bench")

# The parts, most specific first; a module belongs to the first part whose prefix it has.
PARTS: tuple[tuple[str, str], ...] = (
    ("bot.providers", "providers"),
    ("bot.jobs", "jobs"),
    ("bot.chat", "chat"),
    ("bot.media", "media"),
    ("bot.web", "web"),
    ("bot.settings", "shared"),
    ("bot.logs", "shared"),
    ("bot.metrics", "shared"),
    ("bot.netguard", "shared"),
    ("bot", "entry"),  # cli, __main__, check, and the composition root client
    ("storage", "storage"),
    ("cogs", "cogs"),
    ("bench", "bench"),
)

# What each part may import, of ours and of discord.
ALLOWED: dict[str, frozenset[str]] = {
    "shared": frozenset({"shared"}),
    "storage": frozenset({"storage"}),
    "providers": frozenset({"providers", "shared"}),
    "media": frozenset({"media", "shared"}),
    "jobs": frozenset({"jobs", "providers", "storage", "media", "shared"}),
    "web": frozenset({"web", "jobs", "providers", "storage", "media", "shared"}),
    "chat": frozenset({"chat", "jobs", "providers", "storage", "media", "shared", "discord"}),
    "cogs": frozenset(
        {"cogs", "chat", "jobs", "providers", "storage", "media", "shared", "discord"}
    ),
    "entry": frozenset(
        {"entry", "cogs", "chat", "jobs", "providers", "storage", "media", "web", "shared"}
        | {"discord"}
    ),
    "bench": frozenset(
        {"bench", "entry", "jobs", "providers", "storage", "media", "web", "shared", "discord"}
    ),
}
# Single modules a part may name beyond its row: a cog types its bot as the composition
# root's class (the extension is loaded by name, so this is no import circle).
ALSO: frozenset[tuple[str, str]] = frozenset({("cogs", "bot.client")})

# Where a connection to the database may be used and SQL may be written.
SQL = re.compile(
    r"^\s*(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|INDEX)"
    r"|ALTER\s+TABLE|BEGIN(\s+IMMEDIATE)?\s*;?$|PRAGMA\s)",
    re.IGNORECASE | re.DOTALL,
)
# What the composition root calls the database and the stores.
STORE_NAMES = frozenset({"db", "store", "stores", "guilds"})
DB_CALLS = frozenset({"execute", "executemany", "executescript", "fetchall", "fetchone"})


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for top in SOURCE_DIRS:
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def part_of(module: str) -> str | None:
    if module == "discord" or module.startswith("discord."):
        return "discord"
    for prefix, part in PARTS:
        if module == prefix or module.startswith(prefix + "."):
            return part
    return None


@cache
def tree(module: str) -> ast.Module:
    return ast.parse(MODULES[module].read_text(), filename=str(MODULES[module]))


def imports(module: str) -> Iterator[tuple[str, int]]:
    """Every module `module` imports (resolved, with the line), wherever the import sits."""
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree(module)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield target, node.lineno
            for alias in node.names:  # `from bot.providers import http` imports a module
                if f"{target}.{alias.name}" in MODULES:
                    yield f"{target}.{alias.name}", node.lineno


def ours(name: str) -> str | None:
    """The module of ours `name` refers to (the longest known prefix), if any."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def test_each_part_imports_only_what_it_may() -> None:
    wrong = []
    for module in MODULES:
        mine = part_of(module)
        assert mine is not None, f"{module} belongs to no part: add it to PARTS"
        for name, line in imports(module):
            target = part_of(name)
            if target is None or target == mine:
                continue
            if target not in ALLOWED[mine] and (mine, ours(name)) not in ALSO:
                wrong.append(f"{module}:{line} ({mine}) imports {name} ({target})")
    assert not wrong, "\n".join(wrong)


def test_no_import_circles() -> None:
    graph = {m: {t for n, _ in imports(m) if (t := ours(n)) and t != m} for m in MODULES}
    state: dict[str, int] = {}
    circles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                circles.append(
                    path[path.index(nxt) :] + [node, nxt] if nxt in path else [node, nxt]
                )
            elif nxt not in state:
                visit(nxt, path + [node])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
    assert not circles, "\n".join(" -> ".join(c) for c in circles)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_size(module: str) -> None:
    lines = len(MODULES[module].read_text().splitlines())
    limit = 300 if re.fullmatch(r"bot\.providers\.\w+\.(adapter|legacy)", module) else 400
    assert lines <= limit, f"{module} has {lines} lines (at most {limit})"


def test_sql_only_in_storage() -> None:
    found = []
    for module in MODULES:
        if part_of(module) == "storage":
            continue
        for node in ast.walk(tree(module)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if SQL.search(node.value):
                    found.append(f"{module}:{node.lineno} SQL text: {node.value[:60]!r}")
            elif isinstance(node, ast.Attribute) and node.attr in DB_CALLS:
                found.append(f"{module}:{node.lineno} calls .{node.attr}() on a database")
    assert not found, "\n".join(found)


def test_cogs_reach_no_store() -> None:
    """A cog makes one call into the service per command; the stores are the service's."""
    found = [
        f"{module}:{node.lineno} reaches .{node.attr}"
        for module in MODULES
        if part_of(module) in {"cogs", "chat"}
        for node in ast.walk(tree(module))
        if isinstance(node, ast.Attribute) and node.attr in STORE_NAMES
    ]
    assert not found, "\n".join(found)


def test_the_test_sees_the_house() -> None:
    """The walk above is only worth something if it finds what it should."""
    assert part_of("bot.providers.apixo.adapter") == "providers"
    assert part_of("bot.client") == "entry" and part_of("discord.ext.commands") == "discord"
    assert ("storage", 0) not in imports("bot.jobs.loop") and any(
        part_of(n) == "storage" for n, _ in imports("bot.jobs.loop")
    )
    assert SQL.search("SELECT id FROM jobs WHERE x = ?") and not SQL.search("Select a model")
    assert len(MODULES) > 60
