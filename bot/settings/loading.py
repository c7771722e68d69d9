"""Loading the settings so the operator sees every problem at once, in the words of
the environment variables they set (the error screen `veo-bot` prints and exits on)."""

from __future__ import annotations

from pydantic import ValidationError

from bot.settings import Settings


# Human names for the fields, so the error screen speaks in environment variables.
def _env_name(field_name: str) -> str:
    info = Settings.model_fields.get(field_name)
    alias = info.validation_alias if info is not None else None
    return alias if isinstance(alias, str) else field_name.upper()


def _field_by_env(name: str) -> str | None:
    """The field behind an error location (pydantic reports the alias)."""
    if name in Settings.model_fields:
        return name
    return next((f for f in Settings.model_fields if _env_name(f) == name), None)


class ConfigError(Exception):
    """Bad configuration: carries every problem, each as one line for the operator."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems

    def screen(self) -> str:
        lines = ["veo-bot cannot start: the configuration has problems.", ""]
        lines += [f"  * {p}" for p in self.problems]
        lines += [
            "",
            "Settings come from environment variables or a .env file in the working folder;",
            "README.md lists every setting.",
        ]
        return "\n".join(lines)


def load_settings(*, need_token: bool = True, **overrides: object) -> Settings:
    """Load and check everything at once, so the operator sees every problem in one go."""
    problems: list[str] = []
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        bad_fields: dict[str, object] = {}
        for err in exc.errors():
            loc = str(err["loc"][0]) if err["loc"] else ""
            given = err.get("input")
            secret = "key" in loc.lower() or "token" in loc.lower()
            shown = (
                f" (got {given!r})" if isinstance(given, str | int | float) and not secret else ""
            )
            problems.append(f"{_env_name(loc)}: {err['msg']}{shown}.")
            field = _field_by_env(loc)
            if field is not None:
                bad_fields[_env_name(field)] = Settings.model_fields[field].get_default(
                    call_default_factory=True
                )
        # Check the rest with the bad values set aside, so their problems are listed too.
        try:
            settings = Settings(**{**overrides, **bad_fields})  # type: ignore[arg-type]
        except ValidationError:
            raise ConfigError(problems) from None
    problems += settings.problems(need_token=need_token)
    if problems:
        raise ConfigError(problems)
    return settings


__all__ = ["ConfigError", "load_settings"]
