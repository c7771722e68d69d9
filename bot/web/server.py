"""The bot's own small web server (off unless VEO_HTTP_PORT is set).

It gives vendors what they can only reach over HTTP: the member's images at
unguessable, expiring URLs, and a per-job callback address. A callback is only a
hint to poll now; its body is never trusted (the poll that follows asks the vendor).
For the operator it answers `/healthz` (non-200 when the bot is not working) and
`/metrics` (Prometheus).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from aiohttp import web

from bot.media.file_host import URL_TOKEN, FileHost
from bot.metrics import CONTENT_TYPE, Metrics
from storage import JobStore

# (healthy, {check: what it found}) for /healthz.
HealthCheck = Callable[[], Awaitable[tuple[bool, dict[str, str]]]]

log = logging.getLogger(__name__)

MAX_CALLBACK_BODY = 256 * 1024


class WebServer:
    def __init__(
        self,
        store: JobStore,
        wake: Callable[[], None],
        *,
        host: str,
        port: int,
        public_url: str | None,
        image_ttl: float,
        health: HealthCheck | None = None,
        metrics: Metrics | None = None,
        files: FileHost | None = None,
    ) -> None:
        self.store = store
        self.files = files
        self.health = health
        self.metrics = metrics
        self.wake = wake
        self.host = host
        self.port = port
        self.public_url = public_url
        self.ttl = image_ttl
        self._runner: web.AppRunner | None = None
        self.app = web.Application(client_max_size=MAX_CALLBACK_BODY)
        self.app.router.add_post("/callbacks/{provider}/{token}", self._callback)
        self.app.router.add_get("/images/{token}/{filename}", self._image)
        self.app.router.add_get("/files/{token}/{name}", self._file)
        self.app.router.add_get("/healthz", self._healthz)
        self.app.router.add_get("/metrics", self._metrics)

    # -- addresses handed to vendors ---------------------------------------------------

    def url_for(self, token: str, filename: str) -> str:
        # Member images keep letters of any script in their names: quoted, the URL is
        # plain ASCII, and the server gets the stored name back to match.
        return f"{self.public_url}/images/{token}/{quote(filename, safe='')}"

    def callback_url(self, provider: str, token: str) -> str:
        return f"{self.public_url}/callbacks/{provider}/{token}"

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0:  # tests: learn the port the OS picked
            self.port = self._runner.addresses[0][1]
        log.info("web server listening on %s:%d", self.host, self.port)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- handlers ----------------------------------------------------------------------

    async def _callback(self, request: web.Request) -> web.Response:
        """Only an active job of the provider the path names is poked: a token sent under
        another vendor's name, or for a job that has ended, changes nothing."""
        await request.read()  # drained, never trusted
        token, provider = request.match_info["token"], request.match_info["provider"]
        job_id = None
        if URL_TOKEN.fullmatch(token):
            job_id = await self.store.poke_by_callback(token, provider)
        if job_id is None:
            return web.json_response({"ok": False}, status=404)
        log.info("job %d: callback from %s; polling now", job_id, provider)
        self.wake()
        return web.json_response({"ok": True})

    async def _image(self, request: web.Request) -> web.Response:
        """Served only as handed out: the token and its own filename, while the token is
        unexpired and the job active."""
        token = request.match_info["token"]
        image = await self.store.image_by_token(token) if URL_TOKEN.fullmatch(token) else None
        if image is None or image.filename != request.match_info["filename"]:
            raise web.HTTPNotFound()
        return web.Response(
            body=image.data, content_type=image.mime, headers={"Cache-Control": "no-store"}
        )

    async def _healthz(self, _: web.Request) -> web.Response:
        if self.health is None:
            return web.json_response({"ok": True, "checks": {}})
        ok, checks = await self.health()
        return web.json_response({"ok": ok, "checks": checks}, status=200 if ok else 503)

    async def _metrics(self, _: web.Request) -> web.Response:
        if self.metrics is None:
            raise web.HTTPNotFound()
        body = await self.metrics.render()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    async def _file(self, request: web.Request) -> web.StreamResponse:
        found = None
        if self.files is not None:
            found = self.files.path_for(request.match_info["token"], request.match_info["name"])
        if found is None:
            raise web.HTTPNotFound()
        return web.FileResponse(
            found, headers={"Content-Type": "video/mp4", "Cache-Control": "private, max-age=3600"}
        )
