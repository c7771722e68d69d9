"""What a server's admins change, each change written to that server's admin log.

Every method takes the `Asker` and acts on the asker's own server only: there is no way
to name another server here. The cogs check Manage Server before they call (to answer
politely); the check is repeated here so no caller can skip it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from bot.jobs.access import Asker
from bot.jobs.days import day_key
from bot.jobs.requests import RequestInvalid
from bot.providers.codes import say
from storage import GuildSettings, GuildStore, JobStore
from storage.audit import AuditEntry, AuditStore
from storage.stats import ServerStats, StatsStore, day_window

NOT_ADMIN = say("refusal.not_admin")
ZERO_WEIGHT = say("refusal.zero_weight")
NEGATIVE = say("refusal.negative")


class AuditAction:
    """The names entries are stored under (the words are made when they are shown)."""

    SETTINGS = "settings"
    MEMBER_QUOTA = "member_quota"
    QUOTA_RESET = "quota_reset"
    REFUND = "refund"
    DELETE = "delete"
    CANCEL = "cancel"


class ServerAdmin:
    def __init__(
        self,
        store: JobStore,
        guilds: GuildStore,
        audit: AuditStore,
        stats: StatsStore,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.guilds = guilds
        self.audit = audit
        self.stats_store = stats
        self.clock = clock

    @staticmethod
    def server_of(asker: Asker) -> int:
        """The asker's server, if they administer it."""
        if asker.guild_id is None or not asker.manage_guild:
            raise RequestInvalid(NOT_ADMIN)
        return asker.guild_id

    async def change(self, asker: Asker, **values: Any) -> GuildSettings:
        """Set one or more of the server's settings (see `GuildStore.set`). None is "back
        to the default" (what an option left out means); 0 is the number zero, as in
        every admin command: a quota of 0 makes no videos, a cap of $0 spends nothing."""
        guild_id = self.server_of(asker)
        if any(
            isinstance(values.get(k), int | float) and values[k] < 0
            for k in ("daily_quota", "daily_budget_usd")
        ):
            raise RequestInvalid(NEGATIVE)
        settings = await self.guilds.set(guild_id, **values)
        detail = json.dumps({k: _plain(v) for k, v in values.items()}, sort_keys=True)
        await self.audit.record(guild_id, asker.user_id, AuditAction.SETTINGS, detail=detail)
        return settings

    async def weight(self, asker: Asker, model: str, units: int | None) -> GuildSettings:
        """How many quota units one video of `model` ("provider/model") counts as here;
        None puts it back to 1. 0 is refused: such a model would pass every quota, a
        member's 0 included, so the quota would no longer say what it says."""
        guild_id = self.server_of(asker)
        if units is not None and units < 1:
            raise RequestInvalid(ZERO_WEIGHT)
        current = await self.guilds.get(guild_id)
        weights = {k: v for k, v in current.model_weights.items() if k != model}
        if units is not None and units != 1:  # 1 is what every model counts as anyway
            weights[model] = units
        return await self.change(asker, model_weights=weights)

    async def member_quota(self, asker: Asker, member_id: int, daily: int | None) -> None:
        """Give one member their own daily quota here: 0 blocks them, None removes it
        (they follow the server's quota again)."""
        guild_id = self.server_of(asker)
        if daily is not None and daily < 0:
            raise RequestInvalid(NEGATIVE)
        await self.guilds.set_member_quota(guild_id, member_id, daily)
        await self.audit.record(
            guild_id,
            asker.user_id,
            AuditAction.MEMBER_QUOTA,
            target_id=member_id,
            detail="" if daily is None else str(daily),
        )

    async def reset_quota(self, asker: Asker, member_id: int) -> int:
        """Refund a member's units used today here; returns how many."""
        guild_id = self.server_of(asker)
        given = await self.store.reset_usage(member_id, day_key(self.clock()), guild_id)
        await self.audit.record(
            guild_id,
            asker.user_id,
            AuditAction.QUOTA_RESET,
            target_id=member_id,
            detail=str(given),
        )
        return given

    async def stats(self, asker: Asker, *, days: int) -> ServerStats:
        """The asker's own server's jobs, failures, spend and members over `days` days."""
        guild_id = self.server_of(asker)
        since, until = day_window(self.clock(), days)
        return await self.stats_store.server(guild_id, since_day=since, until_day=until)

    async def log(self, asker: Asker, *, limit: int) -> list[AuditEntry]:
        """The newest entries of the asker's own server."""
        return await self.audit.recent(self.server_of(asker), limit=limit)


def _plain(value: Any) -> Any:
    """A setting's value as JSON keeps it (tuples as lists)."""
    if isinstance(value, tuple | list):
        return list(value)
    return value
