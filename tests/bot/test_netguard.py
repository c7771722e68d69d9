"""The SSRF guard on the bot's shared session, against real servers on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from bot.chat.failures import error_text
from bot.netguard import UnsafeURL, guarded_session, is_public, origins
from bot.providers.base import ProviderRejected
from bot.providers.http import transport_error
from tests.net import free_port


@pytest.fixture
async def server() -> AsyncIterator[str]:
    """A local server with a page and a redirect to another local port."""
    other = free_port()

    async def page(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def bounce(_: web.Request) -> web.Response:
        raise web.HTTPFound(f"http://127.0.0.1:{other}/page")

    app = web.Application()
    app.router.add_get("/page", page)
    app.router.add_get("/bounce", bounce)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),
        ("224.0.0.1", False),
        ("0.0.0.0", False),
        ("not an ip", False),
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public(address) is public


async def fetch(session: aiohttp.ClientSession, url: str) -> str:
    async with session.get(url) as response:
        return await response.text()


async def test_private_addresses_are_refused_unless_trusted_or_allowed(server: str) -> None:
    async with guarded_session(frozenset(), allow_private=False) as session:
        with pytest.raises(UnsafeURL, match="'http' URL"):
            await fetch(session, f"{server}/page")
        secure = server.replace("http://", "https://")
        with pytest.raises(UnsafeURL, match="private address 127.0.0.1"):
            await fetch(session, f"{secure}/page")
        with pytest.raises(UnsafeURL, match="private address 169.254.169.254"):
            await fetch(session, "https://169.254.169.254/latest/meta-data/")
    # The operator's base URL is trusted as given.
    async with guarded_session(origins([server]), allow_private=False) as session:
        assert await fetch(session, f"{server}/page") == "ok"
        # ...but a redirect from it to another local origin is checked again.
        with pytest.raises(UnsafeURL):
            await fetch(session, f"{server}/bounce")
    async with guarded_session(frozenset(), allow_private=True) as session:
        assert await fetch(session, f"{server}/page") == "ok"


async def test_a_name_that_resolves_to_a_private_address_is_refused(server: str) -> None:
    port = server.rsplit(":", 1)[1]
    async with guarded_session(frozenset(), allow_private=False) as session:
        with pytest.raises(aiohttp.ClientError) as refused:
            await fetch(session, f"https://localhost:{port}/page")
    assert "private" in str(refused.value)


async def test_only_https_is_fetched_from_untrusted_origins() -> None:
    async with guarded_session(frozenset(), allow_private=False) as session:
        with pytest.raises(UnsafeURL, match="'http' URL"):
            await fetch(session, "http://example.invalid/video.mp4")


def test_a_refused_link_is_a_final_vendor_error_without_retries() -> None:
    error = transport_error(UnsafeURL("refusing the private address 10.0.0.1"), "apixo")
    assert isinstance(error, ProviderRejected) and not error.retryable
    assert error_text(error) == "apixo returned a link this bot is not allowed to open."
