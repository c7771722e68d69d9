"""A server's rules for a request, as pure functions of its settings: where videos may
be made, which models, which words are refused, who has no quota, and where a request
goes while its vendor is down. The service applies them before anything is charged."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence

from bot.jobs.days import duration_text
from bot.jobs.health import VendorHealth
from bot.jobs.requests import GenerationRequest, RequestInvalid, check_image, fit
from bot.providers.base import InputImage
from bot.providers.codes import Say, say
from bot.providers.registry import ProviderRegistry
from storage import GuildSettings

log = logging.getLogger(__name__)

DMS_OFF = say("refusal.dms_off")
_MARKDOWN = re.compile(r"([\\*_~`|>])")


def banned_pattern(words: Iterable[str]) -> re.Pattern[str] | None:
    """Whole words (or phrases), case-insensitive; None when there are none."""
    escaped = [re.escape(w.strip()) for w in words if w.strip()]
    if not escaped:
        return None
    return re.compile(rf"(?<!\w)(?:{'|'.join(escaped)})(?!\w)", re.IGNORECASE)


def banned_word_in(words: Iterable[str], *texts: str | None) -> str | None:
    """The first banned word or phrase found, as the member wrote it (their own casing),
    so the refusal can tell them what to change; None when there is none."""
    pattern = banned_pattern(words)
    if pattern is None:
        return None
    for text in texts:
        if text and (found := pattern.search(text)):
            return found[0]
    return None


def has_banned_word(words: Iterable[str], *texts: str | None) -> bool:
    return banned_word_in(words, *texts) is not None


def banned_word_refusal(word: str) -> Say:
    """The member's refusal naming `word`, its Markdown escaped so it reads as typed. Said
    to the member alone (the answer is private), so it may name their own word; the admin
    log never holds it (`bot.chat.audit_view` counts banned words instead)."""
    return say("refusal.banned_word", word=_MARKDOWN.sub(r"\\\1", word))


def channel_list(ids: Iterable[int]) -> str:
    return ", ".join(f"<#{i}>" for i in ids)


def default_for(providers: ProviderRegistry, rules: GuildSettings) -> tuple[str, str]:
    """The server's default, while its vendor and model are still enabled (else it is
    ignored, not an error); otherwise the bot's default if the server allows it, else
    the first model it does (validation then explains a server that allows none)."""
    candidates = [(rules.default_provider, rules.default_model)]
    default = providers.default
    candidates.append((default, providers.default_model(default)))
    candidates += [(p.name, s.name) for p in providers for s in p.models.values()]
    for provider, model in candidates:
        if provider and model and providers.model(provider, model):
            if rules.allows(provider, model):
                return provider, model
    return default, providers.default_model(default)


def check_content(rules: GuildSettings, request: GenerationRequest) -> None:
    """The server's models and words, checked once, when the request is validated (a
    routed request only goes where `rules.allows`)."""
    if not rules.allows(request.provider, request.model):
        choices = ", ".join(f"`{m}`" for m in rules.allowed_models)
        raise RequestInvalid(
            say(
                "refusal.model_not_allowed",
                provider=request.provider,
                model=request.model,
                models=choices,
            )
        )
    word = banned_word_in(rules.banned_words, request.prompt, request.negative_prompt)
    if word is not None:
        raise RequestInvalid(banned_word_refusal(word))


def check_channel(rules: GuildSettings, channel_id: int, parent_channel_id: int | None) -> None:
    allowed = rules.allowed_channels
    here = {channel_id, parent_channel_id}
    if allowed and not here & set(allowed):
        channels = channel_list(allowed)
        raise RequestInvalid(say("refusal.channel_not_allowed", channels=channels))


def is_exempt(rules: GuildSettings | None, role_ids: Iterable[int]) -> bool:
    return rules is not None and bool(set(rules.exempt_roles) & set(role_ids))


def route(
    request: GenerationRequest,
    images: Sequence[InputImage],
    rules: GuildSettings | None,
    *,
    health: VendorHealth | None,
    providers: ProviderRegistry,
    fallback: Sequence[str],
    max_prompt: int,
) -> GenerationRequest:
    """A request for a vendor that seems down goes to the first healthy vendor of
    VEO_PROVIDER_FALLBACK that can do it (and the server allows); else it is refused
    before anything is charged. The request keeps everything but its vendor and model,
    so only what depends on the model is checked again (`fit`, and the images)."""
    if health is None or health.is_healthy(request.provider):
        return request
    for name in fallback:
        if name == request.provider or name not in providers:
            continue
        if not health.is_healthy(name):
            continue
        for spec in providers.get(name).models.values():
            if rules is not None and not rules.allows(name, spec.name):
                continue
            routed = request.model_copy(update={"provider": name, "model": spec.name})
            try:
                fit(routed, spec, max_prompt=max_prompt)
                for i, image in enumerate(images, start=1):
                    check_image(image.data, slot=f"image {i}", spec=spec, filename=image.filename)
            except RequestInvalid:
                continue
            log.info(
                "%s seems down; a request goes to %s/%s instead",
                request.provider,
                name,
                spec.name,
            )
            return routed
    label = providers.get(request.provider).label
    wait = duration_text(max(60.0, health.retry_in(request.provider)))
    failures = health.failures(request.provider)
    raise RequestInvalid(say("refusal.vendor_down", service=label, failures=failures, wait=wait))
