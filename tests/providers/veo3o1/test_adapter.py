"""Veo3o1Provider against a real HTTP simulator of the vendor's documented API: assertions
are on the wire."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.chat import i18n
from bot.chat.failures import error_text, failure_text
from bot.providers.base import (
    InputImage,
    Mode,
    Provider,
    ProviderAuthError,
    ProviderError,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    ResultNotReady,
    ResultTooLarge,
    SubmitRequest,
    TaskNotFound,
    TaskState,
    TaskStatus,
)
from bot.providers.veo3o1 import catalog
from bot.providers.veo3o1.adapter import Veo3o1Provider
from bot.providers.veo3o1.catalog import MODEL
from bot.providers.veo3o1.wire import Veo3o1Envelope, parse_envelope
from tests.net import free_port
from tests.providers.kit import (
    DONE,
    JPEG,
    PNG,
    TINY,
    UNREADABLE_STATUS,
    WEBP,
    Vendor,
    assert_no_key,
    text_requests,
)
from tests.sim.veo3o1_sim import Veo3o1Simulator, default_video

KEY = "veo3o1-test-0123456789abcdefSECRET"
VENDOR = Vendor(Veo3o1Simulator, Veo3o1Provider, KEY)
MakeProvider = Callable[..., Veo3o1Provider]


text = text_requests(MODEL)


def told(status: TaskStatus) -> str:
    """What a member reads of a failed task."""
    assert status.error_say is not None
    return failure_text(
        status.error_code, status.error_say.failure(status.error_code or "x").params
    )


def image_request(data: bytes = PNG, mime: str = "image/png", **kw: Any) -> SubmitRequest:
    img = InputImage(data=data, mime=mime, filename="first." + mime.split("/")[1])
    return SubmitRequest(
        model=MODEL, prompt="the lighthouse comes alive", mode=Mode.FIRST_FRAME, images=(img,), **kw
    )


def bearer(sim: Veo3o1Simulator) -> dict[str, str]:
    return {"Authorization": f"Bearer {sim.api_key}"}


async def complete(sim: Veo3o1Simulator, provider: Veo3o1Provider) -> tuple[str, TaskStatus]:
    task_id = await provider.submit(text())
    sim.set_task_status(task_id, "completed")
    return task_id, await provider.status(task_id, MODEL)


# -- the model table ------------------------------------------------------------------------


def test_models_and_protocol(session: aiohttp.ClientSession) -> None:
    p = Veo3o1Provider(api_key=KEY, session=session)
    assert isinstance(p, Provider)
    assert (p.name, p.label) == ("veo3o1", "veo3o1")
    assert list(p.models) == [MODEL] == ["veo3o1-veo-3.1"]
    spec = p.models[MODEL]
    assert spec.label == "Veo 3.1 (veo3o1)"
    assert spec.modes == frozenset({Mode.TEXT, Mode.FIRST_FRAME})
    assert spec.max_reference_images == 0
    assert spec.aspect_ratios == ("auto", "16:9", "9:16")
    assert spec.durations == (8,) and spec.default_duration == 8
    assert spec.image_formats == frozenset({"jpeg", "png", "webp"})
    assert spec.max_image_bytes == 50 * 1024 * 1024
    assert spec.gives_url and spec.image_transport == "upload" and not spec.callbacks
    assert not (spec.negative_prompt or spec.seed or spec.enhance_prompt)
    assert spec.price_usd is None and spec.max_prompt is None
    timing = spec.timing_for(None)
    assert (timing.initial_wait, timing.poll_interval) == (30, 5)
    assert timing.deadline >= 900


def test_timing_override(provider: Veo3o1Provider) -> None:
    for spec in provider.models.values():
        assert spec.timing_for(None) == TINY and spec.timing_for("720p") == TINY


def test_key_not_in_repr(provider: Veo3o1Provider) -> None:
    assert KEY not in repr(provider) and KEY not in str(provider)


# -- submit: text ---------------------------------------------------------------------------


async def test_text_submit_on_the_wire(sim: Veo3o1Simulator, provider: Veo3o1Provider) -> None:
    task_id = await provider.submit(text())
    assert task_id in sim.tasks
    [req] = sim.requests
    assert req.method == "POST" and req.path == "/api/generate-video"
    assert req.headers["Authorization"] == f"Bearer {KEY}"
    assert req.content_type == "application/json"
    # Exactly the documented fields; no aspectRatio when none was chosen (the vendor's `auto`).
    assert req.json == {"generationType": "text_to_video", "prompt": "a lighthouse at dusk"}
    assert sim.tasks[task_id].aspect_ratio == "auto" and sim.tasks[task_id].images == []


@pytest.mark.parametrize("aspect", ["auto", "16:9", "9:16"])
async def test_aspect_ratio_is_sent(
    sim: Veo3o1Simulator, provider: Veo3o1Provider, aspect: str
) -> None:
    task_id = await provider.submit(text(aspect_ratio=aspect))
    assert sim.submits()[0].json["aspectRatio"] == aspect
    assert sim.tasks[task_id].aspect_ratio == aspect


async def test_fixed_length_and_resolution_are_accepted_not_sent(
    sim: Veo3o1Simulator, provider: Veo3o1Provider
) -> None:
    await provider.submit(text(duration=8, resolution="720p"))
    assert set(sim.submits()[0].json) == {"generationType", "prompt"}


@pytest.mark.parametrize(
    "request_",
    [
        text(model="veo-3.1-fast-generate-preview"),
        text(mode=Mode.FIRST_LAST),
        text(mode=Mode.REFERENCE),
        text(aspect_ratio="1:1"),
        text(resolution="1080p"),
        text(duration=4),
        text(seed=7),
        text(negative_prompt="blurry"),
        text(enhance_prompt=True),
        SubmitRequest(model=MODEL, prompt="   "),
        SubmitRequest(model=MODEL, prompt="x", mode=Mode.FIRST_FRAME),
        SubmitRequest(
            model=MODEL,
            prompt="x",
            mode=Mode.FIRST_FRAME,
            images=(InputImage(PNG, "image/png", "a.png"), InputImage(PNG, "image/png", "b.png")),
        ),
        SubmitRequest(
            model=MODEL,
            prompt="x",
            mode=Mode.FIRST_FRAME,
            images=(InputImage(b"GIF89a", "image/gif", "a.gif"),),
        ),
        SubmitRequest(model=MODEL, prompt="x", images=(InputImage(PNG, "image/png", "a.png"),)),
        image_request(PNG + bytes(50 * 1024 * 1024)),
    ],
)
async def test_invalid_requests_rejected_before_the_wire(
    sim: Veo3o1Simulator, provider: Veo3o1Provider, request_: SubmitRequest
) -> None:
    with pytest.raises(ProviderRejected) as info:
        await provider.submit(request_)
    assert error_text(info.value) and not info.value.retryable
    assert sim.requests == []


@pytest.mark.parametrize(
    ("request_", "said"),
    [
        (
            text(aspect_ratio="1:1"),
            "The video service makes 16:9 or 9:16 videos (or picks the shape itself).",
        ),
        (text(resolution="1080p"), "The video service has no resolution option."),
        (text(duration=4), "The video service only makes 8-second videos."),
        (text(seed=7), "The video service does not take a seed."),
        # Only the first option the model lacks is named.
        (
            text(negative_prompt="blurry", seed=7),
            "The video service does not take a negative prompt.",
        ),
        (text(enhance_prompt=True), "The video service does not take prompt enhancement."),
    ],
)
async def test_refusals_read_as_they_always_have(
    sim: Veo3o1Simulator, provider: Veo3o1Provider, request_: SubmitRequest, said: str
) -> None:
    with pytest.raises(ProviderRejected) as info:
        await provider.submit(request_)
    assert error_text(info.value) == said


def test_too_long_prompt_reads_as_it_always_has() -> None:
    models = {MODEL: dataclasses.replace(catalog.MODELS[MODEL], max_prompt=1000)}
    with pytest.raises(ProviderRejected) as info:
        catalog.check(models, SubmitRequest(model=MODEL, prompt="x" * 1001))
    assert info.value.code == "prompt_too_long"
    assert error_text(info.value) == "The prompt is longer than the video service allows (1,000)."


# -- submit: image (upload first) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "mime"), [(PNG, "image/png"), (JPEG, "image/jpeg"), (WEBP, "image/webp")]
)
async def test_image_submit_uploads_then_generates(
    sim: Veo3o1Simulator, provider: Veo3o1Provider, data: bytes, mime: str
) -> None:
    task_id = await provider.submit(image_request(data, mime, aspect_ratio="9:16"))
    # The vendor fetches the image while it handles the generate call.
    upload, generate, fetched = sim.requests
    # 1. the bytes go up as multipart field `file`
    assert upload.path == "/api/upload-video-image"
    assert upload.headers["Authorization"] == f"Bearer {KEY}"
    assert upload.content_type == "multipart/form-data"
    [file] = upload.files["file"]
    assert (file.content_type, file.data) == (mime, data)
    assert file.filename == "first." + mime.split("/")[1]
    assert set(upload.files) == {"file"} and upload.form == {}
    [stored] = sim.uploads.values()
    # 2. the vendor downloads what we uploaded (from its CDN, not from us)...
    assert fetched.path == f"/cdn/r2/{stored.key}"
    # 3. ...because generate names it by imageUrl and imageKey
    assert generate.path == "/api/generate-video"
    assert generate.json == {
        "generationType": "image_to_video",
        "prompt": "the lighthouse comes alive",
        "aspectRatio": "9:16",
        "imageUrl": stored.url,
        "imageKey": stored.key,
    }
    assert sim.tasks[task_id].images == [data]


async def test_upload_without_image_key_still_generates(
    sim: Veo3o1Simulator, provider: Veo3o1Provider
) -> None:
    # The vendor's documentation calls imageKey optional: an answer with only imageUrl is enough.
    sim.omit_image_key = True
    task_id = await provider.submit(image_request())
    [stored] = sim.uploads.values()
    generate = sim.submits()[0].json
    assert generate["imageUrl"] == stored.url and "imageKey" not in generate
    assert sim.tasks[task_id].images == [PNG]


@pytest.mark.parametrize(
    ("status", "body", "error", "code"),
    [
        (429, None, ProviderUnavailable, "rate_limited"),
        (500, "<html>oops</html>", ProviderUnavailable, "server_error"),
        (503, None, ProviderUnavailable, "server_error"),
        (400, {"code": 1000, "msg": "Unsupported image format"}, ProviderRejected, None),
        (413, "<html>Request Entity Too Large</html>", ProviderRejected, None),
        (200, {"code": 1003, "msg": "Rate limit exceeded"}, ProviderUnavailable, "rate_limited"),
        (200, {"code": 5000, "msg": "Server error"}, ProviderUnavailable, "server_error"),
        (200, {"code": 1001, "msg": "Insufficient credits"}, ProviderAuthError, None),
        (200, {"code": 1002, "msg": "Authentication failed"}, ProviderAuthError, None),
        (200, "<html>ok</html>", ProviderUnavailable, "bad_upload_answer"),
        (200, {"code": 0, "msg": "Upload successful", "data": {}}, ProviderUnavailable, None),
        (200, {"code": 0, "data": {"imageUrl": "not a url"}}, ProviderUnavailable, None),
    ],
)
async def test_upload_failure_never_reaches_generate(
    sim: Veo3o1Simulator,
    provider: Veo3o1Provider,
    status: int,
    body: Any,
    error: type[ProviderError],
    code: str | None,
) -> None:
    sim.fail_next_upload_with(status, body, retry_after=3 if status == 429 else None)
    with pytest.raises(error) as info:
        await provider.submit(image_request())
    # Never "uncertain": nothing was generated, the caller may retry or refund safely.
    assert not isinstance(info.value, ProviderTimeout)
    if code is not None:
        assert info.value.code == code
    if status == 429:
        assert info.value.retry_after == 3.0
    assert sim.submits() == [] and sim.tasks == {}
    assert_no_key(info.value, KEY)


async def test_upload_timeout_is_retryable_not_uncertain(
    sim: Veo3o1Simulator, make_provider: MakeProvider
) -> None:
    sim.delay_upload = 2.0
    p = make_provider(request_timeout=0.2)
    with pytest.raises(ProviderUnavailable) as info:
        await p.submit(image_request())
    assert info.value.retryable and info.value.code.startswith("upload_")
    assert error_text(info.value) == (
        "Sending your image to the video service failed. Please try again in a moment."
    )
    assert sim.submits() == []


async def test_upload_connection_refused(session: aiohttp.ClientSession) -> None:
    p = Veo3o1Provider(api_key=KEY, base_url=f"http://127.0.0.1:{free_port()}/api", session=session)
    with pytest.raises(ProviderUnavailable) as info:
        await p.submit(image_request())
    assert_no_key(info.value, KEY)


# -- submit: answers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"code": 0, "msg": "Success", "data": {"status": "pending"}},
        {"code": 0, "msg": "Success", "data": None},
        {"code": 0, "msg": "Success"},
        "<html><body>200 OK</body></html>",
        "",
    ],
)
async def test_answer_without_uuid_is_uncertain(
    sim: Veo3o1Simulator, provider: Veo3o1Provider, body: Any
) -> None:
    sim.script_next_submit(200, body if body else b"")
    with pytest.raises(ProviderTimeout) as info:
        await provider.submit(text())
    assert info.value.code == "no_task_id"


async def test_numeric_uuid_is_text(sim: Veo3o1Simulator, provider: Veo3o1Provider) -> None:
    sim.script_next_submit(200, {"code": "0", "msg": "Success", "data": {"uuid": 12345}})
    assert await provider.submit(text()) == "12345"


@pytest.mark.parametrize("http_200", [True, False])
@pytest.mark.parametrize(
    ("code", "error", "our_code", "retryable"),
    [
        (1000, ProviderRejected, "invalid_parameters", False),
        (1001, ProviderAuthError, "insufficient_credits", False),
        (1002, ProviderAuthError, "auth", False),
        (1003, ProviderUnavailable, "rate_limited", True),
        (5000, ProviderUnavailable, "server_error", True),
    ],
)
async def test_error_codes_with_either_http_status(
    sim: Veo3o1Simulator,
    provider: Veo3o1Provider,
    http_200: bool,
    code: int,
    error: type[ProviderError],
    our_code: str,
    retryable: bool,
) -> None:
    http = 200 if http_200 else {1000: 400, 1001: 402, 1002: 401, 1003: 429, 5000: 500}[code]
    data = {"required": 2, "current": 0} if code == 1001 else None
    sim.fail_next_submit_with(
        http, {"code": code, "msg": "Some message", "data": data}, retry_after=4
    )
    with pytest.raises(error) as info:
        await provider.submit(text())
    assert info.value.code == our_code and info.value.retryable is retryable
    assert f"code={code}" in (info.value.detail or "")
    if retryable:
        assert info.value.retry_after == 4.0
    assert sim.tasks == {}


@pytest.mark.parametrize("http", [200, 402, 403])
async def test_insufficient_credits_tells_member_and_operator(
    sim: Veo3o1Simulator, provider: Veo3o1Provider, http: int
) -> None:
    sim.fail_next_submit_with(
        http, {"code": 1001, "msg": "Insufficient credits", "data": {"required": 2, "current": 0}}
    )
    with pytest.raises(ProviderAuthError) as info:
        await provider.submit(text())
    msg = error_text(info.value)
    assert "operator" in msg and "out of credits" in msg
    assert "required=2 current=0" in (info.value.detail or "")
    assert "required" not in msg
    assert msg == (
        "The server operator's account with the video service is out of credits; "
        "the operator has been told."
    )


@pytest.mark.parametrize("http_200", [True, False])
async def test_wrong_key_is_auth_error_without_key(
    sim: Veo3o1Simulator, make_provider: MakeProvider, tmp_path: Path, http_200: bool
) -> None:
    sim.errors_with_http_200 = http_200
    sim.api_key = "the-right-one"
    p = make_provider()
    for call in (
        p.submit(text()),
        p.submit(image_request()),
        p.status("some-task", MODEL),
        p.fetch("some-task", MODEL, DONE, tmp_path / "v.mp4", 10),
    ):
        with pytest.raises(ProviderAuthError) as info:
            await call
        assert info.value.code == "auth" and "API key" in error_text(info.value)
        assert_no_key(info.value, KEY)
    # The simulator really did echo the key: the adapter scrubbed it.
    assert all(r.headers["Authorization"] == f"Bearer {KEY}" for r in sim.requests)
    assert sim.tasks == {} and sim.uploads == {}


@pytest.mark.parametrize(
    ("msg", "shown"),
    [
        ("Prompt contains prohibited words", True),
        ("Invalid parameters", False),
        ("see https://veo3o1.com/docs", False),
        ("{'prompt': ['required']}", False),
        (None, False),
    ],
)
async def test_invalid_parameters_message(
    sim: Veo3o1Simulator, provider: Veo3o1Provider, msg: str | None, shown: bool
) -> None:
    sim.fail_next_submit_with(400, {"code": 1000, "msg": msg, "data": None})
    with pytest.raises(ProviderRejected) as info:
        await provider.submit(text())
    member = error_text(info.value)
    assert member.startswith("The video service did not accept this request")
    assert (msg is not None and msg in member) is shown
    assert "http" not in member and "{" not in member
    if msg is None:
        assert (
            member
            == "The video service did not accept this request. Try a different prompt or image."
        )


async def test_html_400_is_rejected_without_markup(
    sim: Veo3o1Simulator, provider: Veo3o1Provider
) -> None:
    sim.fail_next_submit_with(400, "<html><body><h1>400 Bad Request</h1></body></html>")
    with pytest.raises(ProviderRejected) as info:
        await provider.submit(text())
    assert "<" not in error_text(info.value)
    assert "400 Bad Request" in (info.value.detail or "")


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, ProviderAuthError), (403, ProviderAuthError), (402, ProviderAuthError)],
)
async def test_http_auth_statuses_without_envelope(
    sim: Veo3o1Simulator, provider: Veo3o1Provider, status: int, error: type[ProviderError]
) -> None:
    sim.fail_next_submit_with(status, "Unauthorized")
    with pytest.raises(error):
        await provider.submit(text())


async def test_429_with_retry_after_then_success(
    sim: Veo3o1Simulator, provider: Veo3o1Provider
) -> None:
    sim.fail_next_submit_with(429, "Too Many Requests", retry_after=7)
    with pytest.raises(ProviderUnavailable) as info:
        await provider.submit(text())
    assert info.value.retry_after == 7.0 and info.value.retryable
    assert sim.tasks == {}
    assert await provider.submit(text()) in sim.tasks


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_5xx_is_unavailable(
    sim: Veo3o1Simulator, provider: Veo3o1Provider, status: int
) -> None:
    sim.fail_next_submit_with(status, "<html>Bad Gateway</html>")
    with pytest.raises(ProviderUnavailable) as info:
        await provider.submit(text())
    assert info.value.retry_after is None and info.value.code == "server_error"


@pytest.mark.parametrize(
    ("code", "error"),
    [(2001, ProviderRejected), (1099, ProviderRejected), (5003, ProviderUnavailable)],
)
async def test_undocumented_codes_with_200(
    sim: Veo3o1Simulator, provider: Veo3o1Provider, code: int, error: type[ProviderError]
) -> None:
    sim.fail_next_submit_with(200, {"code": code, "msg": "Something", "data": None})
    with pytest.raises(error):
        await provider.submit(text())


async def test_connection_refused_is_unavailable(session: aiohttp.ClientSession) -> None:
    p = Veo3o1Provider(api_key=KEY, base_url=f"http://127.0.0.1:{free_port()}/api", session=session)
    with pytest.raises(ProviderUnavailable) as info:
        await p.submit(text())
    assert info.value.code == "connect_failed"
    assert_no_key(info.value, KEY)
    with pytest.raises(ProviderUnavailable):
        await p.status("t", MODEL)


async def test_submit_timeout_is_uncertain(
    sim: Veo3o1Simulator, make_provider: MakeProvider
) -> None:
    sim.delay_submit = 2.0
    p = make_provider(request_timeout=0.2)
    with pytest.raises(ProviderTimeout) as info:
        await p.submit(text())
    assert info.value.code == "timeout"
    assert_no_key(info.value, KEY)


async def test_image_submit_timeout_after_upload_is_uncertain(
    sim: Veo3o1Simulator, make_provider: MakeProvider
) -> None:
    """The upload went through; it is the generate call that hangs: that one is uncertain."""
    sim.delay_submit = 2.0
    p = make_provider(request_timeout=0.2)
    with pytest.raises(ProviderTimeout):
        await p.submit(image_request())
    assert len(sim.uploads) == 1


async def test_trailing_slash_base_url(sim: Veo3o1Simulator, make_provider: MakeProvider) -> None:
    p = make_provider(base_url=sim.base_url + "/")
    assert await p.submit(text()) in sim.tasks
    assert sim.submits()[0].path == "/api/generate-video"


# -- status ---------------------------------------------------------------------------------


async def test_status_follows_the_clock_with_real_progress(
    session: aiohttp.ClientSession,
) -> None:
    async with Veo3o1Simulator(api_key=KEY, queued_for=0.15, running_for=0.4) as sim:
        p = Veo3o1Provider(api_key=KEY, base_url=sim.base_url, session=session)
        task_id = await p.submit(text())
        seen: list[TaskStatus] = []
        for _ in range(200):
            st = await p.status(task_id, MODEL)
            seen.append(st)
            if st.state is TaskState.SUCCEEDED:
                break
            await asyncio.sleep(0.01)
        states = [s.state for s in seen]
        assert states[0] is TaskState.PENDING and states[-1] is TaskState.SUCCEEDED
        assert TaskState.RUNNING in states
        running = [s for s in seen if s.state is TaskState.RUNNING]
        assert all(s.progress is not None and 1 <= s.progress <= 99 for s in running)
        assert [s.progress for s in running] == sorted(s.progress or 0 for s in running)
        assert all((s.stage or "").startswith("generating") for s in running)
        assert seen[-1].progress == 100
        assert seen[-1].result_url == sim.video_url(task_id)
        assert [r.path for r in sim.status_requests()][0] == f"/api/video-status/{task_id}"
        assert all(r.headers["Authorization"] == f"Bearer {KEY}" for r in sim.status_requests())


@pytest.mark.parametrize(
    ("status", "progress", "eta", "state", "stage", "pct"),
    [
        ("pending", 0, 120, TaskState.PENDING, "queued, about 2 min left", 0),
        ("pending", 0, 0, TaskState.PENDING, "queued", 0),
        ("processing", 37, 40, TaskState.RUNNING, "generating, about 40 s left", 37),
        ("processing", 37.6, 41, TaskState.RUNNING, "generating, about 45 s left", 38),
        ("processing", "85", "125", TaskState.RUNNING, "generating, about 2 min left", 85),
        ("processing", 99, 0, TaskState.RUNNING, "generating, almost done", 99),
        ("processing", 150, -3, TaskState.RUNNING, "generating, almost done", 100),
        ("PROCESSING", 10, 3, TaskState.RUNNING, "generating, about 5 s left", 10),
    ],
)
async def test_progress_and_estimated_time(
    sim: Veo3o1Simulator,
    provider: Veo3o1Provider,
    status: str,
    progress: Any,
    eta: Any,
    state: TaskState,
    stage: str,
    pct: int,
) -> None:
    task_id = await provider.submit(text())
    sim.set_task_status(task_id, status, progress=progress, estimated_time=eta)
    st = await provider.status(task_id, MODEL)
    assert (st.state, st.stage, st.progress) == (state, stage, pct)
    assert provider.estimated_seconds_left(task_id) == max(0.0, float(eta))


async def test_status_without_figures(sim: Veo3o1Simulator, provider: Veo3o1Provider) -> None:
    task_id = await provider.submit(text())
    sim.queue_status_error(
        200, {"code": 0, "msg": "Success", "data": {"uuid": task_id, "status": "processing"}}
    )
    st = await provider.status(task_id, MODEL)
    assert (st.state, st.progress, st.stage) == (TaskState.RUNNING, None, "generating")
    assert provider.estimated_seconds_left(task_id) is None
    sim.queue_status_error(
        200,
        {"code": 0, "data": {"status": "processing", "progress": "n/a", "estimatedTime": None}},
    )
    st = await provider.status(task_id, MODEL)
    assert (st.state, st.progress, st.stage) == (TaskState.RUNNING, None, "generating")


async def test_completed_gives_the_url(sim: Veo3o1Simulator, provider: Veo3o1Provider) -> None:
    task_id, st = await complete(sim, provider)
    assert st.state is TaskState.SUCCEEDED and st.progress == 100
    assert st.result_url == sim.video_url(task_id) and st.result_url.startswith(sim.cdn_url)
    assert st.url_expires_at is None


@pytest.mark.parametrize("url", [None, "", "/relative/x.mp4", "ftp://x/y.mp4", 42])
async def test_completed_without_usable_url_is_retryable(
    sim: Veo3o1Simulator, provider: Veo3o1Provider, url: Any
) -> None:
    task_id = await provider.submit(text())
    sim.queue_status_error(
        200, {"code": 0, "msg": "Success", "data": {"status": "completed", "videoUrl": url}}
    )
    with pytest.raises(ProviderUnavailable) as info:
        await provider.status(task_id, MODEL)
    assert info.value.code == "no_video_url"
    sim.set_task_status(task_id, "completed")
    assert (await provider.status(task_id, MODEL)).state is TaskState.SUCCEEDED


async def test_failed_without_reason(sim: Veo3o1Simulator, provider: Veo3o1Provider) -> None:
    task_id = await provider.submit(text())
    sim.set_task_status(task_id, "failed")
    st = await provider.status(task_id, MODEL)
    assert st.state is TaskState.FAILED and st.error_code == "generation_failed"
    assert "not charged" in told(st)
    assert told(st) == (
        "The video service could not make this video (it gives no reason; often a content "
        "review of the prompt or image). You were not charged."
    )
    assert st.result_url is None


@pytest.mark.parametrize(
    ("fields", "code", "needle"),
    [
        ({"errorMessage": "Content policy violation"}, "content_policy", "content rules"),
        ({"error": "NSFW content detected"}, "content_policy", "content rules"),
        ({"error": {"message": "Blocked by safety filter"}}, "content_policy", "content rules"),
        (
            {"failReason": "Image resolution too low"},
            "generation_failed",
            "Image resolution too low",
        ),
        ({"error": "see https://x.example/log?key=abc"}, "generation_failed", "no reason"),
        ({"error": "x" * 300}, "generation_failed", "no reason"),
    ],
)
async def test_failed_with_a_reason(
    sim: Veo3o1Simulator,
    provider: Veo3o1Provider,
    fields: dict[str, Any],
    code: str,
    needle: str,
) -> None:
    sim.queued_for = sim.running_for = 0.0
    sim.make_task_fail(**fields)
    task_id = await provider.submit(text())
    st = await provider.status(task_id, MODEL)
    assert st.state is TaskState.FAILED and st.error_code == code
    assert needle in told(st)
    assert "http" not in told(st)


async def test_failed_reason_in_envelope_msg(
    sim: Veo3o1Simulator, provider: Veo3o1Provider
) -> None:
    task_id = await provider.submit(text())
    sim.queue_status_error(
        200, {"code": 0, "msg": "Prompt rejected by moderation", "data": {"status": "failed"}}
    )
    st = await provider.status(task_id, MODEL)
    assert (st.state, st.error_code) == (TaskState.FAILED, "content_policy")
    assert told(st) == (
        "The video service refused this video under its content rules. "
        f"You were not charged. {i18n.text('ending.policy_advice')}"
    )


async def test_unknown_status_is_running(sim: Veo3o1Simulator, provider: Veo3o1Provider) -> None:
    task_id = await provider.submit(text())
    sim.set_task_status(task_id, "upscaling", progress=90)
    st = await provider.status(task_id, MODEL)
    assert (st.state, st.stage, st.progress) == (TaskState.RUNNING, "upscaling", 90)


@pytest.mark.parametrize("http_200", [True, False])
async def test_unknown_task_is_not_found(
    sim: Veo3o1Simulator, provider: Veo3o1Provider, http_200: bool
) -> None:
    sim.errors_with_http_200 = http_200
    with pytest.raises(TaskNotFound):
        await provider.status("no-such-task", MODEL)


@pytest.mark.parametrize(
    "body",
    [
        *UNREADABLE_STATUS,
        '{"uuid": "x", "status": "pending"}',
        '{"code": 0, "msg": "Success", "data": null}',
        '{"code": 0, "msg": "Success", "data": {"status": {"nested": true}}}',
        '{"code": 0, "msg": "Success", "data": ["pending"]}',
        '{"code": 0, "msg": "Success", "data": {"status": ""}}',
    ],
)
async def test_garbage_status_body_is_unavailable(
    sim: Veo3o1Simulator, provider: Veo3o1Provider, body: str | bytes
) -> None:
    task_id = await provider.submit(text())
    sim.queue_status_error(200, body if body else b"")
    with pytest.raises(ProviderUnavailable) as info:
        await provider.status(task_id, MODEL)
    assert info.value.code == "bad_answer"
    assert (await provider.status(task_id, MODEL)).state is TaskState.PENDING


async def test_status_errors_then_recovery(sim: Veo3o1Simulator, provider: Veo3o1Provider) -> None:
    task_id = await provider.submit(text())
    sim.queue_status_error(500)
    sim.queue_status_error(429, retry_after=3)
    sim.queue_status_error(200, {"code": 1003, "msg": "Rate limit exceeded"}, retry_after=2)
    sim.queue_status_error(200, {"code": 5000, "msg": "Server error"})
    with pytest.raises(ProviderUnavailable) as first:
        await provider.status(task_id, MODEL)
    assert first.value.retry_after is None
    for wait in (3.0, 2.0, None):
        with pytest.raises(ProviderUnavailable) as info:
            await provider.status(task_id, MODEL)
        assert info.value.retry_after == wait
    assert (await provider.status(task_id, MODEL)).state is TaskState.PENDING


async def test_status_timeout(sim: Veo3o1Simulator, make_provider: MakeProvider) -> None:
    p = make_provider(request_timeout=0.2)
    task_id = await p.submit(text())
    sim.delay_status = 2.0
    with pytest.raises(ProviderTimeout):
        await p.status(task_id, MODEL)


async def test_task_id_needing_quotes(
    sim: Veo3o1Simulator, provider: Veo3o1Provider, tmp_path: Path
) -> None:
    odd = "vid:a/b c?d#e%f&ü"
    sim.next_task_ids.append(odd)
    task_id = await provider.submit(text())
    assert task_id == odd
    assert (await provider.status(task_id, MODEL)).state is TaskState.PENDING
    assert sim.status_requests()[0].path == "/api/video-status/vid%3Aa%2Fb%20c%3Fd%23e%25f%26%C3%BC"


# -- fetch ----------------------------------------------------------------------------------


async def test_fetch_streams_from_the_url_without_the_key(
    sim: Veo3o1Simulator, provider: Veo3o1Provider, tmp_path: Path
) -> None:
    sim.video_bytes = default_video(300_000)
    task_id, st = await complete(sim, provider)
    dest = tmp_path / "out" / "video.mp4"
    got = await provider.fetch(task_id, MODEL, st, dest, 10**6)
    assert got.path == dest and got.size == 300_000
    assert got.url == st.result_url and got.url_expires_at is None
    assert dest.read_bytes() == sim.video_bytes
    [download] = sim.downloads()
    assert download.url.startswith(sim.cdn_url)
    assert "Authorization" not in download.headers


async def test_fetch_sends_the_key_only_to_the_api_host(
    sim: Veo3o1Simulator, provider: Veo3o1Provider, tmp_path: Path
) -> None:
    sim.videos_on_api_host = True
    task_id, st = await complete(sim, provider)
    assert st.result_url is not None and st.result_url.startswith(sim.api_origin)
    await provider.fetch(task_id, MODEL, st, tmp_path / "v.mp4", 10**6)
    [download] = sim.downloads()
    assert download.headers["Authorization"] == f"Bearer {KEY}"


async def test_fetch_without_a_known_url_asks_the_status(
    sim: Veo3o1Simulator, provider: Veo3o1Provider, tmp_path: Path
) -> None:
    task_id, _ = await complete(sim, provider)
    before = len(sim.status_requests())
    got = await provider.fetch(task_id, MODEL, DONE, tmp_path / "v.mp4", 10**6)
    assert got.url == sim.video_url(task_id)
    assert len(sim.status_requests()) == before + 1
    assert (tmp_path / "v.mp4").read_bytes() == sim.video_bytes


async def test_fetch_of_an_unfinished_task_is_not_ready(
    sim: Veo3o1Simulator, provider: Veo3o1Provider, tmp_path: Path
) -> None:
    task_id = await provider.submit(text())
    with pytest.raises(ResultNotReady):
        await provider.fetch(task_id, MODEL, DONE, tmp_path / "v.mp4", 10**6)


async def test_expired_url_is_refreshed_once(
    sim: Veo3o1Simulator, provider: Veo3o1Provider, tmp_path: Path
) -> None:
    task_id, st = await complete(sim, provider)
    sim.expire_video_url(task_id)
    got = await provider.fetch(task_id, MODEL, st, tmp_path / "v.mp4", 10**6)
    assert got.url == sim.video_url(task_id) != st.result_url
    assert [r.path.split("sig=")[1] for r in sim.downloads()] == ["v1", "v2"]
    assert (tmp_path / "v.mp4").read_bytes() == sim.video_bytes


async def test_url_missing_twice_is_not_ready(
    sim: Veo3o1Simulator, provider: Veo3o1Provider, tmp_path: Path
) -> None:
    task_id, st = await complete(sim, provider)
    sim.queue_video_error(404, "NoSuchKey")
    sim.queue_video_error(404, "NoSuchKey")
    with pytest.raises(ResultNotReady) as info:
        await provider.fetch(task_id, MODEL, st, tmp_path / "v.mp4", 10**6)
    assert info.value.retryable
    assert not (tmp_path / "v.mp4").exists()
    got = await provider.fetch(task_id, MODEL, st, tmp_path / "v.mp4", 10**6)
    assert got.size == len(sim.video_bytes)


@pytest.mark.parametrize("chunked", [False, True])
async def test_fetch_over_cap_carries_the_link(
    sim: Veo3o1Simulator, provider: Veo3o1Provider, tmp_path: Path, chunked: bool
) -> None:
    sim.video_bytes = default_video(200_000)
    sim.send_content_length = not chunked
    task_id, st = await complete(sim, provider)
    with pytest.raises(ResultTooLarge) as info:
        await provider.fetch(task_id, MODEL, st, tmp_path / "v.mp4", 100_000)
    assert info.value.url == sim.video_url(task_id)
    assert list(tmp_path.iterdir()) == []


async def test_fetch_exactly_at_cap(
    sim: Veo3o1Simulator, provider: Veo3o1Provider, tmp_path: Path
) -> None:
    sim.send_content_length = False
    task_id, st = await complete(sim, provider)
    got = await provider.fetch(task_id, MODEL, st, tmp_path / "v.mp4", len(sim.video_bytes))
    assert got.size == len(sim.video_bytes)


async def test_fetch_broken_mid_stream(
    sim: Veo3o1Simulator, provider: Veo3o1Provider, tmp_path: Path
) -> None:
    sim.video_bytes = default_video(200_000)
    sim.break_content_after = 50_000
    task_id, st = await complete(sim, provider)
    with pytest.raises(ProviderTimeout):
        await provider.fetch(task_id, MODEL, st, tmp_path / "v.mp4", 10**6)
    assert not (tmp_path / "v.mp4").exists()


@pytest.mark.parametrize(("status", "wait"), [(429, 5.0), (500, None), (503, None)])
async def test_fetch_server_errors_are_retryable(
    sim: Veo3o1Simulator, provider: Veo3o1Provider, tmp_path: Path, status: int, wait: float | None
) -> None:
    task_id, st = await complete(sim, provider)
    sim.queue_video_error(status, "busy", retry_after=wait)
    with pytest.raises(ProviderUnavailable) as info:
        await provider.fetch(task_id, MODEL, st, tmp_path / "v.mp4", 10**6)
    assert info.value.retry_after == wait
    assert not (tmp_path / "v.mp4").exists()


async def test_fetch_json_with_200_is_not_saved(
    sim: Veo3o1Simulator, provider: Veo3o1Provider, tmp_path: Path
) -> None:
    task_id, st = await complete(sim, provider)
    sim.queue_video_error(200, {"code": 5000, "msg": "Server error"})
    with pytest.raises(ProviderUnavailable):
        await provider.fetch(task_id, MODEL, st, tmp_path / "v.mp4", 10**6)
    assert not (tmp_path / "v.mp4").exists()


async def test_full_flow_image(
    sim: Veo3o1Simulator, provider: Veo3o1Provider, tmp_path: Path
) -> None:
    sim.queued_for = sim.running_for = 0.0
    task_id = await provider.submit(image_request(JPEG, "image/jpeg"))
    st = await provider.status(task_id, MODEL)
    assert st.state is TaskState.SUCCEEDED
    got = await provider.fetch(task_id, MODEL, st, tmp_path / "v.mp4", 10**6)
    assert got.path is not None and got.path.read_bytes() == sim.video_bytes
    assert sim.tasks[task_id].images == [JPEG]
    await provider.close()  # the session is the caller's: still usable afterwards
    assert not provider._http.session.closed


# -- the simulator enforces the documentation (so the tests above can fail) -----------------


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"prompt": "p"}, "generationType"),
        ({"generationType": "video", "prompt": "p"}, "generationType"),
        ({"generationType": "text_to_video"}, "prompt"),
        ({"generationType": "text_to_video", "prompt": "  "}, "prompt"),
        ({"generationType": "text_to_video", "prompt": "p", "aspectRatio": "1:1"}, "aspectRatio"),
        ({"generationType": "image_to_video", "prompt": "p"}, "imageUrl is required"),
        (
            {
                "generationType": "image_to_video",
                "prompt": "p",
                "imageUrl": "http://127.0.0.1:9/x.png",
            },
            "could not be downloaded",
        ),
        (
            {"generationType": "text_to_video", "prompt": "p", "imageUrl": "http://x/y.png"},
            "only for image_to_video",
        ),
    ],
)
async def test_simulator_rejects_generate(
    sim: Veo3o1Simulator, session: aiohttp.ClientSession, body: dict[str, Any], needle: str
) -> None:
    async with session.post(
        sim.base_url + "/generate-video", json=body, headers=bearer(sim)
    ) as resp:
        assert resp.status == 400
        answer = await resp.json()
    assert answer["code"] == 1000 and needle in answer["msg"]
    assert sim.tasks == {}


async def test_simulator_checks_image_key_and_downloads(
    sim: Veo3o1Simulator, session: aiohttp.ClientSession
) -> None:
    form = aiohttp.FormData()
    form.add_field("file", PNG, filename="a.png", content_type="image/png")
    async with session.post(
        sim.base_url + "/upload-video-image", data=form, headers=bearer(sim)
    ) as resp:
        up = await resp.json()
    assert up["code"] == 0 and up["msg"] == "Upload successful"
    url, key = up["data"]["imageUrl"], up["data"]["imageKey"]
    bad = {"generationType": "image_to_video", "prompt": "p", "imageUrl": url, "imageKey": "nope"}
    async with session.post(
        sim.base_url + "/generate-video", json=bad, headers=bearer(sim)
    ) as resp:
        assert (await resp.json())["code"] == 1000
    good = {**bad, "imageKey": key}
    async with session.post(
        sim.base_url + "/generate-video", json=good, headers=bearer(sim)
    ) as resp:
        answer = await resp.json()
    assert answer["code"] == 0 and answer["data"]["status"] == "pending"
    assert sim.tasks[answer["data"]["uuid"]].images == [PNG]


def _upload_form(
    *, files: int = 1, data: bytes = PNG, ctype: str = "image/png", name: str = "file"
) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for _ in range(files):
        form.add_field(name, data, filename="a.png", content_type=ctype)
    if files == 0:
        form.add_field("note", "no file")
    return form


@pytest.mark.parametrize(
    ("form", "ok"),
    [
        (_upload_form, True),
        (lambda: _upload_form(data=WEBP, ctype="image/webp"), True),
        (lambda: _upload_form(files=0), False),
        (lambda: _upload_form(files=2), False),
        (lambda: _upload_form(name="image"), False),
        (lambda: _upload_form(data=b"GIF89a....", ctype="image/gif"), False),
        (lambda: _upload_form(data=b"not really a png", ctype="image/png"), False),
        (lambda: _upload_form(data=JPEG, ctype="image/png"), False),
    ],
)
async def test_simulator_upload_rules(
    sim: Veo3o1Simulator, session: aiohttp.ClientSession, form: Any, ok: bool
) -> None:
    async with session.post(
        sim.base_url + "/upload-video-image", data=form(), headers=bearer(sim)
    ) as resp:
        answer = await resp.json()
        assert (resp.status, answer["code"]) == ((200, 0) if ok else (400, 1000))
    assert len(sim.uploads) == int(ok)


async def test_simulator_upload_size_limit_and_json(
    sim: Veo3o1Simulator, session: aiohttp.ClientSession
) -> None:
    sim.max_upload_bytes = 32
    async with session.post(
        sim.base_url + "/upload-video-image", data=_upload_form(), headers=bearer(sim)
    ) as resp:
        assert "50MB" in (await resp.json())["msg"]
    async with session.post(
        sim.base_url + "/upload-video-image", json={"file": "x"}, headers=bearer(sim)
    ) as resp:
        assert (await resp.json())["code"] == 1000


@pytest.mark.parametrize("auth", [None, KEY, f"Bearer {KEY}x", f"bearer {KEY}", f"Token {KEY}"])
@pytest.mark.parametrize("http_200", [True, False])
async def test_simulator_requires_bearer(
    sim: Veo3o1Simulator, session: aiohttp.ClientSession, auth: str | None, http_200: bool
) -> None:
    sim.errors_with_http_200 = http_200
    headers = {"Authorization": auth} if auth else {}
    body = {"generationType": "text_to_video", "prompt": "p"}
    async with session.post(sim.base_url + "/generate-video", json=body, headers=headers) as resp:
        assert resp.status == (200 if http_200 else 401)
        assert (await resp.json())["code"] == 1002
    assert sim.tasks == {}


async def test_simulator_answers_like_the_vendor_documents(
    sim: Veo3o1Simulator, session: aiohttp.ClientSession
) -> None:
    body = {"generationType": "text_to_video", "prompt": "p", "aspectRatio": "16:9"}
    async with session.post(
        sim.base_url + "/generate-video", json=body, headers=bearer(sim)
    ) as resp:
        answer = await resp.json()
    assert (answer["code"], answer["msg"]) == (0, "Success")
    data = answer["data"]
    assert set(data) == {"uuid", "status", "generationType", "prompt", "aspectRatio", "createdAt"}
    assert data["status"] == "pending" and data["aspectRatio"] == "16:9"
    sim.set_task_status(data["uuid"], "completed")
    async with session.get(
        f"{sim.base_url}/video-status/{data['uuid']}", headers=bearer(sim)
    ) as resp:
        done = (await resp.json())["data"]
    assert done["status"] == "completed" and done["progress"] == 100
    assert done["videoUrl"].startswith(sim.cdn_url) and done["estimatedTime"] == 0


# -- wire parsing never crashes -------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "code", "msg"),
    [
        (
            b'{"code": 1001, "msg": "Insufficient credits", "data": {"required": 2}}',
            1001,
            "Insufficient credits",
        ),
        (b'{"code": "1003", "msg": "slow"}', 1003, "slow"),
        (b'{"code": 0, "data": {}}', 0, None),
        (b'{"code": "abc", "msg": 5}', None, "5"),
        (b'{"code": true, "msg": ["x"]}', None, None),
        (b'{"code": 1000.5}', None, None),
    ],
)
def test_parse_envelope(raw: bytes, code: int | None, msg: str | None) -> None:
    env = parse_envelope(raw)
    assert isinstance(env, Veo3o1Envelope)
    assert (env.code, env.msg) == (code, msg)


@pytest.mark.parametrize(
    "raw", [b"", b"<html>", b"\xff\xfe", b"[1]", b'"x"', b'{"other": 1}', b"null"]
)
def test_parse_envelope_is_total(raw: bytes) -> None:
    assert parse_envelope(raw) is None


def test_envelope_parts_tolerate_odd_data() -> None:
    env = parse_envelope(b'{"code": 1001, "data": {"required": "2", "current": "zero"}}')
    assert env is not None
    credits = env.credits()
    assert credits is not None and (credits.required, credits.current) == (2.0, None)
    assert env.video() is None or env.video().uuid is None  # type: ignore[union-attr]
    odd = parse_envelope(b'{"code": 0, "data": "text"}')
    assert odd is not None and odd.video() is None and odd.video_status() is None
    assert odd.upload() is None and odd.credits() is None
