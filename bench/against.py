"""The load run of another revision, for the "new / old" rows: `--against REV`.

A temporary `git worktree` of REV (detached) runs that revision's own `bench.load` in a
child process from its directory, with this interpreter and the worktree first on the
import path, so the old bot is measured by the old harness exactly as it was; the worktree
is removed afterwards, whatever happened.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import REPO, run_child


def git(*args: str, cwd: Path = REPO) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout.strip()


def known_flags(load_source: str, args: list[str]) -> list[str]:
    """`args` (flag, value pairs) without the flags the old bench.load does not declare."""
    declared = set(re.findall(r"add_argument\(\s*[\"'](--[\w-]+)[\"']", load_source))
    kept: list[str] = []
    for flag, value in zip(args[::2], args[1::2], strict=True):
        if flag in declared:
            kept += [flag, value]
    return kept


def run_load(rev: str, args: list[str], timeout: float) -> dict[str, Any]:
    """REV's `python -m bench.load args`: its JSON figures, plus which commit it was and
    which flags were dropped."""
    commit = git("rev-parse", "--verify", f"{rev}^{{commit}}")
    where = Path(tempfile.mkdtemp(prefix="veo-bench-old-")) / "tree"
    git("worktree", "add", "--detach", str(where), commit)
    try:
        source = where / "bench" / "load.py"
        if not source.exists():
            raise RuntimeError(f"{rev} ({commit[:10]}) has no bench/load.py")
        kept = known_flags(source.read_text(), args)
        env = dict(os.environ, PYTHONPATH=str(where))
        # The old code, not this checkout's (the venv's editable install points here).
        probe = subprocess.run(
            [sys.executable, "-c", "import bot, storage; print(bot.__file__, storage.__file__)"],
            cwd=where,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if not all(p.startswith(str(where)) for p in probe.stdout.split()) or not probe.stdout:
            raise RuntimeError(f"the worktree's code is not the one imported: {probe.stdout}")
        try:
            result = run_child("bench.load", kept, timeout, cwd=where, env=env)
        except RuntimeError as exc:
            raise RuntimeError(f"{rev}'s {exc}") from None
        result["revision"] = rev
        result["commit"] = commit
        result["dropped_flags"] = [f for f in args[::2] if f not in kept]
        return result
    finally:
        # Its own entry only (no `git worktree prune`: other worktrees are not ours).
        subprocess.run(
            ["git", "worktree", "remove", "--force", str(where)],
            cwd=REPO,
            capture_output=True,
            timeout=120,
        )
        shutil.rmtree(where.parent, ignore_errors=True)
