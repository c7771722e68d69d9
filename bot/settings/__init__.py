"""Configuration from the environment (and `.env`).

The names are a public contract documented in the README: ours start with `VEO_`,
vendor keys and the Discord token keep their usual names. Lists are plain
comma-separated values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.settings.limits import (
    DEFAULT_MAX_TASKS,
    DOCUMENTED_MAX_TASKS,
    DOCUMENTED_RATE_PER_MINUTE,
    VendorLimits,
    limits_for,
)

# The order in which a real provider becomes the default when none is named.
PROVIDER_PREFERENCE = ("apiyi", "apixo", "veo3o1", "yelinai")
KNOWN_PROVIDERS = (*PROVIDER_PREFERENCE, "demo")


def _csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    discord_token: SecretStr | None = Field(None, validation_alias="DISCORD_TOKEN")
    guild_ids: Annotated[list[int], NoDecode] = Field(
        default_factory=list, validation_alias="VEO_GUILD_IDS"
    )
    db_path: Path = Field(Path("data/veo.sqlite3"), validation_alias="VEO_DB_PATH")
    database_url: str | None = Field(None, validation_alias="VEO_DATABASE_URL")
    data_dir_setting: Path | None = Field(None, validation_alias="VEO_DATA_DIR")
    shard_ids: Annotated[list[int], NoDecode] | None = Field(None, validation_alias="VEO_SHARD_IDS")
    shard_count: int | None = Field(None, ge=1, validation_alias="VEO_SHARD_COUNT")
    default_provider: str | None = Field(None, validation_alias="VEO_DEFAULT_PROVIDER")
    demo: bool = Field(False, validation_alias="VEO_DEMO")
    demo_delay: float = Field(8.0, ge=0, validation_alias="VEO_DEMO_DELAY")

    apiyi_api_key: SecretStr | None = Field(None, validation_alias="APIYI_API_KEY")
    apiyi_base_url: str = Field("https://api.apiyi.com", validation_alias="APIYI_BASE_URL")
    apixo_api_key: SecretStr | None = Field(None, validation_alias="APIXO_API_KEY")
    apixo_base_url: str = Field("https://api.apixo.ai", validation_alias="APIXO_BASE_URL")
    apixo_routing: Literal["auto", "value", "official"] = Field(
        "auto", validation_alias="APIXO_ROUTING"
    )
    veo3o1_api_key: SecretStr | None = Field(None, validation_alias="VEO3O1_API_KEY")
    veo3o1_base_url: str = Field("https://veo3o1.com/api", validation_alias="VEO3O1_BASE_URL")
    yelinai_api_key: SecretStr | None = Field(None, validation_alias="YELINAI_API_KEY")
    yelinai_base_url: str = Field("https://api.yelinai.com", validation_alias="YELINAI_BASE_URL")

    # The bot's own small web server (vendor callbacks, images for vendors that fetch URLs).
    http_port: int | None = Field(None, ge=1, le=65535, validation_alias="VEO_HTTP_PORT")
    http_host: str = Field("127.0.0.1", validation_alias="VEO_HTTP_HOST")
    public_url: str | None = Field(None, validation_alias="VEO_PUBLIC_URL")
    image_url_ttl: float = Field(3600.0, gt=0, validation_alias="VEO_IMAGE_URL_TTL")

    daily_quota: int = Field(5, ge=0, validation_alias="VEO_DAILY_QUOTA")
    max_active_per_user: int = Field(2, ge=1, validation_alias="VEO_MAX_ACTIVE_PER_USER")
    max_prompt: int = Field(2000, ge=1, le=10000, validation_alias="VEO_MAX_PROMPT")
    max_download_mb: int = Field(500, ge=1, validation_alias="VEO_MAX_DOWNLOAD_MB")
    request_timeout: float = Field(30.0, gt=0, validation_alias="VEO_REQUEST_TIMEOUT")
    max_concurrent_jobs: int = Field(8, ge=1, validation_alias="VEO_MAX_CONCURRENT_JOBS")
    reencode_timeout: float = Field(300.0, gt=0, validation_alias="VEO_REENCODE_TIMEOUT")
    daily_budget_usd: float | None = Field(None, gt=0, validation_alias="VEO_DAILY_BUDGET_USD")
    allow_dms: bool = Field(False, validation_alias="VEO_ALLOW_DMS")
    allow_private_urls: bool = Field(False, validation_alias="VEO_ALLOW_PRIVATE_URLS")
    retention_days: float = Field(30.0, gt=0, validation_alias="VEO_RETENTION_DAYS")
    file_retention_hours: float = Field(24.0, gt=0, validation_alias="VEO_FILE_RETENTION_HOURS")
    file_store_mb: int = Field(2048, ge=1, validation_alias="VEO_FILE_STORE_MB")
    alert_failure_streak: int = Field(5, ge=1, validation_alias="VEO_ALERT_FAILURE_STREAK")

    # Schedule overrides, per provider; unset = the vendor's documented timing.
    apiyi_initial_wait: float | None = Field(None, gt=0, validation_alias="VEO_APIYI_INITIAL_WAIT")
    apiyi_poll_interval: float | None = Field(
        None, gt=0, validation_alias="VEO_APIYI_POLL_INTERVAL"
    )
    apiyi_deadline: float | None = Field(None, gt=0, validation_alias="VEO_APIYI_DEADLINE")
    apiyi_early_checks: int | None = Field(
        None, ge=0, le=3, validation_alias="VEO_APIYI_EARLY_CHECKS"
    )
    apixo_initial_wait: float | None = Field(None, gt=0, validation_alias="VEO_APIXO_INITIAL_WAIT")
    apixo_poll_interval: float | None = Field(
        None, gt=0, validation_alias="VEO_APIXO_POLL_INTERVAL"
    )
    apixo_deadline: float | None = Field(None, gt=0, validation_alias="VEO_APIXO_DEADLINE")
    apixo_early_checks: int | None = Field(
        None, ge=0, le=3, validation_alias="VEO_APIXO_EARLY_CHECKS"
    )
    veo3o1_initial_wait: float | None = Field(
        None, gt=0, validation_alias="VEO_VEO3O1_INITIAL_WAIT"
    )
    veo3o1_poll_interval: float | None = Field(
        None, gt=0, validation_alias="VEO_VEO3O1_POLL_INTERVAL"
    )
    veo3o1_deadline: float | None = Field(None, gt=0, validation_alias="VEO_VEO3O1_DEADLINE")
    veo3o1_early_checks: int | None = Field(
        None, ge=0, le=3, validation_alias="VEO_VEO3O1_EARLY_CHECKS"
    )
    yelinai_initial_wait: float | None = Field(
        None, gt=0, validation_alias="VEO_YELINAI_INITIAL_WAIT"
    )
    yelinai_poll_interval: float | None = Field(
        None, gt=0, validation_alias="VEO_YELINAI_POLL_INTERVAL"
    )
    yelinai_deadline: float | None = Field(None, gt=0, validation_alias="VEO_YELINAI_DEADLINE")
    yelinai_early_checks: int | None = Field(
        None, ge=0, le=3, validation_alias="VEO_YELINAI_EARLY_CHECKS"
    )
    demo_poll_interval: float = Field(2.0, gt=0, validation_alias="VEO_DEMO_POLL_INTERVAL")
    # Plan each job's checks from the render times seen lately (else the documented schedule).
    learn_schedules: bool = Field(True, validation_alias="VEO_LEARN_SCHEDULES")

    # Vendor limits (unset = the vendor's documented limits, else ours) and outages.
    apiyi_rate_per_minute: float | None = Field(
        None, gt=0, validation_alias="VEO_APIYI_RATE_PER_MINUTE"
    )
    apiyi_max_tasks: int | None = Field(None, ge=1, validation_alias="VEO_APIYI_MAX_TASKS")
    apixo_rate_per_minute: float | None = Field(
        None, gt=0, validation_alias="VEO_APIXO_RATE_PER_MINUTE"
    )
    apixo_max_tasks: int | None = Field(None, ge=1, validation_alias="VEO_APIXO_MAX_TASKS")
    veo3o1_rate_per_minute: float | None = Field(
        None, gt=0, validation_alias="VEO_VEO3O1_RATE_PER_MINUTE"
    )
    veo3o1_max_tasks: int | None = Field(None, ge=1, validation_alias="VEO_VEO3O1_MAX_TASKS")
    yelinai_rate_per_minute: float | None = Field(
        None, gt=0, validation_alias="VEO_YELINAI_RATE_PER_MINUTE"
    )
    yelinai_max_tasks: int | None = Field(None, ge=1, validation_alias="VEO_YELINAI_MAX_TASKS")
    provider_fallback: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias="VEO_PROVIDER_FALLBACK"
    )
    vendor_cooldown: float = Field(120.0, gt=0, validation_alias="VEO_VENDOR_COOLDOWN")
    loop_batch_window: float = Field(0.5, ge=0, le=5, validation_alias="VEO_LOOP_BATCH_WINDOW")

    log_level: str = Field("INFO", validation_alias="VEO_LOG_LEVEL")

    @field_validator("guild_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        return _csv(value)

    @field_validator("shard_ids", mode="before")
    @classmethod
    def _split_shards(cls, value: object) -> object:
        return _csv(value) if isinstance(value, str) and value.strip() else value or None

    @field_validator("provider_fallback", mode="before")
    @classmethod
    def _split_fallback(cls, value: object) -> object:
        parts = _csv(value)
        if not isinstance(parts, list):
            return parts
        names = [str(v).strip().lower() for v in parts if str(v).strip()]
        unknown = [n for n in names if n not in KNOWN_PROVIDERS]
        if unknown:
            raise ValueError(
                f"{', '.join(unknown)} is not a provider; use {', '.join(KNOWN_PROVIDERS)}"
            )
        return names

    @field_validator("default_provider", mode="before")
    @classmethod
    def _normalise_provider(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip().lower() or None
        if value is not None and value not in KNOWN_PROVIDERS:
            raise ValueError(f"must be one of {', '.join(KNOWN_PROVIDERS)}")
        return value

    @field_validator(
        "apiyi_base_url", "apixo_base_url", "veo3o1_base_url", "yelinai_base_url", mode="after"
    )
    @classmethod
    def _check_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with https:// (or http:// for a local test server)")
        return value.rstrip("/")

    @field_validator("public_url", mode="after")
    @classmethod
    def _check_public_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be the bot's public address, starting with https://")
        return value.rstrip("/")

    @field_validator("log_level", mode="after")
    @classmethod
    def _check_level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return value

    # -- derived -----------------------------------------------------------------

    def configured_providers(self) -> list[str]:
        """Real providers whose key is set, in preference order."""
        keys = {
            "apiyi": self.apiyi_api_key,
            "apixo": self.apixo_api_key,
            "veo3o1": self.veo3o1_api_key,
            "yelinai": self.yelinai_api_key,
        }
        return [
            name
            for name in PROVIDER_PREFERENCE
            if (key := keys.get(name)) is not None and key.get_secret_value().strip()
        ]

    def enabled_providers(self) -> list[str]:
        """Providers members may pick: the configured ones, plus demo when nothing real
        is configured or VEO_DEMO=true."""
        names = self.configured_providers()
        if not names or self.demo:
            names.append("demo")
        return names

    def resolved_default_provider(self) -> str:
        if self.default_provider is not None:
            return self.default_provider
        return self.enabled_providers()[0]

    def api_key(self, provider: str) -> str:
        key: SecretStr | None = getattr(self, f"{provider}_api_key")
        assert key is not None, provider
        return key.get_secret_value()

    def base_url(self, provider: str) -> str:
        url: str = getattr(self, f"{provider}_base_url")
        return url

    def schedule_overrides(self) -> dict[str, dict[str, float]]:
        """The VEO_<P>_INITIAL_WAIT / _POLL_INTERVAL / _DEADLINE / _EARLY_CHECKS values that
        are set, per provider; each replaces only its own part of the job's schedule (the
        documented one, or the one learned from recent renders)."""
        out: dict[str, dict[str, float]] = {}
        for provider in PROVIDER_PREFERENCE:
            given = {
                part: value
                for part in ("initial_wait", "poll_interval", "deadline", "early_checks")
                if (value := getattr(self, f"{provider}_{part}")) is not None
            }
            if given:
                out[provider] = given
        return out

    def secret_values(self) -> list[str]:
        """The token and keys, for the log redactor (never logged, never shown)."""
        found = [
            self.discord_token,
            self.apiyi_api_key,
            self.apixo_api_key,
            self.veo3o1_api_key,
            self.yelinai_api_key,
        ]
        return [s.get_secret_value() for s in found if s is not None and s.get_secret_value()]

    def vendor_limits(self) -> dict[str, VendorLimits]:
        """Each real vendor's request rate and task cap (paced by bot.jobs.pacing). The
        rate is the whole bot's: a process running some of the shards paces its share of
        it (the task cap is counted in the database, across processes, as it is)."""
        share = self.shard_share
        limits = {
            p: limits_for(
                p,
                rate_per_minute=getattr(self, f"{p}_rate_per_minute"),
                max_tasks=getattr(self, f"{p}_max_tasks"),
            )
            for p in PROVIDER_PREFERENCE
        }
        return {
            p: VendorLimits(rate_per_minute=v.rate_per_minute * share, max_tasks=v.max_tasks)
            for p, v in limits.items()
        }

    @property
    def shard_share(self) -> float:
        """This process's part of the bot: its shards over all of them (1 when unsplit)."""
        if not self.shard_ids or not self.shard_count:
            return 1.0
        return min(1.0, len(set(self.shard_ids)) / self.shard_count)

    @property
    def database(self) -> Path | str:
        """What `Database.open` is given: a PostgreSQL URL, or the SQLite file
        (`VEO_DATABASE_URL=sqlite:///path` names one too; unset, `VEO_DB_PATH`)."""
        url = self.database_url
        if url is None or not url.strip():
            return self.db_path
        if url.startswith("sqlite:///"):
            return Path(url.removeprefix("sqlite:///"))
        return url

    @property
    def uses_postgresql(self) -> bool:
        return isinstance(self.database, str)

    @property
    def data_dir(self) -> Path:
        """Where downloads and served videos are kept: `VEO_DATA_DIR`, or the SQLite
        file's folder."""
        if self.data_dir_setting is not None:
            return self.data_dir_setting
        database = self.database
        return database.parent if isinstance(database, Path) else Path("data")

    @property
    def max_download_bytes(self) -> int:
        return self.max_download_mb * 1024 * 1024

    def problems(self, *, need_token: bool = True) -> list[str]:
        """Semantic problems pydantic cannot see, each with how to fix it."""
        out: list[str] = []
        if need_token and (self.discord_token is None or not self.discord_token.get_secret_value()):
            out.append(
                "DISCORD_TOKEN is not set. Create an application at "
                "https://discord.com/developers/applications, open Bot > Reset Token, and put "
                "DISCORD_TOKEN=<the token> in .env (see README: 'Create the Discord application')."
            )
        if (
            self.default_provider is not None
            and self.default_provider not in self.enabled_providers()
        ):
            if self.default_provider == "demo":
                hint = "set VEO_DEMO=true to offer the demo provider beside real ones"
            else:
                hint = f"set {self.default_provider.upper()}_API_KEY"
            out.append(
                f"VEO_DEFAULT_PROVIDER={self.default_provider} is not enabled: {hint}, "
                "or pick one of " + ", ".join(self.enabled_providers()) + "."
            )
        url = self.database_url
        if (
            url
            and url.strip()
            and not url.startswith(("sqlite:///", "postgresql://", "postgres://"))
        ):
            out.append(
                "VEO_DATABASE_URL must start with postgresql:// (a PostgreSQL server) or "
                "sqlite:/// (a SQLite file); leave it unset for the SQLite file VEO_DB_PATH."
            )
        if self.shard_ids is not None and self.shard_count is None:
            out.append(
                "VEO_SHARD_IDS is set but VEO_SHARD_COUNT is not: set VEO_SHARD_COUNT to the "
                "number of shards all the bot's processes run together."
            )
        if self.shard_ids and self.shard_count and max(self.shard_ids) >= self.shard_count:
            out.append(
                f"VEO_SHARD_IDS names shard {max(self.shard_ids)}, but shards are numbered "
                f"from 0 to VEO_SHARD_COUNT - 1 ({self.shard_count - 1})."
            )
        if self.public_url is not None and self.http_port is None:
            out.append(
                "VEO_PUBLIC_URL is set but VEO_HTTP_PORT is not: set VEO_HTTP_PORT to the port "
                "of the bot's web server that VEO_PUBLIC_URL reaches."
            )
        return out


__all__ = [
    "DEFAULT_MAX_TASKS",
    "DOCUMENTED_MAX_TASKS",
    "DOCUMENTED_RATE_PER_MINUTE",
    "Settings",
    "VendorLimits",
    "limits_for",
]
