"""ApiyiLegacyChannel against a real HTTP simulator of the vendor's documented earlier
channel: assertions are on the wire."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from bot.chat.failures import error_text, failure_text
from bot.providers.apiyi.legacy import ApiyiLegacyChannel
from bot.providers.apiyi.legacy_catalog import MODELS, URL_LIFETIME
from bot.providers.apiyi.legacy_wire import LegacyTask, parse_error, parse_task
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
    WEBP,
    Vendor,
    assert_no_key,
    text_requests,
)
from tests.sim.apiyi_legacy_sim import MODELS as NAMES  # the eight the vendor documents
from tests.sim.apiyi_legacy_sim import ApiyiLegacySimulator, default_video

KEY = "sk-legacy-0123456789abcdefSECRET"
TEXT_MODELS = sorted(n for n in NAMES if not n.endswith("-fl"))
FRAME_MODELS = sorted(n for n in NAMES if n.endswith("-fl"))
NOW = 1_800_000_000.0
VENDOR = Vendor(ApiyiLegacySimulator, ApiyiLegacyChannel, KEY, {"clock": lambda: NOW})
MakeChannel = Callable[..., ApiyiLegacyChannel]

text = text_requests("veo-3.1-fast")


def told(status: TaskStatus) -> str:
    """What a member reads of a failed task."""
    assert status.error_say is not None
    return failure_text(
        status.error_code, status.error_say.failure(status.error_code or "x").params
    )


def frames(model: str = "veo-3.1-fl", *images: InputImage, **kw: object) -> SubmitRequest:
    images = images or (InputImage(PNG, "image/png", "first.png"),)
    mode = Mode.FIRST_LAST if len(images) == 2 else Mode.FIRST_FRAME
    return SubmitRequest(
        model=model,
        prompt="camera slowly zooms in",
        mode=kw.pop("mode", mode),  # type: ignore[arg-type]
        images=images,
        **kw,  # type: ignore[arg-type]
    )


async def complete(sim: ApiyiLegacySimulator, provider: ApiyiLegacyChannel) -> str:
    task_id = await provider.submit(text())
    sim.set_task_status(task_id, "completed")
    return task_id


# -- the model table ------------------------------------------------------------------------


def test_models_and_protocol(session: aiohttp.ClientSession) -> None:
    p = ApiyiLegacyChannel(api_key=KEY, session=session)
    assert isinstance(p, Provider)
    assert (p.name, p.label) == ("apiyi", "APIYI")
    assert set(p.models) == NAMES and len(NAMES) == 8
    labels = [spec.label for spec in p.models.values()]
    assert len(set(labels)) == 8
    for name, spec in p.models.items():
        assert spec.name == name
        assert spec.label == f"{name} (apiyi, earlier channel)"
        assert spec.aspect_ratios == (("16:9",) if "-landscape" in name else ("9:16",))
        assert spec.durations == (8,) and spec.default_duration == 8
        assert spec.durations_for(None) == (8,) and spec.durations_for("720p") == (8,)
        assert spec.resolutions == ("720p",)
        if name.endswith("-fl"):
            assert spec.modes == frozenset({Mode.FIRST_FRAME, Mode.FIRST_LAST})
        else:
            assert spec.modes == frozenset({Mode.TEXT})
        assert spec.max_reference_images == 0
        assert not spec.negative_prompt and not spec.seed and not spec.enhance_prompt
        assert spec.gives_url and spec.image_transport == "bytes" and not spec.callbacks
        assert spec.image_formats == frozenset({"jpeg", "png", "webp"})
        fast = "-fast" in name
        assert spec.price_usd == (0.15 if fast else 0.25)
        timing = spec.timing_for(None)
        assert timing.poll_interval == 5
        assert timing.initial_wait == (30 if fast else 60)
        assert 600 < timing.deadline <= 1800
    assert MODELS is p.models


def test_timing_override_applies_everywhere(provider: ApiyiLegacyChannel) -> None:
    for spec in provider.models.values():
        assert spec.timing_for(None) == TINY and spec.timing_for("720p") == TINY


def test_key_not_in_repr(provider: ApiyiLegacyChannel) -> None:
    assert KEY not in repr(provider) and KEY not in str(provider)


# -- submit: text ---------------------------------------------------------------------------


@pytest.mark.parametrize("model", TEXT_MODELS)
async def test_text_submit_is_json_with_bare_key(
    sim: ApiyiLegacySimulator, provider: ApiyiLegacyChannel, model: str
) -> None:
    task_id = await provider.submit(text(model))
    assert sim.tasks[task_id].model == model
    (req,) = sim.submits()
    assert req.path == "/v1/videos"
    assert req.headers["Authorization"] == KEY  # the bare key: no "Bearer"
    assert req.content_type == "application/json"
    assert req.json == {"prompt": "a lighthouse at dusk", "model": model}
    assert sim.tasks[task_id].images == []


@pytest.mark.parametrize(
    ("model", "aspect"), [("veo-3.1", "9:16"), ("veo-3.1-landscape-fast", "16:9")]
)
async def test_matching_options_are_accepted_and_not_sent(
    sim: ApiyiLegacySimulator, provider: ApiyiLegacyChannel, model: str, aspect: str
) -> None:
    await provider.submit(text(model, aspect_ratio=aspect, duration=8, resolution="720p"))
    assert sim.submits()[0].json == {"prompt": "a lighthouse at dusk", "model": model}


@pytest.mark.parametrize(
    "request_",
    [
        text("veo-9"),
        text("veo-3.1-fast-generate-preview"),
        text("veo-3.1-fl"),  # -fl models are frame-to-video only
        text("veo-3.1", aspect_ratio="16:9"),
        text("veo-3.1-landscape", aspect_ratio="9:16"),
        text("veo-3.1", aspect_ratio="1:1"),
        text("veo-3.1", duration=4),
        text("veo-3.1", resolution="1080p"),
        text("veo-3.1", negative_prompt="blurry"),
        text("veo-3.1", seed=7),
        text("veo-3.1", enhance_prompt=True),
        SubmitRequest(model="veo-3.1", prompt="   "),
        text("veo-3.1", mode=Mode.FIRST_FRAME),
        text("veo-3.1", mode=Mode.REFERENCE),
        SubmitRequest(model="veo-3.1", prompt="x", images=(InputImage(PNG, "image/png", "a.png"),)),
        frames("veo-3.1"),  # images need an -fl model
        frames("veo-3.1-fl", mode=Mode.REFERENCE),
        frames("veo-3.1-fl", mode=Mode.TEXT),
        SubmitRequest(model="veo-3.1-fl", prompt="x", mode=Mode.FIRST_FRAME),
        SubmitRequest(model="veo-3.1-fl", prompt="x", mode=Mode.FIRST_LAST),
        frames(
            "veo-3.1-fl",
            InputImage(PNG, "image/png", "a.png"),
            InputImage(PNG, "image/png", "b.png"),
            mode=Mode.FIRST_FRAME,
        ),
        frames("veo-3.1-fl", InputImage(PNG, "image/png", "a.png"), mode=Mode.FIRST_LAST),
        frames(
            "veo-3.1-fl",
            InputImage(PNG, "image/png", "a.png"),
            InputImage(PNG, "image/png", "b.png"),
            InputImage(PNG, "image/png", "c.png"),
        ),
        frames("veo-3.1-fl", InputImage(b"GIF89a", "image/gif", "a.gif")),
        frames("veo-3.1-fl", InputImage(PNG + b"\0" * (10 * 1024 * 1024), "image/png", "big.png")),
        frames("veo-3.1-fl", aspect_ratio="16:9"),
        frames("veo-3.1-landscape-fl", aspect_ratio="9:16"),
    ],
)
async def test_invalid_requests_rejected_before_the_wire(
    sim: ApiyiLegacySimulator, provider: ApiyiLegacyChannel, request_: SubmitRequest
) -> None:
    with pytest.raises(ProviderRejected) as info:
        await provider.submit(request_)
    assert error_text(info.value) and not info.value.retryable
    assert sim.requests == []


@pytest.mark.parametrize(
    ("request_", "words"),
    [
        (
            text("veo-3.1-fl"),
            "veo-3.1-fl makes videos from a first frame (and optionally a last frame).",
        ),
        (frames("veo-3.1"), "veo-3.1 makes videos from text only; use a -fl model for images."),
        (
            text("veo-3.1", aspect_ratio="16:9"),
            "veo-3.1 only makes 9:16 videos; use its -landscape variant for 16:9.",
        ),
        (
            text("veo-3.1-landscape", aspect_ratio="9:16"),
            "veo-3.1-landscape only makes 16:9 videos; drop -landscape from the model name for 9:16.",
        ),
        (text("veo-3.1", resolution="1080p"), "veo-3.1 only renders at 720p."),
        (text("veo-3.1", duration=4), "veo-3.1 only makes 8-second videos."),
        (
            text("veo-3.1", negative_prompt="blurry", seed=7),
            "veo-3.1 does not take a negative prompt or a seed.",
        ),
        (text("veo-3.1", enhance_prompt=True), "veo-3.1 does not take prompt enhancement."),
    ],
)
async def test_refusals_read_as_they_always_did(
    provider: ApiyiLegacyChannel, request_: SubmitRequest, words: str
) -> None:
    with pytest.raises(ProviderRejected) as info:
        await provider.submit(request_)
    assert error_text(info.value) == words


# -- submit: frames -------------------------------------------------------------------------


@pytest.mark.parametrize("model", FRAME_MODELS)
async def test_first_frame_is_multipart_with_one_file(
    sim: ApiyiLegacySimulator, provider: ApiyiLegacyChannel, model: str
) -> None:
    task_id = await provider.submit(frames(model))
    (req,) = sim.submits()
    assert req.content_type == "multipart/form-data"
    assert req.headers["Authorization"] == KEY
    assert req.form == {"prompt": ["camera slowly zooms in"], "model": [model]}
    assert set(req.files) == {"input_reference"}
    (ref,) = req.files["input_reference"]
    assert (ref.filename, ref.content_type, ref.data) == ("first.png", "image/png", PNG)
    assert [i.data for i in sim.tasks[task_id].images] == [PNG]


async def test_first_last_sends_two_files_in_order(
    sim: ApiyiLegacySimulator, provider: ApiyiLegacyChannel
) -> None:
    first = InputImage(JPEG, "image/jpeg", "day.jpg")
    last = InputImage(WEBP, "image/webp", "night.webp")
    task_id = await provider.submit(frames("veo-3.1-landscape-fast-fl", first, last))
    (req,) = sim.submits()
    refs = req.files["input_reference"]
    assert [(r.filename, r.content_type, r.data) for r in refs] == [
        ("day.jpg", "image/jpeg", JPEG),
        ("night.webp", "image/webp", WEBP),
    ]
    assert [i.data for i in sim.tasks[task_id].images] == [JPEG, WEBP]
    assert req.form["model"] == ["veo-3.1-landscape-fast-fl"]


# -- submit: task id ------------------------------------------------------------------------


async def test_task_id_is_read_from_id(
    sim: ApiyiLegacySimulator, provider: ApiyiLegacyChannel
) -> None:
    sim.next_task_ids.append("video_abc123")
    assert await provider.submit(text()) == "video_abc123"
    sim.script_next_submit(200, {"task_id": "only_task_id", "status": "queued"})
    assert await provider.submit(text()) == "only_task_id"


async def test_answer_without_id_is_uncertain(
    sim: ApiyiLegacySimulator, provider: ApiyiLegacyChannel
) -> None:
    sim.script_next_submit(200, {"object": "video", "status": "queued"})
    with pytest.raises(ProviderTimeout) as info:
        await provider.submit(text())
    assert info.value.code == "no_task_id"


@pytest.mark.parametrize("body", ["<html>ok</html>", "", "[1]", "not json"])
async def test_unreadable_200_is_uncertain(
    sim: ApiyiLegacySimulator, provider: ApiyiLegacyChannel, body: str
) -> None:
    sim.script_next_submit(200, body.encode())
    with pytest.raises(ProviderTimeout) as info:
        await provider.submit(text())
    assert info.value.code == "no_task_id"


async def test_error_envelope_with_200_is_unavailable(
    sim: ApiyiLegacySimulator, provider: ApiyiLegacyChannel
) -> None:
    sim.script_next_submit(
        200, {"error": {"code": "upstream_busy", "message": "busy", "type": "server_error"}}
    )
    with pytest.raises(ProviderUnavailable) as info:
        await provider.submit(text())
    assert info.value.code == "error_body"


# -- submit: errors -------------------------------------------------------------------------


async def test_wrong_key_is_auth_error_without_key(
    sim: ApiyiLegacySimulator, make_provider: MakeChannel, tmp_path: Path
) -> None:
    sim.api_key = "sk-the-right-one"
    p = make_provider()
    with pytest.raises(ProviderAuthError) as info:
        await p.submit(text())
    assert info.value.code == "auth" and "API key" in error_text(info.value)
    assert_no_key(info.value, KEY)
    with pytest.raises(ProviderAuthError) as info2:
        await p.status("video_x", "veo-3.1")
    assert_no_key(info2.value, KEY)
    with pytest.raises(ProviderAuthError) as info3:
        await p.fetch("video_x", "veo-3.1", DONE, tmp_path / "v.mp4", 10)
    assert_no_key(info3.value, KEY)
    # The simulator really did echo the key: the adapter scrubbed it.
    assert all(r.headers["Authorization"] == KEY for r in sim.requests)


@pytest.mark.parametrize("status", [403, 429, 400])
async def test_quota_exceeded_is_the_operators_problem(
    sim: ApiyiLegacySimulator, provider: ApiyiLegacyChannel, status: int
) -> None:
    sim.fail_next_submit_with(
        status,
        {"error": {"code": "quota_exceeded", "message": "Quota exceeded", "type": "quota_error"}},
    )
    with pytest.raises(ProviderAuthError) as info:
        await provider.submit(text())
    assert info.value.code == "quota" and "operator" in error_text(info.value)
    assert "quota_exceeded" in (info.value.detail or "")


async def test_invalid_prompt_is_rejected_in_plain_words(
    sim: ApiyiLegacySimulator, provider: ApiyiLegacyChannel
) -> None:
    sim.fail_next_submit_with(
        400,
        {
            "error": {
                "code": "invalid_prompt",
                "message": "Prompt violates policy {rule: 7}",
                "type": "invalid_request_error",
            }
        },
    )
    with pytest.raises(ProviderRejected) as info:
        await provider.submit(text())
    assert info.value.code == "invalid_prompt" and "prompt" in error_text(info.value)
    assert error_text(info.value) == (
        "The video service did not accept this prompt (too long, or against its content "
        "rules). Please change it."
    )
    assert "{" not in error_text(info.value)


async def test_invalid_model_from_the_vendor_is_rejected(
    sim: ApiyiLegacySimulator, provider: ApiyiLegacyChannel
) -> None:
    sim.fail_next_submit_with(
        400, {"error": {"code": "invalid_model", "message": "Model not found", "type": "x"}}
    )
    with pytest.raises(ProviderRejected) as info:
        await provider.submit(text())
    assert info.value.code == "invalid_model"


async def test_short_vendor_reason_reaches_the_member(
    sim: ApiyiLegacySimulator, provider: ApiyiLegacyChannel
) -> None:
    sim.fail_next_submit_with(422, {"error": {"message": "The image is too dark", "code": "x"}})
    with pytest.raises(ProviderRejected) as info:
        await provider.submit(text())
    assert "too dark" in error_text(info.value)


async def test_html_400_is_rejected_without_markup(
    sim: ApiyiLegacySimulator, provider: ApiyiLegacyChannel
) -> None:
    sim.fail_next_submit_with(400, "<html><body><h1>400 Bad Request</h1></body></html>")
    with pytest.raises(ProviderRejected) as info:
        await provider.submit(text())
    assert error_text(info.value) == (
        "The video service did not accept this request. Try a different prompt or settings."
    )


async def test_429_with_retry_after(
    sim: ApiyiLegacySimulator, provider: ApiyiLegacyChannel
) -> None:
    sim.fail_next_submit_with(429, retry_after=7)
    with pytest.raises(ProviderUnavailable) as info:
        await provider.submit(text())
    assert info.value.retry_after == 7.0 and info.value.retryable
    assert info.value.code == "rate_limited"
    assert await provider.submit(text()) in sim.tasks  # nothing was queued; the retry works


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_5xx_is_unavailable(
    sim: ApiyiLegacySimulator, provider: ApiyiLegacyChannel, status: int
) -> None:
    sim.fail_next_submit_with(status, "<html>Bad Gateway</html>")
    with pytest.raises(ProviderUnavailable) as info:
        await provider.submit(text())
    assert info.value.code == "server_error" and info.value.retry_after is None


async def test_connection_refused_is_unavailable(
    session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    port = free_port()
    p = ApiyiLegacyChannel(api_key=KEY, base_url=f"http://127.0.0.1:{port}", session=session)
    with pytest.raises(ProviderUnavailable) as info:
        await p.submit(text())
    assert info.value.code == "connect_failed"
    assert_no_key(info.value, KEY)
    with pytest.raises(ProviderUnavailable):
        await p.status("t", "veo-3.1")
    with pytest.raises(ProviderUnavailable):
        await p.fetch("t", "veo-3.1", DONE, tmp_path / "v.mp4", 10)


async def test_submit_timeout_is_uncertain(
    sim: ApiyiLegacySimulator, make_provider: MakeChannel
) -> None:
    sim.delay_submit = 2.0
    p = make_provider(request_timeout=0.2)
    with pytest.raises(ProviderTimeout) as info:
        await p.submit(text())
    assert info.value.code == "timeout"
    assert_no_key(info.value, KEY)
    assert len(sim.submits()) == 1  # it did reach the vendor


async def test_base_url_with_v1_suffix(
    sim: ApiyiLegacySimulator, make_provider: MakeChannel
) -> None:
    p = make_provider(base_url=sim.base_url + "/v1/")
    assert await p.submit(text()) in sim.tasks
    assert sim.submits()[0].path == "/v1/videos"


# -- status ---------------------------------------------------------------------------------


async def test_status_progression(session: aiohttp.ClientSession) -> None:
    async with ApiyiLegacySimulator(api_key=KEY, queued_for=0.15, running_for=0.15) as sim:
        p = ApiyiLegacyChannel(api_key=KEY, base_url=sim.base_url, session=session)
        task_id = await p.submit(text())
        seen: list[tuple[TaskState, str | None]] = []
        for _ in range(200):
            st = await p.status(task_id, "veo-3.1-fast")
            assert st.progress is None  # the vendor gives no figure
            if not seen or seen[-1] != (st.state, st.stage):
                seen.append((st.state, st.stage))
            if st.state is TaskState.SUCCEEDED:
                break
            await asyncio.sleep(0.01)
        assert seen == [
            (TaskState.PENDING, "queued"),
            (TaskState.RUNNING, "generating"),
            (TaskState.SUCCEEDED, "completed"),
        ]
        gets = sim.gets(task_id)
        assert gets and all(r.headers["Authorization"] == KEY for r in gets)


async def test_failed_without_reason(
    sim: ApiyiLegacySimulator, provider: ApiyiLegacyChannel
) -> None:
    task_id = await provider.submit(text())
    sim.make_task_fail(task_id=task_id)
    sim.queued_for = sim.running_for = 0.0
    st = await provider.status(task_id, "veo-3.1-fast")
    assert st.state is TaskState.FAILED
    assert st.error_code == "generation_failed"
    assert told(st) == (
        "The video service could not make this video (often a content review or an "
        "unsupported image). You were not charged."
    )


async def test_failed_with_reason(sim: ApiyiLegacySimulator, provider: ApiyiLegacyChannel) -> None:
    sim.make_task_fail("the prompt was flagged by content review", code="content_policy")
    task_id = await provider.submit(text())
    sim.queued_for = sim.running_for = 0.0
    st = await provider.status(task_id, "veo-3.1-fast")
    assert st.state is TaskState.FAILED and st.error_code == "content_policy"
    assert "flagged by content review" in told(st) and "not charged" in told(st)


@pytest.mark.parametrize(
    "reason",
    [
        "see https://cdn.example/log?token=abc",
        f"upstream rejected key {KEY}",
        '{"raw": "json"}',
        "x" * 500,
    ],
)
async def test_failure_reason_unfit_for_members_is_replaced(
    sim: ApiyiLegacySimulator, provider: ApiyiLegacyChannel, reason: str
) -> None:
    sim.make_task_fail(reason)
    task_id = await provider.submit(text())
    sim.queued_for = sim.running_for = 0.0
    st = await provider.status(task_id, "veo-3.1-fast")
    assert st.state is TaskState.FAILED
    shown = told(st)
    assert "http" not in shown and KEY not in shown
    assert "{" not in shown and len(shown) < 300


async def test_unknown_status_is_running(
    sim: ApiyiLegacySimulator, provider: ApiyiLegacyChannel
) -> None:
    task_id = await provider.submit(text())
    sim.set_task_status(task_id, "upscaling")
    st = await provider.status(task_id, "veo-3.1-fast")
    assert st.state is TaskState.RUNNING and st.stage == "upscaling"


async def test_status_video_not_found(provider: ApiyiLegacyChannel) -> None:
    with pytest.raises(TaskNotFound) as info:
        await provider.status("video_nope", "veo-3.1")
    assert not info.value.retryable


@pytest.mark.parametrize(
    "body",
    [
        *UNREADABLE_STATUS,
        '{"id": "video_1"}',
        '{"status": {"nested": true}}',
    ],
)
async def test_garbage_status_body_is_unavailable(
    sim: ApiyiLegacySimulator, provider: ApiyiLegacyChannel, body: str | bytes
) -> None:
    task_id = await provider.submit(text())
    sim.queue_status_error(200, body if body else b"")
    with pytest.raises(ProviderUnavailable) as info:
        await provider.status(task_id, "veo-3.1-fast")
    assert info.value.code == "bad_answer" and info.value.retryable
    assert (await provider.status(task_id, "veo-3.1-fast")).state is TaskState.PENDING


async def test_status_errors_then_recovery(
    sim: ApiyiLegacySimulator, provider: ApiyiLegacyChannel
) -> None:
    task_id = await provider.submit(text())
    sim.queue_status_error(500)
    sim.queue_status_error(429, retry_after=3)
    with pytest.raises(ProviderUnavailable) as first:
        await provider.status(task_id, "veo-3.1-fast")
    assert first.value.retry_after is None
    with pytest.raises(ProviderUnavailable) as second:
        await provider.status(task_id, "veo-3.1-fast")
    assert second.value.retry_after == 3.0
    assert (await provider.status(task_id, "veo-3.1-fast")).state is TaskState.PENDING


async def test_status_timeout(sim: ApiyiLegacySimulator, make_provider: MakeChannel) -> None:
    p = make_provider(request_timeout=0.2)
    task_id = await p.submit(text())
    sim.delay_status = 2.0
    with pytest.raises(ProviderTimeout):
        await p.status(task_id, "veo-3.1-fast")


async def test_task_id_needing_quotes(
    sim: ApiyiLegacySimulator, provider: ApiyiLegacyChannel, tmp_path: Path
) -> None:
    odd = "video:a/b c?d#e%f&ü"
    sim.next_task_ids.append(odd)
    task_id = await provider.submit(text())
    assert task_id == odd
    assert (await provider.status(task_id, "veo-3.1-fast")).state is TaskState.PENDING
    paths = [r.path for r in sim.gets()]
    assert paths[0] == "/v1/videos/video%3Aa%2Fb%20c%3Fd%23e%25f%26%C3%BC"
    sim.set_task_status(odd, "completed")
    sim.content_not_ready_times = 1  # stop at /content: only its path matters here
    with pytest.raises(ResultNotReady):
        await provider.fetch(task_id, "veo-3.1-fast", DONE, tmp_path / "v.mp4", 10**6)
    assert sim.gets()[-1].path == paths[0] + "/content"


# -- fetch ----------------------------------------------------------------------------------


async def test_fetch_follows_the_url_without_the_key(
    sim: ApiyiLegacySimulator, provider: ApiyiLegacyChannel, tmp_path: Path
) -> None:
    sim.video_bytes = default_video(300_000)
    task_id = await complete(sim, provider)
    dest = tmp_path / "out" / "video.mp4"
    got = await provider.fetch(task_id, "veo-3.1-fast", DONE, dest, 10**6)
    assert got.path == dest and got.size == 300_000
    assert dest.read_bytes() == sim.video_bytes
    assert got.url == sim.file_url(task_id)
    assert got.url_expires_at == NOW + URL_LIFETIME == NOW + 24 * 3600
    (content,) = sim.gets("/content")
    assert content.headers["Authorization"] == KEY
    (download,) = sim.file_gets()
    assert "Authorization" not in download.headers  # the key never goes to the CDN


async def test_fetch_asks_content_again_every_time(
    sim: ApiyiLegacySimulator, provider: ApiyiLegacyChannel, tmp_path: Path
) -> None:
    """A URL stored from an earlier attempt may have expired: always ask for a fresh one."""
    task_id = await complete(sim, provider)
    stale = TaskStatus(TaskState.SUCCEEDED, result_url="http://127.0.0.1:9/stale.mp4")
    got = await provider.fetch(task_id, "veo-3.1-fast", stale, tmp_path / "v.mp4", 10**6)
    assert got.url == sim.file_url(task_id)
    assert len(sim.gets("/content")) == 1


async def test_fetch_video_not_ready_then_success(
    sim: ApiyiLegacySimulator, provider: ApiyiLegacyChannel, tmp_path: Path
) -> None:
    task_id = await complete(sim, provider)
    sim.content_not_ready_times = 2
    dest = tmp_path / "v.mp4"
    for _ in range(2):
        with pytest.raises(ResultNotReady) as info:
            await provider.fetch(task_id, "veo-3.1-fast", DONE, dest, 10**6)
        assert info.value.retryable and info.value.retry_after == 5.0
        assert not dest.exists()
    got = await provider.fetch(task_id, "veo-3.1-fast", DONE, dest, 10**6)
    assert got.size == len(sim.video_bytes) and dest.read_bytes() == sim.video_bytes
    assert len(sim.gets("/content")) == 3 and len(sim.file_gets()) == 1


async def test_fetch_before_completion_is_not_ready(
    sim: ApiyiLegacySimulator, provider: ApiyiLegacyChannel, tmp_path: Path
) -> None:
    task_id = await provider.submit(text())
    with pytest.raises(ResultNotReady):
        await provider.fetch(task_id, "veo-3.1-fast", DONE, tmp_path / "v.mp4", 10**6)
    sim.queue_content_error(200, {"id": task_id, "status": "processing"})
    with pytest.raises(ResultNotReady):
        await provider.fetch(task_id, "veo-3.1-fast", DONE, tmp_path / "v.mp4", 10**6)


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (409, "video_not_ready", ResultNotReady),
        (200, "video_not_ready", ResultNotReady),
        (400, "video_not_found", TaskNotFound),
        (410, "video_not_found", TaskNotFound),
    ],
)
async def test_content_error_codes_win_over_http_status(
    sim: ApiyiLegacySimulator,
    provider: ApiyiLegacyChannel,
    tmp_path: Path,
    status: int,
    code: str,
    error: type[ProviderError],
) -> None:
    task_id = await complete(sim, provider)
    sim.queue_content_error(status, {"error": {"code": code, "message": "m", "type": "t"}})
    with pytest.raises(error):
        await provider.fetch(task_id, "veo-3.1-fast", DONE, tmp_path / "v.mp4", 10**6)
    assert sim.file_gets() == []


async def test_fetch_video_not_found(provider: ApiyiLegacyChannel, tmp_path: Path) -> None:
    with pytest.raises(TaskNotFound):
        await provider.fetch("video_nope", "veo-3.1", DONE, tmp_path / "v.mp4", 10**6)


@pytest.mark.parametrize("chunked", [False, True])
async def test_fetch_over_cap_gives_the_link(
    sim: ApiyiLegacySimulator, provider: ApiyiLegacyChannel, tmp_path: Path, chunked: bool
) -> None:
    sim.video_bytes = default_video(200_000)
    sim.send_content_length = not chunked
    task_id = await complete(sim, provider)
    dest = tmp_path / "v.mp4"
    with pytest.raises(ResultTooLarge) as info:
        await provider.fetch(task_id, "veo-3.1-fast", DONE, dest, 100_000)
    assert info.value.url == sim.file_url(task_id)
    assert list(tmp_path.iterdir()) == []


async def test_fetch_exactly_at_cap(
    sim: ApiyiLegacySimulator, provider: ApiyiLegacyChannel, tmp_path: Path
) -> None:
    sim.send_content_length = False
    task_id = await complete(sim, provider)
    got = await provider.fetch(
        task_id, "veo-3.1-fast", DONE, tmp_path / "v.mp4", len(sim.video_bytes)
    )
    assert got.size == len(sim.video_bytes)


async def test_fetch_broken_mid_stream(
    sim: ApiyiLegacySimulator, provider: ApiyiLegacyChannel, tmp_path: Path
) -> None:
    sim.video_bytes = default_video(200_000)
    sim.break_file_after = 50_000
    task_id = await complete(sim, provider)
    dest = tmp_path / "v.mp4"
    with pytest.raises(ProviderTimeout):
        await provider.fetch(task_id, "veo-3.1-fast", DONE, dest, 10**6)
    assert not dest.exists()


@pytest.mark.parametrize(
    ("status", "code"), [(403, "download_failed"), (404, "download_failed"), (429, "rate_limited")]
)
async def test_cdn_errors_are_retryable(
    sim: ApiyiLegacySimulator,
    provider: ApiyiLegacyChannel,
    tmp_path: Path,
    status: int,
    code: str,
) -> None:
    task_id = await complete(sim, provider)
    sim.queue_file_error(status, "<Error>AccessDenied</Error>", retry_after=2)
    dest = tmp_path / "v.mp4"
    with pytest.raises(ProviderUnavailable) as info:
        await provider.fetch(task_id, "veo-3.1-fast", DONE, dest, 10**6)
    assert info.value.code == code and info.value.retry_after == 2.0
    if code == "download_failed":
        assert (
            error_text(info.value)
            == "The finished video could not be downloaded from the video service yet."
        )
    assert not dest.exists()
    assert_no_key(info.value, KEY)
    got = await provider.fetch(task_id, "veo-3.1-fast", DONE, dest, 10**6)
    assert got.size == len(sim.video_bytes)


async def test_cdn_html_with_200_is_not_saved(
    sim: ApiyiLegacySimulator, provider: ApiyiLegacyChannel, tmp_path: Path
) -> None:
    sim.file_content_type = "text/html"
    task_id = await complete(sim, provider)
    with pytest.raises(ProviderUnavailable) as info:
        await provider.fetch(task_id, "veo-3.1-fast", DONE, tmp_path / "v.mp4", 10**6)
    assert info.value.code == "bad_answer"
    assert (
        error_text(info.value)
        == "The finished video could not be downloaded from the video service yet."
    )
    assert not (tmp_path / "v.mp4").exists()


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
async def test_content_errors(
    sim: ApiyiLegacySimulator,
    provider: ApiyiLegacyChannel,
    tmp_path: Path,
    status: int,
    error: type[ProviderError],
) -> None:
    task_id = await complete(sim, provider)
    sim.queue_content_error(status, retry_after=5 if status == 429 else None)
    with pytest.raises(error) as info:
        await provider.fetch(task_id, "veo-3.1-fast", DONE, tmp_path / "v.mp4", 10**6)
    if status == 429:
        assert info.value.retry_after == 5.0
    assert not (tmp_path / "v.mp4").exists()
    assert sim.file_gets() == []


@pytest.mark.parametrize(
    "body",
    [
        "<html>oops</html>",
        "",
        '{"id": "x", "status": "completed"}',
        '{"id": "x", "status": "completed", "url": "ftp://host/v.mp4"}',
        '{"id": "x", "status": "completed", "url": "javascript:alert(1)"}',
        '{"id": "x", "status": "completed", "url": {"href": "x"}}',
    ],
)
async def test_content_without_a_usable_url_is_unavailable(
    sim: ApiyiLegacySimulator, provider: ApiyiLegacyChannel, tmp_path: Path, body: str
) -> None:
    task_id = await complete(sim, provider)
    sim.queue_content_error(200, body.encode())
    with pytest.raises(ProviderUnavailable) as info:
        await provider.fetch(task_id, "veo-3.1-fast", DONE, tmp_path / "v.mp4", 10**6)
    assert info.value.code == "bad_answer"
    assert sim.file_gets() == []


async def test_relative_url_is_resolved_against_the_api_host(
    sim: ApiyiLegacySimulator, provider: ApiyiLegacyChannel, tmp_path: Path
) -> None:
    task_id = await complete(sim, provider)
    sim.content_url = f"/files/{task_id}.mp4"
    got = await provider.fetch(task_id, "veo-3.1-fast", DONE, tmp_path / "v.mp4", 10**6)
    assert got.url == sim.file_url(task_id)
    assert "Authorization" not in sim.file_gets()[0].headers


async def test_full_flow_first_last(
    sim: ApiyiLegacySimulator, provider: ApiyiLegacyChannel, tmp_path: Path
) -> None:
    sim.queued_for = sim.running_for = 0.0
    first, last = InputImage(PNG, "image/png", "a.png"), InputImage(JPEG, "image/jpeg", "b.jpg")
    task_id = await provider.submit(frames("veo-3.1-landscape-fl", first, last))
    assert (await provider.status(task_id, "veo-3.1-landscape-fl")).state is TaskState.SUCCEEDED
    got = await provider.fetch(task_id, "veo-3.1-landscape-fl", DONE, tmp_path / "v.mp4", 10**6)
    assert got.path is not None and got.path.read_bytes() == sim.video_bytes
    await provider.close()  # the session is the caller's: still usable afterwards
    assert not provider._http.session.closed


# -- the simulator enforces the documentation (so the tests above can fail) -----------------


@pytest.mark.parametrize(
    ("auth", "ok"),
    [(KEY, True), (None, False), (f"Bearer {KEY}", False), (f"{KEY}x", False), ("sk-other", False)],
)
async def test_simulator_requires_the_bare_key(
    sim: ApiyiLegacySimulator, session: aiohttp.ClientSession, auth: str | None, ok: bool
) -> None:
    headers = {"Authorization": auth} if auth else {}
    async with session.post(
        sim.base_url + "/v1/videos", json={"model": "veo-3.1", "prompt": "p"}, headers=headers
    ) as resp:
        body = await resp.json()
        if ok:
            assert resp.status == 200 and body["id"] in sim.tasks
        else:
            assert resp.status == 401
            assert body["error"]["code"] == "invalid_api_key"
            assert body["error"]["type"] == "authentication_error"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"model": "veo-3.1-fl", "prompt": "p"}, "invalid_request"),
        ({"model": "veo-3.1-fast-generate-preview", "prompt": "p"}, "invalid_model"),
        ({"model": "veo-3.1"}, "invalid_prompt"),
        ({"model": "veo-3.1", "prompt": " "}, "invalid_prompt"),
        (
            {"model": "veo-3.1", "prompt": "p", "input_reference": "https://x/y.png"},
            "invalid_request",
        ),
        ([1, 2], "invalid_request"),
    ],
)
async def test_simulator_rejects_json(
    sim: ApiyiLegacySimulator, session: aiohttp.ClientSession, body: object, code: str
) -> None:
    async with session.post(
        sim.base_url + "/v1/videos", json=body, headers={"Authorization": KEY}
    ) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"]["code"] == code
    assert sim.tasks == {}


def _form(
    *,
    model: str = "veo-3.1-fl",
    images: int = 1,
    data: bytes = PNG,
    ctype: str = "image/png",
    url: str | None = None,
) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("prompt", "p")
    form.add_field("model", model)
    if url is not None:
        form.add_field("input_reference", url)
    for i in range(images):
        form.add_field("input_reference", data, filename=f"{i}.png", content_type=ctype)
    return form


@pytest.mark.parametrize(
    ("form", "status"),
    [
        (_form, 200),
        (lambda: _form(images=2), 200),
        (lambda: _form(images=0), 400),
        (lambda: _form(images=3), 400),
        (lambda: _form(model="veo-3.1"), 400),
        (lambda: _form(model="veo-9-fl"), 400),
        (lambda: _form(images=0, url="https://example.com/a.png"), 400),
        (lambda: _form(data=b"GIF89a....", ctype="image/gif"), 400),
        (lambda: _form(data=b"not really a png"), 400),
    ],
)
async def test_simulator_multipart_rules(
    sim: ApiyiLegacySimulator, session: aiohttp.ClientSession, form: object, status: int
) -> None:
    async with session.post(
        sim.base_url + "/v1/videos",
        data=form(),  # type: ignore[operator]
        headers={"Authorization": KEY},
    ) as resp:
        assert resp.status == status, await resp.text()


async def test_simulator_answers_like_the_vendor_documents(
    sim: ApiyiLegacySimulator, session: aiohttp.ClientSession
) -> None:
    sim.queued_for, sim.running_for = 0.0, 0.0
    auth = {"Authorization": KEY}
    async with session.post(
        sim.base_url + "/v1/videos",
        json={"model": "veo-3.1-landscape", "prompt": "p"},
        headers=auth,
    ) as resp:
        body = await resp.json()
    assert set(body) == {"id", "object", "created", "status", "model"}
    assert body["status"] == "queued" and body["object"] == "video"
    async with session.get(f"{sim.base_url}/v1/videos/{body['id']}", headers=auth) as resp:
        assert (await resp.json())["status"] == "completed"
    async with session.get(f"{sim.base_url}/v1/videos/{body['id']}/content", headers=auth) as resp:
        content = await resp.json()
    assert content["url"] == sim.file_url(body["id"])
    assert (content["duration"], content["resolution"]) == (8, "1280x720")
    async with session.get(f"{sim.base_url}/v1/videos/nope", headers=auth) as resp:
        assert resp.status == 404
        assert (await resp.json())["error"]["code"] == "video_not_found"


# -- wire parsing never crashes -------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message", "code"),
    [
        (
            b'{"error": {"code": "invalid_prompt", "message": "bad", "type": "t"}}',
            "bad",
            "invalid_prompt",
        ),
        *ERROR_READINGS,
    ],
)
def test_parse_error_is_total(raw: bytes, message: str | None, code: str | None) -> None:
    err = parse_error(raw)
    assert (err.message, err.code) == (message, code)


def test_parse_task_tolerates_extras_and_numbers() -> None:
    task = parse_task(b'{"id": 12, "status": "queued", "new_field": [1], "url": null}')
    assert isinstance(task, LegacyTask) and task.ref == "12" and task.status == "queued"
    assert parse_task(b"<html>") is None and parse_task(b"[]") is None
    assert parse_task(b'{"status": ["x"]}') is None
