"""`veo-bot check`: is this installation ready to run, without running it?

Validates the configuration, opens the database, and asks each enabled vendor for the status
of a task id that does not exist: one free, authenticated call whose answer tells the key's
story (not found = the key was accepted; an auth error = it was refused; no answer = the vendor
is unreachable). Nothing is submitted, so nothing is spent. Discord is not contacted: the
token's format is checked, the token itself is only ever sent by the bot when it logs in.

No secret (vendor key, Discord token) is ever written: every line goes through `_scrub`.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from yarl import URL

from bot.netguard import is_public
from bot.providers.probe import (
    CALL_TIMEOUT_CAP,
    NOT_READY,
    READY,
    WARN,
    Finding,
    check_vendors,
    probe_vendor,
)
from bot.settings import PROVIDER_PREFERENCE, Settings
from storage import ACTIVE, Database, JobStore, shown_target
from storage.migrations import MIGRATIONS

# Shorter values are not real secrets, and scrubbing them would garble the report.
_MIN_SECRET = 4
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")


# -- the steps ---------------------------------------------------------------------------------


def check_configuration(settings: Settings) -> Finding:
    """load_settings already refused what cannot work; this names what merely looks wrong."""
    enabled = settings.enabled_providers()
    default = settings.resolved_default_provider()
    summary = f"providers {', '.join(enabled)} (default {default})"
    notes = []
    if Path(".env").is_file():
        notes.append(f"read from the environment and {Path('.env').resolve()}")
    else:
        notes.append("read from the environment (no .env in this folder)")
    warnings = []
    if settings.daily_quota == 0:
        warnings.append("VEO_DAILY_QUOTA=0: nobody can make videos")
    if settings.allow_private_urls:
        warnings.append(
            "VEO_ALLOW_PRIVATE_URLS=true: the bot may fetch private and loopback addresses "
            "(meant for tests and local simulators only)"
        )
    for name in settings.configured_providers():
        url = URL(settings.base_url(name))
        if url.scheme == "http" and not _is_local(url.host or ""):
            warnings.append(
                f"{name.upper()}_BASE_URL is http:// to {url.host}: the key travels unencrypted"
            )
    missing = [n for n in settings.provider_fallback if n not in enabled]
    if missing:
        warnings.append(
            f"VEO_PROVIDER_FALLBACK names {', '.join(missing)}, not enabled: "
            "they are skipped (set their keys to use them)"
        )
    notes += [f"warning: {w}" for w in warnings]
    return Finding("configuration", WARN if warnings else READY, summary, notes)


def check_discord_token(settings: Settings) -> Finding:
    """Shape only: logging in is the bot's job, and a check that logs in would also make the
    running bot's session look like it moved."""
    name = "discord token"
    given = settings.discord_token.get_secret_value() if settings.discord_token else ""
    if not given.strip():
        return Finding(
            name,
            NOT_READY,
            "DISCORD_TOKEN is not set",
            [
                "create an application at https://discord.com/developers/applications, "
                "open Bot > Reset Token, and put DISCORD_TOKEN=<the token> in .env"
            ],
        )
    not_sent = "format checked only; the check does not contact Discord"
    token = given.strip()
    problem = None
    if given != token:
        problem = "has spaces or a line break around it"
    elif token[:1] in "\"'" or token[-1:] in "\"'":
        problem = "is wrapped in quotes that are part of the value"
    elif token.lower().startswith("bot "):
        problem = "starts with 'Bot ': put only the token itself"
    elif not _TOKEN_SHAPE.match(token):
        problem = (
            "does not look like a bot token (three parts separated by dots): make sure it is "
            "the Bot > Reset Token value, not the client secret or the public key"
        )
    if problem is not None:
        return Finding(name, WARN, f"set, but {problem}", [not_sent])
    app_id = _application_id(token)
    who = f" for application {app_id}" if app_id else ""
    return Finding(name, READY, f"set; looks like a bot token{who}", [not_sent])


def _application_id(token: str) -> str | None:
    """A bot token starts with its application's (public) id in base64."""
    head = token.split(".", 1)[0]
    try:
        decoded = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return decoded if decoded.isdigit() else None


async def check_database(settings: Settings) -> Finding:
    """Open (and migrate) it as the bot does, then prove a write would go through."""
    target = settings.database
    path = target if isinstance(target, Path) else None
    real = path is not None and str(path) != ":memory:"
    shown = str(path.resolve()) if path is not None and real else shown_target(target)
    existed = path.exists() if path is not None else True
    try:
        db = await Database.open(target)
    except Exception as exc:  # the operator needs the reason, whatever it is
        hint = (
            "VEO_DB_PATH must be a file in a folder the bot can create and write to"
            if path is not None
            else "VEO_DATABASE_URL must reach a PostgreSQL server, with a user that may "
            "create tables in its database"
        )
        return Finding("database", NOT_READY, f"cannot open {shown}: {_describe(exc)}", [hint])
    kind = "file" if path is not None else "PostgreSQL"
    notes = [f"{kind} {shown}" + ("" if existed else " (did not exist: created, empty)")]
    try:
        version = await db.schema_version()
        counts = await JobStore(db).counts()
        active = sum(n for (s, _), n in counts.items() if s in {a.value for a in ACTIVE})
        notes.append(
            f"{sum(counts.values())} jobs on record, {active} in progress "
            "(these resume when the bot starts)"
        )
        await db.prove_writable()
        notes.append("write test passed (in a transaction, rolled back)")
    except Exception as exc:
        return Finding(
            "database", NOT_READY, f"{shown} opened but cannot be written: {_describe(exc)}", notes
        )
    finally:
        await db.close()
    summary = f"schema {version} of {len(MIGRATIONS)}, writable"
    if str(path) == ":memory:":
        return Finding("database", WARN, summary + ", in memory: lost on restart", notes)
    status = READY
    downloads = settings.data_dir / "downloads"
    try:
        downloads.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=downloads, prefix=".veo-bot-check-") as probe:
            probe.write(b"ok")
            probe.flush()
        notes.append(f"downloads folder {downloads.resolve()} writable")
    except OSError as exc:
        status = NOT_READY
        summary += f"; downloads folder not writable: {_describe(exc)}"
    free_mb = shutil.disk_usage(downloads).free // (1024 * 1024)
    notes.append(f"{free_mb} MB free on its disk")
    if free_mb < settings.max_download_mb and status == READY:
        status = WARN
        summary += f"; only {free_mb} MB free, less than VEO_MAX_DOWNLOAD_MB"
    return Finding("database", status, summary, notes)


def check_web_server(settings: Settings) -> Finding:
    """The settings only: binding the port here would fight a bot that is already running."""
    name = "web server"
    if settings.http_port is None:
        return Finding(
            name,
            READY,
            "off (VEO_HTTP_PORT not set)",
            [
                "jobs are polled; vendors that fetch images get Discord's attachment URLs; "
                "set VEO_HTTP_PORT and VEO_PUBLIC_URL for callbacks and the bot's own image URLs"
            ],
        )
    listen = f"{settings.http_host}:{settings.http_port}"
    notes = [f"would listen on {listen} (the check does not bind it)"]
    if settings.public_url is None:
        return Finding(
            name,
            WARN,
            f"listens on {listen}, but VEO_PUBLIC_URL is not set: no vendor is told about it",
            notes,
        )
    public = URL(settings.public_url)
    host = public.host or ""
    if _is_local(host):
        return Finding(
            name,
            WARN,
            f"VEO_PUBLIC_URL {settings.public_url} is a local address: vendors cannot reach it",
            notes,
        )
    if public.scheme != "https":
        return Finding(
            name,
            WARN,
            f"VEO_PUBLIC_URL {settings.public_url} is not https: put it behind your HTTPS proxy",
            notes,
        )
    return Finding(name, READY, f"listens on {listen}, reached as {settings.public_url}", notes)


def _is_local(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in {"localhost", ""} or host.endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False  # a name: where it points is the DNS's business
    return not is_public(host)


# -- the report --------------------------------------------------------------------------------


async def run_check(settings: Settings, *, out: TextIO) -> int:
    """Run every step, report each as it is learned, then the table. 0 = ready, 1 = not."""
    scrub = _scrubber(settings)

    def say(line: str = "") -> None:
        out.write(scrub(line) + "\n")
        out.flush()

    say("veo-bot check: nothing is submitted to any vendor and nothing is spent.")
    say()
    findings: list[Finding] = []

    def report(finding: Finding) -> None:
        findings.append(finding)
        say(f"{finding.component}: {finding.summary}")
        for note in finding.notes:
            say(f"    {note}")

    report(check_configuration(settings))
    report(check_discord_token(settings))
    report(await check_database(settings))
    report(check_web_server(settings))
    for finding in await check_vendors(settings):
        report(finding)

    say()
    for line in format_table(findings):
        say(line)
    say()
    not_ready = [f.component for f in findings if f.status == NOT_READY]
    if not_ready:
        say(f"Not ready: {', '.join(not_ready)}. See the notes above.")
        return 1
    if any(f.status == WARN for f in findings):
        say("Ready, with warnings worth a look.")
    else:
        say("Ready.")
    return 0


def format_table(findings: Sequence[Finding]) -> list[str]:
    head = ("COMPONENT", "STATUS", "DETAIL")
    rows = [(f.component, f.status, f.summary) for f in findings]
    w0 = max(len(r[0]) for r in [head, *rows])
    w1 = max(len(r[1]) for r in [head, *rows])
    lines = [f"{c:<{w0}}  {s:<{w1}}  {d}".rstrip() for c, s, d in [head, *rows]]
    lines.insert(1, f"{'-' * w0}  {'-' * w1}  {'-' * len(head[2])}")
    return lines


def _scrubber(settings: Settings) -> Callable[[str], str]:
    """Whatever a vendor echoed or an error carried, no configured secret reaches `out`."""
    values = [settings.discord_token] + [
        getattr(settings, f"{p}_api_key") for p in PROVIDER_PREFERENCE
    ]
    raw = [v.get_secret_value() for v in values if v is not None]
    # Longest first, so a secret that contains another is replaced whole.
    found = sorted({s.strip() for s in raw if len(s.strip()) >= _MIN_SECRET}, key=len, reverse=True)

    def scrub(text: str) -> str:
        for value in found:
            text = text.replace(value, "***")
        return text

    return scrub


def _describe(exc: BaseException) -> str:
    # str(), not repr(): some client errors carry request headers in their repr.
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


__all__ = ["CALL_TIMEOUT_CAP", "Finding", "format_table", "probe_vendor", "run_check"]
