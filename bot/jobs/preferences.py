"""A member's own defaults (`/veo settings`) folded into what they typed.

Precedence, highest first: what the member typed in the command, their settings, the
server's default, the bot's. A server's limits always win: a default model the server
does not allow (or the bot no longer offers) is skipped, and so is an aspect, length or
resolution the chosen model does not take. Skipping is never an error; the member is
told about a skipped model once per server (`MemberSettings.told`), so a default they
chose elsewhere does not nag them here on every command.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.jobs.requests import Draft, GenerationRequest, RequestInvalid, choose_model
from bot.jobs.retention import remove_files
from bot.providers.codes import say
from bot.providers.registry import ProviderRegistry
from storage import GuildSettings, MemberSettings
from storage.members import MemberStore


@dataclass(frozen=True, slots=True)
class Defaults:
    """What a member's settings did to one draft, for the confirmation."""

    model: str | None = None  # the label of their default model, when it was used
    options: tuple[str, ...] = ()  # e.g. ("9:16", "8 s")
    # The member's default model, when this server refused it (None: nothing skipped).
    skipped_model: str | None = None

    @property
    def used(self) -> tuple[str, ...]:
        """Everything of theirs that was used, e.g. ("Veo 3.1 Fast", "9:16", "8 s")."""
        return ((self.model,) if self.model else ()) + self.options


def apply_defaults(
    draft: Draft,
    prefs: MemberSettings,
    rules: GuildSettings | None,
    providers: ProviderRegistry,
) -> tuple[Draft, Defaults]:
    """The draft with the member's defaults filled in where they typed nothing."""
    label: str | None = None
    used: list[str] = []
    skipped: str | None = None
    if draft.provider is None and draft.model is None and prefs.provider and prefs.model:
        spec = providers.model(prefs.provider, prefs.model)
        allowed = rules is None or rules.allows(prefs.provider, prefs.model)
        if spec is not None and allowed:
            draft = dataclasses.replace(draft, provider=prefs.provider, model=prefs.model)
            label = spec.label
        else:
            skipped = spec.label if spec is not None else prefs.model
    try:
        provider, model = choose_model(draft.provider, draft.model, providers)
    except RequestInvalid:
        return draft, Defaults(label, (), skipped)  # validation says what is wrong
    spec = providers.model(provider, model)
    if spec is None:
        return draft, Defaults(label, (), skipped)
    aspect, resolution, duration = draft.aspect_ratio, draft.resolution, draft.duration
    if aspect is None and prefs.aspect_ratio in spec.aspect_ratios:
        aspect = prefs.aspect_ratio
        used.append(str(aspect))
    if resolution is None and prefs.resolution in spec.resolutions:
        resolution = prefs.resolution
        used.append(str(resolution))
    if duration is None and prefs.duration in spec.durations_for(resolution):
        duration = prefs.duration
        used.append(f"{duration} s")
    draft = dataclasses.replace(
        draft, aspect_ratio=aspect, resolution=resolution, duration=duration
    )
    return draft, Defaults(label, tuple(used), skipped)


def without_options(draft: Draft, typed: Draft) -> Draft:
    """`draft` with the aspect, length and resolution back to what the member typed: for
    a model whose mode narrows what it takes (a default that fits the model but not the
    way the images are used is dropped rather than refused)."""
    return dataclasses.replace(
        draft,
        aspect_ratio=typed.aspect_ratio,
        duration=typed.duration,
        resolution=typed.resolution,
    )


class Preferences:
    """What `/veo settings` and `/veo forget` ask of the bot."""

    def __init__(self, store: MemberStore, providers: ProviderRegistry) -> None:
        self.store = store
        self.providers = providers

    async def get(self, user_id: int) -> MemberSettings:
        return await self.store.get(user_id)

    async def resolve(
        self,
        typed: Draft,
        user_id: int,
        scope: int,
        rules: GuildSettings | None,
        check: Callable[[Draft], Awaitable[GenerationRequest]],
    ) -> tuple[GenerationRequest, Defaults]:
        """The request `check` makes of what the member typed and their defaults, in
        `scope` (a server, or 0 for direct messages)."""
        prefs = await self.store.get(user_id)
        draft, used = apply_defaults(typed, prefs, rules, self.providers)
        if used.skipped_model is not None and scope in prefs.told:
            used = dataclasses.replace(used, skipped_model=None)  # said here before
        if not used.used:
            return await check(draft), used
        # A default the model takes, but not the way the images are used (a mode's
        # narrower aspects), or a default model that cannot do what was attached: dropped
        # (first the options, then the model), never a refusal of its own.
        for candidate, what in (
            (draft, used),
            (without_options(draft, typed), dataclasses.replace(used, options=())),
        ):
            try:
                return await check(candidate), what
            except RequestInvalid:
                pass
        return await check(typed), Defaults(skipped_model=used.skipped_model)

    async def change(self, user_id: int, **changes: object) -> MemberSettings:
        """Save one or more settings; a model no longer offered is refused, not saved."""
        prefs = dataclasses.replace(await self.store.get(user_id), **changes)  # type: ignore[arg-type]
        # Only a model being chosen is checked: one retired since must not block the rest.
        if "model" in changes and (
            prefs.model is not None
            and (
                prefs.provider is None or self.providers.model(prefs.provider, prefs.model) is None
            )
        ):
            raise RequestInvalid(say("refusal.model_retired"))
        # A new default model is worth telling about again where it is not allowed.
        if "model" in changes:
            prefs = dataclasses.replace(prefs, told=frozenset())
        await self.store.save(user_id, prefs)
        return prefs

    async def told(self, user_id: int, scope: int) -> None:
        """The member was told (in a confirmation they saw) that their default model is
        not available in `scope`: not again there. Marked only once a job was accepted,
        so a refused command does not use the one mention up."""
        prefs = await self.store.get(user_id)
        if scope not in prefs.told:
            await self.store.save(user_id, dataclasses.replace(prefs, told=prefs.told | {scope}))

    async def forget(self, user_id: int) -> int:
        """Delete the member's settings and what they typed and uploaded; how many jobs."""
        report = await self.store.forget(user_id)
        remove_files(report.result_paths)
        return report.purged
