"""The vendor half of `veo-bot check`: one free, authenticated call per enabled vendor.

Each vendor is asked for the status of a task id that cannot exist: not found means the key
was accepted, an auth error that it was refused, no answer that the vendor is unreachable.
Nothing is submitted, so nothing is spent. The adapters are the real ones, built by the
registry, so the check learns what the bot would.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field

import aiohttp
from yarl import URL

from bot.netguard import guarded_session, origins
from bot.providers.base import (
    Provider,
    ProviderAuthError,
    ProviderError,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    TaskNotFound,
)
from bot.providers.codes import ErrorCode
from bot.providers.registry import build_providers
from bot.settings import PROVIDER_PREFERENCE, Settings

READY = "READY"
WARN = "WARN"
NOT_READY = "NOT READY"

# One status call must not hold the check up for long, whatever VEO_REQUEST_TIMEOUT says.
CALL_TIMEOUT_CAP = 15.0


@dataclass
class Finding:
    """One row of the final table, with what was learned on the way (`notes`)."""

    component: str
    status: str
    summary: str
    notes: list[str] = field(default_factory=list)


async def check_vendors(settings: Settings) -> list[Finding]:
    """One status call per enabled vendor, concurrently, through the real adapters."""
    enabled = settings.enabled_providers()
    real = [n for n in enabled if n != "demo"]
    findings: list[Finding] = []
    if real:
        cap = min(settings.request_timeout, CALL_TIMEOUT_CAP)
        capped = settings.model_copy(update={"request_timeout": cap})
        trusted = origins([settings.base_url(p) for p in PROVIDER_PREFERENCE])
        session = guarded_session(
            trusted,
            allow_private=settings.allow_private_urls,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=cap),
        )
        async with session:
            registry = build_providers(capped, session)
            try:
                findings = list(
                    await asyncio.gather(
                        *(
                            probe_vendor(
                                registry.get(n),
                                registry.default_model(n),
                                base_url=settings.base_url(n),
                                timeout=cap,
                            )
                            for n in real
                        )
                    )
                )
            finally:
                await registry.close()
    if "demo" in enabled:
        findings.append(Finding("demo", READY, "built in: sample clips, no key, no call to make"))
    return findings


async def probe_vendor(provider: Provider, model: str, *, base_url: str, timeout: float) -> Finding:
    """Ask for a task that cannot exist and read the answer: the vendor checks the key first."""
    task_id = f"veo-bot-check-{secrets.token_hex(6)}"
    where = str(URL(base_url).with_user(None).with_password(None))
    name = provider.name
    started = time.monotonic()

    def done(status: str, summary: str, detail: str | None = None) -> Finding:
        took = time.monotonic() - started
        notes = [f"asked {where} for the status of made-up task {task_id} ({model}), {took:.2f} s"]
        if detail:
            notes.append(f"learned: {detail[:300]}")
        if name == "apiyi":
            notes.append("the earlier channel's models use the same host and key")
        return Finding(name, status, summary, notes)

    try:
        answer = await asyncio.wait_for(provider.status(task_id, model), timeout + 5)
    except TaskNotFound as exc:
        return done(READY, "key accepted (task not found, as expected)", exc.detail)
    except ProviderAuthError as exc:
        if exc.code in {ErrorCode.QUOTA, ErrorCode.INSUFFICIENT_CREDITS}:
            return done(NOT_READY, "key accepted, but the account is out of credit", exc.detail)
        return done(NOT_READY, f"key refused: check {name.upper()}_API_KEY", exc.detail)
    except ProviderTimeout as exc:
        broke = "the connection broke off" if exc.code == ErrorCode.CONNECTION_LOST else "no answer"
        return done(NOT_READY, f"unreachable: {broke} within {timeout:g} s", exc.detail)
    except ProviderUnavailable as exc:
        if exc.code == ErrorCode.RATE_LIMITED:
            return done(WARN, "busy (rate limited); the key was probably accepted", exc.detail)
        if exc.code == ErrorCode.BAD_ANSWER:
            return done(
                NOT_READY,
                f"the answer was not {name}'s API: check {name.upper()}_BASE_URL",
                exc.detail,
            )
        if exc.code == ErrorCode.SERVER_ERROR:
            return done(NOT_READY, "down: it answered with a server error", exc.detail)
        if exc.code == ErrorCode.BAD_URL:
            return done(NOT_READY, f"unreachable: {name.upper()}_BASE_URL is not valid", exc.detail)
        if exc.code == ErrorCode.CONNECT_FAILED:
            return done(NOT_READY, f"unreachable: cannot connect to {where}", exc.detail)
        return done(NOT_READY, f"unreachable ({exc.code})", exc.detail)
    except ProviderRejected as exc:
        return done(
            WARN,
            "refused the made-up task id; the key was probably accepted, but this is unclear",
            exc.detail or exc.code,
        )
    except ProviderError as exc:
        return done(WARN, f"unexpected answer: {type(exc).__name__}", exc.detail)
    except TimeoutError:
        return done(NOT_READY, f"unreachable: no answer within {timeout + 5:g} s")
    except Exception as exc:  # an adapter bug: report it rather than abort the whole check
        return done(NOT_READY, f"check failed: {type(exc).__name__}", _describe(exc))
    return done(
        READY,
        "answered (key accepted)",
        f"it reported the made-up task as {answer.state.value}",
    )


def _describe(exc: BaseException) -> str:
    # str(), not repr(): some client errors carry request headers in their repr.
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
