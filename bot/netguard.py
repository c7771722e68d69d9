"""Keep the bot's HTTP client off private networks (SSRF).

The bot fetches URLs that others chose: the result links vendors return and the attachment
URLs in interactions. A hostile or broken answer could point them at the machine itself,
the LAN or a cloud metadata address. Two checks, on the one shared session:

- a client middleware refuses, for every request and every redirect hop, a scheme other
  than https (http too while private addresses are allowed) and a literal private IP;
- the connector's resolver drops private addresses from DNS answers at connect time, so a
  name cannot be rebound to one between a check and the connection.

The operator's own base URLs are trusted as given (origin = scheme, host and port), so a
vendor reached through a local proxy or simulator keeps working. `VEO_ALLOW_PRIVATE_URLS`
switches the guard off for tests and local setups.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

Origin = tuple[str, int]  # (host, port)


class UnsafeURL(aiohttp.ClientError):
    """A URL the bot refuses to open (private address or a scheme it does not fetch)."""


def is_public(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def origins(urls: Iterable[str | None]) -> frozenset[Origin]:
    found = set()
    for raw in urls:
        if not raw:
            continue
        url = URL(raw)
        if url.host and url.port:
            found.add((url.host.lower(), url.port))
    return frozenset(found)


class URLGuard:
    """The middleware half: scheme and literal-IP checks on every hop."""

    def __init__(self, trusted: frozenset[Origin], *, allow_private: bool) -> None:
        self.trusted = trusted
        self.allow_private = allow_private

    def check(self, url: URL) -> None:
        host = (url.host or "").lower()
        if url.port is not None and (host, url.port) in self.trusted:
            return
        schemes = {"https", "http"} if self.allow_private else {"https"}
        if url.scheme not in schemes:
            raise UnsafeURL(f"refusing a {url.scheme!r} URL")
        if self.allow_private:
            return
        try:
            ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return  # a name: the resolver checks what it resolves to
        if not is_public(host.strip("[]")):
            raise UnsafeURL(f"refusing the private address {host}")

    async def __call__(
        self, request: aiohttp.ClientRequest, handler: Any
    ) -> aiohttp.ClientResponse:
        self.check(request.url)
        response: aiohttp.ClientResponse = await handler(request)
        return response


class GuardedResolver(AbstractResolver):
    """The resolver half: names of untrusted hosts may only lead to public addresses."""

    def __init__(self, trusted: frozenset[Origin], *, allow_private: bool) -> None:
        self._inner = aiohttp.DefaultResolver()
        self.trusted = trusted
        self.allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if self.allow_private or (host.lower(), port) in self.trusted:
            return results
        public = [r for r in results if is_public(r["host"])]
        if not public:
            raise UnsafeURL(f"refusing {host}: it resolves only to private addresses")
        return public

    async def close(self) -> None:
        await self._inner.close()


def guarded_session(
    trusted: frozenset[Origin], *, allow_private: bool, **kwargs: Any
) -> aiohttp.ClientSession:
    """The bot's one client session, with both halves of the guard."""
    connector = aiohttp.TCPConnector(resolver=GuardedResolver(trusted, allow_private=allow_private))
    return aiohttp.ClientSession(
        connector=connector,
        middlewares=(URLGuard(trusted, allow_private=allow_private),),
        **kwargs,
    )
