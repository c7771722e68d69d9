"""`veo-bot check` against the real vendor simulators, a real SQLite file and, for the CLI
wiring, a real `python -m bot check` process."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.check import NOT_READY, READY, WARN, check_discord_token, run_check
from bot.settings import Settings
from tests.net import free_port
from tests.sim.apixo_sim import ApixoSimulator
from tests.sim.apiyi_sim import ApiyiSimulator
from tests.sim.vendor_base import VendorSimulator
from tests.sim.veo3o1_sim import Veo3o1Simulator
from tests.sim.yelinai_sim import YelinaiSimulator

ROOT = Path(__file__).resolve().parents[2]
# Shaped like a real bot token: base64 of an application id, a timestamp part, an HMAC part.
TOKEN = base64.urlsafe_b64encode(b"123456789012345678").decode().rstrip("=") + (
    ".GaBcDe.abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"
)
VENDORS = ("apiyi", "apixo", "veo3o1", "yelinai")


@pytest.fixture
async def sims(apiyi_sim: ApiyiSimulator) -> AsyncIterator[dict[str, VendorSimulator]]:
    """All four vendors, each on its own ports of 127.0.0.1."""
    apixo = ApixoSimulator(queued_for=0.05, running_for=0.05)
    veo3o1 = Veo3o1Simulator(queued_for=0.05, running_for=0.05)
    yelinai = YelinaiSimulator(queued_for=0.05, running_for=0.05)
    started: list[VendorSimulator] = []
    try:
        for sim, start in ((apixo, apixo.start), (veo3o1, veo3o1.start), (yelinai, yelinai.start)):
            await start()
            started.append(sim)
        yield {"apiyi": apiyi_sim, "apixo": apixo, "veo3o1": veo3o1, "yelinai": yelinai}
    finally:
        for running in started:
            await running.close()


def vendor_env(sims: dict[str, VendorSimulator], **replace: str) -> dict[str, Any]:
    """Keys and base URLs for every simulator; `replace` overrides single values."""
    env: dict[str, Any] = {}
    for name, sim in sims.items():
        env[f"{name.upper()}_API_KEY"] = sim.api_key
        env[f"{name.upper()}_BASE_URL"] = sim.base_url
    return {**env, **replace}


@pytest.fixture
def check_settings(make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    """Settings as an operator would have them: the SSRF guard on (base URLs are trusted)."""

    def make(**overrides: Any) -> Settings:
        return make_settings(
            **{"DISCORD_TOKEN": TOKEN, "VEO_ALLOW_PRIVATE_URLS": False, **overrides}
        )

    return make


async def check(settings: Settings) -> tuple[int, str]:
    out = io.StringIO()
    code = await run_check(settings, out=out)
    return code, out.getvalue()


def table(output: str) -> dict[str, tuple[str, str]]:
    """The final table: component -> (status, detail)."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("COMPONENT"))
    rows: dict[str, tuple[str, str]] = {}
    for line in lines[start + 2 :]:
        if not line.strip():
            break
        for status in (NOT_READY, READY, WARN):  # NOT READY first: it contains READY
            marker = f"  {status}  "
            if marker in line or line.rstrip().endswith(f"  {status}"):
                component, _, detail = line.partition(marker)
                rows[component.strip()] = (status, detail.strip())
                break
    return rows


def assert_nothing_submitted(sims: dict[str, VendorSimulator]) -> None:
    for name, sim in sims.items():
        assert [r.method for r in sim.requests] == ["GET"], (name, sim.requests)
        assert not sim.tasks, name


async def test_all_vendors_ready(
    check_settings: Callable[..., Settings], sims: dict[str, VendorSimulator]
) -> None:
    code, output = await check(check_settings(**vendor_env(sims)))
    rows = table(output)
    assert code == 0, output
    assert list(rows) == [
        "configuration",
        "discord token",
        "database",
        "web server",
        *VENDORS,
    ]
    assert all(status == READY for status, _ in rows.values()), output
    for name in VENDORS:
        assert rows[name][1] == "key accepted (task not found, as expected)"
    assert "application 123456789012345678" in rows["discord token"][1]
    assert rows["database"][1].startswith("schema ")
    assert output.rstrip().endswith("Ready.")
    assert_nothing_submitted(sims)
    for name, sim in sims.items():
        assert sim.api_key not in output, name
    assert TOKEN not in output


@pytest.mark.parametrize("vendor", VENDORS)
async def test_a_refused_key_is_not_ready_and_never_shown(
    vendor: str, check_settings: Callable[..., Settings], sims: dict[str, VendorSimulator]
) -> None:
    wrong = f"{vendor}-wrong-key-7f3a9c"
    settings = check_settings(**vendor_env(sims, **{f"{vendor.upper()}_API_KEY": wrong}))
    code, output = await check(settings)
    rows = table(output)
    assert code == 1
    status, detail = rows[vendor]
    assert status == NOT_READY
    assert detail == f"key refused: check {vendor.upper()}_API_KEY"
    assert all(rows[v][0] == READY for v in VENDORS if v != vendor), output
    assert wrong not in output  # the simulators echo the presented key back
    assert output.rstrip().endswith(f"Not ready: {vendor}. See the notes above.")
    assert_nothing_submitted(sims)


async def test_an_unreachable_vendor(
    check_settings: Callable[..., Settings], sims: dict[str, VendorSimulator]
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    code, output = await check(check_settings(**vendor_env(sims, APIXO_BASE_URL=closed)))
    rows = table(output)
    assert code == 1
    assert rows["apixo"] == (NOT_READY, f"unreachable: cannot connect to {closed}")
    assert rows["apiyi"][0] == READY
    del sims["apixo"]
    assert_nothing_submitted(sims)


@pytest.mark.parametrize(
    ("status", "body", "expected", "row_status"),
    [
        (500, None, "down: it answered with a server error", NOT_READY),
        (429, None, "busy (rate limited); the key was probably accepted", WARN),
        (200, "<html><body>Welcome</body></html>", "the answer was not apiyi's API", NOT_READY),
        (
            402,
            {"error": {"message": "no credit", "type": "x", "code": "insufficient_user_quota"}},
            "key accepted, but the account is out of credit",
            NOT_READY,
        ),
    ],
)
async def test_other_answers_tell_their_own_story(
    status: int,
    body: Any,
    expected: str,
    row_status: str,
    check_settings: Callable[..., Settings],
    apiyi_sim: ApiyiSimulator,
) -> None:
    apiyi_sim.queue_status_error(status, body)
    settings = check_settings(APIYI_API_KEY=apiyi_sim.api_key, APIYI_BASE_URL=apiyi_sim.base_url)
    code, output = await check(settings)
    got_status, detail = table(output)["apiyi"]
    assert got_status == row_status
    assert detail.startswith(expected), output
    assert code == (1 if row_status == NOT_READY else 0)
    assert [r.method for r in apiyi_sim.requests] == ["GET"]


async def test_a_slow_vendor_is_cut_short(
    check_settings: Callable[..., Settings], apiyi_sim: ApiyiSimulator
) -> None:
    apiyi_sim.delay_status = 5
    settings = check_settings(
        APIYI_API_KEY=apiyi_sim.api_key,
        APIYI_BASE_URL=apiyi_sim.base_url,
        VEO_REQUEST_TIMEOUT=0.3,
    )
    code, output = await check(settings)
    assert code == 1
    assert table(output)["apiyi"] == (NOT_READY, "unreachable: no answer within 0.3 s")


async def test_an_unwritable_database_is_not_ready(
    check_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the database folder should be")
    code, output = await check(check_settings(VEO_DB_PATH=blocker / "veo.sqlite3"))
    status, detail = table(output)["database"]
    assert (code, status) == (1, NOT_READY)
    assert detail.startswith(f"cannot open {blocker / 'veo.sqlite3'}")


async def test_a_database_from_a_newer_bot_is_not_ready(
    check_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    path = tmp_path / "newer.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 999")
    conn.close()
    code, output = await check(check_settings(VEO_DB_PATH=path))
    status, detail = table(output)["database"]
    assert (code, status) == (1, NOT_READY)
    assert "newer than this veo-bot" in detail


async def test_the_write_test_leaves_no_trace(
    check_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    path = tmp_path / "data" / "veo.sqlite3"
    code, output = await check(check_settings(VEO_DB_PATH=path))
    assert code == 0, output
    assert "did not exist: created, empty" in output
    with sqlite3.connect(path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert "jobs" in tables and not any("check" in t for t in tables)
    assert not list((path.parent / "downloads").iterdir())
    code, output = await check(check_settings(VEO_DB_PATH=path))
    assert "did not exist" not in output


@pytest.mark.parametrize(
    ("token", "status", "says"),
    [
        (None, NOT_READY, "DISCORD_TOKEN is not set"),
        (TOKEN, READY, "looks like a bot token for application 123456789012345678"),
        (f"Bot {TOKEN}", WARN, "starts with 'Bot '"),
        (f'"{TOKEN}"', WARN, "quotes"),
        ("0123456789abcdef0123456789abcdef", WARN, "not the client secret"),
    ],
)
def test_the_discord_token_is_checked_by_shape_only(
    token: str | None, status: str, says: str, check_settings: Callable[..., Settings]
) -> None:
    finding = check_discord_token(check_settings(DISCORD_TOKEN=token))
    assert finding.status == status
    assert says in finding.summary
    if token is not None:
        assert "does not contact Discord" in " ".join(finding.notes)
        assert TOKEN not in finding.summary + " ".join(finding.notes)


async def test_web_server_and_configuration_warnings(
    check_settings: Callable[..., Settings],
) -> None:
    settings = check_settings(
        VEO_HTTP_PORT=8080,
        VEO_PUBLIC_URL="http://127.0.0.1:8080",
        VEO_ALLOW_PRIVATE_URLS=True,
        VEO_PROVIDER_FALLBACK="yelinai",
    )
    code, output = await check(settings)
    rows = table(output)
    assert code == 0  # warnings do not make it not ready
    assert rows["web server"][0] == WARN and "local address" in rows["web server"][1]
    assert rows["configuration"][0] == WARN
    assert "VEO_ALLOW_PRIVATE_URLS=true" in output and "VEO_PROVIDER_FALLBACK" in output
    assert output.rstrip().endswith("Ready, with warnings worth a look.")


# -- the command line ----------------------------------------------------------------------------


def cli_env(tmp_path: Path, **values: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("VEO_", "APIYI_", "APIXO_", "VEO3O1_", "YELINAI_", "DISCORD_"))
    }
    env["PYTHONPATH"] = str(ROOT)
    env["VEO_DB_PATH"] = str(tmp_path / "data" / "veo.sqlite3")
    return {**env, **values}


def run_cli(tmp_path: Path, *args: str, **values: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "check", *args],
        cwd=tmp_path,  # no stray .env
        env=cli_env(tmp_path, **values),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_demo_only_without_a_token(tmp_path: Path) -> None:
    result = run_cli(tmp_path)
    assert result.returncode == 1, result.stderr
    rows = table(result.stdout)
    assert rows["discord token"] == (NOT_READY, "DISCORD_TOKEN is not set")
    assert rows["demo"][0] == READY and rows["database"][0] == READY
    assert "Traceback" not in result.stderr


def test_cli_demo_with_a_token_is_ready(tmp_path: Path) -> None:
    result = run_cli(tmp_path, DISCORD_TOKEN=TOKEN, VEO_DEMO="true")
    assert result.returncode == 0, result.stdout + result.stderr
    assert all(status == READY for status, _ in table(result.stdout).values())
    assert TOKEN not in result.stdout + result.stderr


def test_cli_bad_configuration_is_the_error_screen(tmp_path: Path) -> None:
    result = run_cli(tmp_path, VEO_DAILY_QUOTA="-1", APIYI_API_KEY="sk-secret-value")
    assert result.returncode == 2
    assert "VEO_DAILY_QUOTA" in result.stderr and result.stdout == ""
    assert "sk-secret-value" not in result.stderr


def test_cli_help_mentions_check(tmp_path: Path) -> None:
    for args in (["--help"], ["check", "--help"]):
        result = subprocess.run(
            [sys.executable, "-m", "bot", *args],
            cwd=tmp_path,
            env=cli_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0
        assert "veo-bot check" in result.stdout
    assert run_cli(tmp_path, "--bogus").returncode == 2


async def test_cli_with_a_vendor_keeps_stderr_clean(
    tmp_path: Path, apiyi_sim: ApiyiSimulator
) -> None:
    """The adapters' own warnings about the made-up task stay out of the operator's way."""
    wrong = "sk-wrong-key-for-the-cli"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "check",
        cwd=tmp_path,
        env=cli_env(
            tmp_path, DISCORD_TOKEN=TOKEN, APIYI_API_KEY=wrong, APIYI_BASE_URL=apiyi_sim.base_url
        ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1
    assert table(stdout.decode())["apiyi"] == (NOT_READY, "key refused: check APIYI_API_KEY")
    assert stderr.decode() == ""
    assert wrong not in stdout.decode()
    assert [r.method for r in apiyi_sim.requests] == ["GET"]
