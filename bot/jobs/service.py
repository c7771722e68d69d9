"""What the commands ask of the bot: accept a request, act on a job, report quota.

It sits between the cogs and the store: it owns the rules (validation, quota, the
active-job cap) so a cog only translates Discord input and output.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Sequence

from bot.jobs.access import Action, Asker, may
from bot.jobs.admin import AuditAction, ServerAdmin
from bot.jobs.days import day_key, next_reset
from bot.jobs.health import VendorHealth
from bot.jobs.loop import JobManager
from bot.jobs.origin import Origin, Parent
from bot.jobs.preferences import Defaults, Preferences
from bot.jobs.quota import QuotaView, quota_refusal
from bot.jobs.remakes import Remakes
from bot.jobs.requests import (
    Draft,
    GenerationRequest,
    RequestInvalid,
    validate,
)
from bot.jobs.rules import DMS_OFF, check_channel, check_content, default_for, is_exempt, route
from bot.metrics import Metrics
from bot.providers.base import InputImage, ModelSpec
from bot.providers.codes import say
from bot.providers.registry import ProviderRegistry
from bot.settings import Settings
from storage import (
    GuildSettings,
    Job,
    NewJob,
    OverBudget,
    OverQuota,
    SpendCaps,
    Stores,
    TooManyActive,
)
from storage.models import QuotaState, StoredImage

log = logging.getLogger(__name__)

# Until the cog has posted the public job message, the manager leaves the job alone
# (the cog releases it early; if the cog dies, the job starts anyway after this).
CREATION_HOLD = 30.0


class VideoService(Remakes):
    def __init__(
        self,
        settings: Settings,
        stores: Stores,
        providers: ProviderRegistry,
        manager: JobManager | None,
        *,
        health: VendorHealth | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.health = health
        self.metrics = metrics or Metrics()
        self.store = stores.jobs
        self.guilds = stores.guilds
        self.members = stores.members
        self.preferences = Preferences(stores.members, providers)
        self.providers = providers
        self.manager = manager
        self.clock = clock
        self.admin = ServerAdmin(
            stores.jobs, stores.guilds, stores.audit, stores.stats, clock=clock
        )
        self.audit = stores.audit

    async def validate(
        self, draft: Draft, guild_id: int | None = None, user_id: int | None = None
    ) -> tuple[GenerationRequest, Defaults]:
        """Check a draft, once: the member's own defaults where they typed nothing (given
        `user_id`), then in a server its default provider/model (when neither names one),
        and refuse banned words and models it does not allow, before any image is
        downloaded. `accept` takes what this (or `again`) returned as it is."""
        rules = await self._rules(guild_id)
        if user_id is None:
            return await self._validated(draft, rules), Defaults()
        return await self.preferences.resolve(
            draft, user_id, guild_id or 0, rules, lambda d: self._validated(d, rules)
        )

    async def _validated(self, draft: Draft, rules: GuildSettings | None) -> GenerationRequest:
        if rules is not None and draft.provider is None and draft.model is None:
            provider, model = default_for(self.providers, rules)
            draft = dataclasses.replace(draft, provider=provider, model=model)
        request = validate(draft, self.providers, max_prompt=self.settings.max_prompt)
        if rules is not None:
            check_content(rules, request)
        return request

    async def _rules(self, guild_id: int | None) -> GuildSettings | None:
        """The server's rules for a new request (None in DMs, refused unless allowed)."""
        if guild_id is None:
            if not self.settings.allow_dms:
                raise RequestInvalid(DMS_OFF)
            return None
        return await self.guilds.get(guild_id)

    async def default_model(self, guild_id: int | None) -> tuple[str, str]:
        """The (provider, model) a member gets here when they name neither."""
        rules = await self.guilds.get(guild_id) if guild_id is not None else GuildSettings()
        return default_for(self.providers, rules)

    async def daily_limit(self, user_id: int, guild_id: int | None) -> int:
        """The member's override in this server, else the server's, else the environment's."""
        if guild_id is None:
            return self.settings.daily_quota
        override = await self.guilds.member_quota(guild_id, user_id)
        if override is not None:
            return override
        rules = await self.guilds.get(guild_id)
        return rules.daily_quota if rules.daily_quota is not None else self.settings.daily_quota

    async def accept(
        self,
        request: GenerationRequest,
        images: Sequence[InputImage],
        origin: Origin,
        *,
        made_from: Parent | None = None,
    ) -> Job:
        """Reserve quota and write the job; raises QuotaRefused with the member's refusal.
        `request` is one `validate` or `again` returned: its words, options and the
        server's models are not checked again; the channel rule and the vendor's health
        are checked here, as they depend on where and when it is sent. The member's
        delivery toggles are copied onto the job as they are now."""
        if len(images) != request.image_count:
            raise RequestInvalid(say("refusal.images_unread"))
        limit = self.settings.daily_quota
        rules: GuildSettings | None = None
        if origin.guild_id is not None:
            rules = await self.guilds.get(origin.guild_id)
            check_channel(rules, origin.channel_id, origin.parent_channel_id)
            limit = await self.daily_limit(origin.user_id, origin.guild_id)
        request = route(
            request,
            images,
            rules,
            health=self.health,
            providers=self.providers,
            fallback=self.settings.provider_fallback,
            max_prompt=self.settings.max_prompt,
        )
        exempt = is_exempt(rules, origin.role_ids)
        units = 0 if exempt else rules.weight(request.provider, request.model) if rules else 1
        spec = self.providers.model(request.provider, request.model)
        prefs = await self.members.get(origin.user_id)
        now = self.clock()
        new = NewJob(
            user_id=origin.user_id,
            guild_id=origin.guild_id,
            channel_id=origin.channel_id,
            request_json=request.model_dump_json(),
            provider=request.provider,
            model=request.model,
            filesize_limit=origin.filesize_limit,
            quota_day=day_key(now),
            delivery_mode=origin.delivery_mode,
            interaction_app_id=origin.application_id,
            interaction_token=origin.interaction_token,
            interaction_expires_at=origin.interaction_expires_at,
            quota_units=units,
            cost_usd=spec.price_usd if spec is not None else None,
            parent_job_id=made_from.job_id if made_from else None,
            parent_link=made_from.link if made_from else None,
            spoiler=prefs.spoiler,
            dm_copy=prefs.dm_copy,
            ping=prefs.ping,
            locale=origin.locale,
        )
        caps = SpendCaps(
            server=rules.daily_budget_usd if rules else None, bot=self.settings.daily_budget_usd
        )
        stored = [StoredImage(i.filename, i.mime, i.data, i.url) for i in images]
        try:
            return await self.store.create(
                new,
                stored,
                daily_limit=limit,
                max_active=self.settings.max_active_per_user,
                hold_seconds=CREATION_HOLD,
                caps=caps,
            )
        except (OverQuota, OverBudget, TooManyActive) as exc:
            reason, refusal = quota_refusal(
                exc,
                limit=limit,
                units=units,
                model=request.model,
                in_server=origin.guild_id is not None,
                now=now,
            )
            self.metrics.quota_refusals.labels(reason).inc()
            raise refusal from None

    async def started(
        self, job: Job, status_message_id: int | None, *, followup: bool = False
    ) -> None:
        """The public job message exists: let the manager take the job now. `followup`:
        it had to be an interaction followup, so the rest of the job goes there too."""
        await self.store.release_hold(
            job.id,
            status_message_id=status_message_id,
            delivery_mode="followup" if followup else None,
        )
        if self.manager is not None:
            self.manager.queue_changed()

    async def server_left(self, guild_id: int) -> list[Job]:
        """The bot was removed from a server: stop what it cannot show anymore (see
        `JobStore.stop_for_removed_guild`) and keep its settings for the retention period."""
        jobs = await self.store.stop_for_removed_guild(guild_id)
        await self.guilds.mark_left(guild_id)
        if self.manager is not None and jobs:
            self.manager.queue_changed()
        return jobs

    async def server_joined(self, guild_id: int) -> None:
        """The bot is in a server (again): its kept settings apply as before."""
        await self.guilds.mark_back(guild_id)

    async def job_for(self, job_id: int, asker: Asker, action: Action) -> Job:
        """The job, if `asker` may take `action` on it (`bot.jobs.access.may`). A job they may
        not touch is refused in the very words of a missing one: numbers are sequential,
        so any other answer would tell a guesser which jobs exist."""
        job = await self.store.get(job_id)
        if job is None or not may(asker, job, action):
            raise RequestInvalid(say("refusal.no_such_job", job=job_id))
        return job

    async def history(self, user_id: int, *, limit: int, offset: int = 0) -> list[Job]:
        return await self.store.recent_for_user(user_id, limit=limit, offset=offset)

    async def queue_position(self, job: Job) -> int:
        return await self.store.queue_position(job.id)

    async def cancel(self, job_id: int, asker: Asker) -> Job:
        """Cancel a member's job. Raises RequestInvalid with the member's refusal."""
        job = await self.job_for(job_id, asker, Action.CANCEL)
        if not job.is_active:
            raise RequestInvalid(say("refusal.job_ended", job=job_id, status=job.status.value))
        cancelled = await self.store.request_cancel(job_id)
        assert cancelled is not None
        if cancelled.is_active and cancelled.cancel_requested_at is None:
            raise RequestInvalid(say("refusal.already_posting", job=job_id))
        if self.manager is not None:
            self.manager.queue_changed()
        await self._record(asker, AuditAction.CANCEL, cancelled)
        return cancelled

    async def quota(
        self, user_id: int, guild_id: int | None = None, role_ids: Iterable[int] = ()
    ) -> QuotaView:
        now = self.clock()
        used = await self.store.usage(user_id, day_key(now), guild_id)
        active = await self.store.active_for_user(user_id)
        limit = await self.daily_limit(user_id, guild_id)
        rules = await self.guilds.get(guild_id) if guild_id is not None else None
        return QuotaView(
            used=used,
            limit=limit,
            resets_at=next_reset(now),
            active=active,
            exempt=is_exempt(rules, role_ids),
        )

    async def server_settings(
        self, guild_id: int, *, with_overrides: bool = False
    ) -> GuildSettings:
        """A server's settings as `/veo-admin` shows them (with the member overrides)."""
        return await self.guilds.get(guild_id, with_overrides=with_overrides)

    async def spent_today(self, guild_id: int | None = None) -> float:
        """Estimated dollars of today's jobs (one server's, or the whole bot's)."""
        return await self.store.spend(day_key(self.clock()), guild_id)

    async def models_for(self, guild_id: int | None) -> list[tuple[str, ModelSpec, int]]:
        """(provider, model, quota units) a member may pick here, in the registry's order."""
        rules = await self.guilds.get(guild_id) if guild_id is not None else GuildSettings()
        return [
            (p.name, spec, rules.weight(p.name, spec.name))
            for p in self.providers
            for spec in p.models.values()
            if rules.allows(p.name, spec.name)
        ]

    async def refund_job(self, job_id: int, asker: Asker) -> Job:
        """An admin gives back what one job of their server charged the member. Another
        server's job is refused in the words of a missing one (said to an admin, so
        about the server rather than about "your" jobs)."""
        try:
            job = await self.job_for(job_id, asker, Action.REFUND)
        except RequestInvalid:
            raise RequestInvalid(say("refusal.no_such_job_here", job=job_id)) from None
        if job.is_active:
            raise RequestInvalid(say("refusal.refund_running", job=job_id))
        if job.quota_state is not QuotaState.COMMITTED or job.quota_units == 0:
            raise RequestInvalid(say("refusal.nothing_to_refund", job=job_id))
        refunded = await self.store.refund(job_id)
        assert refunded is not None
        await self._record(asker, AuditAction.REFUND, refunded)
        return refunded

    async def deleted(self, job: Job, asker: Asker) -> None:
        """A job's video post was deleted (logged when it was not the owner's own act)."""
        await self._record(asker, AuditAction.DELETE, job)

    async def _record(self, asker: Asker, action: str, job: Job) -> None:
        """Write an admin's or moderator's act on another member's job to the log of the
        job's server (the access rule already made sure it is the asker's server too)."""
        if asker.user_id == job.user_id or job.guild_id is None:
            return
        await self.audit.record(
            job.guild_id, asker.user_id, action, target_id=job.user_id, job_id=job.id
        )
