"""A local simulator of Discord's REST API, for tests that drive discord.py's real HTTP client.

Why: mocks of discord.py objects drift from what Discord does and never exercise discord.py's
request code (multipart bodies, interaction callbacks, webhook followups, error mapping). This
fixture is a real aiohttp server on 127.0.0.1 that speaks enough of Discord's wire format for a bot
that logs in without a gateway, answers interactions, posts/edits messages with files and reads
history. Point discord.py at it with ``monkeypatch.setattr(discord.http.Route, "BASE", base_url)``.

Scope and fidelity: payload shapes follow discord.py 2.7.1 (``discord/types``); errors use
Discord's ``{"message", "code"}`` body and its documented codes. Channels exist implicitly (any
id works until ``delete_channel``); permissions are only what the knobs say.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import json
import mimetypes
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import quote

from aiohttp import BodyPartReader, web

API_PREFIX = "/api/v10"
DISCORD_EPOCH_MS = 1_420_070_400_000

# Same numbers as APPLICATION_ID / GUILD_ID in discord_payloads.py (a test checks), so payloads
# built with default ids match a default sim without this module importing anything of ours.
DEFAULT_BOT_USER_ID = 1_100_000_000_000_000_001
DEFAULT_GUILD_ID = 1_100_000_000_000_000_100

FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7

# Interaction callback types (discord.InteractionResponseType).
CB_PONG = 1
CB_CHANNEL_MESSAGE = 4
CB_DEFERRED_CHANNEL_MESSAGE = 5
CB_DEFERRED_UPDATE = 6
CB_UPDATE_MESSAGE = 7
CB_AUTOCOMPLETE_RESULT = 8
CB_MODAL = 9

# Message types.
MSG_DEFAULT = 0
MSG_REPLY = 19
MSG_CHAT_INPUT_COMMAND = 20

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Upload = tuple[str, bytes]  # (filename, data) of one multipart file part


class UploadedFile(NamedTuple):
    """One file part of a multipart request, as recorded (the bytes live in the attachment)."""

    filename: str
    size: int
    sha256: str


@dataclass
class SimRequest:
    """One HTTP request the simulator received (API, webhook, interaction or CDN)."""

    method: str
    path: str  # relative to the API base ("/channels/1/messages"); CDN paths are as requested
    query: dict[str, str]
    headers: dict[str, str]
    json: Any = None  # the JSON body, or the parsed ``payload_json`` part of a multipart body
    files: list[UploadedFile] = field(default_factory=list)
    status: int | None = None  # set once answered


@dataclass
class SimInteraction:
    """What the simulator knows about one interaction registered by a test."""

    id: int
    token: str
    type: int
    application_id: int
    channel_id: int
    guild_id: int | None
    message_id: int | None  # the message a component interaction was clicked on
    callbacks: list[dict[str, Any]] = field(default_factory=list)  # {"type", "data"} as sent
    original_message_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)
    expired: bool = False

    @property
    def callback_type(self) -> int | None:
        """Type of the (single accepted) callback, or None if never acknowledged."""
        return self.callbacks[0]["type"] if self.callbacks else None

    @property
    def callback_flags(self) -> int:
        """Message flags sent with the callback (64 = ephemeral)."""
        if not self.callbacks:
            return 0
        return int((self.callbacks[0].get("data") or {}).get("flags") or 0)


@dataclass
class _StoredAttachment:
    data: bytes
    content_type: str | None
    expired: bool = False


@dataclass
class _Failure:
    method: str
    pattern: re.Pattern[str]
    status: int
    code: int
    message: str
    retry_after: float
    remaining: int


# Typed request storage (plain string keys warn in aiohttp 3.14).
_RECORD = web.RequestKey("sim_record", SimRequest)
_UPLOADS = web.RequestKey("sim_uploads", list[Upload])


class SimError(Exception):
    """Raised by handlers; turned into Discord's JSON error body by the middleware."""

    def __init__(self, status: int, code: int, message: str, **extra: Any) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra
        self.headers: dict[str, str] = {}


def _form_error(path: str, error_code: str, message: str) -> SimError:
    """400 / 50035 Invalid Form Body with Discord's nested ``errors`` object."""
    errors: dict[str, Any] = {"_errors": [{"code": error_code, "message": message}]}
    for key in reversed(path.split(".")):
        errors = {key: errors}
    return SimError(400, 50035, "Invalid Form Body", errors=errors)


def _json_response(
    data: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """JSON with Content-Type exactly ``application/json``, as Discord sends it.

    discord.py's ``json_or_text`` compares the header verbatim: aiohttp's ``json_response``
    adds ``; charset=utf-8`` and discord.py would then hand the body back as a string.
    """
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers={**(headers or {}), "Content-Type": "application/json"},
    )


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("1", "true")


class DiscordSim:
    """Discord REST simulator. Start it, point ``discord.http.Route.BASE`` at ``api_base``.

    Knobs (plain attributes/methods, change them any time): ``upload_limit``, ``token``,
    ``forbid_channel``, ``delete_channel``, ``fail_next``, ``expire_interaction``,
    ``expire_attachment``. Inspection: ``requests``, ``messages``, ``message``, ``interaction``,
    ``find_requests``, ``wait_for_request``, ``commands``.
    """

    def __init__(
        self,
        *,
        bot_user_id: int = DEFAULT_BOT_USER_ID,
        application_id: int | None = None,
        guild_id: int = DEFAULT_GUILD_ID,
        bot_name: str = "veo-sim-bot",
    ) -> None:
        self.bot_user_id = bot_user_id
        self.application_id = application_id if application_id is not None else bot_user_id
        self.guild_id = guild_id
        self.bot_user: dict[str, Any] = {
            "id": str(bot_user_id),
            "username": bot_name,
            "discriminator": "0",
            "global_name": None,
            "avatar": None,
            "bot": True,
            "public_flags": 0,
            "flags": 0,
            "verified": True,
            "mfa_enabled": False,
        }
        # Knobs.
        self.upload_limit: int = 10 * 1024 * 1024  # total bytes of files in one request
        self.token: str | None = None  # if set, ``Authorization: Bot <token>`` must match it
        self.forbidden_channels: set[int] = set()
        # Members who do not accept direct messages from the bot (Discord: 50007).
        self.closed_dms: set[int] = set()
        self.deleted_channels: set[int] = set()
        # Awaited after a request was handled and before it is answered (crash tests hold
        # a post that Discord made but the bot never heard back about).
        self.before_answer: Callable[[SimRequest], Awaitable[None]] | None = None
        # Records and state.
        self.requests: list[SimRequest] = []
        self.unhandled: list[SimRequest] = []  # requests to routes the simulator does not know
        self.errors: list[Exception] = []  # exceptions raised inside the simulator's handlers
        self.commands: dict[int | None, list[dict[str, Any]]] = {}  # guild id (None = global)
        self._failures: list[_Failure] = []
        self._channels: dict[int, dict[str, Any]] = {}
        self._dm_channels: dict[int, int] = {}  # member id -> their DM channel
        self._channel_messages: dict[int, list[int]] = {}
        self._messages: dict[int, dict[str, Any]] = {}
        self._attachments: dict[int, _StoredAttachment] = {}
        self._interactions: dict[int, SimInteraction] = {}
        self._last_id = 0
        self._runner: web.AppRunner | None = None
        self.url = ""  # "http://127.0.0.1:PORT", set by start()

    # ------------------------------------------------------------------ lifecycle

    @property
    def api_base(self) -> str:
        """The value for ``discord.http.Route.BASE``."""
        return self.url + API_PREFIX

    async def start(self) -> str:
        """Serve on an ephemeral 127.0.0.1 port; return the API base URL."""
        app = web.Application(middlewares=[self._middleware], client_max_size=1024**3)
        p = API_PREFIX
        routes: list[tuple[str, str, Handler]] = [
            ("GET", "/users/@me", self._get_me),
            ("POST", "/users/@me/channels", self._open_dm),
            ("GET", "/users/{user_id}", self._get_user),
            ("GET", "/oauth2/applications/@me", self._get_application),
            ("POST", "/interactions/{interaction_id}/{token}/callback", self._callback),
            ("POST", "/webhooks/{app_id}/{token}", self._followup),
            ("GET", "/webhooks/{app_id}/{token}/messages/{message_id}", self._webhook_get),
            ("PATCH", "/webhooks/{app_id}/{token}/messages/{message_id}", self._webhook_edit),
            ("DELETE", "/webhooks/{app_id}/{token}/messages/{message_id}", self._webhook_delete),
            ("GET", "/channels/{channel_id}", self._get_channel),
            ("POST", "/channels/{channel_id}/typing", self._typing),
            ("GET", "/channels/{channel_id}/messages", self._history),
            ("POST", "/channels/{channel_id}/messages", self._create_message),
            ("GET", "/channels/{channel_id}/messages/{message_id}", self._get_message),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self._edit_message),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}", self._delete_message),
            ("GET", "/applications/{app_id}/commands", self._get_commands),
            ("PUT", "/applications/{app_id}/commands", self._put_commands),
            ("GET", "/applications/{app_id}/guilds/{guild_id}/commands", self._get_commands),
            ("PUT", "/applications/{app_id}/guilds/{guild_id}/commands", self._put_commands),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, p + path, handler)
        cdn = "/{kind:attachments|ephemeral-attachments}/{owner_id}/{attachment_id}/{filename}"
        app.router.add_route("GET", cdn, self._cdn)
        app.router.add_route("*", "/{tail:.*}", self._unknown_route)

        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self.api_base

    async def close(self) -> None:
        """Stop the server (close discord.py's client first so its connections are idle)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> DiscordSim:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ knobs

    def forbid_channel(self, channel_id: int) -> None:
        """Posting, editing or typing in this channel answers 403 / 50013 Missing Permissions."""
        self.forbidden_channels.add(int(channel_id))

    def delete_channel(self, channel_id: int) -> None:
        """Every route of this channel answers 404 / 10003 Unknown Channel."""
        self.deleted_channels.add(int(channel_id))

    def fail_next(
        self,
        method: str,
        path_regex: str,
        status: int,
        code: int = 0,
        message: str = "Scripted failure",
        *,
        times: int = 1,
        retry_after: float = 0.05,
    ) -> None:
        """Answer the next ``times`` matching requests with an error instead of handling them.

        ``path_regex`` is searched (``re.search``) in the path relative to the API base, e.g.
        ``r"/channels/\\d+/messages$"``. ``method`` "*" matches any. A 429 carries
        ``retry_after`` and a ``Via`` header so discord.py sleeps and retries it like a real
        rate limit; note discord.py also retries 5xx itself (sleeping 1 s, 3 s, ...).
        """
        self._failures.append(
            _Failure(
                method.upper(), re.compile(path_regex), status, code, message, retry_after, times
            )
        )

    def expire_interaction(self, interaction_id: int) -> None:
        """The interaction's callback answers 10062 and its webhook token 50027 from now on."""
        self._interactions[int(interaction_id)].expired = True

    def expire_attachment(self, attachment_id: int | str) -> None:
        """The CDN answers 404 for this attachment, like an expired signed URL."""
        self._attachments[int(attachment_id)].expired = True

    # ------------------------------------------------------------------ test-side setup

    def next_id(self) -> int:
        """A fresh snowflake: time-based, strictly increasing within this simulator."""
        candidate = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        self._last_id = max(candidate, self._last_id + 1)
        return self._last_id

    def add_channel(
        self, channel_id: int, *, guild_id: int | None = None, name: str | None = None
    ) -> dict[str, Any]:
        """Declare a guild text channel (channels also spring into existence on first use)."""
        channel = {
            "id": str(channel_id),
            "type": 0,
            "guild_id": str(guild_id or self.guild_id),
            "name": name or f"channel-{channel_id}",
            "position": 0,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "rate_limit_per_user": 0,
            "last_message_id": None,
            "flags": 0,
        }
        self._channels[int(channel_id)] = channel
        self._channel_messages.setdefault(int(channel_id), [])
        return channel

    def add_attachment(
        self,
        filename: str,
        data: bytes,
        content_type: str | None = None,
        *,
        expired: bool = False,
        ephemeral: bool = True,
    ) -> dict[str, Any]:
        """Store bytes on the CDN and return a Discord attachment object pointing at them.

        Defaults to an ephemeral attachment, which is what a slash-command upload is.
        """
        content_type = content_type or mimetypes.guess_type(filename)[0]
        kind = "ephemeral-attachments" if ephemeral else "attachments"
        attachment = self._store_attachment(
            self.application_id, filename, data, content_type, kind=kind
        )
        if ephemeral:
            attachment["ephemeral"] = True
        if expired:
            self.expire_attachment(attachment["id"])
        return attachment

    def add_message(
        self,
        channel_id: int,
        *,
        content: str = "",
        author: dict[str, Any] | None = None,
        attachments: list[dict[str, Any]] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Seed a message (e.g. a member's upload) into a channel's history."""
        message = self._new_message(int(channel_id), {"content": content}, [], author=author)
        message["attachments"] = list(attachments or [])
        message.update(extra)
        self._append(message)
        return copy.deepcopy(message)

    @contextlib.asynccontextmanager
    async def holding(
        self, matches: Callable[[SimRequest], bool], *, first_only: bool = False
    ) -> AsyncIterator[asyncio.Event]:
        """Hold the answer to every request `matches` picks (or only the first) until the
        block ends: Discord did it, the bot has not heard back. Yields an event set when
        one is held. Uses `before_answer`, and clears it on the way out."""
        held = asyncio.Event()
        release = asyncio.Event()

        async def hold(request: SimRequest) -> None:
            if matches(request) and not (first_only and held.is_set()):
                held.set()
                await release.wait()

        self.before_answer = hold
        try:
            yield held
        finally:
            self.before_answer = None
            release.set()

    def register_interaction(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Make the simulator accept callbacks/webhooks for this raw interaction payload.

        Returns the payload unchanged: ``payload = sim.register_interaction(slash_command(...))``.
        """
        channel_id = payload.get("channel_id") or (payload.get("channel") or {}).get("id") or 0
        message = payload.get("message")
        guild_id = payload.get("guild_id")
        interaction = SimInteraction(
            id=int(payload["id"]),
            token=payload["token"],
            type=int(payload["type"]),
            application_id=int(payload["application_id"]),
            channel_id=int(channel_id),
            guild_id=int(guild_id) if guild_id else None,
            message_id=int(message["id"]) if message else None,
        )
        if message and int(message["id"]) not in self._messages:
            # A component's message the simulator never saw: keep a copy so updates can apply.
            self._messages[int(message["id"])] = copy.deepcopy(message)
        self._interactions[interaction.id] = interaction
        return payload

    # ------------------------------------------------------------------ inspection

    def interaction(self, interaction_id: int) -> SimInteraction:
        return self._interactions[int(interaction_id)]

    def messages(self, channel_id: int) -> list[dict[str, Any]]:
        """Channel-visible messages, oldest first (copies; ephemeral replies are not here)."""
        ids = self._channel_messages.get(int(channel_id), [])
        return [copy.deepcopy(self._messages[i]) for i in ids]

    def message(self, message_id: int | str) -> dict[str, Any]:
        """Any stored message by id, including ephemeral interaction replies (a copy)."""
        return copy.deepcopy(self._messages[int(message_id)])

    def attachment_bytes(self, attachment_id: int | str) -> bytes:
        """The stored bytes behind an attachment (what the bot uploaded, or a test added)."""
        return self._attachments[int(attachment_id)].data

    def find_requests(self, method: str = "*", path_regex: str = "") -> list[SimRequest]:
        """Recorded requests whose method matches ("*" = any) and path matches ``re.search``."""
        pattern = re.compile(path_regex)
        return [r for r in self.requests if method in ("*", r.method) and pattern.search(r.path)]

    async def wait_for_request(
        self, method: str, path_regex: str, *, count: int = 1, timeout: float = 5.0
    ) -> SimRequest:
        """Wait until ``count`` matching requests were answered; return the ``count``-th.

        For flows the bot runs in background tasks (``tree._from_interaction``, job loops).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            done = [r for r in self.find_requests(method, path_regex) if r.status is not None]
            if len(done) >= count:
                return done[count - 1]
            if loop.time() > deadline:
                seen = [(r.method, r.path, r.status) for r in self.requests]
                raise TimeoutError(f"no {count}x {method} {path_regex!r}; saw {seen}")
            await asyncio.sleep(0.01)

    # ------------------------------------------------------------------ plumbing

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Record, parse the body, enforce auth/limits/scripted failures, map SimError."""
        api = request.path.startswith(API_PREFIX + "/")
        path = request.path[len(API_PREFIX) :] if api else request.path
        record = SimRequest(
            method=request.method,
            path=path,
            query=dict(request.query),
            headers=dict(request.headers),
        )
        self.requests.append(record)
        request[_RECORD] = record
        try:
            request[_UPLOADS] = await self._read_body(request, record)
            if api and not path.startswith(("/webhooks/", "/interactions/")):
                self._check_auth(request)
            self._maybe_fail(record)
            total = sum(f.size for f in record.files)
            if total > self.upload_limit:
                raise SimError(413, 40005, "Request entity too large")
            response = await handler(request)
            if self.before_answer is not None:
                await self.before_answer(record)
        except SimError as err:
            response = _json_response(
                {"message": err.message, "code": err.code, **err.extra},
                status=err.status,
                headers=err.headers,
            )
        except Exception as exc:  # a simulator bug: fail fast (a 500 makes discord.py retry)
            self.errors.append(exc)
            response = _json_response(
                {"message": f"DiscordSim bug: {exc!r}", "code": 0}, status=400
            )
        record.status = response.status
        return response

    async def _read_body(self, request: web.Request, record: SimRequest) -> list[Upload]:
        """Fill ``record.json``/``record.files``; return the uploaded (filename, bytes) pairs."""
        files: list[Upload] = []
        if request.content_type == "multipart/form-data":
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader):  # nested multipart: not Discord's
                    continue
                raw = bytes(await part.read())
                if part.name == "payload_json":
                    record.json = json.loads(raw)
                elif part.filename is not None:
                    files.append((part.filename, raw))
                    digest = hashlib.sha256(raw).hexdigest()
                    record.files.append(UploadedFile(part.filename, len(raw), digest))
        elif request.can_read_body:
            raw = await request.read()
            if raw and request.content_type == "application/json":
                record.json = json.loads(raw)
        return files

    def _check_auth(self, request: web.Request) -> None:
        auth = request.headers.get("Authorization", "")
        token = auth[4:] if auth.startswith("Bot ") else ""
        if not token or (self.token is not None and token != self.token):
            raise SimError(401, 0, "401: Unauthorized")

    def _maybe_fail(self, record: SimRequest) -> None:
        for failure in self._failures:
            if failure.method not in ("*", record.method) or not failure.pattern.search(
                record.path
            ):
                continue
            failure.remaining -= 1
            if failure.remaining <= 0:
                self._failures.remove(failure)
            err = SimError(failure.status, failure.code, failure.message)
            if failure.status == 429:
                err.extra = {"retry_after": failure.retry_after, "global": False}
                err.headers = {
                    "Via": "1.1 google",
                    "Retry-After": str(failure.retry_after),
                    "X-RateLimit-Scope": "user",
                }
            raise err

    def _json(self, request: web.Request) -> dict[str, Any]:
        body = request[_RECORD].json
        return body if isinstance(body, dict) else {}

    def _store_attachment(
        self,
        owner_id: int,
        filename: str,
        data: bytes,
        content_type: str | None,
        *,
        kind: str = "attachments",
        description: str | None = None,
    ) -> dict[str, Any]:
        attachment_id = self.next_id()
        self._attachments[attachment_id] = _StoredAttachment(data, content_type)
        now = int(time.time())
        signature = hashlib.sha256(f"{attachment_id}:{now}".encode()).hexdigest()
        url = (
            f"{self.url}/{kind}/{owner_id}/{attachment_id}/{quote(filename)}"
            f"?ex={now + 86_400:x}&is={now:x}&hm={signature}&"
        )
        attachment: dict[str, Any] = {
            "id": str(attachment_id),
            "filename": filename,
            "size": len(data),
            "url": url,
            "proxy_url": url,
            "content_type": content_type,
        }
        if description is not None:
            attachment["description"] = description
        return attachment

    def _channel(self, channel_id: int, *, posting: bool = False) -> dict[str, Any]:
        if channel_id in self.deleted_channels:
            raise SimError(404, 10003, "Unknown Channel")
        if posting and channel_id in self.forbidden_channels:
            raise SimError(403, 50013, "Missing Permissions")
        return self._channels.get(channel_id) or self.add_channel(channel_id)

    def _check_payload(
        self, payload: dict[str, Any], files: list[Upload], *, creating: bool
    ) -> None:
        """The few validations a bot is likely to trip: length limits and empty messages."""
        content = payload.get("content")
        if content is not None and len(str(content)) > 2000:
            raise _form_error("content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
        embeds = payload.get("embeds") or []
        if len(embeds) > 10:
            raise _form_error("embeds", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
        total = 0
        for i, embed in enumerate(embeds):
            for key, limit in (("title", 256), ("description", 4096)):
                text = embed.get(key) or ""
                total += len(text)
                if len(text) > limit:
                    raise _form_error(
                        f"embeds.{i}.{key}",
                        "BASE_TYPE_MAX_LENGTH",
                        f"Must be {limit} or fewer in length.",
                    )
            fields = embed.get("fields") or []
            if len(fields) > 25:
                raise _form_error(
                    f"embeds.{i}.fields", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
                )
            total += sum(len(f.get("name", "")) + len(f.get("value", "")) for f in fields)
        if total > 6000:
            raise _form_error(
                "embeds", "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000"
            )
        if creating and not (
            content
            or embeds
            or files
            or payload.get("components")
            or payload.get("sticker_ids")
            or payload.get("poll")
        ):
            raise SimError(400, 50006, "Cannot send an empty message")

    def _new_message(
        self,
        channel_id: int,
        payload: dict[str, Any],
        files: list[Upload],
        *,
        author: dict[str, Any] | None = None,
        type_: int = MSG_DEFAULT,
        webhook_id: int | None = None,
        flags: int | None = None,
    ) -> dict[str, Any]:
        message_id = self.next_id()
        message: dict[str, Any] = {
            "id": str(message_id),
            "channel_id": str(channel_id),
            "type": type_,
            "content": payload.get("content") or "",
            "author": copy.deepcopy(author or self.bot_user),
            "attachments": self._attachments_for(channel_id, payload, files, existing=[]),
            "embeds": payload.get("embeds") or [],
            "components": payload.get("components") or [],
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": bool(payload.get("tts", False)),
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "flags": int(payload.get("flags") or 0) if flags is None else flags,
        }
        if webhook_id is not None:
            message["webhook_id"] = str(webhook_id)
            message["application_id"] = str(webhook_id)
        reference = payload.get("message_reference")
        if reference:
            ref_id = int(reference["message_id"])
            referenced = self._messages.get(ref_id)
            if referenced is None and reference.get("fail_if_not_exists", True):
                raise _form_error(
                    "message_reference", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message"
                )
            message["type"] = MSG_REPLY
            message["message_reference"] = {
                "type": 0,
                "message_id": str(ref_id),
                "channel_id": str(reference.get("channel_id") or channel_id),
                "guild_id": reference.get("guild_id"),
            }
            if referenced is not None:
                nested = copy.deepcopy(referenced)
                nested.pop("referenced_message", None)
                message["referenced_message"] = nested
        return message

    def _attachments_for(
        self,
        channel_id: int,
        payload: dict[str, Any],
        files: list[Upload],
        *,
        existing: list[dict[str, Any]],
    ) -> list[dict[str, Any]]:
        """Resolve ``payload["attachments"]`` (kept ids + ``files[n]`` indexes) like Discord."""

        def upload(index: int, description: str | None = None) -> dict[str, Any]:
            filename, data = files[index]
            content_type = mimetypes.guess_type(filename)[0]
            return self._store_attachment(
                channel_id, filename, data, content_type, description=description
            )

        if "attachments" not in payload:  # keep what is there, add every uploaded file
            return existing + [upload(i) for i in range(len(files))]
        by_id = {a["id"]: a for a in existing}
        result = []
        for item in payload["attachments"] or []:
            key = str(item["id"])
            if key in by_id:
                result.append(by_id[key])
            elif key.isdigit() and int(key) < len(files):
                result.append(upload(int(key), item.get("description")))
            else:
                raise _form_error(
                    "attachments", "ATTACHMENT_NOT_FOUND", f"Unknown attachment {key}"
                )
        return result

    def _apply_edit(
        self, message: dict[str, Any], payload: dict[str, Any], files: list[Upload]
    ) -> None:
        channel_id = int(message["channel_id"])
        for key in ("content", "embeds", "components"):
            if key in payload:
                empty: Any = "" if key == "content" else []
                message[key] = payload[key] if payload[key] is not None else empty
        was_loading = bool(message["flags"] & FLAG_LOADING)
        flags = message["flags"] & ~FLAG_LOADING
        if payload.get("flags") is not None:  # ephemerality is fixed at creation
            flags = (flags & FLAG_EPHEMERAL) | (int(payload["flags"]) & ~FLAG_EPHEMERAL)
        message["flags"] = flags
        message["attachments"] = self._attachments_for(
            channel_id, payload, files, existing=message["attachments"]
        )
        if not was_loading:
            message["edited_timestamp"] = _now_iso()

    def _append(self, message: dict[str, Any], *, visible: bool = True) -> None:
        message_id = int(message["id"])
        self._messages[message_id] = message
        channel_id = int(message["channel_id"])
        if visible:
            self._channel_messages.setdefault(channel_id, []).append(message_id)
            if channel_id in self._channels:
                self._channels[channel_id]["last_message_id"] = message["id"]

    def _remove(self, message_id: int) -> None:
        message = self._messages.pop(message_id)
        ids = self._channel_messages.get(int(message["channel_id"]), [])
        if message_id in ids:
            ids.remove(message_id)

    def _channel_message(self, channel_id: int, message_id: str) -> dict[str, Any]:
        message = self._messages.get(int(message_id)) if message_id.isdigit() else None
        if message is None or int(message["channel_id"]) != channel_id:
            raise SimError(404, 10008, "Unknown Message")
        return message

    # ------------------------------------------------------------------ auth / app routes

    async def _get_me(self, request: web.Request) -> web.Response:
        return _json_response(self.bot_user)

    async def _get_user(self, request: web.Request) -> web.Response:
        return _json_response(_member_user(int(request.match_info["user_id"])))

    async def _open_dm(self, request: web.Request) -> web.Response:
        """A direct-message channel with one member (the same one every time); messages
        to it are recorded like any other channel's (`dm_messages`)."""
        recipient = int(self._json(request)["recipient_id"])
        channel_id = self._dm_channels.get(recipient)
        if channel_id is None:
            channel_id = self._dm_channels[recipient] = self.next_id()
            self._channels[channel_id] = {
                "id": str(channel_id),
                "type": 1,
                "last_message_id": None,
                "recipients": [_member_user(recipient)],
            }
            self._channel_messages[channel_id] = []
            if recipient in self.closed_dms:
                self.forbidden_channels.add(channel_id)
        return _json_response(self._channels[channel_id])

    def dm_messages(self, user_id: int) -> list[dict[str, Any]]:
        """What the bot sent one member in direct messages, oldest first."""
        channel_id = self._dm_channels.get(user_id)
        return [] if channel_id is None else self.messages(channel_id)

    async def _get_application(self, request: web.Request) -> web.Response:
        return _json_response(
            {
                "id": str(self.application_id),
                "name": self.bot_user["username"],
                "description": "",
                "icon": None,
                "bot_public": False,
                "bot_require_code_grant": False,
                "owner": self.bot_user,
                "team": None,
                "verify_key": "0" * 64,
                "flags": 0,
                "bot": self.bot_user,
            }
        )

    # ------------------------------------------------------------------ interactions

    async def _callback(self, request: web.Request) -> web.Response:
        interaction = self._interactions.get(int(request.match_info["interaction_id"]))
        if (
            interaction is None
            or interaction.token != request.match_info["token"]
            or interaction.expired
        ):
            raise SimError(404, 10062, "Unknown interaction")
        if interaction.callbacks:
            raise SimError(400, 40060, "Interaction has already been acknowledged.")
        body = self._json(request)
        cb_type = int(body.get("type", 0))
        data = body.get("data") or {}
        files = request[_UPLOADS]
        if cb_type in (CB_CHANNEL_MESSAGE, CB_UPDATE_MESSAGE):
            self._check_payload(data, files, creating=cb_type == CB_CHANNEL_MESSAGE)

        message: dict[str, Any] | None = None
        ephemeral = bool(int(data.get("flags") or 0) & FLAG_EPHEMERAL)
        if cb_type in (CB_CHANNEL_MESSAGE, CB_DEFERRED_CHANNEL_MESSAGE):
            loading = cb_type == CB_DEFERRED_CHANNEL_MESSAGE
            flags = int(data.get("flags") or 0) | (FLAG_LOADING if loading else 0)
            message = self._new_message(
                interaction.channel_id,
                {} if loading else data,
                [] if loading else files,
                type_=MSG_CHAT_INPUT_COMMAND,
                webhook_id=interaction.application_id,
                flags=flags,
            )
            self._append(message, visible=not ephemeral)
            interaction.original_message_id = int(message["id"])
        elif cb_type in (CB_DEFERRED_UPDATE, CB_UPDATE_MESSAGE):
            if interaction.message_id is None:
                raise SimError(400, 40004, "Interaction is not a component or modal interaction")
            interaction.original_message_id = interaction.message_id
            message = self._messages[interaction.message_id]
            if cb_type == CB_UPDATE_MESSAGE:
                self._apply_edit(message, data, files)
            ephemeral = bool(message["flags"] & FLAG_EPHEMERAL)
        interaction.callbacks.append({"type": cb_type, "data": data})

        if not _truthy(request.query.get("with_response")):
            return web.Response(status=204)
        info: dict[str, Any] = {
            "id": str(interaction.id),
            "type": interaction.type,
            "response_message_loading": cb_type == CB_DEFERRED_CHANNEL_MESSAGE,
            "response_message_ephemeral": ephemeral,
        }
        resource: dict[str, Any] = {"type": cb_type}
        if message is not None:
            info["response_message_id"] = message["id"]
            resource["message"] = message
        return _json_response({"interaction": info, "resource": resource})

    def _webhook_interaction(self, request: web.Request) -> SimInteraction:
        """Resolve ``/webhooks/{app_id}/{token}`` to an interaction, with Discord's errors."""
        if request.match_info["app_id"] != str(self.application_id):
            raise SimError(404, 10015, "Unknown Webhook")
        token = request.match_info["token"]
        for interaction in self._interactions.values():
            if interaction.token == token and not interaction.expired:
                return interaction
        raise SimError(401, 50027, "Invalid Webhook Token")

    def _webhook_message(self, request: web.Request, interaction: SimInteraction) -> dict[str, Any]:
        raw = request.match_info["message_id"]
        if raw == "@original":
            message_id = interaction.original_message_id
        elif raw.isdigit() and (
            int(raw) in interaction.followup_ids or int(raw) == interaction.original_message_id
        ):
            message_id = int(raw)
        else:
            message_id = None
        if message_id is None or message_id not in self._messages:
            raise SimError(404, 10008, "Unknown Message")
        return self._messages[message_id]

    async def _followup(self, request: web.Request) -> web.Response:
        interaction = self._webhook_interaction(request)
        if not interaction.callbacks:
            raise SimError(404, 10015, "Unknown Webhook")
        body = self._json(request)
        files = request[_UPLOADS]
        self._check_payload(body, files, creating=True)
        original = self._messages.get(interaction.original_message_id or 0)
        if original is not None and original["flags"] & FLAG_LOADING:
            # Discord quirk: the first followup after a "thinking" defer replaces that message
            # (and keeps the defer's ephemerality).
            self._apply_edit(original, {**body, "flags": None}, files)
            message = original
        else:
            message = self._new_message(
                interaction.channel_id, body, files, webhook_id=interaction.application_id
            )
            self._append(message, visible=not message["flags"] & FLAG_EPHEMERAL)
            interaction.followup_ids.append(int(message["id"]))
        if not _truthy(request.query.get("wait")):
            return web.Response(status=204)
        return _json_response(message)

    async def _webhook_get(self, request: web.Request) -> web.Response:
        interaction = self._webhook_interaction(request)
        return _json_response(self._webhook_message(request, interaction))

    async def _webhook_edit(self, request: web.Request) -> web.Response:
        interaction = self._webhook_interaction(request)
        message = self._webhook_message(request, interaction)
        files = request[_UPLOADS]
        self._check_payload(self._json(request), files, creating=False)
        self._apply_edit(message, self._json(request), files)
        return _json_response(message)

    async def _webhook_delete(self, request: web.Request) -> web.Response:
        interaction = self._webhook_interaction(request)
        message = self._webhook_message(request, interaction)
        self._remove(int(message["id"]))
        return web.Response(status=204)

    # ------------------------------------------------------------------ channels / messages

    async def _get_channel(self, request: web.Request) -> web.Response:
        return _json_response(self._channel(int(request.match_info["channel_id"])))

    async def _typing(self, request: web.Request) -> web.Response:
        self._channel(int(request.match_info["channel_id"]), posting=True)
        return web.Response(status=204)

    async def _create_message(self, request: web.Request) -> web.Response:
        channel_id = int(request.match_info["channel_id"])
        self._channel(channel_id, posting=True)
        body = self._json(request)
        files = request[_UPLOADS]
        self._check_payload(body, files, creating=True)
        message = self._new_message(channel_id, body, files)
        self._append(message)
        return _json_response(message)

    async def _edit_message(self, request: web.Request) -> web.Response:
        channel_id = int(request.match_info["channel_id"])
        self._channel(channel_id, posting=True)
        message = self._channel_message(channel_id, request.match_info["message_id"])
        if message["author"]["id"] != self.bot_user["id"]:
            raise SimError(403, 50005, "Cannot edit a message authored by another user")
        files = request[_UPLOADS]
        self._check_payload(self._json(request), files, creating=False)
        self._apply_edit(message, self._json(request), files)
        return _json_response(message)

    async def _get_message(self, request: web.Request) -> web.Response:
        channel_id = int(request.match_info["channel_id"])
        self._channel(channel_id)
        return _json_response(self._channel_message(channel_id, request.match_info["message_id"]))

    async def _delete_message(self, request: web.Request) -> web.Response:
        channel_id = int(request.match_info["channel_id"])
        self._channel(channel_id)
        message = self._channel_message(channel_id, request.match_info["message_id"])
        self._remove(int(message["id"]))
        return web.Response(status=204)

    async def _history(self, request: web.Request) -> web.Response:
        """``limit`` (1-100, default 50), one of ``before``/``after``/``around``; newest first."""
        channel_id = int(request.match_info["channel_id"])
        self._channel(channel_id)
        limit = max(1, min(100, int(request.query.get("limit", 50))))
        ids = sorted(self._channel_messages.get(channel_id, []))
        query = request.query
        if "before" in query:
            picked = [i for i in ids if i < int(query["before"])][-limit:]
        elif "after" in query:
            picked = [i for i in ids if i > int(query["after"])][:limit]
        elif "around" in query:
            around = int(query["around"])
            older = [i for i in ids if i <= around][-((limit + 1) // 2) :]
            newer = [i for i in ids if i > around][: limit - len(older)]
            picked = older + newer
        else:
            picked = ids[-limit:]
        return _json_response([self._messages[i] for i in reversed(picked)])

    # ------------------------------------------------------------------ commands / CDN

    def _command_scope(self, request: web.Request) -> int | None:
        if request.match_info["app_id"] != str(self.application_id):
            raise SimError(403, 50001, "Missing Access")
        guild_id = request.match_info.get("guild_id")
        return int(guild_id) if guild_id else None

    async def _get_commands(self, request: web.Request) -> web.Response:
        return _json_response(self.commands.get(self._command_scope(request), []))

    async def _put_commands(self, request: web.Request) -> web.Response:
        """Bulk overwrite: echo back with ids (stable per name/type), like Discord."""
        scope = self._command_scope(request)
        old = {(c["name"], c.get("type", 1)): c["id"] for c in self.commands.get(scope, [])}
        stored = []
        for command in request[_RECORD].json or []:
            key = (command["name"], command.get("type", 1))
            echoed = {
                "type": 1,
                "description": "",
                "default_member_permissions": None,
                **command,
                "id": old.get(key) or str(self.next_id()),
                "application_id": str(self.application_id),
                "version": str(self.next_id()),
            }
            if scope is not None:
                echoed["guild_id"] = str(scope)
            stored.append(echoed)
        self.commands[scope] = stored
        return _json_response(stored)

    async def _cdn(self, request: web.Request) -> web.Response:
        raw_id = request.match_info["attachment_id"]
        stored = self._attachments.get(int(raw_id)) if raw_id.isdigit() else None
        if stored is None or stored.expired:
            return web.Response(status=404, text="This content is no longer available.")
        return web.Response(
            body=stored.data, content_type=stored.content_type or "application/octet-stream"
        )

    async def _unknown_route(self, request: web.Request) -> web.Response:
        self.unhandled.append(request[_RECORD])
        raise SimError(404, 0, "404: Not Found")


def _member_user(user_id: int) -> dict[str, Any]:
    """A member's public user object (what any bot may look up by id)."""
    return {
        "id": str(user_id),
        "username": f"member{user_id % 1000}",
        "discriminator": "0",
        "global_name": None,
        "avatar": None,
        "public_flags": 0,
    }
