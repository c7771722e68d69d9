"""Per-server settings and per-member quota overrides (migration 2).

One typed row per guild in `guild_settings` (columns rather than key/value: SQLite
checks the types and ranges, and a request reads one row); the two lists are JSON
arrays in TEXT columns. A guild without a row has every default (`GuildSettings()`),
which means: the environment's quota and provider, every channel, no banned words.
Everything is read at request time, so a change applies to the next request.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from storage.db import Database

# The columns an admin may set, and how each is stored.
_LISTS = frozenset({"allowed_channels", "banned_words", "exempt_roles", "allowed_models"})
_MAPS = frozenset({"model_weights"})
_COLUMNS = (
    frozenset(
        {
            "daily_quota",
            "default_provider",
            "default_model",
            "alert_channel_id",
            "daily_budget_usd",
            "animate_own_only",
        }
    )
    | _LISTS
    | _MAPS
)


@dataclass(frozen=True, slots=True)
class GuildSettings:
    guild_id: int = 0
    daily_quota: int | None = None  # None: the environment's VEO_DAILY_QUOTA
    allowed_channels: tuple[int, ...] = ()  # empty: every channel
    banned_words: tuple[str, ...] = ()
    default_provider: str | None = None
    default_model: str | None = None
    alert_channel_id: int | None = None
    exempt_roles: tuple[int, ...] = ()  # members with one of these have no quota
    # "provider" or "provider/model" entries members may pick; empty: all of them.
    allowed_models: tuple[str, ...] = ()
    model_weights: dict[str, int] = field(default_factory=dict)  # "provider/model" → units
    daily_budget_usd: float | None = None  # None: no server cap (the bot's may still apply)
    animate_own_only: bool = False  # "Animate with Veo" on a member's own messages only
    overrides: dict[int, int] = field(default_factory=dict)  # user id → daily quota

    def allows(self, provider: str, model: str) -> bool:
        return not self.allowed_models or bool(
            {provider, f"{provider}/{model}"} & set(self.allowed_models)
        )

    def weight(self, provider: str, model: str) -> int:
        return self.model_weights.get(f"{provider}/{model}", 1)

    @property
    def is_default(self) -> bool:
        return self == GuildSettings(self.guild_id)


class GuildStore:
    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self._clock = clock

    async def get(self, guild_id: int, *, with_overrides: bool = False) -> GuildSettings:
        """The guild's settings, with defaults where nothing was set."""
        row = await self.db.fetchone("SELECT * FROM guild_settings WHERE guild_id = ?", (guild_id,))
        overrides = await self.overrides(guild_id) if with_overrides else {}
        if row is None:
            return GuildSettings(guild_id, overrides=overrides)
        return GuildSettings(
            guild_id=guild_id,
            daily_quota=row["daily_quota"],
            allowed_channels=tuple(int(c) for c in json.loads(row["allowed_channels"])),
            banned_words=tuple(str(w) for w in json.loads(row["banned_words"])),
            default_provider=row["default_provider"],
            default_model=row["default_model"],
            alert_channel_id=row["alert_channel_id"],
            exempt_roles=tuple(int(r) for r in json.loads(row["exempt_roles"])),
            allowed_models=tuple(str(m) for m in json.loads(row["allowed_models"])),
            model_weights={str(k): int(v) for k, v in json.loads(row["model_weights"]).items()},
            daily_budget_usd=row["daily_budget_usd"],
            animate_own_only=bool(row["animate_own_only"]),
            overrides=overrides,
        )

    async def set(self, guild_id: int, /, **values: Any) -> GuildSettings:
        """Set one or more settings (None clears a value, an empty list clears a list)."""
        unknown = set(values) - _COLUMNS
        if unknown or not values:
            raise ValueError(f"not a guild setting: {sorted(unknown)}")
        stored = {
            k: json.dumps(list(v or ()))
            if k in _LISTS
            else json.dumps(dict(v or {}))
            if k in _MAPS
            else v
            for k, v in values.items()
        }
        names = sorted(stored)
        columns = ", ".join(names)
        marks = ", ".join(f":{n}" for n in names)
        updates = ", ".join(f"{n} = excluded.{n}" for n in names)
        await self.db.execute(
            f"INSERT INTO guild_settings (guild_id, {columns}, updated_at) "
            f"VALUES (:guild_id, {marks}, :now) "
            f"ON CONFLICT (guild_id) DO UPDATE SET {updates}, updated_at = excluded.updated_at",
            {**stored, "guild_id": guild_id, "now": self._clock()},
        )
        return await self.get(guild_id, with_overrides=True)

    async def mark_left(self, guild_id: int) -> None:
        """The bot was removed from the server: its settings are kept until the retention
        sweep finds them older than the retention period (`forget_departed`)."""
        now = self._clock()
        await self.db.execute(
            "INSERT INTO guild_settings (guild_id, left_at, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (guild_id) DO UPDATE SET left_at = excluded.left_at",
            (guild_id, now, now),
        )

    async def mark_back(self, guild_id: int) -> None:
        """The bot is in the server (again): its settings are no longer due to go."""
        await self.db.execute(
            "UPDATE guild_settings SET left_at = NULL WHERE guild_id = ? AND left_at IS NOT NULL",
            (guild_id,),
        )

    async def claim_alert(self, guild_id: int, vendor: str, kind: str, *, every: float) -> bool:
        """Take the right to post this alert to the server now: True for one caller in
        `every` seconds, whichever process asks (the row remembers when it was last sent)."""
        now = self._clock()
        row = await self.db.fetchone_write(
            "INSERT INTO alerts_sent AS a (guild_id, vendor, kind, sent_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (guild_id, vendor, kind) DO UPDATE SET sent_at = excluded.sent_at "
            "WHERE a.sent_at <= ? RETURNING sent_at",
            (guild_id, vendor, kind, now, now - every),
        )
        return row is not None

    async def member_quota(self, guild_id: int, user_id: int) -> int | None:
        row = await self.db.fetchone(
            "SELECT daily_quota FROM member_overrides WHERE guild_id = ? AND user_id = ?",
            (guild_id, user_id),
        )
        return int(row[0]) if row else None

    async def set_member_quota(self, guild_id: int, user_id: int, daily: int | None) -> None:
        """Give a member their own daily quota in this guild; None removes it."""
        if daily is None:
            await self.db.execute(
                "DELETE FROM member_overrides WHERE guild_id = ? AND user_id = ?",
                (guild_id, user_id),
            )
            return
        if daily < 0:
            raise ValueError("a daily quota cannot be negative")
        await self.db.execute(
            "INSERT INTO member_overrides (guild_id, user_id, daily_quota, updated_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (guild_id, user_id) DO UPDATE SET "
            "daily_quota = excluded.daily_quota, updated_at = excluded.updated_at",
            (guild_id, user_id, daily, self._clock()),
        )

    async def overrides(self, guild_id: int) -> dict[int, int]:
        rows = await self.db.fetchall(
            "SELECT user_id, daily_quota FROM member_overrides WHERE guild_id = ? ORDER BY user_id",
            (guild_id,),
        )
        return {int(r["user_id"]): int(r["daily_quota"]) for r in rows}

    async def configured_guilds(self) -> list[int]:
        rows = await self.db.fetchall(
            "SELECT guild_id FROM guild_settings UNION SELECT guild_id FROM member_overrides "
            "ORDER BY 1"
        )
        return [int(r[0]) for r in rows]
