"""Configuration: the public names, their defaults, and the one-screen error report."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import Settings
from bot.settings.loading import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(("VEO_", "APIYI_", "APIXO_", "VEO3O1_", "YELINAI_", "DISCORD_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults_with_only_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "t")
    s = load_settings()
    assert s.db_path == Path("data/veo.sqlite3")
    assert (s.daily_quota, s.max_active_per_user, s.max_prompt, s.max_download_mb) == (
        5,
        2,
        2000,
        500,
    )
    assert s.enabled_providers() == ["demo"]
    assert s.resolved_default_provider() == "demo"
    assert s.guild_ids == []


def test_a_key_enables_its_provider_and_hides_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "t")
    monkeypatch.setenv("APIYI_API_KEY", "sk-x")
    s = load_settings()
    assert s.enabled_providers() == ["apiyi"]
    assert s.resolved_default_provider() == "apiyi"
    monkeypatch.setenv("VEO_DEMO", "true")
    assert load_settings().enabled_providers() == ["apiyi", "demo"]


def test_lists_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "t")
    monkeypatch.setenv("VEO_GUILD_IDS", "1, 22,333")
    assert load_settings().guild_ids == [1, 22, 333]


def test_dotenv_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DISCORD_TOKEN=from-file\nVEO_DAILY_QUOTA=9\n")
    s = Settings()
    assert s.discord_token is not None and s.discord_token.get_secret_value() == "from-file"
    assert s.daily_quota == 9


def test_every_problem_is_named_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VEO_DAILY_QUOTA", "lots")
    monkeypatch.setenv("VEO_DEFAULT_PROVIDER", "sora")
    monkeypatch.setenv("APIYI_BASE_URL", "api.apiyi.com")
    with pytest.raises(ConfigError) as info:
        load_settings()
    names = " ".join(info.value.problems)
    assert (
        "VEO_DAILY_QUOTA" in names and "VEO_DEFAULT_PROVIDER" in names and "APIYI_BASE_URL" in names
    )


def test_default_provider_must_be_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "t")
    monkeypatch.setenv("VEO_DEFAULT_PROVIDER", "apiyi")
    with pytest.raises(ConfigError, match="APIYI_API_KEY"):
        load_settings()


def test_bad_config_prints_one_screen_without_traceback(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VEO_", "APIYI_", "DISCORD_"))}
    env["VEO_MAX_ACTIVE_PER_USER"] = "0"
    env["APIYI_API_KEY"] = "sk-secret-value"
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "DISCORD_TOKEN is not set" in result.stderr
    assert "discord.com/developers/applications" in result.stderr
    assert "VEO_MAX_ACTIVE_PER_USER" in result.stderr
    assert "sk-secret-value" not in result.stderr


async def test_a_schedule_override_replaces_only_its_own_part(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """VEO_APIYI_POLL_INTERVAL changes the interval, not 4k's longer documented deadline."""
    from storage import Database

    monkeypatch.setenv("DISCORD_TOKEN", "t")
    monkeypatch.setenv("APIYI_API_KEY", "sk-x")
    monkeypatch.setenv("VEO_APIYI_POLL_INTERVAL", "2")
    settings = load_settings()
    assert settings.schedule_overrides() == {"apiyi": {"poll_interval": 2.0}}

    db = await Database.open(tmp_path / "veo.sqlite3")
    try:
        await _check_4k_timing(db, tmp_path, settings)
    finally:
        await db.close()


async def _check_4k_timing(db: object, tmp_path: Path, settings: Settings) -> None:
    import aiohttp

    from bot.jobs.loop import JobManager
    from bot.providers.apiyi.adapter import ApiyiProvider
    from bot.providers.registry import ProviderRegistry
    from storage import JobStore, NewJob

    async with aiohttp.ClientSession() as session:
        registry = ProviderRegistry(
            {"apiyi": ApiyiProvider(api_key="sk-x", session=session)}, "apiyi"
        )
        store = JobStore(db)  # type: ignore[arg-type]
        manager = JobManager(
            store,
            registry,
            publisher=None,  # type: ignore[arg-type]  # only the schedule is asked for
            work_dir=tmp_path,
            max_download_bytes=1,
            timing_overrides=settings.schedule_overrides(),
        )
        request = '{"prompt": "a fox", "resolution": "4k"}'
        job = await store.create(
            NewJob(1, 2, 3, request, "apiyi", "veo-3.1-generate-preview", 10, "d"),
            daily_limit=5,
            max_active=5,
        )
        timing = manager.crew.schedules.timing(job)
        spec = registry.model("apiyi", "veo-3.1-generate-preview")
        assert spec is not None
        assert timing.poll_interval == 2.0
        assert timing.deadline == spec.timing_for("4k").deadline > spec.timing.deadline
