"""Secrets never leak: the Discord token and every vendor key are sentinel values, the real
bot runs a realistic mix through discord.py's own dispatch (deliveries, vendor 5xx and
timeouts, failed renders, keys the vendor refuses, member and admin commands, a command that
blows up), and then every log record (formatted, tracebacks included), every request the
Discord simulator received, every message and upload it holds, and every byte of the
database files are searched for the sentinels.

The vendors are given every chance to hand the key back: the simulators' 401 bodies quote
the key they were presented, and this test also scripts 5xx bodies and failure reasons
that quote it, as misbehaving gateways do. The sentinels must also be seen where they
belong (the Authorization headers), so the test cannot pass because they were never used.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
import struct
import zlib
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.client import VeoBot
from bot.settings import Settings
from storage import Job, JobStatus, QuotaState
from tests.cogs.test_admin import admin
from tests.cogs.test_generate import reply_text, run
from tests.conftest import wait_for_job
from tests.sim.apixo_sim import ApixoSimulator
from tests.sim.apiyi_legacy_sim import ApiyiLegacySimulator
from tests.sim.apiyi_sim import ApiyiSimulator
from tests.sim.discord_payloads import CHANNEL_ID, GUILD_ID, slash_command
from tests.sim.discord_sim import DiscordSim
from tests.sim.vendor_base import VendorSimulator
from tests.sim.veo3o1_sim import Veo3o1Simulator
from tests.sim.yelinai_sim import YelinaiSimulator


def _png(width: int = 2, height: int = 2) -> bytes:
    """A complete, valid RGB PNG (the bot reads the header and refuses damaged files)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(b"\0" + b"\x80" * 3 * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


PNG = _png()
ALERTS = CHANNEL_ID + 1
FAST = "veo-3.1-fast-generate-preview"
TIMEOUT = 1.5  # VEO_REQUEST_TIMEOUT for these runs; one submit is held longer than this
SCHEDULE = {
    f"VEO_{vendor}_{part}": 0.05
    for vendor in ("APIYI", "APIXO", "VEO3O1", "YELINAI")
    for part in ("INITIAL_WAIT", "POLL_INTERVAL")
}

Blob = tuple[str, bytes]  # (where it was found, the bytes searched)


# -- the sentinels and the search ---------------------------------------------------------


@dataclass(frozen=True)
class Secret:
    """A sentinel secret. Its two random halves are searched for on their own too, so a
    key that is cut short (or masked at one end) before it leaks is still found."""

    name: str
    value: str
    halves: tuple[str, str]

    @classmethod
    def make(cls, name: str, prefix: str) -> Secret:
        a, b = secrets.token_hex(8), secrets.token_hex(8)
        return cls(name, f"{prefix}-{a}-{b}", (a, b))

    def needles(self) -> list[bytes]:
        return [s.encode() for s in (self.value, *self.halves)]


def blob(where: str, value: object) -> Blob:
    if isinstance(value, bytes):
        return where, value
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=repr)
    return where, text.encode("utf-8", "surrogatepass")


def find_leaks(sentinels: Iterable[Secret], corpus: Iterable[Blob]) -> list[str]:
    """`"<secret> in <where>"` for every place a sentinel (or half of one) appears."""
    found: list[str] = []
    pairs = [(s.name, needle) for s in sentinels for needle in s.needles()]
    for where, data in corpus:
        for name, needle in pairs:
            hit = f"{name} in {where}"
            if needle in data and hit not in found:
                found.append(hit)
    return found


def log_blobs(records: Sequence[logging.LogRecord]) -> list[Blob]:
    """Each record as a handler would write it: message, exception text and stack."""
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    return [
        blob(f"log record {r.name}:{r.lineno} ({r.levelname})", formatter.format(r))
        for r in records
    ]


def discord_blobs(sim: DiscordSim) -> list[Blob]:
    """Everything the bot sent Discord (bodies, paths, queries, uploads) and everything
    Discord now shows (messages, interaction callbacks, stored attachments). Headers are
    left out: the token belongs in them (see `discord_header_blobs`)."""
    blobs: list[Blob] = []
    for r in sim.requests:
        body = {"path": r.path, "query": r.query, "json": r.json, "files": r.files}
        blobs.append(blob(f"Discord request {r.method} {r.path}", body))
    for message_id, message in sim._messages.items():
        blobs.append(blob(f"Discord message {message_id}", message))
    for interaction in sim._interactions.values():
        blobs.append(blob(f"Discord interaction {interaction.id}", interaction.callbacks))
    for attachment_id, stored in sim._attachments.items():
        blobs.append(blob(f"Discord attachment {attachment_id}", stored.data))
    return blobs


def discord_header_blobs(sim: DiscordSim) -> list[Blob]:
    return [blob(f"Discord request headers {r.method} {r.path}", r.headers) for r in sim.requests]


def file_blobs(folder: Path, when: str) -> list[Blob]:
    """Every byte of every file under `folder` (the database, its -wal and -shm files,
    and anything left in downloads/)."""
    return [
        (f"file {p.relative_to(folder)} ({when})", p.read_bytes())
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    ]


# -- the vendors ----------------------------------------------------------------------------


@dataclass
class Vendor:
    name: str  # the provider's name in the bot
    env: str  # its settings prefix (APIYI_API_KEY, ...)
    sim: Any
    secret: Secret
    model: str  # a text model
    image_model: str  # a model taking one image as the first frame
    bare_key: bool = False  # Authorization is the bare key (apiyi's earlier channel)

    @property
    def authorization(self) -> str:
        return self.secret.value if self.bare_key else f"Bearer {self.secret.value}"

    def body_blobs(self) -> list[Blob]:
        """What the bot sent this vendor apart from the headers."""
        out: list[Blob] = []
        for r in self.sim.requests:
            where = f"{self.name} request {r.method} {r.path}"
            files = {k: [(f.filename, f.content_type) for f in v] for k, v in r.files.items()}
            out.append(blob(where, {"url": r.url, "query": r.query, "form": r.form, "f": files}))
            out.append((f"{where} (body)", r.body))
            out += [(f"{where} (file)", f.data) for v in r.files.values() for f in v]
        return out

    def header_blobs(self) -> list[Blob]:
        return [
            blob(f"{self.name} request headers {r.method} {r.path}", r.headers)
            for r in self.sim.requests
        ]

    def presented_key(self, since: int = 0) -> bool:
        return any(
            r.headers.get("Authorization") == self.authorization for r in self.sim.requests[since:]
        )

    def rotate(self) -> int:
        """The operator's key stops working at the vendor (revoked, or out of credit):
        the vendor answers 401 and quotes the key it was sent. Returns the request count."""
        self.sim.api_key = f"rotated-{secrets.token_hex(4)}"
        return len(self.sim.requests)


# provider, settings prefix, simulator, key prefix, text model, first-frame model, bare key
SPECS: dict[str, tuple[str, str, type[VendorSimulator], str, str, str, bool]] = {
    "apiyi": ("apiyi", "APIYI", ApiyiSimulator, "sk-SENTINEL-APIYI", FAST, FAST, False),
    "apixo": ("apixo", "APIXO", ApixoSimulator, "SENTINEL-APIXO", "veo-3.1-fast", "veo-3.1-fast", False),
    "veo3o1": ("veo3o1", "VEO3O1", Veo3o1Simulator, "SENTINEL-VEO3O1", "veo3o1-veo-3.1", "veo3o1-veo-3.1", False),
    "yelinai": ("yelinai", "YELINAI", YelinaiSimulator, "SENTINEL-YELINAI", "veo3", "veo3-pro-frames", False),
    # apiyi's earlier channel: the same APIYI_* settings, its own models, the bare key.
    "apiyi_legacy": ("apiyi", "APIYI", ApiyiLegacySimulator, "sk-SENTINEL-APIYI-LEGACY", "veo-3.1-fast", "veo-3.1-fast-fl", True),
}  # fmt: skip
CURRENT = ("apiyi", "apixo", "veo3o1", "yelinai")


@contextlib.asynccontextmanager
async def running(*names: str) -> AsyncIterator[dict[str, Vendor]]:
    """The named vendor simulators, each expecting its own sentinel key."""
    started: dict[str, Vendor] = {}
    try:
        for name in names:
            provider, env, kind, prefix, model, image_model, bare = SPECS[name]
            label = f"{env}_API_KEY" + (" (earlier channel)" if bare else "")
            secret = Secret.make(label, prefix)
            sim = kind(api_key=secret.value, queued_for=0.05, running_for=0.05)
            await sim.start()  # type: ignore[attr-defined]
            started[name] = Vendor(provider, env, sim, secret, model, image_model, bare)
        yield started
    finally:
        for vendor in started.values():
            await vendor.sim.close()


@pytest.fixture
async def vendors() -> AsyncIterator[dict[str, Vendor]]:
    async with running(*CURRENT) as found:
        yield found


@pytest.fixture
async def legacy() -> AsyncIterator[Vendor]:
    async with running("apiyi_legacy") as found:
        yield found["apiyi_legacy"]


@pytest.fixture(params=[CURRENT, ("apiyi_legacy",)], ids=["current", "earlier"])
async def each_channel(request: pytest.FixtureRequest) -> AsyncIterator[list[Vendor]]:
    async with running(*request.param) as found:
        yield list(found.values())


# -- driving the bot ------------------------------------------------------------------------


def settings_for(
    make_settings: Callable[..., Settings], token: Secret, vendors: Iterable[Vendor]
) -> Settings:
    values: dict[str, Any] = {
        "DISCORD_TOKEN": token.value,
        "VEO_DAILY_QUOTA": 100,
        "VEO_MAX_ACTIVE_PER_USER": 50,
        "VEO_ALERT_FAILURE_STREAK": 1,  # every failed call counts: the "down" path runs too
        "VEO_REQUEST_TIMEOUT": TIMEOUT,
        "VEO_LOG_LEVEL": "DEBUG",
        **SCHEDULE,
    }
    for vendor in vendors:
        values[f"{vendor.env}_API_KEY"] = vendor.secret.value
        values[f"{vendor.env}_BASE_URL"] = vendor.sim.base_url
    return make_settings(**values)


async def start(settings: Settings, discord_sim: DiscordSim) -> VeoBot:
    """Log in with the configured token, as `bot.cli` does; the simulator accepts no other."""
    assert settings.discord_token is not None
    token = settings.discord_token.get_secret_value()
    discord_sim.token = token
    bot = VeoBot(settings)
    await bot.login(token)
    await bot.service.guilds.set(GUILD_ID, alert_channel_id=ALERTS)
    return bot


async def queue(bot: VeoBot, sim: DiscordSim, **options: object) -> int:
    """`/veo generate` as the member; the number of the job it queued."""
    iid = await run(bot, sim, slash_command(name="veo", subcommand="generate", options=options))
    text = reply_text(sim, iid)
    match = re.search(r"Queued as \*\*job #(\d+)\*\*", text)
    assert match is not None, text
    return int(match[1])


async def settle(bot: VeoBot, job_ids: Iterable[int]) -> list[Job]:
    return list(await asyncio.gather(*(wait_for_job(bot, j) for j in job_ids)))


async def command(bot: VeoBot, sim: DiscordSim, subcommand: str, **options: object) -> str:
    """`/veo <subcommand>`; everything the member was shown, as JSON text."""
    iid = await run(bot, sim, slash_command(name="veo", subcommand=subcommand, options=options))
    callbacks = sim.interaction(iid).callbacks
    assert callbacks, f"/veo {subcommand} was never answered"
    return json.dumps(callbacks)


def echoing_502(vendor: Vendor) -> str:
    """A gateway error page that echoes the request's headers back."""
    return (
        "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1>"
        f"<pre>upstream timed out; request was: POST /v1 Authorization: {vendor.authorization}"
        "</pre></body></html>"
    )


def alerts(sim: DiscordSim) -> list[str]:
    return [str(m["content"]) for m in sim.messages(ALERTS)]


async def scan(
    bot: VeoBot,
    settings: Settings,
    discord_sim: DiscordSim,
    vendors: Sequence[Vendor],
    token: Secret,
    records: Sequence[logging.LogRecord],
) -> list[str]:
    """Close the bot, then search everything; returns the leaks found."""
    data_dir = Path(settings.db_path).parent
    before_close = file_blobs(data_dir, "before close")
    await bot.close()
    after_close = file_blobs(data_dir, "after close")
    assert any(p.startswith("file veo.sqlite3") and len(b) > 0 for p, b in after_close)

    everything = [token, *(v.secret for v in vendors)]
    leaks = find_leaks(
        everything,
        log_blobs(records) + discord_blobs(discord_sim) + before_close + after_close,
    )
    # Headers: the token may go to Discord and nowhere else; each key to its own vendor only.
    leaks += find_leaks([v.secret for v in vendors], discord_header_blobs(discord_sim))
    for vendor in vendors:
        leaks += find_leaks(everything, vendor.body_blobs())
        others = [s for s in everything if s != vendor.secret]
        leaks += find_leaks(others, vendor.header_blobs())
    return leaks


def assert_used(discord_sim: DiscordSim, token: Secret, vendors: Iterable[Vendor]) -> None:
    """The sentinels did reach the simulators, where they belong: not a vacuous pass."""
    assert discord_sim.find_requests("GET", "^/users/@me$")
    assert all(
        r.headers.get("Authorization") == f"Bot {token.value}"
        for r in discord_sim.requests
        if r.path.startswith("/users/") or r.path.startswith("/channels/")
    )
    for vendor in vendors:
        assert vendor.presented_key(), f"{vendor.name} never saw its key"


# -- the tests ------------------------------------------------------------------------------


def test_the_search_finds_a_sentinel_and_its_halves() -> None:
    """The scanner itself can fail: whole, cut-short and masked keys are all found."""
    key = Secret.make("KEY", "sk-SENTINEL-X")
    a, b = key.halves
    assert find_leaks([key], [blob("log", f"refused {key.value}!")]) == ["KEY in log"]
    assert find_leaks([key], [("db", f"...{key.value[:-6]}".encode())]) == ["KEY in db"]
    assert find_leaks([key], [blob("msg", f"sk-****{b}")]) == ["KEY in msg"]
    assert find_leaks([key], [blob("msg", {"nested": [f"x{a}y"]})]) == ["KEY in msg"]
    assert find_leaks([key], [blob("clean", "sk-SENTINEL-X-***")]) == []


async def test_no_secret_reaches_logs_discord_or_the_database(
    make_settings: Callable[..., Settings],
    discord_sim: DiscordSim,
    vendors: dict[str, Vendor],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    token = Secret.make("DISCORD_TOKEN", "SENTINEL-DISCORD-TOKEN")
    every = list(vendors.values())
    settings = settings_for(make_settings, token, every)
    bot = await start(settings, discord_sim)
    try:
        # 1. Deliveries, text and image, each vendor's first status check a 502 whose
        #    page echoes the Authorization header.
        for vendor in every:
            vendor.sim.queue_status_error(502, echoing_502(vendor))
        ids = []
        for vendor in every:
            ids.append(
                await queue(
                    bot,
                    discord_sim,
                    prompt="a lighthouse",
                    provider=vendor.name,
                    model=vendor.model,
                )
            )
            image = discord_sim.add_attachment("first.png", PNG, "image/png")
            ids.append(
                await queue(
                    bot,
                    discord_sim,
                    prompt="it comes alive",
                    provider=vendor.name,
                    model=vendor.image_model,
                    image=image,
                )
            )
        for job in await settle(bot, ids):
            assert job.status is JobStatus.DELIVERED, (
                job.provider,
                job.error_code,
                job.error_params,
            )
        assert not any(v.sim.status_errors for v in every)  # every 502 was met

        # 2. Failed renders whose reasons quote the key.
        vendors["apiyi"].sim.make_task_fail(
            f"Generation failed for key {vendors['apiyi'].secret.value}"
        )
        vendors["apixo"].sim.make_task_fail(
            "INTERNAL_ERROR", f"upstream rejected token {vendors['apixo'].secret.value}"
        )
        vendors["veo3o1"].sim.make_task_fail(
            errorMessage=f"worker crashed (auth {vendors['veo3o1'].secret.value})"
        )
        vendors["yelinai"].sim.make_task_fail(
            f"upstream said: bad credential {vendors['yelinai'].secret.value}", field="upstream"
        )
        ids = [
            await queue(bot, discord_sim, prompt="a storm", provider=v.name, model=v.model)
            for v in every
        ]
        for job in await settle(bot, ids):
            assert (job.status, job.quota_state) == (JobStatus.FAILED, QuotaState.REFUNDED)

        # 3. A key revoked while a job renders: its next status check is refused, the
        #    key quoted back.
        vendors["apiyi"].sim.queued_for = None
        revoked = await queue(
            bot, discord_sim, prompt="held", provider="apiyi", model=vendors["apiyi"].model
        )
        await wait_for_job(bot, revoked, frozenset({JobStatus.RUNNING}))
        mark = vendors["apiyi"].rotate()
        [done] = await settle(bot, [revoked])
        assert (done.status, done.quota_state) == (JobStatus.FAILED, QuotaState.REFUNDED)
        assert vendors["apiyi"].presented_key(mark)

        # 4. Every key refused at submit: the vendor answers 401 quoting it; admins are told.
        marks = {v.name: v.rotate() for v in every if v.name != "apiyi"}
        ids = [
            await queue(bot, discord_sim, prompt="refused", provider=v.name, model=v.model)
            for v in every
        ]
        for job in await settle(bot, ids):
            assert (job.status, job.quota_state) == (JobStatus.FAILED, QuotaState.REFUNDED)
        for vendor in every:
            assert vendor.presented_key(marks.get(vendor.name, mark)), vendor.name
            assert any(
                f"**{vendor.name}** refused this bot's account" in a for a in alerts(discord_sim)
            ), (vendor.name, alerts(discord_sim))

        # 5. A submit that times out (uncertain: failed, refunded, the operator warned),
        #    left to run while members and admins read their screens.
        vendors["veo3o1"].sim.delay_submit = TIMEOUT + 0.5
        timed_out = await queue(
            bot, discord_sim, prompt="slow", provider="veo3o1", model=vendors["veo3o1"].model
        )
        assert "Job #1" in await command(bot, discord_sim, "status", job="#1")
        assert "Your videos" in await command(bot, discord_sim, "history")
        await command(bot, discord_sim, "quota")
        await command(bot, discord_sim, "models")
        await command(bot, discord_sim, "help")
        shown = await admin(bot, discord_sim, "show")
        assert f"<#{ALERTS}>" in json.dumps(shown)
        await admin(bot, discord_sim, "stats")
        [done] = await settle(bot, [timed_out])
        assert (done.status, done.error_code) == (JobStatus.FAILED, "uncertain")

        # 6. A command that blows up: the tree's last net logs the traceback (exc_info).
        discord_sim.fail_next("POST", r"^/interactions/\d+/[^/]+/callback$", 400, 50035)
        apology = await command(bot, discord_sim, "history")
        assert "Something went wrong on my side" in apology
    finally:
        leaks = await scan(bot, settings, discord_sim, every, token, caplog.records)

    assert_used(discord_sim, token, every)
    logged = "\n".join(data.decode() for _, data in log_blobs(caplog.records))
    assert "Traceback (most recent call last)" in logged  # exception text was searched
    assert logged.count("refused the API key or account") >= len(every)
    assert "***" in logged  # the echoed keys did come back, and were scrubbed
    assert not discord_sim.errors
    assert leaks == [], "secrets leaked:\n" + "\n".join(leaks)


async def test_no_secret_leaks_through_apiyis_earlier_channel(
    make_settings: Callable[..., Settings],
    discord_sim: DiscordSim,
    legacy: Vendor,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The earlier channel sends the bare key (no `Bearer`), so it has its own scrubbing."""
    caplog.set_level(logging.DEBUG)
    token = Secret.make("DISCORD_TOKEN", "SENTINEL-DISCORD-TOKEN")
    settings = settings_for(make_settings, token, [legacy])
    bot = await start(settings, discord_sim)
    sim = legacy.sim
    try:
        sim.queue_status_error(502, echoing_502(legacy))
        image = discord_sim.add_attachment("first.png", PNG, "image/png")
        ids = [
            await queue(bot, discord_sim, prompt="a lighthouse", model=legacy.model),
            await queue(bot, discord_sim, prompt="alive", model="veo-3.1-fast-fl", image=image),
        ]
        for job in await settle(bot, ids):
            assert job.status is JobStatus.DELIVERED, (job.error_code, job.error_params)

        sim.make_task_fail(f"Generation failed for key {legacy.secret.value}")
        [failed] = await settle(
            bot, [await queue(bot, discord_sim, prompt="x", model=legacy.model)]
        )
        assert failed.status is JobStatus.FAILED

        mark = legacy.rotate()
        [refused] = await settle(
            bot, [await queue(bot, discord_sim, prompt="y", model=legacy.model)]
        )
        assert (refused.status, refused.quota_state) == (JobStatus.FAILED, QuotaState.REFUNDED)
        assert legacy.presented_key(mark)
        assert any("refused this bot's account" in a for a in alerts(discord_sim))

        await command(bot, discord_sim, "status", job="#1")
        await command(bot, discord_sim, "history")
        await admin(bot, discord_sim, "show")
    finally:
        leaks = await scan(bot, settings, discord_sim, [legacy], token, caplog.records)

    assert_used(discord_sim, token, [legacy])
    logged = "\n".join(data.decode() for _, data in log_blobs(caplog.records))
    assert "***" in logged  # the echoed key did come back, and was scrubbed
    assert leaks == [], "secrets leaked:\n" + "\n".join(leaks)


def straddling_page(vendor: Vendor, cut: int = 300) -> str:
    """A gateway's 401 page that quotes the Authorization header it refused, laid out so
    that the bot's 300-character excerpt of an error body ends inside the key's second
    half: the first half (and the recognisable prefix) lie wholly inside the excerpt."""
    head = "<html><head><title>401 Authorization Required</title></head><body><h1>401</h1><p>"
    quoted = "Rejected header: Authorization: " + ("" if vendor.bare_key else "Bearer ")
    key_at = cut - len(vendor.secret.value) + 8  # the cut falls 8 characters before its end
    filler = "This server could not verify that you are authorized to use the API. "
    padding = (filler * 10)[: key_at - len(head) - len(quoted)]
    page = head + padding + quoted + vendor.secret.value + "</p></body></html>"
    assert page.index(vendor.secret.value) == key_at
    return page


async def test_a_key_cut_short_by_the_error_excerpt_is_still_scrubbed(
    make_settings: Callable[..., Settings],
    discord_sim: DiscordSim,
    caplog: pytest.LogCaptureFixture,
    each_channel: list[Vendor],
) -> None:
    caplog.set_level(logging.DEBUG)
    token = Secret.make("DISCORD_TOKEN", "SENTINEL-DISCORD-TOKEN")
    tested = each_channel
    settings = settings_for(make_settings, token, tested)
    bot = await start(settings, discord_sim)
    try:
        for vendor in tested:
            vendor.sim.fail_next_submit_with(401, straddling_page(vendor))
        ids = [
            await queue(bot, discord_sim, prompt="refused", provider=v.name, model=v.model)
            for v in tested
        ]
        for job in await settle(bot, ids):
            assert (job.status, job.quota_state) == (JobStatus.FAILED, QuotaState.REFUNDED)
            assert job.error_code == "auth", job.error_code
    finally:
        leaks = await scan(bot, settings, discord_sim, tested, token, caplog.records)

    assert_used(discord_sim, token, tested)
    assert all(not v.sim.submit_script for v in tested)  # every page was served
    assert leaks == [], "secrets leaked:\n" + "\n".join(leaks)
