"""What apiyi's two `/v1/videos` channels have in common, for their two simulators: the
three routes (`POST /v1/videos`, `GET /v1/videos/{task_id}` and its `/content`), the
scripted `/content` answers, a task's failure planned ahead, and the status and
`/content` lookups.

Each channel's simulator keeps what differs: its rules, its bodies, its error envelope and
what `/content` serves. Only aiohttp, the stdlib and `vendor_base`: it must not share code
with the adapters the simulators test.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from aiohttp import web

from tests.sim import vendor_base as vb
from tests.sim.vendor_base import RecordedRequest


class ApiyiChannelSimulator(vb.VendorSimulator):
    """The machinery of an apiyi channel; subclasses give the rules and the bodies.

    Their tasks have `fail` and `fail_body` (the fields a failed status answer adds).
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.content_errors: deque[vb.ScriptedResponse] = deque()
        self._fail_next: dict[str, Any] | None = None

    async def start(self) -> str:
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_post("/v1/videos", self._submit)
        app.router.add_get("/v1/videos/{task_id}", self._status)
        app.router.add_get("/v1/videos/{task_id}/content", self._content)
        self._add_routes(app)
        (self.base_url,) = await self._serve(app)
        return self.base_url

    def _add_routes(self, app: web.Application) -> None:
        """The routes a channel has beyond the three (none by default)."""

    # -- knobs ----------------------------------------------------------------------------

    script_next_submit = vb.VendorSimulator.fail_next_submit_with
    queue_content_error = vb.script_knob(
        "content_errors", "Served before normal `/content` answers."
    )

    def _fail_with(self, body: dict[str, Any], task_id: str | None) -> None:
        """The task (without id: the next one submitted) ends `failed`, its answer
        carrying `body`."""
        if task_id is None:
            self._fail_next = body
        else:
            task = self.tasks[task_id]
            task.fail, task.fail_body = True, body

    def gets(self, suffix: str = "") -> list[RecordedRequest]:
        return self._requests_where("GET", suffix=suffix)

    # -- handlers -------------------------------------------------------------------------

    def _not_found(self) -> web.Response:
        """The channel's answer for a task id it never gave."""
        raise NotImplementedError

    def _task_body(self, task: Any) -> dict[str, Any]:
        raise NotImplementedError

    def _register(self, task: Any) -> None:
        """Keep a new task, failing it if `make_task_fail` asked that of the next one."""
        if self._fail_next is not None:
            task.fail, task.fail_body, self._fail_next = True, self._fail_next, None
        self.tasks[task.id] = task

    async def _task_for(
        self, request: web.Request, script: deque[vb.ScriptedResponse], delay: float = 0.0
    ) -> tuple[Any, web.StreamResponse | None]:
        """The gate, then the task the path names: (task, None), or (None, the answer to
        give instead)."""
        _, early = await self._gate(request, script, delay)
        if early is not None:
            return None, early
        task = self.tasks.get(request.match_info["task_id"])
        if task is None:
            return None, self._not_found()
        return task, None

    async def _status(self, request: web.Request) -> web.StreamResponse:
        task, early = await self._task_for(request, self.status_errors, self.delay_status)
        if early is not None:
            return early
        return web.json_response(self._task_body(task))

    async def _content(self, request: web.Request) -> web.StreamResponse:
        task, early = await self._task_for(request, self.content_errors)
        if early is not None:
            return early
        return await self._serve_content(request, task)

    async def _serve_content(self, request: web.Request, task: Any) -> web.StreamResponse:
        """`/content` for a task that exists (past the gate and the scripted answers)."""
        raise NotImplementedError
