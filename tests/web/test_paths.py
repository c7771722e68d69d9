"""Malformed paths on the bot's web server, sent as raw HTTP (a client library would clean
them up first): every bad token or name under /files/ and /images/ answers 404, and no file
outside the served folder is ever opened or sent, not even through a link planted inside it.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.media.file_host import FileHost
from bot.web.server import WebServer
from storage import Database, JobStore, NewJob
from storage.models import StoredImage
from tests.web.test_server import Clock

SECRET = b"\0\0\0\x18ftypisom-SECRET-outside-the-served-folder"
VIDEO = b"\0\0\0\x18ftypisom-the-published-video"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16
IMAGE_TOKEN = "Zm9vYmFyYmF6cXV4LXRlc3QtdG9rZW4x"  # shaped like secrets.token_urlsafe(24)

# Files opened while a test records (the audit hook is process-wide and cannot be removed:
# it does nothing unless a list is set here).
_opened: list[str] | None = None


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _opened is not None and event == "open" and isinstance(args[0], str | bytes):
        _opened.append(os.path.realpath(os.fsdecode(args[0])))


sys.addaudithook(_audit)


@dataclass
class Env:
    server: WebServer
    root: Path
    outside: Path  # the test's folder, which holds the served one and the secret
    token: str  # the published file's
    name: str

    async def get(self, path: bytes) -> tuple[int, bytes]:
        """Send `path` as is in a GET; the status code and the body."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.server.port)
        writer.write(b"GET " + path + b" HTTP/1.1\r\nHost: bot\r\nConnection: close\r\n\r\n")
        await writer.drain()
        answer = await reader.read()
        writer.close()
        await writer.wait_closed()
        head, _, body = answer.partition(b"\r\n\r\n")
        return int(head.split(b" ", 2)[1]), body


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    clock = Clock()
    root = tmp_path / "served"
    files = FileHost(
        root, public_url="https://bot.example", retention=3600, max_bytes=10**6, clock=clock
    )
    (tmp_path / "secret.mp4").write_bytes(SECRET)
    source = tmp_path / "video.mp4"
    source.write_bytes(VIDEO)
    url = files.publish(source, "veo-job-1.mp4")
    assert url is not None
    token, name = url.rsplit("/", 2)[-2:]
    # What a careless operator or another program could leave in the served folder.
    (root / token / ".secret.mp4").write_bytes(SECRET)
    (root / token / "link.mp4").symlink_to(tmp_path / "secret.mp4")
    (root / ("a" * 32)).symlink_to(tmp_path, target_is_directory=True)
    db = await Database.open(tmp_path / "veo.sqlite3")
    store = JobStore(db, clock=clock)
    job = await store.create(
        NewJob(1, 2, 3, "{}", "yelinai", "veo3", 10, "2026-11-22"),
        [StoredImage("cat.png", "image/png", PNG)],
        daily_limit=5,
        max_active=5,
    )
    await store.publish_images(job.id, [IMAGE_TOKEN], clock.now + 600)
    server = WebServer(
        store,
        lambda: None,
        host="127.0.0.1",
        port=0,
        public_url="https://bot.example",
        image_ttl=600,
        files=files,
    )
    await server.start()
    try:
        yield Env(server, root, tmp_path, token, name)
    finally:
        await server.close()
        await db.close()


# {T}: the valid token, {N}: the valid name; each case breaks one of them.
BAD = {
    "nul in the name": "/files/{T}/{N}%00",
    "nul in the token": "/files/{T}%00/{N}",
    "nul alone": "/files/%00/%00",
    "newline": "/files/{T}/{N}%0a",
    "carriage return": "/files/{T}%0d/{N}",
    "escape": "/files/{T}/%1b{N}",
    "delete": "/files/{T}/{N}%7f",
    "tab": "/files/{T}/%09{N}",
    "dot dot name": "/files/{T}/..",
    "dot dot token": "/files/../{N}",
    "escaped dot dot": "/files/{T}/%2e%2e",
    "dot dot and slash": "/files/{T}/..%2f..%2fsecret.mp4",
    "escaped slashes": "/files/{T}/%2e%2e%2f%2e%2e%2fsecret.mp4",
    "absolute name": "/files/{T}/%2ftmp%2fsecret.mp4",
    "dot token": "/files/./{N}",
    "dot-file": "/files/{T}/.secret.mp4",
    "dot-prefixed token": "/files/.{T}/{N}",
    "backslashes": "/files/{T}/..%5c..%5csecret.mp4",
    "raw backslash": "/files/{T}/..\\secret.mp4",
    "very long name": "/files/{T}/" + "a" * 4000 + ".mp4",
    "very long token": "/files/" + "A" * 4000 + "/{N}",
    "long name below the file system's limit": "/files/{T}/" + "a" * 200 + ".mp4",
    "non-utf-8 escape": "/files/{T}/%ff%fe.mp4",
    "overlong utf-8 dots": "/files/{T}/%c0%ae%c0%ae%c0%afsecret.mp4",
    "encoded surrogate": "/files/{T}/%ed%a0%80.mp4",
    "lone percent": "/files/{T}/%",
    "empty token": "/files//{N}",
    "empty name": "/files/{T}/",
    "empty middle segment": "/files/{T}//{N}",
    "fullwidth dots": "/files/{T}/%ef%bc%8e%ef%bc%8e",
    "right-to-left override": "/files/{T}/%e2%80%ae4pm.{N}",
    "zero-width space after the token": "/files/{T}%e2%80%8b/{N}",
    "non-breaking space in the name": "/files/{T}/{N}%c2%a0",
    "accented name": "/files/{T}/veo-j%c3%b3b-1.mp4",
    "symlink to a file outside": "/files/{T}/link.mp4",
    "symlinked token folder": "/files/" + "a" * 32 + "/secret.mp4",
    "the token folder itself": "/files/{T}/.",
    "a subfolder as the name": "/files/{N}/{T}",
}


def bad_path(label: str, route: str, token: str, name: str) -> bytes:
    """The BAD case `label` under `route` ("files" or "images"), from its valid parts."""
    path = BAD[label].replace("/files/", f"/{route}/", 1)
    return path.replace("{T}", token).replace("{N}", name).encode()


@pytest.mark.parametrize("label", list(BAD))
async def test_a_bad_file_path_answers_404_and_opens_nothing_outside(env: Env, label: str) -> None:
    global _opened
    _opened = []
    try:
        status, body = await env.get(bad_path(label, "files", env.token, env.name))
    finally:
        opened, _opened = _opened, None
    assert status == 404, (label, status, body[:200])
    assert SECRET not in body and VIDEO not in body
    # (Python itself may open a module on the way: only this test's files count.)
    ours = [p for p in opened if p.startswith(str(env.outside.resolve()) + os.sep)]
    assert [p for p in ours if not p.startswith(str(env.root.resolve()) + os.sep)] == []


@pytest.mark.parametrize("label", list(BAD))
async def test_a_bad_image_path_answers_404(env: Env, label: str) -> None:
    status, body = await env.get(bad_path(label, "images", IMAGE_TOKEN, "cat.png"))
    assert status == 404, (label, status, body[:200])
    assert PNG not in body


async def test_the_good_paths_are_served(env: Env) -> None:
    """The cases above fail for the right reason: their valid parts do serve."""
    status, body = await env.get(f"/files/{env.token}/{env.name}".encode())
    assert (status, body) == (200, VIDEO)
    status, body = await env.get(f"/images/{IMAGE_TOKEN}/cat.png".encode())
    assert (status, body) == (200, PNG)


@pytest.mark.parametrize(
    "path",
    [b"/files/{T}/a\x01b", b"/files/{T}/a b", b"/files/{T}/\xff", b"/files/" + b"a" * 9000],
    ids=["raw control byte", "raw space", "raw non-ascii byte", "longer than a request line"],
)
async def test_requests_that_are_not_http_are_refused_before_any_route(
    env: Env, path: bytes
) -> None:
    status, body = await env.get(path.replace(b"{T}", env.token.encode()))
    assert status == 400 and VIDEO not in body and SECRET not in body
