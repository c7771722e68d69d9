"""What the vendor adapter tests share, so that each test module keeps only what is its
vendor's: the images and the schedule they send, the bodies no parser can read, the
request builder, the check that an error never carries the API key, `Vendor` (from which
`conftest.py` builds a module's simulator and adapter) and `ImageHost`, for a member's
image at a public URL. The end-to-end tests' share is in `harness.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.chat.failures import error_text
from bot.providers.base import (
    InputImage,
    ProviderError,
    SubmitRequest,
    TaskState,
    TaskStatus,
    Timing,
)
from tests.sim.vendor_base import VendorSimulator

# Small files that pass for images by their first bytes, as the simulators check them.
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x01" * 64
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x02" * 40

# An adapter test's schedule: every wait a hundredth of a second.
TINY = Timing(initial_wait=0.01, poll_interval=0.01, deadline=5)
# What the job manager hands `fetch` when it knows of no link.
DONE = TaskStatus(TaskState.SUCCEEDED)

# Status bodies with nothing to read in them: every adapter must call them a bad answer.
UNREADABLE_STATUS = (
    "<html><body>502 Bad Gateway</body></html>",
    "not json at all",
    b"\xff\xfe\x00garbage",
    "",
    "[1, 2, 3]",
)
# Error bodies with neither a message nor a code in them.
UNREADABLE_ERRORS = (b"<html>oops</html>", b"", b"\xff\xfe", b"[1]")
# (body, message, code): how an error body in the `{"error": {...}}` style is read, which
# both apiyi channels (like many gateways) answer with.
ERROR_READINGS = [
    (b'{"error": {"message": "bad", "code": 429}}', "bad", "429"),
    (b'{"error": "plain"}', "plain", None),
    (b'{"message": "top", "code": "x"}', "top", "x"),
    (b'"just a string"', "just a string", None),
    *[(raw, None, None) for raw in UNREADABLE_ERRORS],
    (b'{"error": {"message": {"deep": 1}}}', None, None),
]


@dataclass(frozen=True)
class Vendor:
    """An adapter test module's `VENDOR`: what the shared `sim` and `provider` fixtures
    build for it. The simulator checks `key`; the provider is built with it."""

    simulator: type[VendorSimulator]
    provider: Callable[..., Any]
    key: str
    options: dict[str, Any] = field(default_factory=dict)  # more arguments for `provider`


def text_requests(
    default_model: str, prompt: str = "a lighthouse at dusk"
) -> Callable[..., SubmitRequest]:
    """A builder of text requests for `default_model` (or the one given), with `prompt`
    and whatever options the test adds."""

    def text(model: str = default_model, **options: Any) -> SubmitRequest:
        return SubmitRequest(model=model, prompt=prompt, **options)

    return text


def assert_no_key(exc: ProviderError, key: str) -> None:
    """Nothing a member or a log could see of `exc` holds the key, or its secret part."""
    for shown in (str(exc), repr(exc), error_text(exc), exc.detail or "", repr(exc.args)):
        assert key not in shown
        assert "SECRET" not in shown


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    """Run `app` on a fresh port of 127.0.0.1: its runner (to clean up) and its origin."""
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


class ImageHost:
    """Public image URLs for a simulator to download: what Discord's CDN (or the bot's own
    web server) is in production. Serves bytes by name and records every name asked for."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str]] = {}
        self.hits: list[str] = []
        self.base_url = ""
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> ImageHost:
        app = web.Application()
        app.router.add_get("/img/{name}", self._serve)
        self._runner, self.base_url = await serve(app)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def url(self, name: str) -> str:
        """Where `name` is (or, never put, is not) to be found."""
        return f"{self.base_url}/img/{name}"

    def put(self, name: str, data: bytes, mime: str = "application/octet-stream") -> str:
        self.files[name] = (data, mime)
        return self.url(name)

    def add(self, name: str, data: bytes, mime: str = "image/png") -> InputImage:
        """A member's image: its bytes, and a signed URL as Discord gives one."""
        self.put(name, data, mime)
        return InputImage(data=data, mime=mime, filename=name, url=self.url(name) + "?ex=1&hm=sig")

    async def _serve(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.hits.append(name)
        if name not in self.files:
            return web.Response(status=404, text="This content is no longer available.")
        data, mime = self.files[name]
        return web.Response(body=data, content_type=mime)
