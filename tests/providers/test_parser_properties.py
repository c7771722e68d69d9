"""Property-based tests: random and malformed vendor answers against every adapter's parsing.

Product rule: whatever a vendor sends back, an adapter call ends in a valid value (a task
id, a TaskStatus with a known state, a downloaded file) or in our own ProviderError whose
member sentence is non-empty and free of the API key. Never another exception type, never
a call that does not finish (a stuck job).

Two layers:
- the pure wire parsers (`parse_task`, `parse_error`, `parse_envelope`, ...) are fed bytes
  directly: they promise to be total;
- the adapters themselves run against one real aiohttp server on 127.0.0.1 per module,
  which answers each request with the hypothesis-drawn status code, body, content type and
  Retry-After. Each example builds a fresh adapter on a shared session and event loop
  (hypothesis cannot drive async tests, so every example runs on that loop synchronously).

No request ever leaves 127.0.0.1: the session's resolver refuses every host name and its
socket factory every address but 127.0.0.1, so a random result URL fails like an unknown
or unreachable host would, without a DNS query or a packet out.

The bugs found are kept at the end of this file, one test per bug with its minimal
input: as strict xfails while open, as plain regression tests once fixed (the main
properties then draw those inputs too).
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import socket
import string
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis.strategies import SearchStrategy

from bot.chat.failures import error_text, failure_text
from bot.providers.apixo import wire as apixo_wire
from bot.providers.apixo.adapter import ApixoProvider
from bot.providers.apixo.catalog import FAST, fail_kind
from bot.providers.apiyi import legacy_wire as apiyi_legacy_wire
from bot.providers.apiyi import wire as apiyi_wire
from bot.providers.apiyi.adapter import ApiyiProvider
from bot.providers.base import (
    FetchedVideo,
    InputImage,
    Mode,
    ProviderError,
    SubmitRequest,
    TaskState,
    TaskStatus,
)
from bot.providers.http import member_safe, retry_after
from bot.providers.veo3o1 import wire as veo3o1_wire
from bot.providers.veo3o1.adapter import Veo3o1Provider
from bot.providers.veo3o1.catalog import MODEL as VEO3O1_MODEL
from bot.providers.yelinai import wire as yelinai_wire
from bot.providers.yelinai.adapter import YelinaiProvider
from tests.chat.test_sentences import SENTENCES
from tests.net import free_port

T = TypeVar("T")

# Hypothesis reprs these nested strategies when it explains a failure; that is fine.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Generating overly large repr:hypothesis.errors.HypothesisWarning"
)

SENTINEL = "sk-SENTINEL-123"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
# Placeholders in drawn bodies, replaced per run: our server's /cdn, and a closed port.
CDN = "@CDN@"
DEAD = "@DEAD@"
# An adapter call that has not ended after this long is a stuck job (the adapters' own
# timeouts below are shorter, and the server always answers at once).
STUCK_AFTER = 15.0

FAST_SETTINGS = settings(
    max_examples=100,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PURE_SETTINGS = FAST_SETTINGS
# Downloads: each example makes two or three exchanges.
FETCH_SETTINGS = settings(FAST_SETTINGS, max_examples=75)
# Anything-goes answers: mostly unreadable, so fewer examples cover them.
ANY_SETTINGS = settings(FAST_SETTINGS, max_examples=60)
# Narrow input spaces (task ids).
NARROW_SETTINGS = settings(FAST_SETTINGS, max_examples=40)


# -- strategies -----------------------------------------------------------------------------

# Every field name the five vendors use, so random objects often hit a real field.
KEYS = (
    "id task_id taskId uuid status state code msg message data error error_code errorMessage "
    "error_message details field reason success progress estimatedTime resultJson resultUrls "
    "failCode failMsg fail_reason failure_reason completeTime createTime costTime url videoUrl "
    "video_url upstreamData upstreamStatus retryCount maxRetries result type object model "
    "imageUrl imageKey required current pollingUrl created duration resolution"
).split()

WORDS = [
    "",
    " ",
    "null",
    "queued",
    "in_progress",
    "processing",
    "PROCESSING ",
    "completed",
    "failed",
    "pending",
    "success",
    "Success",
    "ok",
    "image_downloading",
    "video_generating",
    "rendering",
    SENTINEL,
    f"Invalid API key: {SENTINEL}",
    f"Bearer {SENTINEL}",
    "http://",
    "https://",
    "<html><body>502 Bad Gateway</body></html>",
    '{"a":',
    "CONTENT_VIOLATION",
    "NSFW_DETECTED",
    "INSUFFICIENT_CREDITS",
    "QUOTA_EXCEEDED",
    "TASK_NOT_FOUND",
    "INVALID_PROMPT",
    "video_not_ready",
    "video_not_found",
    "insufficient_quota",
    "invalid_api_key",
    "parse_request_failed",
    "unsafe content detected",
    "image download failed",
    "1000",
    "5000",
    "200",
    "\x00",
    "veo3:0c3e5f",
    "a/b?c#d",
    "%2F..%00",
    "..",
    "ü🎬",
    "x" * 200,
    "http://[",
]
TEXT = st.one_of(st.sampled_from(WORDS), st.text(max_size=16))
# JSON puts no limit on digits: now and then an int far past float's range.
HUGE = st.sampled_from([10**400, -(10**400)])
INTS = st.one_of(st.integers(min_value=-(2**70), max_value=2**70), HUGE)
SCALARS = st.one_of(st.none(), st.booleans(), INTS, st.floats(), TEXT)
JSON: SearchStrategy[Any] = st.recursive(
    SCALARS,
    lambda kids: st.one_of(
        st.lists(kids, max_size=4),
        # Lists of pairs, not st.dictionaries: no uniqueness filter to pay for.
        st.lists(
            st.tuples(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), kids), max_size=5
        ).map(dict),
    ),
    max_leaves=12,
)
# Smaller, for one field of a shaped answer (keeps generation cheap).
JUNK: SearchStrategy[Any] = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=2),
    st.lists(st.tuples(st.sampled_from(KEYS), SCALARS), max_size=2).map(dict),
)

# Result links: ours (served), a closed port, relative, malformed, or random.
URLS = st.one_of(
    st.sampled_from(
        [
            f"{CDN}/v.mp4",
            f"{CDN}/a%20b.mp4?sig=x&exp=1",
            f"{CDN}/../v.mp4",
            f"{DEAD}/v.mp4",
            "/cdn/relative.mp4",
            "cdn/relative.mp4",
            "//cdn.invalid/v.mp4",
            "http://",
            "https://",
            "http:///v.mp4",
            "http://[",
            "https://[::1",
            "http://127.0.0.1:99999/v.mp4",
            "http://exa mple.invalid/v.mp4",
            "https://exämple.invalid/v.mp4",
            "ftp://cdn.invalid/v.mp4",
            "javascript:alert(1)",
            " https://cdn.invalid/v.mp4 ",
            "",
            " ",
        ]
    ),
    st.text(max_size=16).map(lambda s: f"{CDN}/{s}"),
    st.text(max_size=16).map(lambda s: f"https://{s}"),
    TEXT,
)
TASK_IDS = st.one_of(
    st.sampled_from(["task_1", "video_68e5f", "veo3:1c4d-ab", "  padded  ", "a/b", "..", "%41"]),
    st.text(min_size=1, max_size=30),
    st.integers(min_value=-(10**9), max_value=10**18),
)


def word(*documented: str) -> SearchStrategy[str]:
    """Mostly one of the documented words, else any text."""
    return st.one_of(st.sampled_from(documented), st.sampled_from(documented), TEXT)


def mostly(usual: SearchStrategy[Any], rare: SearchStrategy[Any]) -> SearchStrategy[Any]:
    return st.one_of(usual, usual, usual, rare)


# A field's fate in a bent object: mostly as documented (what shrinking goes back to).
_FATE = st.sampled_from(("good",) * 10 + ("junk", "missing"))
_EXTRA = st.sampled_from((False, False, False, True))


def obj(**fields: SearchStrategy[Any]) -> SearchStrategy[dict[str, Any]]:
    """The documented object, bent: each field usually as documented, sometimes another
    JSON type, sometimes missing; now and then an unknown field more."""

    @st.composite
    def bent(draw: st.DrawFn) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if draw(_EXTRA):
            out[draw(st.text(max_size=6))] = draw(JUNK)
        for key, good in fields.items():
            fate = draw(_FATE)
            if fate == "good":
                out[key] = draw(good)
            elif fate == "junk":
                out[key] = draw(JUNK)
        return out

    return bent()


def _encode(value: object, how: str) -> bytes:
    if how == "utf8":
        return json.dumps(value, ensure_ascii=False).encode()
    if how == "utf16":
        return json.dumps(value).encode("utf-16")
    if how == "bom":
        return b"\xef\xbb\xbf" + json.dumps(value).encode()
    if how == "pretty":
        return json.dumps(value, indent=2).encode()
    return json.dumps(value).encode()


NON_JSON = st.one_of(
    st.sampled_from(
        [
            b"",
            b" \n",
            b"null",
            b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head></html>",
            b"<html><body><h1>403 Forbidden</h1>cloudflare</body></html>",
            b"Internal Server Error",
            b"upstream connect error or disconnect/reset before headers",
            b'{"code": 200, "data": {"taskId": "abc"',
            b'{"error": {"message": "bad key ' + SENTINEL.encode() + b'"',
            b"\xff\xfe\x00garbage",
            b"\x00\x00\x00\x00",
            b"\xef\xbb\xbf",
            b"NaN",
            b"[]",
            b'"just a string"',
            b"data: {}\n\n",
            b"[" * 5000,  # nested past json's recursion limit
            b"[" * 3000 + b"]" * 3000,
        ]
    ),
    st.binary(max_size=64),
    TEXT.map(str.encode),
)


def bodies(shaped: SearchStrategy[Any]) -> SearchStrategy[bytes]:
    """Mostly a vendor-shaped JSON answer; else one in another encoding (UTF-16, BOM,
    raw UTF-8, pretty), any JSON, garbage, or a shaped answer cut short."""
    plain = st.builds(_encode, shaped, st.just("ascii"))
    other = st.builds(_encode, shaped, st.sampled_from(["utf8", "utf16", "bom", "pretty"]))
    return st.one_of(
        plain,
        plain,
        plain,
        plain,
        other,
        st.builds(_encode, JSON, st.just("ascii")),
        NON_JSON,
        st.builds(lambda b, n: b[:n], plain, st.integers(min_value=0, max_value=120)),
    )


# -- what each vendor documents (then bent) -------------------------------------------------

APIYI_ERROR = st.one_of(
    obj(error=obj(message=TEXT, type=TEXT, code=TEXT)),
    obj(error=TEXT, code=TEXT, type=TEXT),
    obj(message=TEXT, code=TEXT),
)
APIYI_TASK = obj(
    id=TASK_IDS,
    task_id=TASK_IDS,
    object=st.just("video"),
    model=st.just("veo-3.1-fast-generate-preview"),
    status=word("queued", "in_progress", "processing", "completed", "failed"),
    progress=mostly(st.sampled_from([0, 50, 100]), st.sampled_from(["50", "50%", "half", ""])),
    created_at=INTS,
    completed_at=INTS,
    error=st.one_of(TEXT, obj(message=TEXT, type=TEXT, code=TEXT)),
    fail_reason=TEXT,
    failure_reason=TEXT,
    error_message=TEXT,
    message=TEXT,
)
APIYI_SHAPED = mostly(APIYI_TASK, APIYI_ERROR)
APIYI_BODIES = bodies(APIYI_SHAPED)

LEGACY_TASK = obj(
    id=TASK_IDS,
    task_id=TASK_IDS,
    object=st.just("video"),
    model=st.just("veo-3.1"),
    status=word("queued", "processing", "completed", "failed"),
    created=INTS,
    url=URLS,
    duration=st.sampled_from([8, "8", 8.0]),
    resolution=st.just("720p"),
    error=st.one_of(TEXT, obj(code=TEXT, message=TEXT, type=TEXT)),
    fail_reason=TEXT,
    error_message=TEXT,
    message=TEXT,
)
LEGACY_ERROR = obj(
    error=obj(
        code=st.sampled_from(
            ["video_not_ready", "video_not_found", "invalid_api_key", "insufficient_quota", "x"]
        ),
        message=TEXT,
        type=TEXT,
    )
)
LEGACY_SHAPED = mostly(LEGACY_TASK, LEGACY_ERROR)
LEGACY_BODIES = bodies(LEGACY_SHAPED)

APIXO_RESULT_JSON = st.one_of(
    st.builds(json.dumps, obj(resultUrls=st.one_of(st.lists(URLS, max_size=3), URLS))),
    obj(resultUrls=st.lists(URLS, max_size=3)),  # already decoded
    st.sampled_from(["", "not json", "[1, 2]", '"https://cdn.invalid/v.mp4"', "{", "null"]),
    st.builds(json.dumps, JSON),
)
APIXO_TASK = obj(
    taskId=TASK_IDS,
    state=word("pending", "processing", "success", "failed"),
    resultJson=APIXO_RESULT_JSON,
    failCode=st.one_of(st.sampled_from(["CONTENT_VIOLATION", "INSUFFICIENT_CREDITS"]), TEXT),
    failMsg=TEXT,
    createTime=st.integers(min_value=0, max_value=2 * 10**12),
    completeTime=st.one_of(st.integers(min_value=-(10**15), max_value=10**15), HUGE),
    costTime=INTS,
)
APIXO_ENVELOPE = obj(
    code=mostly(
        st.just(200),
        st.one_of(st.sampled_from([400, 401, 402, 403, 404, 429, 500, 503, "200", "500"]), INTS),
    ),
    message=TEXT,
    msg=TEXT,
    data=mostly(APIXO_TASK, obj(error=st.one_of(TEXT, obj(message=TEXT, code=TEXT)))),
    error=TEXT,
)
APIXO_BODIES = bodies(APIXO_ENVELOPE)

VEO3O1_CODES = st.one_of(
    st.sampled_from([0, 1000, 1001, 1002, 1003, 5000, "0", "1001", 0.0, 1000.5, -1, 4999]),
    st.integers(min_value=-(10**6), max_value=10**6),
)
VEO3O1_NUMBER = st.one_of(
    st.integers(min_value=-1000, max_value=1000),
    st.floats(),
    st.sampled_from(["50", "12.5", "", "n/a", "1e400", "-inf"]),
)
VEO3O1_STATUS = obj(
    uuid=TASK_IDS,
    status=word("pending", "processing", "completed", "failed"),
    videoUrl=URLS,
    progress=VEO3O1_NUMBER,
    estimatedTime=VEO3O1_NUMBER,
    error=st.one_of(TEXT, obj(message=TEXT, msg=TEXT)),
    errorMessage=TEXT,
    failReason=TEXT,
    message=TEXT,
)
VEO3O1_DATA = st.one_of(
    VEO3O1_STATUS,
    obj(uuid=TASK_IDS, status=TEXT, generationType=TEXT, aspectRatio=TEXT, createdAt=TEXT),
    obj(imageUrl=URLS, imageKey=TEXT),
    obj(required=VEO3O1_NUMBER, current=VEO3O1_NUMBER),
)
VEO3O1_SHAPED = obj(code=mostly(st.just(0), VEO3O1_CODES), msg=TEXT, data=VEO3O1_DATA)
VEO3O1_BODIES = bodies(VEO3O1_SHAPED)

YELINAI_ERROR_OBJ = obj(
    success=st.just(False),
    message=TEXT,
    error_code=st.one_of(
        st.sampled_from(["QUOTA_EXCEEDED", "TASK_NOT_FOUND", "INVALID_PROMPT", "INVALID_MODEL"]),
        TEXT,
    ),
    code=TEXT,
    details=obj(field=TEXT, reason=TEXT),
)
YELINAI_TASK = obj(
    taskId=TASK_IDS,
    pollingUrl=URLS,
    status=word("processing", "completed", "failed"),
    message=TEXT,
    upstreamData=obj(
        status=word("image_downloading", "video_generating"),
        video_generation_status=TEXT,
        error=st.one_of(TEXT, YELINAI_ERROR_OBJ),
        error_message=TEXT,
        fail_reason=TEXT,
        message=TEXT,
    ),
    progress=obj(upstreamStatus=TEXT, retryCount=INTS, maxRetries=INTS),
    result=obj(video_url=URLS, video_media_id=TEXT),
    error=st.one_of(TEXT, YELINAI_ERROR_OBJ),
    error_code=TEXT,
    error_message=TEXT,
    fail_reason=TEXT,
)
YELINAI_SHAPED = mostly(
    obj(success=st.just(True), data=YELINAI_TASK, message=TEXT), YELINAI_ERROR_OBJ
)
YELINAI_BODIES = bodies(YELINAI_SHAPED)

VIDEO_BODIES = st.one_of(
    st.binary(max_size=300),
    st.sampled_from([b"", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100, b"<html>404</html>"]),
)

STATUSES = st.one_of(
    st.just(200),
    st.sampled_from([201, 202, 204, 301, 302, 304, 400, 401, 402, 403, 404, 410, 422, 429]),
    st.sampled_from([500, 502, 503, 504]),
    # 1xx other than 101 cannot be served as a final answer (the client waits for one).
    st.just(101),
    st.integers(min_value=200, max_value=599),
)
OK_MOSTLY = st.one_of(st.just(200), st.just(200), st.just(200), STATUSES)
CONTENT_TYPES = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "APPLICATION/JSON",
            "text/html; charset=utf-8",
            "text/plain",
            "video/mp4",
            "application/octet-stream",
            "",
            "multipart/form-data; boundary=x",
        ]
    ),
    st.text(alphabet=string.ascii_letters + string.digits + "/;=-+. \t", max_size=30),
)


RETRY_AFTER = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "0",
            "1",
            "2.5",
            "-3",
            "abc",
            "",
            "nan",
            "1e3",
            " 7 ",
            "Fri, 01 Jan 2100",
            "inf",
            "-Infinity",
            "1e999",
            "1e12",
        ]
    ),
    st.text(alphabet=string.printable.strip("\r\n\x0b\x0c"), max_size=8),
)


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str | None = None
    retry_after: str | None = None


def replies(body: SearchStrategy[bytes], status: SearchStrategy[int] = OK_MOSTLY) -> Any:
    return st.builds(Reply, status, body, CONTENT_TYPES, RETRY_AFTER)


# -- the fake vendor, the loop and the session ----------------------------------------------


@dataclass
class Seen:
    method: str
    raw_path: str
    query: str
    authorization: str | None


@dataclass
class FakeVendor:
    """Answers every request with the scripted Reply of the first route whose marker is in
    the request's raw path; records what it was asked."""

    base_url: str = ""
    dead_url: str = ""
    routes: list[tuple[str, Reply]] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    last_body: bytes | None = None  # what the latest answer carried
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        # [\s\S], not ".": a task id may hold a newline (%0A).
        app.router.add_route("*", "/{tail:[\\s\\S]*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        self.dead_url = f"http://127.0.0.1:{free_port()}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def script(self, *routes: tuple[str, Reply]) -> None:
        self.routes = list(routes)
        self.seen.clear()
        self.last_body = None

    def fill(self, text: str) -> str:
        return text.replace(CDN, f"{self.base_url}/cdn").replace(DEAD, self.dead_url)

    def render(self, body: bytes) -> bytes:
        return self.fill(body.decode("latin-1")).encode("latin-1")

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        self.seen.append(
            Seen(
                request.method,
                request.raw_path.split("?", 1)[0],
                request.rel_url.raw_query_string,
                request.headers.get("Authorization"),
            )
        )
        for marker, reply in self.routes:
            if marker in request.raw_path:
                body = self.render(reply.body)
                self.last_body = body
                headers: dict[str, str] = {}
                if reply.content_type is not None:
                    headers["Content-Type"] = reply.content_type
                if reply.retry_after is not None:
                    headers["Retry-After"] = reply.retry_after
                return web.Response(status=reply.status, body=body, headers=headers)
        return web.Response(status=418, text=f"unscripted request {request.raw_path}")


class NoDNS(AbstractResolver):
    """Every host name is unknown: the tests never leave 127.0.0.1 (IP literals skip this)."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        raise OSError(f"no DNS in these tests ({host!r})")

    async def close(self) -> None:
        return None


def loopback_only(addr_info: Any) -> socket.socket:
    """Connections to 127.0.0.1 only: a random result link may be an IP literal, which
    skips the resolver."""
    family, type_, proto, _, address = addr_info
    if address[0] != "127.0.0.1":
        raise ConnectionRefusedError(f"only 127.0.0.1 in these tests, not {address[0]}")
    return socket.socket(family, type_, proto)


class Harness:
    """One event loop, one fake vendor and one session for the whole module; each example
    runs its adapter calls on that loop to completion."""

    def __init__(self, videos: Path) -> None:
        self.videos = videos
        self.loop = asyncio.new_event_loop()
        self.vendor = FakeVendor()
        self.loop.run_until_complete(self.vendor.start())
        self.session = self.loop.run_until_complete(self._open())
        self._n = 0

    @staticmethod
    async def _open() -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(resolver=NoDNS(), socket_factory=loopback_only)
        )

    def close(self) -> None:
        self.loop.run_until_complete(self.session.close())
        self.loop.run_until_complete(self.vendor.close())
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()

    def dest(self) -> Path:
        self._n += 1
        return self.videos / f"video-{self._n}.mp4"

    def run(self, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
        async def bounded() -> T:
            cm = asyncio.timeout(STUCK_AFTER)
            try:
                async with cm:
                    return await make()
            except TimeoutError:
                if cm.expired():
                    raise AssertionError("the adapter call never ended (a stuck job)") from None
                raise

        return self.loop.run_until_complete(bounded())

    def attempt(self, make: Callable[[], Coroutine[Any, Any, T]]) -> T | ProviderError:
        """The call's value, or the ProviderError it raised (checked). Anything else
        propagates and fails the example."""
        try:
            value = self.run(make)
        except ProviderError as exc:
            check_error(exc)
            _event(f"{type(exc).__name__}/{exc.code}")
            return exc
        _event(f"{value.state}" if isinstance(value, TaskStatus) else type(value).__name__)
        return value


def _event(text: str) -> None:
    """How examples ended, for --hypothesis-show-statistics (only inside a @given test)."""
    if currently_in_test_context():
        event(text)


@pytest.fixture(scope="module")
def h(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    harness = Harness(tmp_path_factory.mktemp("videos"))
    yield harness
    harness.close()


def kw(h: Harness) -> dict[str, Any]:
    return {
        "api_key": SENTINEL,
        "session": h.session,
        "request_timeout": 5.0,
        "download_read_timeout": 5.0,
    }


# -- the contract ---------------------------------------------------------------------------


def check_error(exc: ProviderError) -> None:
    # The member's sentence is one of ours (a known key), quoting at most a vendor's words
    # that passed member_safe: no link, no markup, no raw JSON.
    assert exc.say.key in SENTENCES, exc.say
    told = error_text(exc)
    assert told.strip(), exc
    for text in (str(exc), told, exc.detail or ""):
        assert SENTINEL not in text, f"the API key leaked: {text!r}"
    assert not any(mark in told.lower() for mark in ("http", "<", "{", "sk-")), told
    assert isinstance(exc.code, str) and exc.code
    assert isinstance(exc.retryable, bool)
    if exc.retry_after is not None:
        assert math.isfinite(exc.retry_after) and exc.retry_after >= 0, exc.retry_after


def check_status(status: TaskStatus, *, gives_url: bool) -> None:
    assert isinstance(status, TaskStatus)
    assert isinstance(status.state, TaskState)
    if status.progress is not None:
        assert isinstance(status.progress, int) and 0 <= status.progress <= 100
    code = status.error_code or ""
    told = failure_text(code, status.error_say.failure(code).params) if status.error_say else None
    for text in (status.stage, status.error_code, told, status.result_url):
        assert text is None or isinstance(text, str)
        assert SENTINEL not in (text or ""), f"the API key leaked: {text!r}"
    for number in (status.url_expires_at, status.eta_seconds):
        assert number is None or math.isfinite(number)
    if status.eta_seconds is not None:
        assert status.eta_seconds >= 0
    if status.state is TaskState.FAILED:
        assert status.error_say is not None and status.error_say.key in SENTENCES
        assert told and told.strip()
        assert status.error_code and status.error_code.strip()
        assert "http" not in told.lower()
    if status.result_url is not None:
        assert status.result_url.startswith(("http://", "https://")), status.result_url
    if status.state is TaskState.SUCCEEDED and gives_url:
        assert status.result_url, "a success without a link to fetch"


def check_task_id(task_id: object) -> str:
    # Not blank, and text SQLite can store and a URL can carry.
    assert isinstance(task_id, str) and task_id.strip(), repr(task_id)
    assert _encodable(task_id), repr(task_id)
    return task_id


def check_fetch(h: Harness, result: FetchedVideo | ProviderError, dest: Path) -> None:
    if isinstance(result, ProviderError):
        assert not dest.exists(), "a failed download left a file behind"
        return
    assert isinstance(result, FetchedVideo)
    assert result.path == dest and dest.exists()
    data = dest.read_bytes()
    # A download is the last exchange of a fetch that succeeds.
    assert data == h.vendor.last_body, "the saved file is not what was served"
    assert result.size == len(data)
    if result.url is not None:
        assert result.url.startswith(("http://", "https://"))
    dest.unlink()


def no_key_off_host(h: Harness) -> None:
    """The key travels only to the API routes, never to the result host."""
    for seen in h.vendor.seen:
        if seen.raw_path.startswith("/cdn"):
            assert seen.authorization is None, seen


# -- the adapters, as the generic properties see them ---------------------------------------


@dataclass
class Adapter:
    name: str
    make: Callable[[Harness], Any]
    model: str
    gives_url: bool
    # The vendor's documented answers, bent (see obj()).
    shaped: SearchStrategy[Any]
    # A status answer every adapter reads as "still working", for the round trip.
    running_body: bytes
    # Where the task id travels: the last path segment, or this query parameter.
    id_query: str | None = None

    def __repr__(self) -> str:
        return self.name

    def submit_request(self) -> SubmitRequest:
        return SubmitRequest(model=self.model, prompt="a lighthouse at dusk")

    @functools.cached_property
    def bodies(self) -> SearchStrategy[bytes]:
        return bodies(self.shaped)


ADAPTERS = [
    Adapter(
        "apiyi",
        lambda h: ApiyiProvider(base_url=h.vendor.base_url, **kw(h)),
        "veo-3.1-fast-generate-preview",
        False,
        APIYI_SHAPED,
        b'{"id": "t", "status": "in_progress"}',
    ),
    Adapter(
        "apiyi_legacy",
        lambda h: ApiyiProvider(base_url=h.vendor.base_url, **kw(h)),
        "veo-3.1",
        False,
        LEGACY_SHAPED,
        b'{"id": "t", "status": "processing"}',
    ),
    Adapter(
        "apixo",
        lambda h: ApixoProvider(base_url=h.vendor.base_url, **kw(h)),
        FAST,
        True,
        APIXO_ENVELOPE,
        b'{"code": 200, "data": {"taskId": "t", "state": "processing"}}',
        id_query="taskId",
    ),
    Adapter(
        "veo3o1",
        lambda h: Veo3o1Provider(base_url=f"{h.vendor.base_url}/api", **kw(h)),
        VEO3O1_MODEL,
        True,
        VEO3O1_SHAPED,
        b'{"code": 0, "msg": "ok", "data": {"uuid": "t", "status": "processing"}}',
    ),
    Adapter(
        "yelinai",
        lambda h: YelinaiProvider(base_url=h.vendor.base_url, **kw(h)),
        "veo3",
        True,
        YELINAI_SHAPED,
        b'{"success": true, "data": {"taskId": "t", "status": "processing", '
        b'"upstreamData": {"status": "video_generating"}}}',
    ),
]
BY_NAME = {a.name: a for a in ADAPTERS}
# By name: hypothesis prints a failing example's arguments, and an Adapter holds strategies.
each_adapter = pytest.mark.parametrize("name", list(BY_NAME))
# A documented answer, bent, as JSON on a 2xx: what exercises the parsing itself.
DOCUMENTED = {
    a.name: st.builds(
        Reply,
        mostly(st.just(200), st.sampled_from([201, 202])),
        st.builds(_encode, a.shaped, st.just("ascii")),
        CONTENT_TYPES,
        RETRY_AFTER,
    )
    for a in ADAPTERS
}
# Anything at all: any status, other encodings, any JSON, garbage, answers cut short.
ANYTHING = {a.name: replies(a.bodies, STATUSES) for a in ADAPTERS}
# Mostly 2xx, any body: the status answers a fetch may need on the way.
MOSTLY_OK = {a.name: replies(a.bodies) for a in ADAPTERS}


# -- pure parsers: total on any bytes -------------------------------------------------------

ANY_BODY = st.one_of(
    APIYI_BODIES, LEGACY_BODIES, APIXO_BODIES, VEO3O1_BODIES, YELINAI_BODIES, NON_JSON
)


def _opt_str(value: object) -> bool:
    return value is None or isinstance(value, str)


@PURE_SETTINGS
@given(raw=st.one_of(APIYI_BODIES, ANY_BODY))
def test_apiyi_wire_parsers_are_total(raw: bytes) -> None:
    task = apiyi_wire.parse_task(raw)
    if task is not None:
        assert _opt_str(task.ref) and _opt_str(task.status)
        code, reason = task.failure_text()
        assert _opt_str(code) and _opt_str(reason)
    err = apiyi_wire.parse_error(raw)
    assert all(_opt_str(v) for v in (err.message, err.type, err.code, err.text))
    assert err.text is None or len(err.text) <= 300


@PURE_SETTINGS
@given(raw=st.one_of(LEGACY_BODIES, ANY_BODY))
def test_apiyi_legacy_wire_parsers_are_total(raw: bytes) -> None:
    task = apiyi_legacy_wire.parse_task(raw)
    if task is not None:
        assert _opt_str(task.ref) and _opt_str(task.status) and _opt_str(task.url)
        code, reason = task.failure_text()
        assert _opt_str(code) and _opt_str(reason)
    err = apiyi_legacy_wire.parse_error(raw)
    assert all(_opt_str(v) for v in (err.message, err.type, err.code, err.text))
    assert err.text is None or len(err.text) <= 300


@PURE_SETTINGS
@given(raw=st.one_of(APIXO_BODIES, ANY_BODY))
def test_apixo_wire_parsers_are_total(raw: bytes) -> None:
    task_id = apixo_wire.parse_task_id(raw)
    assert task_id is None or (isinstance(task_id, str) and task_id == task_id.strip() != "")
    code = apixo_wire.envelope_code(raw)
    assert code is None or (isinstance(code, int) and not isinstance(code, bool))
    task = apixo_wire.parse_task(raw)
    if task is not None:
        urls = task.result_urls()
        assert all(isinstance(u, str) and u == u.strip() != "" for u in urls)
        assert fail_kind(task.fail_code) in (None, *_APIXO_KINDS)
    callback = apixo_wire.parse_callback_task_id(raw)
    assert _opt_str(callback)
    err = apixo_wire.parse_error(raw)
    assert err.code is None or isinstance(err.code, int)
    assert all(_opt_str(v) for v in (err.message, err.error, err.fail_code, err.text))


_APIXO_KINDS = (
    "policy nsfw image_policy prompt_long bad_prompt image_url image_large image_format "
    "image_download timeout unavailable credits failed"
).split()


@PURE_SETTINGS
@given(code=st.one_of(st.none(), TEXT))
def test_apixo_fail_kind_is_total(code: str | None) -> None:
    assert fail_kind(code) in (None, *_APIXO_KINDS)


@PURE_SETTINGS
@given(raw=st.one_of(VEO3O1_BODIES, ANY_BODY))
def test_veo3o1_wire_parsers_are_total(raw: bytes) -> None:
    envelope = veo3o1_wire.parse_envelope(raw)
    excerpt = veo3o1_wire.excerpt(raw)
    assert excerpt is None or (isinstance(excerpt, str) and len(excerpt) <= 300)
    if envelope is None:
        return
    assert isinstance(envelope.ok, bool)
    assert envelope.code is None or isinstance(envelope.code, int)
    assert _opt_str(envelope.msg)
    status = envelope.video_status()
    if status is not None:
        percent = status.percent()
        assert percent is None or 0 <= percent <= 100
        eta = status.eta_seconds()
        assert eta is None or (math.isfinite(eta) and eta >= 0)
        assert _opt_str(status.failure_text()) and _opt_str(status.video_url)
    video = envelope.video()
    assert video is None or _opt_str(video.uuid)
    upload = envelope.upload()
    assert upload is None or _opt_str(upload.image_url)
    credits = envelope.credits()
    if credits is not None:
        for number in (credits.required, credits.current):
            assert number is None or math.isfinite(number)


@PURE_SETTINGS
@given(raw=st.one_of(YELINAI_BODIES, ANY_BODY))
def test_yelinai_wire_parsers_are_total(raw: bytes) -> None:
    success, task = yelinai_wire.parse_task(raw)
    assert success in (None, True, False)
    if task is not None:
        assert _opt_str(task.task_id) and _opt_str(task.status)
        code, reason = task.failure_text()
        assert _opt_str(code) and _opt_str(reason)
    err = yelinai_wire.parse_error(raw)
    assert all(_opt_str(v) for v in (err.message, err.code, err.field, err.reason, err.text))


@PURE_SETTINGS
@given(value=st.one_of(st.none(), RETRY_AFTER))
def test_retry_after_is_none_or_a_finite_wait(value: str | None) -> None:
    wait = retry_after({} if value is None else {"Retry-After": value})
    assert wait is None or (math.isfinite(wait) and wait >= 0)


@PURE_SETTINGS
@given(text=TEXT)
def test_member_safe_never_passes_a_key_or_a_link(text: str) -> None:
    if member_safe(text):
        lowered = text.lower()
        assert SENTINEL not in text and "http" not in lowered and "<" not in text


# -- every adapter, over HTTP: submit and status --------------------------------------------


def _holds_json_object(raw: bytes) -> bool:
    """Whether any of the adapters' two ways of reading JSON finds an object in `raw`."""
    for text in (raw, raw.decode("utf-8", errors="replace")):
        try:
            if isinstance(json.loads(text), dict):
                return True
        except (ValueError, RecursionError):
            pass
    return False


def _submit_case(h: Harness, adapter: Adapter, reply: Reply) -> None:
    note(f"answer: {reply!r}")
    h.vendor.script(("", reply))
    provider = adapter.make(h)
    result = h.attempt(lambda: provider.submit(adapter.submit_request()))
    if isinstance(result, ProviderError):
        return
    assert _holds_json_object(reply.body), "a task id made up from a body that is not JSON"
    task_id = check_task_id(result)
    # The id we handed out must be pollable as is, whatever characters it holds.
    h.vendor.script(("", Reply(200, adapter.running_body, "application/json")))
    polled = h.attempt(lambda: provider.status(task_id, adapter.model))
    assert isinstance(polled, TaskStatus) and polled.state is TaskState.RUNNING
    assert _sent_task_id(h.vendor.seen[-1], adapter) == task_id


def _status_case(h: Harness, adapter: Adapter, reply: Reply) -> None:
    note(f"answer: {reply!r}")
    h.vendor.script(("", reply))
    provider = adapter.make(h)
    result = h.attempt(lambda: provider.status("task-1", adapter.model))
    if not isinstance(result, ProviderError):
        assert _holds_json_object(reply.body), "a status made up from a body that is not JSON"
        check_status(result, gives_url=adapter.gives_url)
    # veo3o1 keeps the vendor's estimate of the time left for the scheduler.
    eta = getattr(provider, "estimated_seconds_left", lambda _task: None)("task-1")
    assert eta is None or (math.isfinite(eta) and eta >= 0), eta


def _sent_task_id(seen: Seen, adapter: Adapter) -> str:
    if adapter.id_query is not None:
        return parse_qs(seen.query, keep_blank_values=True)[adapter.id_query][0]
    return unquote(seen.raw_path.rsplit("/", 1)[1])


@each_adapter
@FAST_SETTINGS
@given(data=st.data())
def test_submit_documented_answers_bent(h: Harness, name: str, data: st.DataObject) -> None:
    """The vendor's documented submit answers (and error envelopes) with fields missing,
    mistyped or added: a usable task id, which can then be polled, or our error."""
    _submit_case(h, BY_NAME[name], data.draw(DOCUMENTED[name], label="reply"))


@each_adapter
@ANY_SETTINGS
@given(data=st.data())
def test_submit_any_answer(h: Harness, name: str, data: st.DataObject) -> None:
    """Any status code, content type, encoding or body (HTML, empty, binary, cut short):
    a task id only from a JSON object, else our error."""
    _submit_case(h, BY_NAME[name], data.draw(ANYTHING[name], label="reply"))


@each_adapter
@FAST_SETTINGS
@given(data=st.data())
def test_status_documented_answers_bent(h: Harness, name: str, data: st.DataObject) -> None:
    """The vendor's documented status answers, bent: a TaskStatus with a known state (and
    a link when the vendor gives one, a message when it failed), or our error."""
    _status_case(h, BY_NAME[name], data.draw(DOCUMENTED[name], label="reply"))


@each_adapter
@ANY_SETTINGS
@given(data=st.data())
def test_status_any_answer(h: Harness, name: str, data: st.DataObject) -> None:
    """Any status code, content type, encoding or body: a status only from a JSON object,
    else our error."""
    _status_case(h, BY_NAME[name], data.draw(ANYTHING[name], label="reply"))


@each_adapter
@NARROW_SETTINGS
@given(task_id=st.text(min_size=1, max_size=40).filter(lambda s: s not in (".", "..")))
def test_any_task_id_reaches_the_vendor_intact(h: Harness, name: str, task_id: str) -> None:
    """Task ids with odd characters (/, ?, #, %, :, spaces, control characters, emoji) are
    polled as exactly that id."""
    adapter = BY_NAME[name]
    h.vendor.script(("", Reply(200, adapter.running_body, "application/json")))
    result = h.attempt(lambda: adapter.make(h).status(task_id, adapter.model))
    assert isinstance(result, TaskStatus) and result.state is TaskState.RUNNING
    assert len(h.vendor.seen) == 1
    assert _sent_task_id(h.vendor.seen[0], adapter) == task_id


@ANY_SETTINGS
@given(upload=replies(VEO3O1_BODIES), generate=replies(VEO3O1_BODIES))
def test_veo3o1_image_submit_any_upload_and_generate_answers(
    h: Harness, upload: Reply, generate: Reply
) -> None:
    """The image path of veo3o1 is two exchanges: the upload's answer is parsed too."""
    h.vendor.script(("/upload-video-image", upload), ("/generate-video", generate))
    request = SubmitRequest(
        model=VEO3O1_MODEL,
        prompt="a lighthouse at dusk",
        mode=Mode.FIRST_FRAME,
        images=(InputImage(PNG, "image/png", "start.png"),),
    )
    result = h.attempt(lambda: BY_NAME["veo3o1"].make(h).submit(request))
    if not isinstance(result, ProviderError):
        check_task_id(result)
        assert [s.raw_path for s in h.vendor.seen] == [
            "/api/upload-video-image",
            "/api/generate-video",
        ]


# -- every adapter, over HTTP: the result ---------------------------------------------------

DOWNLOADS = replies(VIDEO_BODIES, OK_MOSTLY)
MAX_BYTES = st.integers(min_value=0, max_value=400)


@FETCH_SETTINGS
@given(download=DOWNLOADS, max_bytes=MAX_BYTES)
def test_apiyi_content_answer_is_a_file_or_our_error(
    h: Harness, download: Reply, max_bytes: int
) -> None:
    """apiyi streams the MP4 from /content: any answer there is the file or our error."""
    h.vendor.script(("/content", download))
    dest = h.dest()
    model = BY_NAME["apiyi"].model
    result = h.attempt(
        lambda: (
            BY_NAME["apiyi"]
            .make(h)
            .fetch("task-1", model, TaskStatus(TaskState.SUCCEEDED), dest, max_bytes)
        )
    )
    check_fetch(h, result, dest)


@FETCH_SETTINGS
@given(content=replies(LEGACY_BODIES), download=DOWNLOADS, max_bytes=MAX_BYTES)
def test_apiyi_legacy_content_and_link_answers(
    h: Harness, content: Reply, download: Reply, max_bytes: int
) -> None:
    """The earlier channel's /content answers JSON with a link (any link, relative or not,
    or none), then the link is downloaded."""
    h.vendor.script(("/content", content), ("/cdn", download))
    dest = h.dest()
    model = BY_NAME["apiyi_legacy"].model
    result = h.attempt(
        lambda: (
            BY_NAME["apiyi_legacy"]
            .make(h)
            .fetch("task-1", model, TaskStatus(TaskState.SUCCEEDED), dest, max_bytes)
        )
    )
    check_fetch(h, result, dest)
    no_key_off_host(h)


def _held_status(h: Harness, url: str | None) -> TaskStatus:
    return TaskStatus(TaskState.SUCCEEDED, result_url=None if url is None else h.vendor.fill(url))


# What a status of these adapters can hand to fetch: nothing, or an http(s) link.
HELD_URLS = st.one_of(
    st.none(),
    st.just(f"{CDN}/v.mp4"),
    st.sampled_from(
        [
            f"{CDN}/a%20b.mp4?sig=x&exp=1",
            f"{CDN}/../v.mp4",
            f"{DEAD}/v.mp4",
            "http://",
            "https://[::1",
            "http:///v.mp4",
            "http://127.0.0.1:99999/v.mp4",
            "http://exa mple.invalid/v.mp4",
            "https://exämple.invalid/v.mp4",
            "https://1.2.3.4:0/v.mp4",
        ]
    ),
    st.text(max_size=16).map(lambda s: f"{CDN}/{s}"),
    st.text(max_size=16).map(lambda s: f"https://{s}"),
)


@pytest.mark.parametrize("name", ["apixo", "veo3o1", "yelinai"])
@FETCH_SETTINGS
@given(data=st.data())
def test_link_vendors_fetch_any_link_and_answers(
    h: Harness, name: str, data: st.DataObject
) -> None:
    """apixo, veo3o1 and yelinai download the link the status gave (or ask the status again
    when none is held): any status answer, any link and any download answer end in the
    file or our error."""
    adapter = BY_NAME[name]
    held = data.draw(HELD_URLS, label="held url")
    status = data.draw(MOSTLY_OK[name], label="status reply")
    download = data.draw(DOWNLOADS, label="download reply")
    max_bytes = data.draw(MAX_BYTES, label="max_bytes")
    h.vendor.script(("/cdn", download), ("", status))
    dest = h.dest()
    result = h.attempt(
        lambda: adapter.make(h).fetch(
            "task-1", adapter.model, _held_status(h, held), dest, max_bytes
        )
    )
    check_fetch(h, result, dest)
    if name != "veo3o1":  # veo3o1 sends the key to its own host, which /cdn is here
        no_key_off_host(h)


# -- bugs found: one test each, with their minimal inputs ------------------------------------
#
# One test per bug, over every case it was seen in. `still_broken` runs the cases and
# raises StillBroken (the one exception the xfail accepts) when all of them still hit the
# bug. While a bug is open its test carries @bug(...), a strict xfail; once it is fixed
# everywhere the test passes, strict xfail reports that as a failure, and the marker goes
# (the test stays, as a regression test). Fixed in some cases only is a plain failure
# naming them. Any other exception is a real failure too. All the bugs below are fixed.


class StillBroken(Exception):
    """Every case of the documented bug still happens."""


def still_broken(
    kinds: tuple[type[BaseException], ...], cases: dict[str, Callable[[], object]]
) -> None:
    broken: list[str] = []
    fixed: list[str] = []
    for label, case in cases.items():
        try:
            case()
        except kinds as exc:
            broken.append(f"{label}: {type(exc).__name__}: {str(exc)[:120]}")
        else:
            fixed.append(label)
    if broken and fixed:
        raise AssertionError(f"fixed for {fixed} only; still broken: {broken}")
    if broken:
        # `from None` and a short message: the adapters' own tracebacks are long to format.
        raise StillBroken("; ".join(broken)) from None


def bug(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(strict=True, raises=StillBroken, reason=f"BUG: {reason}")


def _status_call(h: Harness, name: str, reply: Reply) -> Callable[[], object]:
    def call() -> object:
        adapter = BY_NAME[name]
        h.vendor.script(("", reply))
        return h.attempt(lambda: adapter.make(h).status("task-1", adapter.model))

    return call


DEEP = b"[" * 5000  # JSON nested ~1000 deep is enough; far under every adapter's 64 KiB cap


def test_bug_deeply_nested_json_breaks_the_parsers() -> None:
    """Fixed: json.loads raises RecursionError (a RuntimeError, not ValueError) on deeply
    nested JSON; every wire parser caught only ValueError."""
    parsers: dict[str, Callable[[bytes], object]] = {
        "apiyi.parse_task": apiyi_wire.parse_task,
        "apiyi.parse_error": apiyi_wire.parse_error,
        "apiyi_legacy.parse_task": apiyi_legacy_wire.parse_task,
        "apiyi_legacy.parse_error": apiyi_legacy_wire.parse_error,
        "apixo.parse_task": apixo_wire.parse_task,
        "apixo.parse_task_id": apixo_wire.parse_task_id,
        "apixo.parse_error": apixo_wire.parse_error,
        "apixo.envelope_code": apixo_wire.envelope_code,
        "veo3o1.parse_envelope": veo3o1_wire.parse_envelope,
        "yelinai.parse_task": yelinai_wire.parse_task,
        "yelinai.parse_error": yelinai_wire.parse_error,
    }
    still_broken(
        (RecursionError,),
        {label: functools.partial(parse, DEEP) for label, parse in parsers.items()},
    )


def test_bug_deeply_nested_status_answer(h: Harness) -> None:
    """Fixed: a deeply nested answer escaped status() as RecursionError, on a 200 and a 500."""
    still_broken(
        (RecursionError,),
        {
            f"{name} HTTP {code}": _status_call(h, name, Reply(code, DEEP, "application/json"))
            for name in BY_NAME
            for code in (200, 500)
        },
    )


BIG = str(10**400)  # a JSON integer past float's range (JSON puts no limit on digits)


def test_bug_veo3o1_huge_integer(h: Harness) -> None:
    """Fixed: veo3o1_wire._number called float() on an int past float's range; the
    OverflowError escaped the pydantic validators, parse_envelope and status()."""
    bodies = {
        "code": f'{{"code": {BIG}}}',
        "data.progress": f'{{"code": 0, "data": {{"status": "processing", "progress": {BIG}}}}}',
        "data.estimatedTime": (
            f'{{"code": 0, "data": {{"status": "processing", "estimatedTime": {BIG}}}}}'
        ),
    }
    still_broken(
        (OverflowError,),
        {
            label: _status_call(h, "veo3o1", Reply(200, body.encode(), "application/json"))
            for label, body in bodies.items()
        },
    )


def test_bug_apixo_huge_complete_time(h: Harness) -> None:
    """Fixed: apixo._expiry divided completeTime by 1000.0; an int past float's range raised
    OverflowError from status() on a success."""
    body = (
        '{"code": 200, "data": {"taskId": "t", "state": "success", '
        '"resultJson": "{\\"resultUrls\\": [\\"https://cdn.invalid/v.mp4\\"]}", '
        f'"completeTime": {BIG}}}}}'
    )
    reply = Reply(200, body.encode(), "application/json")
    still_broken((OverflowError,), {"completeTime": _status_call(h, "apixo", reply)})


def test_bug_yelinai_unparsable_video_url(h: Harness) -> None:
    """Fixed: yelinai._to_status called urllib.parse.urlsplit() on result.video_url unguarded;
    'http://[' raised ValueError('Invalid IPv6 URL') from status()."""
    body = (
        b'{"success": true, "data": {"status": "completed", "result": {"video_url": "http://["}}}'
    )
    reply = Reply(200, body, "application/json")
    still_broken((ValueError,), {"video_url": _status_call(h, "yelinai", reply)})


def _finite_wait(value: str) -> Callable[[], None]:
    def check() -> None:
        wait = retry_after({"Retry-After": value})
        assert wait is None or math.isfinite(wait), wait

    return check


def test_bug_retry_after_infinite() -> None:
    """Fixed: http.retry_after returned inf for 'inf', 'Infinity' or '1e999'; the manager then
    set next_poll_at = now + inf and never picked the job up again (a stuck job)."""
    still_broken(
        (AssertionError,), {value: _finite_wait(value) for value in ("inf", "Infinity", "1e999")}
    )


def test_bug_retry_after_infinite_on_429(h: Harness) -> None:
    """Fixed: an infinite Retry-After on a 429 reached ProviderError.retry_after in every
    adapter."""
    reply = Reply(429, b"", "text/plain", retry_after="inf")
    still_broken((AssertionError,), {name: _status_call(h, name, reply) for name in BY_NAME})


LONE = "\\ud800"  # a JSON escape for a lone surrogate: valid JSON, not encodable text


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def test_bug_lone_surrogate_in_submit_answer(h: Harness) -> None:
    """Fixed: a task id holding a lone surrogate (JSON '\\ud800') was returned by submit() as
    is; it cannot be encoded to UTF-8, so SQLite refuses to store it (and quote() to build
    the status URL from it)."""
    bodies = {
        "apiyi": f'{{"id": "t{LONE}", "status": "queued"}}',
        "apiyi_legacy": f'{{"id": "t{LONE}", "status": "queued"}}',
        "apixo": f'{{"code": 200, "data": {{"taskId": "t{LONE}"}}}}',
        "veo3o1": f'{{"code": 0, "data": {{"uuid": "t{LONE}"}}}}',
        "yelinai": f'{{"success": true, "data": {{"taskId": "t{LONE}"}}}}',
    }

    def submit(name: str) -> Callable[[], None]:
        def call() -> None:
            adapter = BY_NAME[name]
            h.vendor.script(("", Reply(200, bodies[name].encode(), "application/json")))
            task_id = h.attempt(lambda: adapter.make(h).submit(adapter.submit_request()))
            assert not isinstance(task_id, str) or _encodable(task_id), repr(task_id)

        return call

    still_broken((AssertionError,), {name: submit(name) for name in BY_NAME})


def test_bug_lone_surrogate_in_status_word(h: Harness) -> None:
    """Fixed: an unknown status word holding a lone surrogate became TaskStatus.stage as is;
    SQLite cannot store it."""
    bodies = {
        "apiyi": f'{{"id": "t", "status": "x{LONE}"}}',
        "apiyi_legacy": f'{{"id": "t", "status": "x{LONE}"}}',
        "apixo": f'{{"code": 200, "data": {{"taskId": "t", "state": "x{LONE}"}}}}',
        "veo3o1": f'{{"code": 0, "data": {{"uuid": "t", "status": "x{LONE}"}}}}',
        "yelinai": f'{{"success": true, "data": {{"taskId": "t", "status": "x{LONE}"}}}}',
    }

    def poll(name: str) -> Callable[[], None]:
        def call() -> None:
            reply = Reply(200, bodies[name].encode(), "application/json")
            status = _status_call(h, name, reply)()
            assert isinstance(status, TaskStatus), status
            assert _encodable(status.stage or ""), repr(status.stage)

        return call

    still_broken((AssertionError,), {name: poll(name) for name in BY_NAME})


def test_bug_blank_task_id(h: Harness) -> None:
    """Fixed: apiyi, apiyi_legacy and veo3o1 accepted a blank task id (' ') from a submit
    answer; apixo and yelinai treat it as no task id (ProviderTimeout no_task_id), which is
    what the job manager needs to know the submit's fate is uncertain."""
    bodies = {
        "apiyi": '{"id": " ", "status": "queued"}',
        "apiyi_legacy": '{"id": " ", "status": "queued"}',
        "veo3o1": '{"code": 0, "data": {"uuid": " ", "status": "pending"}}',
    }

    def submit(name: str) -> Callable[[], None]:
        def call() -> None:
            adapter = BY_NAME[name]
            h.vendor.script(("", Reply(200, bodies[name].encode(), "application/json")))
            task_id = h.attempt(lambda: adapter.make(h).submit(adapter.submit_request()))
            assert not isinstance(task_id, str) or task_id.strip(), repr(task_id)

        return call

    still_broken((AssertionError,), {name: submit(name) for name in bodies})


ESCAPED_KEY = "".join(f"\\u{ord(c):04x}" for c in SENTINEL)  # "\\u0073\\u006b..."


def test_bug_json_escaped_key_is_not_redacted(h: Harness) -> None:
    """Fixed: read_capped() redacts the key's raw bytes only; JSON-escaped (\\u0073\\u006b...)
    it passes, and json.loads turns it back into the key: apixo's failCode became
    TaskStatus.error_code (logged, stored, counted in stats), and result links carried it.
    Each adapter now scrubs what it keeps of a body after parsing it."""
    link = f"https://cdn.invalid/v.mp4?k={ESCAPED_KEY}"
    cases = {
        "apixo failCode": (
            "apixo",
            f'{{"code": 200, "data": {{"taskId": "t", "state": "failed", '
            f'"failCode": "{ESCAPED_KEY}"}}}}',
        ),
        "apixo resultUrls": (
            "apixo",
            '{"code": 200, "data": {"taskId": "t", "state": "success", "resultJson": '
            + json.dumps(json.dumps({"resultUrls": ["@LINK@"]}))
            + "}}",
        ),
        "veo3o1 videoUrl": (
            "veo3o1",
            f'{{"code": 0, "data": {{"uuid": "t", "status": "completed", "videoUrl": "{link}"}}}}',
        ),
        "apiyi_legacy url": (
            "apiyi_legacy",
            f'{{"id": "t", "status": "completed", "url": "{link}"}}',
        ),
    }

    def poll(name: str, body: str) -> Callable[[], None]:
        def call() -> None:
            reply = Reply(200, body.replace("@LINK@", link).encode(), "application/json")
            status = _status_call(h, name, reply)()
            assert isinstance(status, TaskStatus), status
            assert SENTINEL not in repr(status), status

        return call

    still_broken((AssertionError,), {label: poll(*case) for label, case in cases.items()})


def test_retry_after_is_capped() -> None:
    """A finite but absurd Retry-After parks a job just the same: it is capped (an hour)."""
    for value in ("1e12", "99999999", "1e308"):
        wait = retry_after({"Retry-After": value})
        assert wait is not None and 0 <= wait <= 3600, (value, wait)
    assert retry_after({"Retry-After": "30"}) == 30.0


# -- one unreadable field the adapter does not need -----------------------------------------
#
# Reported: one field the adapter does not even use (apiyi `"progress": "100%"`, legacy
# `"created": "2025-01-01"`, apixo `"costTime": 1.5`, yelinai `progress.retryCount: "one"`)
# made the whole status unreadable: ProviderUnavailable(bad_answer) on every poll, and a
# finished, paid task failed at its deadline. Such fields now read as absent.


@dataclass(frozen=True)
class Spare:
    """A status answer the adapter reads as `state`, and the paths of the fields in it the
    adapter can do without."""

    body: dict[str, Any]
    fields: tuple[tuple[str, ...], ...]
    state: TaskState


_LINK = "https://cdn.invalid/v.mp4"
SPARE = {
    "apiyi": Spare(
        {"id": "t", "task_id": "t", "status": "completed"},
        tuple(
            (k,)
            for k in ("id", "task_id", "object", "model", "progress", "created_at", "completed_at")
        ),
        TaskState.SUCCEEDED,
    ),
    "apiyi_legacy": Spare(
        {"id": "t", "status": "processing"},
        tuple(
            (k,)
            for k in (
                "id",
                "task_id",
                "object",
                "model",
                "created",
                "url",
                "duration",
                "resolution",
            )
        ),
        TaskState.RUNNING,
    ),
    "apixo": Spare(
        {
            "code": 200,
            "data": {
                "taskId": "t",
                "state": "success",
                "resultJson": json.dumps({"resultUrls": [_LINK]}),
            },
        },
        tuple(
            ("data", k)
            for k in ("taskId", "failCode", "failMsg", "createTime", "completeTime", "costTime")
        ),
        TaskState.SUCCEEDED,
    ),
    "veo3o1": Spare(
        {"code": 0, "msg": "ok", "data": {"uuid": "t", "status": "completed", "videoUrl": _LINK}},
        (("data", "uuid"), ("data", "progress"), ("data", "estimatedTime")),
        TaskState.SUCCEEDED,
    ),
    "yelinai": Spare(
        {
            "success": True,
            "data": {
                "taskId": "t",
                "status": "completed",
                "result": {"video_url": _LINK, "video_media_id": "m"},
                "progress": {"upstreamStatus": "done", "retryCount": 0, "maxRetries": 3},
                "upstreamData": {"status": "video_generating"},
            },
        },
        (
            ("data", "taskId"),
            ("data", "pollingUrl"),
            ("data", "error_code"),
            ("data", "result", "video_media_id"),
            ("data", "progress", "upstreamStatus"),
            ("data", "progress", "retryCount"),
            ("data", "progress", "maxRetries"),
            ("data", "upstreamData", "status"),
            ("data", "upstreamData", "video_generation_status"),
        ),
        TaskState.SUCCEEDED,
    ),
}


def _with(body: dict[str, Any], path: tuple[str, ...], value: object) -> bytes:
    copy = json.loads(json.dumps(body))
    holder = copy
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = value
    return json.dumps(copy).encode()


@each_adapter
@FAST_SETTINGS
@given(data=st.data())
def test_an_unreadable_spare_field_leaves_the_status_readable(
    h: Harness, name: str, data: st.DataObject
) -> None:
    """Any JSON value in one field the adapter can do without: the same state as without it."""
    spare = SPARE[name]
    path = data.draw(st.sampled_from(spare.fields), label="field")
    value = data.draw(JUNK, label="value")
    status = _status_call(h, name, Reply(200, _with(spare.body, path, value), "application/json"))()
    assert isinstance(status, TaskStatus), status
    assert status.state is spare.state, status
    check_status(status, gives_url=BY_NAME[name].gives_url)


def test_reported_unreadable_unused_fields(h: Harness) -> None:
    """The four cases as reported: each still polls as running, and a submit answer with
    such a field still gives its task id (it was "no task id": an uncertain, paid task)."""
    bodies = {
        "apiyi": '{"id": "t", "status": "in_progress", "progress": "100%"}',
        "apiyi_legacy": '{"id": "t", "status": "processing", "created": "2025-01-01"}',
        "apixo": '{"code": 200, "data": {"taskId": "t", "state": "processing", "costTime": 1.5}}',
        "yelinai": (
            '{"success": true, "data": {"taskId": "t", "status": "processing", '
            '"upstreamData": {"status": "video_generating"}, "progress": {"retryCount": "one"}}}'
        ),
    }
    for name, body in bodies.items():
        reply = Reply(200, body.encode(), "application/json")
        status = _status_call(h, name, reply)()
        assert isinstance(status, TaskStatus) and status.state is TaskState.RUNNING, (name, status)
        h.vendor.script(("", reply))
        task_id = _submit(h, BY_NAME[name])
        assert task_id == "t", (name, task_id)


def _submit(h: Harness, adapter: Adapter) -> str | ProviderError:
    result: str | ProviderError = h.attempt(
        lambda: adapter.make(h).submit(adapter.submit_request())
    )
    return result
