"""ApiyiProvider against a real HTTP simulator of the vendor's documented current channel:
assertions are on the wire."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from bot.chat.failures import error_text, failure_text
from bot.providers.apiyi.adapter import ApiyiProvider
from bot.providers.apiyi.legacy import ApiyiLegacyChannel
from bot.providers.apiyi.wire import ApiyiTask, parse_error, parse_task
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
from tests.net import free_port
from tests.providers.kit import (
    DONE,
    ERROR_READINGS,
    JPEG,
    PNG,
    TINY,
    UNREADABLE_STATUS,
    Vendor,
    assert_no_key,
    text_requests,
)
from tests.sim.apiyi_sim import ApiyiSimulator, default_video

KEY = "sk-test-0123456789abcdefSECRET"
FAST = "veo-3.1-fast-generate-preview"
STD = "veo-3.1-generate-preview"
VENDOR = Vendor(ApiyiSimulator, ApiyiProvider, KEY)
MakeProvider = Callable[..., ApiyiProvider]

text = text_requests(FAST)


def image_request(**kw: object) -> SubmitRequest:
    img = InputImage(data=PNG, mime="image/png", filename="first.png")
    return SubmitRequest(
        model=FAST,
        prompt="the lighthouse comes alive",
        mode=Mode.FIRST_FRAME,
        images=(img,),
        **kw,  # type: ignore[arg-type]
    )


def told(status: TaskStatus) -> str:
    """What a member reads of a failed task."""
    assert status.error_say is not None
    return failure_text(
        status.error_code, status.error_say.failure(status.error_code or "x").params
    )


async def complete(sim: ApiyiSimulator, provider: ApiyiProvider) -> str:
    task_id = await provider.submit(text())
    sim.set_task_status(task_id, "completed")
    return task_id


# -- the model table ------------------------------------------------------------------------


def test_models_and_protocol(session: aiohttp.ClientSession) -> None:
    p = ApiyiProvider(api_key=KEY, session=session)
    assert isinstance(p, Provider)
    assert (p.name, p.label) == ("apiyi", "APIYI")
    # Both channels live under one provider; the earlier channel's eight names come with it.
    assert set(p.models) == {FAST, STD} | set(
        ApiyiLegacyChannel(api_key=KEY, session=session).models
    )
    assert p.models[FAST].price_usd == 0.30 and p.models[STD].price_usd == 1.20
    for spec in (p.models[FAST], p.models[STD]):
        assert spec.modes == frozenset({Mode.TEXT, Mode.FIRST_FRAME})
        assert spec.max_reference_images == 0
        assert spec.durations == (4, 6, 8) and spec.default_duration == 8
        assert spec.durations_for("720p") == (4, 6, 8)
        assert spec.durations_for("1080p") == (8,) and spec.durations_for("4k") == (8,)
        assert spec.resolutions == ("720p", "1080p", "4k")
        assert spec.aspect_ratios == ("16:9", "9:16")
        assert spec.negative_prompt and spec.seed and not spec.gives_url
        assert spec.timing_for("720p").deadline >= 600
        assert spec.timing_for("4k").deadline > spec.timing_for("1080p").deadline >= 600
        assert spec.timing_for("4k").initial_wait > spec.timing_for("720p").initial_wait


def test_timing_override_applies_everywhere(provider: ApiyiProvider) -> None:
    for spec in provider.models.values():
        for res in (None, "720p", "1080p", "4k"):
            assert spec.timing_for(res) == TINY


def test_key_not_in_repr(provider: ApiyiProvider) -> None:
    assert KEY not in repr(provider) and KEY not in str(provider)


# -- submit: text ---------------------------------------------------------------------------


async def test_text_submit_sends_strings_and_no_generate_audio(
    sim: ApiyiSimulator, provider: ApiyiProvider
) -> None:
    task_id = await provider.submit(text(duration=6, resolution="720p", aspect_ratio="9:16"))
    assert task_id in sim.tasks
    (req,) = sim.submits()
    assert req.path == "/v1/videos"
    assert req.headers["Authorization"] == f"Bearer {KEY}"
    assert req.content_type == "application/json"
    body = req.json
    assert body["model"] == FAST and body["prompt"] == "a lighthouse at dusk"
    assert body["duration"] == "6" and body["seconds"] == "6"
    assert isinstance(body["duration"], str) and isinstance(body["seconds"], str)
    assert body["size"] == "720x1280"
    assert body["metadata"] == {"resolution": "720p", "aspectRatio": "9:16"}
    assert "generateAudio" not in req.body.decode()


async def test_text_submit_defaults(sim: ApiyiSimulator, provider: ApiyiProvider) -> None:
    await provider.submit(text())
    body = sim.submits()[0].json
    assert body["duration"] == "8" and body["seconds"] == "8"
    assert body["size"] == "1280x720"
    assert body["metadata"] == {"resolution": "720p", "aspectRatio": "16:9"}
    assert "seed" not in body["metadata"] and "negativePrompt" not in body["metadata"]


async def test_seed_and_negative_prompt_in_metadata(
    sim: ApiyiSimulator, provider: ApiyiProvider
) -> None:
    await provider.submit(text(seed=20260521, negative_prompt="blurry, watermark"))
    meta = sim.submits()[0].json["metadata"]
    assert meta["seed"] == 20260521 and isinstance(meta["seed"], int)
    assert meta["negativePrompt"] == "blurry, watermark"


@pytest.mark.parametrize(
    ("resolution", "aspect", "size"),
    [
        ("720p", "16:9", "1280x720"),
        ("720p", "9:16", "720x1280"),
        ("1080p", "16:9", "1920x1080"),
        ("1080p", "9:16", "1080x1920"),
        ("4k", "16:9", "3840x2160"),
        ("4k", "9:16", "2160x3840"),
    ],
)
async def test_size_from_resolution_and_aspect(
    sim: ApiyiSimulator, provider: ApiyiProvider, resolution: str, aspect: str, size: str
) -> None:
    await provider.submit(text(model=STD, resolution=resolution, aspect_ratio=aspect, duration=8))
    body = sim.submits()[0].json
    assert body["size"] == size
    assert body["metadata"]["resolution"] == resolution
    assert body["metadata"]["aspectRatio"] == aspect


@pytest.mark.parametrize(
    "request_",
    [
        text(resolution="1080p", duration=4),
        text(resolution="4k", duration=6),
        text(model="veo-9"),
        text(resolution="480p"),
        text(aspect_ratio="1:1"),
        text(mode=Mode.FIRST_LAST),
        text(mode=Mode.REFERENCE),
        SubmitRequest(model=FAST, prompt="x", mode=Mode.FIRST_FRAME),
        SubmitRequest(
            model=FAST,
            prompt="x",
            mode=Mode.FIRST_FRAME,
            images=(InputImage(PNG, "image/png", "a.png"), InputImage(PNG, "image/png", "b.png")),
        ),
        SubmitRequest(
            model=FAST,
            prompt="x",
            mode=Mode.FIRST_FRAME,
            images=(InputImage(b"GIF89a", "image/gif", "a.gif"),),
        ),
        SubmitRequest(model=FAST, prompt="x", images=(InputImage(PNG, "image/png", "a.png"),)),
    ],
)
async def test_invalid_requests_rejected_before_the_wire(
    sim: ApiyiSimulator, provider: ApiyiProvider, request_: SubmitRequest
) -> None:
    with pytest.raises(ProviderRejected) as info:
        await provider.submit(request_)
    assert error_text(info.value)
    assert sim.requests == []


@pytest.mark.parametrize(
    ("request_", "words"),
    [
        (
            text(resolution="1080p", duration=4),
            "At 1080p the video service only makes videos of 8 s.",
        ),
        (
            text(aspect_ratio="1:1"),
            "The video service does not offer this resolution or shape.",
        ),
    ],
)
async def test_refusals_read_as_they_always_did(
    provider: ApiyiProvider, request_: SubmitRequest, words: str
) -> None:
    with pytest.raises(ProviderRejected) as info:
        await provider.submit(request_)
    assert error_text(info.value) == words


# -- submit: image --------------------------------------------------------------------------


async def test_image_submit_is_multipart(sim: ApiyiSimulator, provider: ApiyiProvider) -> None:
    task_id = await provider.submit(image_request(seed=7, aspect_ratio="9:16"))
    assert task_id in sim.tasks
    (req,) = sim.submits()
    assert req.content_type == "multipart/form-data"
    assert req.headers["Authorization"] == f"Bearer {KEY}"
    (ref,) = req.files["input_reference"]
    assert (ref.filename, ref.content_type, ref.size, ref.data) == (
        "first.png",
        "image/png",
        len(PNG),
        PNG,
    )
    assert set(req.files) == {"input_reference"}
    form = {k: v[0] for k, v in req.form.items()}
    assert all(len(v) == 1 for v in req.form.values())
    assert form["model"] == FAST and form["prompt"] == "the lighthouse comes alive"
    assert form["duration"] == "8" and form["seconds"] == "8"
    assert form["size"] == "720x1280"
    assert json.loads(form["metadata"]) == {"resolution": "720p", "aspectRatio": "9:16", "seed": 7}
    assert "generateAudio" not in form and "generateAudio" not in form["metadata"]


async def test_image_submit_jpeg(sim: ApiyiSimulator, provider: ApiyiProvider) -> None:
    img = InputImage(data=JPEG, mime="image/jpeg", filename="me.jpg")
    await provider.submit(
        SubmitRequest(model=STD, prompt="p", mode=Mode.FIRST_FRAME, images=(img,))
    )
    (ref,) = sim.submits()[0].files["input_reference"]
    assert ref.content_type == "image/jpeg" and ref.data == JPEG


# -- submit: task id ------------------------------------------------------------------------


async def test_task_id_preferred_over_id(sim: ApiyiSimulator, provider: ApiyiProvider) -> None:
    sim.script_next_submit(200, {"id": "video_1", "task_id": "task_1", "status": "queued"})
    assert await provider.submit(text()) == "task_1"


async def test_task_id_falls_back_to_id(sim: ApiyiSimulator, provider: ApiyiProvider) -> None:
    sim.omit_task_id = True
    task_id = await provider.submit(text())
    assert task_id in sim.tasks
    assert (await provider.status(task_id, FAST)).state is TaskState.PENDING


async def test_answer_without_any_id_is_uncertain(
    sim: ApiyiSimulator, provider: ApiyiProvider
) -> None:
    sim.script_next_submit(200, {"object": "video", "status": "queued"})
    with pytest.raises(ProviderTimeout) as info:
        await provider.submit(text())
    assert info.value.code == "no_task_id"


async def test_error_envelope_with_200_is_unavailable(
    sim: ApiyiSimulator, provider: ApiyiProvider
) -> None:
    sim.script_next_submit(200, {"error": {"message": "upstream busy", "type": "x", "code": 1}})
    with pytest.raises(ProviderUnavailable):
        await provider.submit(text())


# -- submit: errors -------------------------------------------------------------------------


async def test_wrong_key_is_auth_error_without_key(
    sim: ApiyiSimulator, make_provider: MakeProvider
) -> None:
    sim.api_key = "sk-the-right-one"
    p = make_provider()
    with pytest.raises(ProviderAuthError) as info:
        await p.submit(text())
    assert "API key" in error_text(info.value)
    assert_no_key(info.value, KEY)
    with pytest.raises(ProviderAuthError) as info2:
        await p.status("task_x", FAST)
    assert_no_key(info2.value, KEY)
    with pytest.raises(ProviderAuthError) as info3:
        await p.fetch("task_x", FAST, DONE, Path("/nonexistent/x.mp4"), 10)
    assert_no_key(info3.value, KEY)
    # The simulator really did echo the key: the adapter scrubbed it.
    assert all(r.headers["Authorization"] == f"Bearer {KEY}" for r in sim.requests)


async def test_quota_is_auth_error(sim: ApiyiSimulator, provider: ApiyiProvider) -> None:
    sim.fail_next_submit_with(
        403, {"error": {"message": "user quota is not enough", "code": "insufficient_user_quota"}}
    )
    with pytest.raises(ProviderAuthError) as info:
        await provider.submit(text())
    assert info.value.code == "quota"


async def test_parse_request_failed_is_rejected_in_plain_words(
    sim: ApiyiSimulator, provider: ApiyiProvider
) -> None:
    sim.fail_next_submit_with(
        400,
        {
            "error": {
                "message": "parse_request_failed: json: cannot unmarshal number into Go "
                "struct field .duration of type string",
                "type": "new_api_error",
                "code": "parse_request_failed",
            }
        },
    )
    with pytest.raises(ProviderRejected) as info:
        await provider.submit(text())
    msg = error_text(info.value)
    assert "not accept" in msg and "Go struct" not in msg and "unmarshal" not in msg
    assert (
        msg == "The video service did not accept this request. Try a different prompt or settings."
    )
    assert "parse_request_failed" in (info.value.detail or "")


async def test_invalid_argument_is_rejected(sim: ApiyiSimulator, provider: ApiyiProvider) -> None:
    sim.fail_next_submit_with(
        400, {"error": {"message": "INVALID_ARGUMENT: bad field", "code": "INVALID_ARGUMENT"}}
    )
    with pytest.raises(ProviderRejected) as info:
        await provider.submit(text())
    assert "INVALID_ARGUMENT" not in error_text(info.value)


async def test_short_vendor_reason_reaches_the_member(
    sim: ApiyiSimulator, provider: ApiyiProvider
) -> None:
    sim.fail_next_submit_with(422, {"message": "Prompt violates the content policy"})
    with pytest.raises(ProviderRejected) as info:
        await provider.submit(text())
    assert "content policy" in error_text(info.value)
    assert not info.value.retryable


async def test_html_400_is_rejected_without_markup(
    sim: ApiyiSimulator, provider: ApiyiProvider
) -> None:
    sim.fail_next_submit_with(400, "<html><body><h1>400 Bad Request</h1></body></html>")
    with pytest.raises(ProviderRejected) as info:
        await provider.submit(text())
    assert "<" not in error_text(info.value)


async def test_429_with_retry_after(sim: ApiyiSimulator, provider: ApiyiProvider) -> None:
    sim.fail_next_submit_with(429, retry_after=7)
    with pytest.raises(ProviderUnavailable) as info:
        await provider.submit(text())
    assert info.value.retry_after == 7.0 and info.value.retryable
    # Nothing was queued; the retry goes through.
    assert await provider.submit(text()) in sim.tasks


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_5xx_is_unavailable(
    sim: ApiyiSimulator, provider: ApiyiProvider, status: int
) -> None:
    sim.fail_next_submit_with(status, "<html>Bad Gateway</html>")
    with pytest.raises(ProviderUnavailable) as info:
        await provider.submit(text())
    assert info.value.retry_after is None


async def test_connection_refused_is_unavailable(session: aiohttp.ClientSession) -> None:
    port = free_port()
    p = ApiyiProvider(api_key=KEY, base_url=f"http://127.0.0.1:{port}", session=session)
    with pytest.raises(ProviderUnavailable) as info:
        await p.submit(text())
    assert info.value.code == "connect_failed"
    assert_no_key(info.value, KEY)
    with pytest.raises(ProviderUnavailable):
        await p.status("t", FAST)


async def test_submit_timeout_is_uncertain(
    sim: ApiyiSimulator, make_provider: MakeProvider
) -> None:
    sim.delay_submit = 2.0
    p = make_provider(request_timeout=0.2)
    with pytest.raises(ProviderTimeout) as info:
        await p.submit(text())
    assert_no_key(info.value, KEY)
    assert len(sim.submits()) == 1  # it did go out: the caller must treat it as uncertain


async def test_bad_base_url_is_unavailable(session: aiohttp.ClientSession) -> None:
    p = ApiyiProvider(api_key=KEY, base_url="http://[::1", session=session)
    with pytest.raises(ProviderUnavailable):
        await p.submit(text())


async def test_base_url_with_v1_suffix(sim: ApiyiSimulator, make_provider: MakeProvider) -> None:
    p = make_provider(base_url=sim.base_url + "/v1/")
    await p.submit(text())
    assert sim.submits()[0].path == "/v1/videos"


# -- status ---------------------------------------------------------------------------------


async def test_status_lifecycle(sim: ApiyiSimulator, provider: ApiyiProvider) -> None:
    task_id = await provider.submit(text())
    st = await provider.status(task_id, FAST)
    assert (st.state, st.progress, st.stage) == (TaskState.PENDING, None, "queued")
    sim.set_task_status(task_id, "in_progress")
    st = await provider.status(task_id, FAST)
    assert (st.state, st.progress, st.stage) == (TaskState.RUNNING, None, "generating")
    sim.set_task_status(task_id, "processing")
    assert (await provider.status(task_id, FAST)).state is TaskState.RUNNING
    sim.set_task_status(task_id, "completed")
    st = await provider.status(task_id, FAST)
    assert st.state is TaskState.SUCCEEDED and st.progress is None and st.result_url is None
    polls = sim.gets(f"/v1/videos/{task_id}")
    assert len(polls) == 4
    assert all(r.headers["Authorization"] == f"Bearer {KEY}" for r in polls)


async def test_status_follows_the_clock(session: aiohttp.ClientSession) -> None:
    async with ApiyiSimulator(api_key=KEY, queued_for=0.15, running_for=0.15) as sim:
        p = ApiyiProvider(api_key=KEY, base_url=sim.base_url, session=session, timing_override=TINY)
        task_id = await p.submit(text())
        seen: list[TaskState] = []
        for _ in range(100):
            st = await p.status(task_id, FAST)
            if not seen or seen[-1] is not st.state:
                seen.append(st.state)
            if st.state is TaskState.SUCCEEDED:
                break
            await asyncio.sleep(0.01)
        assert seen == [TaskState.PENDING, TaskState.RUNNING, TaskState.SUCCEEDED]


async def test_failed_without_reason(sim: ApiyiSimulator, provider: ApiyiProvider) -> None:
    task_id = await provider.submit(text())
    sim.make_task_fail(task_id=task_id)
    sim.queued_for = sim.running_for = 0.0
    st = await provider.status(task_id, FAST)
    assert st.state is TaskState.FAILED
    assert told(st) == (
        "The video service could not make this video (often a content review or an "
        "unsupported request). You were not charged."
    )
    assert st.error_code == "generation_failed"


async def test_failed_with_reason(sim: ApiyiSimulator, provider: ApiyiProvider) -> None:
    sim.make_task_fail("content review rejected the prompt")
    task_id = await provider.submit(text())
    sim.queued_for = sim.running_for = 0.0
    st = await provider.status(task_id, FAST)
    assert st.state is TaskState.FAILED
    assert "content review rejected the prompt" in told(st)
    assert "not charged" in told(st)


async def test_failed_with_fail_reason_string(sim: ApiyiSimulator, provider: ApiyiProvider) -> None:
    sim.make_task_fail("safety filter", field="fail_reason")
    task_id = await provider.submit(text())
    sim.queued_for = sim.running_for = 0.0
    st = await provider.status(task_id, FAST)
    assert st.state is TaskState.FAILED and "safety filter" in told(st)


async def test_unknown_status_is_running(sim: ApiyiSimulator, provider: ApiyiProvider) -> None:
    task_id = await provider.submit(text())
    sim.set_task_status(task_id, "upscaling")
    st = await provider.status(task_id, FAST)
    assert st.state is TaskState.RUNNING and st.stage == "upscaling"


async def test_status_404_is_task_not_found(provider: ApiyiProvider) -> None:
    with pytest.raises(TaskNotFound):
        await provider.status("task_nope", FAST)


@pytest.mark.parametrize(
    "body",
    [
        *UNREADABLE_STATUS,
        '{"id": "task_1"}',
        '{"status": {"nested": true}}',
    ],
)
async def test_garbage_status_body_is_unavailable(
    sim: ApiyiSimulator, provider: ApiyiProvider, body: str | bytes
) -> None:
    task_id = await provider.submit(text())
    sim.queue_status_error(200, body if body else b"")
    with pytest.raises(ProviderUnavailable) as info:
        await provider.status(task_id, FAST)
    assert info.value.code == "bad_answer"
    assert (await provider.status(task_id, FAST)).state is TaskState.PENDING


async def test_status_errors_then_recovery(sim: ApiyiSimulator, provider: ApiyiProvider) -> None:
    task_id = await provider.submit(text())
    sim.queue_status_error(500)
    sim.queue_status_error(429, retry_after=3)
    with pytest.raises(ProviderUnavailable) as first:
        await provider.status(task_id, FAST)
    assert first.value.retry_after is None
    with pytest.raises(ProviderUnavailable) as second:
        await provider.status(task_id, FAST)
    assert second.value.retry_after == 3.0
    assert (await provider.status(task_id, FAST)).state is TaskState.PENDING


async def test_status_timeout(sim: ApiyiSimulator, make_provider: MakeProvider) -> None:
    p = make_provider(request_timeout=0.2)
    task_id = await p.submit(text())
    sim.delay_status = 2.0
    with pytest.raises(ProviderTimeout):
        await p.status(task_id, FAST)


async def test_task_id_needing_quotes(
    sim: ApiyiSimulator, provider: ApiyiProvider, tmp_path: Path
) -> None:
    odd = "veo3:a/b c?d#e%f&ü"
    sim.next_task_ids.append(odd)
    task_id = await provider.submit(text())
    assert task_id == odd
    assert (await provider.status(task_id, FAST)).state is TaskState.PENDING
    sim.set_task_status(odd, "completed")
    got = await provider.fetch(task_id, FAST, DONE, tmp_path / "v.mp4", 10**6)
    assert got.size == len(sim.video_bytes)
    paths = [r.path for r in sim.gets()]
    assert paths[0] == "/v1/videos/veo3%3Aa%2Fb%20c%3Fd%23e%25f%26%C3%BC"
    assert paths[1] == paths[0] + "/content"


# -- fetch ----------------------------------------------------------------------------------


async def test_fetch_streams_the_bytes(
    sim: ApiyiSimulator, provider: ApiyiProvider, tmp_path: Path
) -> None:
    sim.video_bytes = default_video(300_000)
    task_id = await complete(sim, provider)
    dest = tmp_path / "out" / "video.mp4"
    got = await provider.fetch(task_id, FAST, DONE, dest, 10**6)
    assert got.path == dest and got.size == 300_000 and got.url is None
    assert dest.read_bytes() == sim.video_bytes
    assert dest.read_bytes()[4:8] == b"ftyp"
    (req,) = sim.gets("/content")
    assert req.headers["Authorization"] == f"Bearer {KEY}"


async def test_fetch_early_400_then_success(
    sim: ApiyiSimulator, provider: ApiyiProvider, tmp_path: Path
) -> None:
    task_id = await complete(sim, provider)
    sim.content_400_times = 2
    dest = tmp_path / "v.mp4"
    for _ in range(2):
        with pytest.raises(ResultNotReady) as info:
            await provider.fetch(task_id, FAST, DONE, dest, 10**6)
        assert info.value.retryable and info.value.retry_after == 4.0
        assert not dest.exists()
    got = await provider.fetch(task_id, FAST, DONE, dest, 10**6)
    assert dest.read_bytes() == sim.video_bytes and got.size == len(sim.video_bytes)
    assert len(sim.gets("/content")) == 3


async def test_fetch_404_is_not_ready(provider: ApiyiProvider, tmp_path: Path) -> None:
    with pytest.raises(ResultNotReady):
        await provider.fetch("task_nope", FAST, DONE, tmp_path / "v.mp4", 10**6)


@pytest.mark.parametrize("chunked", [False, True])
async def test_fetch_over_cap(
    sim: ApiyiSimulator, provider: ApiyiProvider, tmp_path: Path, chunked: bool
) -> None:
    sim.video_bytes = default_video(200_000)
    sim.send_content_length = not chunked
    task_id = await complete(sim, provider)
    dest = tmp_path / "v.mp4"
    with pytest.raises(ResultTooLarge) as info:
        await provider.fetch(task_id, FAST, DONE, dest, 100_000)
    assert info.value.url is None
    assert not dest.exists()
    assert list(tmp_path.iterdir()) == []


async def test_fetch_exactly_at_cap(
    sim: ApiyiSimulator, provider: ApiyiProvider, tmp_path: Path
) -> None:
    sim.send_content_length = False
    task_id = await complete(sim, provider)
    got = await provider.fetch(task_id, FAST, DONE, tmp_path / "v.mp4", len(sim.video_bytes))
    assert got.size == len(sim.video_bytes)


async def test_fetch_broken_mid_stream(
    sim: ApiyiSimulator, provider: ApiyiProvider, tmp_path: Path
) -> None:
    sim.video_bytes = default_video(200_000)
    sim.break_content_after = 50_000
    task_id = await complete(sim, provider)
    dest = tmp_path / "v.mp4"
    with pytest.raises(ProviderTimeout):
        await provider.fetch(task_id, FAST, DONE, dest, 10**6)
    assert not dest.exists()


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (429, ProviderUnavailable),
        (500, ProviderUnavailable),
        (503, ProviderUnavailable),
        (401, ProviderAuthError),
        (403, ProviderAuthError),
    ],
)
async def test_fetch_errors(
    sim: ApiyiSimulator,
    provider: ApiyiProvider,
    tmp_path: Path,
    status: int,
    error: type[ProviderError],
) -> None:
    task_id = await complete(sim, provider)
    sim.queue_content_error(status, retry_after=5 if status == 429 else None)
    with pytest.raises(error) as info:
        await provider.fetch(task_id, FAST, DONE, tmp_path / "v.mp4", 10**6)
    if status == 429:
        assert info.value.retry_after == 5.0
    assert not (tmp_path / "v.mp4").exists()


async def test_fetch_json_with_200_is_not_saved(
    sim: ApiyiSimulator, provider: ApiyiProvider, tmp_path: Path
) -> None:
    task_id = await complete(sim, provider)
    sim.queue_content_error(200, {"url": "https://cdn.example/x.mp4"})
    with pytest.raises(ProviderUnavailable):
        await provider.fetch(task_id, FAST, DONE, tmp_path / "v.mp4", 10**6)
    assert not (tmp_path / "v.mp4").exists()


async def test_full_flow_image(
    sim: ApiyiSimulator, provider: ApiyiProvider, tmp_path: Path
) -> None:
    sim.queued_for = sim.running_for = 0.0
    task_id = await provider.submit(image_request())
    assert (await provider.status(task_id, FAST)).state is TaskState.SUCCEEDED
    sim.content_400_times = 1
    with pytest.raises(ResultNotReady):
        await provider.fetch(task_id, FAST, DONE, tmp_path / "v.mp4", 10**6)
    got = await provider.fetch(task_id, FAST, DONE, tmp_path / "v.mp4", 10**6)
    assert got.path is not None and got.path.read_bytes() == sim.video_bytes
    await provider.close()  # the session is the caller's: still usable afterwards
    assert not provider._http.session.closed


# -- the simulator enforces the documentation (so the tests above can fail) -----------------


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (
            {"model": FAST, "prompt": "p", "duration": 8},
            "cannot unmarshal number into Go struct field",
        ),
        ({"model": FAST, "prompt": "p", "seconds": 8}, "cannot unmarshal number"),
        ({"model": FAST, "prompt": "p", "generateAudio": True}, "INVALID_ARGUMENT"),
        ({"model": FAST, "prompt": "p", "metadata": {"generateAudio": False}}, "INVALID_ARGUMENT"),
        (
            {"model": FAST, "prompt": "p", "duration": "4", "metadata": {"resolution": "1080p"}},
            "INVALID_ARGUMENT",
        ),
        ({"model": FAST, "prompt": "p", "duration": "6", "size": "3840x2160"}, "INVALID_ARGUMENT"),
        ({"model": "veo-3.1", "prompt": "p"}, "model"),
        ({"model": FAST}, "prompt"),
        ({"model": FAST, "prompt": "p", "duration": "5"}, "duration"),
        ({"model": FAST, "prompt": "p", "size": "640x480"}, "size"),
        ({"model": FAST, "prompt": "p", "input_reference": "https://x/y.png"}, "remote URL"),
    ],
)
async def test_simulator_rejects_json(
    sim: ApiyiSimulator, session: aiohttp.ClientSession, body: dict[str, object], needle: str
) -> None:
    async with session.post(
        sim.base_url + "/v1/videos", json=body, headers={"Authorization": f"Bearer {KEY}"}
    ) as resp:
        assert resp.status == 400
        assert needle in (await resp.json())["error"]["message"]
    assert sim.tasks == {}


def _form(
    *,
    metadata: str | None = '{"resolution":"720p"}',
    image: bytes | None = PNG,
    ctype: str = "image/png",
    url: str | None = None,
    images: int = 1,
) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("model", FAST)
    form.add_field("prompt", "p")
    form.add_field("duration", "8")
    if metadata is not None:
        form.add_field("metadata", metadata)
    if url is not None:
        form.add_field("input_reference", url)
    for _ in range(images if image is not None else 0):
        form.add_field("input_reference", image, filename="a.png", content_type=ctype)
    return form


@pytest.mark.parametrize(
    ("form", "status"),
    [
        (_form, 200),
        (lambda: _form(image=None, url="https://example.com/a.png"), 400),
        (lambda: _form(image=b"GIF89a....", ctype="image/gif"), 400),
        (lambda: _form(image=b"not really a png", ctype="image/png"), 400),
        (lambda: _form(images=2), 400),
        (lambda: _form(image=None), 400),
        (lambda: _form(metadata="{not json"), 400),
        (lambda: _form(metadata='"a string"'), 400),
    ],
)
async def test_simulator_multipart_rules(
    sim: ApiyiSimulator, session: aiohttp.ClientSession, form: object, status: int
) -> None:
    async with session.post(
        sim.base_url + "/v1/videos",
        data=form(),  # type: ignore[operator]
        headers={"Authorization": f"Bearer {KEY}"},
    ) as resp:
        assert resp.status == status, await resp.text()


@pytest.mark.parametrize("auth", [None, KEY, f"Bearer {KEY}x", f"bearer {KEY}"])
async def test_simulator_requires_bearer(
    sim: ApiyiSimulator, session: aiohttp.ClientSession, auth: str | None
) -> None:
    headers = {"Authorization": auth} if auth else {}
    async with session.post(
        sim.base_url + "/v1/videos", json={"model": FAST, "prompt": "p"}, headers=headers
    ) as resp:
        assert resp.status == 401
        assert (await resp.json())["error"]["code"] == "invalid_api_key"


async def test_simulator_answers_like_the_vendor_documents(
    sim: ApiyiSimulator, session: aiohttp.ClientSession
) -> None:
    sim.queued_for, sim.running_for = 0.0, 0.0
    async with session.post(
        sim.base_url + "/v1/videos",
        json={"model": FAST, "prompt": "p"},
        headers={"Authorization": f"Bearer {KEY}"},
    ) as resp:
        body = await resp.json()
    assert body["id"] == body["task_id"] and body["object"] == "video"
    assert body["status"] == "queued" and body["progress"] == 0
    assert isinstance(body["created_at"], int) and "completed_at" not in body
    async with session.get(
        f"{sim.base_url}/v1/videos/{body['task_id']}", headers={"Authorization": f"Bearer {KEY}"}
    ) as resp:
        done = await resp.json()
    assert done["status"] == "completed" and done["progress"] == 100
    assert done["completed_at"] >= done["created_at"]


# -- wire parsing never crashes -------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message", "code"),
    [
        (b'{"error": {"message": "bad", "type": "t", "code": "c"}}', "bad", "c"),
        *ERROR_READINGS,
    ],
)
def test_parse_error_is_total(raw: bytes, message: str | None, code: str | None) -> None:
    err = parse_error(raw)
    assert (err.message, err.code) == (message, code)


def test_parse_task_tolerates_extras_and_numbers() -> None:
    task = parse_task(b'{"id": 12, "status": "queued", "progress": 50.0, "new_field": [1]}')
    assert isinstance(task, ApiyiTask) and task.ref == "12" and task.status == "queued"
    assert parse_task(b"<html>") is None and parse_task(b"[]") is None
