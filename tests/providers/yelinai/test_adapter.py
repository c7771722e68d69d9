"""YelinaiProvider against a real HTTP simulator of the vendor's API: assertions are on the
wire."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest
import yarl

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
from bot.providers.yelinai.adapter import YelinaiProvider
from bot.providers.yelinai.wire import YelinaiTask, parse_error, parse_task
from tests.net import free_port
from tests.providers.kit import (
    JPEG,
    PNG,
    TINY,
    UNREADABLE_ERRORS,
    UNREADABLE_STATUS,
    WEBP,
    ImageHost,
    Vendor,
    assert_no_key,
    text_requests,
)
from tests.sim.yelinai_sim import STATUS_PREFIX, SUBMIT_PATH, YelinaiSimulator, default_video

KEY = "yl-test-0123456789abcdefSECRET"
PLAIN = ("veo3", "veo3-fast", "veo3-pro")
FRAMES = "veo3-pro-frames"
VENDOR = Vendor(YelinaiSimulator, YelinaiProvider, KEY)
MakeProvider = Callable[..., YelinaiProvider]

text = text_requests("veo3", prompt="a cat in the rain")


def told(st: TaskStatus) -> str:
    """What the member reads of a failed task."""
    assert st.error_say is not None
    return failure_text(st.error_code, st.error_say.failure(st.error_code or "x").params)


async def completed(sim: YelinaiSimulator, provider: YelinaiProvider) -> tuple[str, TaskStatus]:
    task_id = await provider.submit(text())
    sim.set_task_status(task_id, "completed")
    st = await provider.status(task_id, "veo3")
    assert st.state is TaskState.SUCCEEDED
    return task_id, st


# -- the model table ------------------------------------------------------------------------


def test_models_and_protocol(session: aiohttp.ClientSession) -> None:
    p = YelinaiProvider(api_key=KEY, session=session)
    assert isinstance(p, Provider)
    assert (p.name, p.label) == ("yelinai", "yelinai")
    assert list(p.models) == [*PLAIN, FRAMES]
    labels = [spec.label for spec in p.models.values()]
    assert len(set(labels)) == 4 and all("yelinai" in label for label in labels)
    for name in PLAIN:
        spec = p.models[name]
        assert spec.modes == frozenset({Mode.TEXT, Mode.REFERENCE})
        assert spec.max_reference_images == 5
    frames = p.models[FRAMES]
    assert frames.modes == frozenset({Mode.FIRST_FRAME}) and frames.max_reference_images == 0
    for spec in p.models.values():
        assert spec.aspect_ratios == ("16:9",) and spec.resolutions == ("720p",)
        assert spec.durations == (8,) and spec.default_duration == 8
        assert spec.enhance_prompt and not spec.negative_prompt and not spec.seed
        assert spec.gives_url and spec.image_transport == "url" and not spec.callbacks
        assert spec.timing.poll_interval == 5 and spec.timing.deadline >= 1200
        assert spec.price_usd is None
    assert p.models["veo3-pro"].timing.deadline > p.models["veo3-fast"].timing.deadline


def test_timing_override(provider: YelinaiProvider) -> None:
    assert all(spec.timing_for(None) == TINY for spec in provider.models.values())


def test_key_not_in_repr(provider: YelinaiProvider) -> None:
    assert KEY not in repr(provider) and KEY not in str(provider)


@pytest.mark.parametrize("suffix", ["", "/", "/veo/v1/api/video", "/veo/v1/api/video/", "/veo/v1"])
async def test_base_url_forms(
    sim: YelinaiSimulator, make_provider: MakeProvider, suffix: str
) -> None:
    p = make_provider(base_url=sim.base_url + suffix)
    await p.submit(text())
    assert sim.submits()[0].path == SUBMIT_PATH


# -- submit ---------------------------------------------------------------------------------


async def test_text_submit_on_the_wire(sim: YelinaiSimulator, provider: YelinaiProvider) -> None:
    task_id = await provider.submit(text(model="veo3-fast"))
    assert task_id in sim.tasks and task_id.startswith("veo3-fast:")
    (req,) = sim.submits()
    assert req.path == SUBMIT_PATH
    assert req.headers["Authorization"] == f"Bearer {KEY}"
    assert req.content_type == "application/json"
    # Nothing the vendor does not document, and no images / enhance flag when not asked.
    assert req.json == {"prompt": "a cat in the rain", "model": "veo3-fast"}


@pytest.mark.parametrize("flag", [True, False])
async def test_enhance_prompt_is_passed_as_a_boolean(
    sim: YelinaiSimulator, provider: YelinaiProvider, flag: bool
) -> None:
    task_id = await provider.submit(text(enhance_prompt=flag))
    assert sim.submits()[0].json["enhance_prompt"] is flag
    assert sim.tasks[task_id].enhance_prompt is flag


async def test_defaults_given_explicitly_are_accepted(
    sim: YelinaiSimulator, provider: YelinaiProvider
) -> None:
    await provider.submit(text(aspect_ratio="16:9", duration=8, resolution="720p"))
    assert set(sim.submits()[0].json) == {"prompt", "model"}


async def test_reference_images_reach_the_vendor(
    sim: YelinaiSimulator, provider: YelinaiProvider, host: ImageHost
) -> None:
    images = (
        host.add("a.png", PNG),
        host.add("b.jpg", JPEG, "image/jpeg"),
        host.add("c.webp", WEBP, "image/webp"),
    )
    task_id = await provider.submit(
        SubmitRequest(model="veo3-pro", prompt="p", mode=Mode.REFERENCE, images=images)
    )
    body = sim.submits()[0].json
    assert body["images"] == [i.url for i in images]
    assert "enhance_prompt" not in body
    task = await sim.wait_downloaded(task_id)
    assert task.download_error is None
    assert task.images == [PNG, JPEG, WEBP]
    assert task.image_types == ["image/png", "image/jpeg", "image/webp"]


async def test_five_reference_images_is_the_limit(
    sim: YelinaiSimulator, provider: YelinaiProvider, host: ImageHost
) -> None:
    images = tuple(host.add(f"{i}.png", PNG + bytes([i])) for i in range(5))
    task_id = await provider.submit(
        SubmitRequest(model="veo3", prompt="p", mode=Mode.REFERENCE, images=images)
    )
    task = await sim.wait_downloaded(task_id)
    assert task.images == [PNG + bytes([i]) for i in range(5)]


async def test_frames_model_takes_one_start_frame(
    sim: YelinaiSimulator, provider: YelinaiProvider, host: ImageHost
) -> None:
    image = host.add("first.png", PNG)
    task_id = await provider.submit(
        SubmitRequest(model=FRAMES, prompt="p", mode=Mode.FIRST_FRAME, images=(image,))
    )
    assert sim.submits()[0].json["images"] == [image.url]
    assert (await sim.wait_downloaded(task_id)).images == [PNG]


def _img(url: str | None = "https://cdn.example/a.png", **kw: object) -> InputImage:
    values: dict[str, object] = {"data": PNG, "mime": "image/png", "filename": "a.png", "url": url}
    values.update(kw)
    return InputImage(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "request_",
    [
        text(model="veo2"),
        text(model="veo3-frames"),
        SubmitRequest(model="veo3", prompt="   "),
        text(mode=Mode.FIRST_LAST, images=(_img(), _img())),
        text(mode=Mode.FIRST_FRAME, images=(_img(),)),
        text(model=FRAMES, mode=Mode.REFERENCE, images=(_img(),)),
        text(model=FRAMES),
        text(model=FRAMES, mode=Mode.FIRST_FRAME),
        text(model=FRAMES, mode=Mode.FIRST_FRAME, images=(_img(), _img())),
        text(mode=Mode.REFERENCE),
        text(mode=Mode.REFERENCE, images=tuple(_img() for _ in range(6))),
        text(images=(_img(),)),
        text(mode=Mode.REFERENCE, images=(_img(data=b"GIF89a", mime="image/gif"),)),
        text(mode=Mode.REFERENCE, images=(_img(data=PNG * 200_000),)),
        text(mode=Mode.REFERENCE, images=(_img(url=None),)),
        text(mode=Mode.REFERENCE, images=(_img(url="ftp://example.com/a.png"),)),
        text(mode=Mode.REFERENCE, images=(_img(url="/relative/a.png"),)),
        text(aspect_ratio="9:16"),
        text(duration=4),
        text(resolution="1080p"),
        text(seed=7),
        text(negative_prompt="blurry"),
    ],
)
async def test_invalid_requests_rejected_before_the_wire(
    sim: YelinaiSimulator, provider: YelinaiProvider, request_: SubmitRequest
) -> None:
    with pytest.raises(ProviderRejected) as info:
        await provider.submit(request_)
    assert error_text(info.value) and not info.value.retryable
    assert info.value.say.key != "said"  # a named sentence, not one given whole
    assert sim.requests == []


@pytest.mark.parametrize(
    ("request_", "words"),
    [
        (
            text(seed=7),
            "Veo 3 (yelinai) makes 8-second 16:9 videos at 720p and has no options for seed.",
        ),
        (
            text(aspect_ratio="9:16", duration=4, negative_prompt="x"),
            "Veo 3 (yelinai) makes 8-second 16:9 videos at 720p and has no options for "
            "shape, length, negative prompt.",
        ),
        (
            text(mode=Mode.FIRST_FRAME, images=(_img(),)),
            "Veo 3 (yelinai) only makes videos from text, or from text and reference images.",
        ),
        (
            text(model=FRAMES),
            "Veo 3 Pro, start frame (yelinai) only makes videos from one start image.",
        ),
        (
            text(model=FRAMES, mode=Mode.FIRST_FRAME, images=(_img(), _img())),
            "Veo 3 Pro, start frame (yelinai) takes exactly one start image.",
        ),
        (
            text(mode=Mode.REFERENCE, images=(_img(),) * 6),
            "Veo 3 (yelinai) takes 1 to 5 reference images.",
        ),
        (text(images=(_img(),)), "Images are not used for a text-only video."),
        (
            text(mode=Mode.REFERENCE, images=(_img(url=None),)),
            "Your image could not be handed to the video service; please attach it again.",
        ),
    ],
)
async def test_refusals_read_as_before(
    provider: YelinaiProvider, request_: SubmitRequest, words: str
) -> None:
    with pytest.raises(ProviderRejected) as info:
        await provider.submit(request_)
    assert error_text(info.value) == words


async def test_answer_without_task_id_is_uncertain(
    sim: YelinaiSimulator, provider: YelinaiProvider
) -> None:
    sim.script_next_submit(200, {"success": True, "data": {"status": "processing"}})
    with pytest.raises(ProviderTimeout) as info:
        await provider.submit(text())
    assert info.value.code == "no_task_id"


@pytest.mark.parametrize("body", ["<html>ok</html>", "", '{"success": true}', "[1]"])
async def test_unreadable_2xx_is_uncertain(
    sim: YelinaiSimulator, provider: YelinaiProvider, body: str
) -> None:
    sim.script_next_submit(200, body.encode())
    with pytest.raises(ProviderTimeout) as info:
        await provider.submit(text())
    assert info.value.code == "no_task_id"


async def test_error_envelope_on_200(sim: YelinaiSimulator, provider: YelinaiProvider) -> None:
    sim.script_next_submit(
        200,
        {
            "success": False,
            "message": "Invalid prompt",
            "error_code": "INVALID_PROMPT",
            "details": {"field": "prompt", "reason": "Prompt contains blocked words"},
        },
    )
    with pytest.raises(ProviderRejected) as info:
        await provider.submit(text())
    assert info.value.code == "invalid_prompt"
    assert "Prompt contains blocked words" in error_text(info.value)
    sim.script_next_submit(
        200, {"success": False, "message": "busy", "error_code": "UPSTREAM_BUSY"}
    )
    with pytest.raises(ProviderUnavailable) as info2:
        await provider.submit(text())
    assert info2.value.code == "error_body"


# -- submit: errors -------------------------------------------------------------------------


async def test_wrong_key_is_auth_error_without_key(
    sim: YelinaiSimulator, make_provider: MakeProvider
) -> None:
    sim.api_key = "yl-the-right-one"
    p = make_provider()
    with pytest.raises(ProviderAuthError) as info:
        await p.submit(text())
    assert info.value.code == "auth" and "API key" in error_text(info.value)
    assert_no_key(info.value, KEY)
    assert "Invalid API key" in (info.value.detail or "")  # the vendor's words, scrubbed
    with pytest.raises(ProviderAuthError) as info2:
        await p.status("veo3:x", "veo3")
    assert_no_key(info2.value, KEY)
    assert all(r.headers["Authorization"] == f"Bearer {KEY}" for r in sim.requests)


@pytest.mark.parametrize("status", [400, 403, 429, 500])
async def test_quota_exceeded_is_the_operators_problem(
    sim: YelinaiSimulator, provider: YelinaiProvider, status: int
) -> None:
    sim.fail_next_submit_with(
        status,
        {
            "success": False,
            "message": "Quota exceeded",
            "error_code": "QUOTA_EXCEEDED",
            "details": {"field": "quota", "reason": "Contact to increase quota"},
        },
    )
    with pytest.raises(ProviderAuthError) as info:
        await provider.submit(text())
    assert info.value.code == "quota" and not info.value.retryable
    assert "operator" in error_text(info.value)
    assert error_text(info.value) == (
        "The video service account is out of quota; the server operator has been told."
    )
    assert "QUOTA_EXCEEDED" in (info.value.detail or "")


async def test_invalid_prompt_tells_the_member_why(
    sim: YelinaiSimulator, provider: YelinaiProvider
) -> None:
    sim.fail_next_submit_with(
        400,
        {
            "success": False,
            "message": "Invalid prompt",
            "error_code": "INVALID_PROMPT",
            "details": {"field": "prompt", "reason": "Prompt violates the content policy"},
        },
    )
    with pytest.raises(ProviderRejected) as info:
        await provider.submit(text())
    assert info.value.code == "invalid_prompt"
    assert "content policy" in error_text(info.value)


async def test_invalid_model(sim: YelinaiSimulator, provider: YelinaiProvider) -> None:
    sim.fail_next_submit_with(
        400, {"success": False, "message": "Model does not exist", "error_code": "INVALID_MODEL"}
    )
    with pytest.raises(ProviderRejected) as info:
        await provider.submit(text())
    assert info.value.code == "invalid_model"
    assert error_text(info.value) == (
        "The video service does not offer this model right now. Please pick another one."
    )


async def test_invalid_prompt_without_a_shown_reason(
    sim: YelinaiSimulator, provider: YelinaiProvider
) -> None:
    sim.fail_next_submit_with(400, {"success": False, "error_code": "INVALID_PROMPT"})
    with pytest.raises(ProviderRejected) as info:
        await provider.submit(text())
    assert error_text(info.value) == (
        "The video service refused the prompt. Try a different prompt or settings."
    )


async def test_unsafe_vendor_text_never_reaches_the_member(
    sim: YelinaiSimulator, provider: YelinaiProvider
) -> None:
    sim.fail_next_submit_with(
        400,
        {
            "success": False,
            "message": "see https://internal.example/trace?token=abc",
            "error_code": "BAD_THING",
            "details": {"field": "x", "reason": "<b>broken</b>"},
        },
    )
    with pytest.raises(ProviderRejected) as info:
        await provider.submit(text())
    msg = error_text(info.value)
    assert "http" not in msg and "<" not in msg and "token" not in msg
    assert msg == (
        "The video service did not accept this request. Try a different prompt or settings."
    )


async def test_html_400_is_rejected_without_markup(
    sim: YelinaiSimulator, provider: YelinaiProvider
) -> None:
    sim.fail_next_submit_with(400, "<html><body><h1>400 Bad Request</h1></body></html>")
    with pytest.raises(ProviderRejected) as info:
        await provider.submit(text())
    assert "<" not in error_text(info.value)


async def test_429_with_retry_after(sim: YelinaiSimulator, provider: YelinaiProvider) -> None:
    sim.fail_next_submit_with(429, retry_after=7)
    with pytest.raises(ProviderUnavailable) as info:
        await provider.submit(text())
    assert info.value.retry_after == 7.0 and info.value.retryable
    assert info.value.code == "rate_limited"
    assert await provider.submit(text()) in sim.tasks


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_5xx_is_unavailable(
    sim: YelinaiSimulator, provider: YelinaiProvider, status: int
) -> None:
    sim.fail_next_submit_with(status, "<html>Bad Gateway</html>")
    with pytest.raises(ProviderUnavailable) as info:
        await provider.submit(text())
    assert info.value.code == "server_error"
    assert sim.tasks == {}


async def test_connection_refused_is_unavailable(session: aiohttp.ClientSession) -> None:
    port = free_port()
    p = YelinaiProvider(api_key=KEY, base_url=f"http://127.0.0.1:{port}", session=session)
    with pytest.raises(ProviderUnavailable) as info:
        await p.submit(text())
    assert info.value.code == "connect_failed"
    assert_no_key(info.value, KEY)
    with pytest.raises(ProviderUnavailable):
        await p.status("veo3:x", "veo3")


async def test_submit_timeout_is_uncertain(
    sim: YelinaiSimulator, make_provider: MakeProvider
) -> None:
    sim.delay_submit = 2.0
    p = make_provider(request_timeout=0.2)
    with pytest.raises(ProviderTimeout) as info:
        await p.submit(text())
    assert_no_key(info.value, KEY)
    assert len(sim.submits()) == 1  # it did go out: the caller must treat it as uncertain


async def test_bad_base_url_is_unavailable(session: aiohttp.ClientSession) -> None:
    p = YelinaiProvider(api_key=KEY, base_url="http://[::1", session=session)
    with pytest.raises(ProviderUnavailable):
        await p.submit(text())


# -- status ---------------------------------------------------------------------------------


async def test_status_lifecycle(sim: YelinaiSimulator, provider: YelinaiProvider) -> None:
    task_id = await provider.submit(text())
    st = await provider.status(task_id, "veo3")
    assert (st.state, st.progress, st.stage) == (TaskState.PENDING, None, "queued")
    sim.set_task_status(task_id, "image_downloading")
    st = await provider.status(task_id, "veo3")
    assert (st.state, st.progress, st.stage) == (TaskState.RUNNING, None, "downloading images")
    sim.set_task_status(task_id, "video_generating")
    st = await provider.status(task_id, "veo3")
    assert (st.state, st.progress, st.stage) == (TaskState.RUNNING, None, "generating")
    sim.set_task_status(task_id, "video_generating", retry_count=1)
    st = await provider.status(task_id, "veo3")
    assert (st.state, st.progress, st.stage) == (TaskState.RUNNING, None, "generating (retry 1/3)")
    sim.set_task_status(task_id, "completed")
    st = await provider.status(task_id, "veo3")
    assert st.state is TaskState.SUCCEEDED and st.progress is None
    assert st.result_url == sim.video_url(task_id) and st.url_expires_at is None
    polls = sim.status_gets()
    assert len(polls) == 5
    # The colon travels as in the vendor's own example; the path is exactly the documented one.
    assert all(r.path == STATUS_PREFIX + task_id for r in polls)
    assert all(r.headers["Authorization"] == f"Bearer {KEY}" for r in polls)


async def test_status_follows_the_clock_through_image_download(
    session: aiohttp.ClientSession, host: ImageHost
) -> None:
    async with YelinaiSimulator(api_key=KEY, queued_for=0.1, running_for=0.15) as sim:
        sim.delay_image_download = 0.25
        p = YelinaiProvider(api_key=KEY, base_url=sim.base_url, session=session)
        image = host.add("x.png", PNG)
        task_id = await p.submit(
            SubmitRequest(model="veo3", prompt="p", mode=Mode.REFERENCE, images=(image,))
        )
        seen: list[tuple[TaskState, str | None]] = []
        for _ in range(200):
            st = await p.status(task_id, "veo3")
            if not seen or seen[-1] != (st.state, st.stage):
                seen.append((st.state, st.stage))
            if st.state is TaskState.SUCCEEDED:
                break
            await asyncio.sleep(0.01)
        assert seen == [
            (TaskState.PENDING, "queued"),
            (TaskState.RUNNING, "downloading images"),
            (TaskState.RUNNING, "generating"),
            (TaskState.SUCCEEDED, "completed"),
        ]
        assert sim.tasks[task_id].images == [PNG]


async def test_odd_task_id_is_quoted_once(
    sim: YelinaiSimulator, provider: YelinaiProvider, tmp_path: Path
) -> None:
    odd = "veo3:a/b c?d#e%f&ü+"
    sim.next_task_ids.append(odd)
    assert await provider.submit(text()) == odd
    assert (await provider.status(odd, "veo3")).state is TaskState.PENDING
    sim.set_task_status(odd, "completed")
    st = await provider.status(odd, "veo3")
    got = await provider.fetch(odd, "veo3", st, tmp_path / "v.mp4", 10**6)
    assert got.size == len(sim.video_bytes)
    paths = [r.path for r in sim.status_gets()]
    assert paths[0] == STATUS_PREFIX + "veo3:a%2Fb%20c%3Fd%23e%25f%26%C3%BC%2B"


async def test_simulator_does_not_find_unquoted_or_double_quoted_ids(
    sim: YelinaiSimulator, provider: YelinaiProvider, session: aiohttp.ClientSession
) -> None:
    odd = "veo3:a/b%c"
    sim.next_task_ids.append(odd)
    await provider.submit(text())
    headers = {"Authorization": f"Bearer {KEY}"}
    base = sim.base_url + STATUS_PREFIX

    async def get(raw: str) -> int:
        async with session.get(yarl.URL(base + raw, encoded=True), headers=headers) as resp:
            return resp.status

    assert await get(quote(odd, safe=":")) == 200
    assert await get(quote(odd, safe="")) == 200  # %3A for the colon decodes the same
    assert await get(odd) == 404  # unquoted: the slash splits the path
    assert await get(quote(quote(odd, safe=""), safe="")) == 404  # quoted twice


@pytest.mark.parametrize("status", [404, 400])
async def test_task_not_found(
    sim: YelinaiSimulator, provider: YelinaiProvider, status: int
) -> None:
    sim.not_found_status = status
    with pytest.raises(TaskNotFound) as info:
        await provider.status("veo3:nope", "veo3")
    assert "TASK_NOT_FOUND" in (info.value.detail or "")
    assert not info.value.retryable


async def test_task_not_found_in_a_200_envelope(
    sim: YelinaiSimulator, provider: YelinaiProvider
) -> None:
    sim.queue_status_error(
        200, {"success": False, "message": "Task does not exist", "error_code": "TASK_NOT_FOUND"}
    )
    with pytest.raises(TaskNotFound):
        await provider.status("veo3:x", "veo3")


async def test_plain_404_on_status_is_task_not_found(
    sim: YelinaiSimulator, provider: YelinaiProvider
) -> None:
    sim.queue_status_error(404, "404 page not found")
    with pytest.raises(TaskNotFound):
        await provider.status("veo3:x", "veo3")


async def test_failed_without_reason(sim: YelinaiSimulator, provider: YelinaiProvider) -> None:
    task_id = await provider.submit(text())
    sim.make_task_fail(task_id=task_id)
    sim.set_task_status(task_id, "failed")
    st = await provider.status(task_id, "veo3")
    assert st.state is TaskState.FAILED
    assert st.error_code == "generation_failed"
    assert told(st) == "The video service could not make this video. Your quota was refunded."


@pytest.mark.parametrize("field", ["error", "message", "upstream", "object"])
async def test_failed_for_content_policy(
    sim: YelinaiSimulator, provider: YelinaiProvider, field: str
) -> None:
    sim.make_task_fail("Prompt violates the safety policy", code="CONTENT_POLICY", field=field)
    task_id = await provider.submit(text())
    sim.set_task_status(task_id, "failed")
    st = await provider.status(task_id, "veo3")
    assert st.state is TaskState.FAILED
    assert st.error_code == "CONTENT_POLICY"
    msg = told(st)
    assert "content rules" in msg and "Prompt violates the safety policy" in msg
    assert msg.endswith("Your quota was refunded.")
    assert msg == (
        "The video service refused to make this video under its content rules: "
        "Prompt violates the safety policy. Your quota was refunded."
    )


async def test_failed_policy_without_code(sim: YelinaiSimulator, provider: YelinaiProvider) -> None:
    sim.make_task_fail("NSFW content detected")
    task_id = await provider.submit(text())
    sim.set_task_status(task_id, "failed")
    st = await provider.status(task_id, "veo3")
    assert st.error_code == "content_policy" and "content rules" in told(st)


async def test_image_that_does_not_download_fails_the_task(
    session: aiohttp.ClientSession, host: ImageHost
) -> None:
    async with YelinaiSimulator(api_key=KEY, queued_for=0.0, running_for=0.0) as sim:
        p = YelinaiProvider(api_key=KEY, base_url=sim.base_url, session=session)
        good = host.add("ok.png", PNG)
        gone = InputImage(PNG, "image/png", "gone.png", url=f"{host.base_url}/img/gone.png?hm=s")
        task_id = await p.submit(
            SubmitRequest(model="veo3", prompt="p", mode=Mode.REFERENCE, images=(good, gone))
        )
        task = await sim.wait_downloaded(task_id)
        assert task.download_error is not None and "gone.png" in task.download_error
        st = await p.status(task_id, "veo3")
        assert st.state is TaskState.FAILED and st.error_code == "IMAGE_DOWNLOAD_FAILED"
        msg = told(st)
        assert "could not download or use your image" in msg
        assert "http" not in msg and "127.0.0.1" not in msg and "hm=" not in msg
        assert host.hits == ["ok.png", "gone.png"]


async def test_non_image_url_fails_the_task(
    session: aiohttp.ClientSession, host: ImageHost
) -> None:
    async with YelinaiSimulator(api_key=KEY, queued_for=0.0, running_for=0.0) as sim:
        p = YelinaiProvider(api_key=KEY, base_url=sim.base_url, session=session)
        fake = host.add("fake.png", b"<html>not an image</html>")
        task_id = await p.submit(
            SubmitRequest(model="veo3", prompt="p", mode=Mode.REFERENCE, images=(fake,))
        )
        await sim.wait_downloaded(task_id)
        st = await p.status(task_id, "veo3")
        assert st.state is TaskState.FAILED
        assert "not a valid image" in told(st)


async def test_unknown_words_keep_polling(sim: YelinaiSimulator, provider: YelinaiProvider) -> None:
    task_id = await provider.submit(text())
    sim.set_task_status(task_id, "upscaling")
    st = await provider.status(task_id, "veo3")
    assert (st.state, st.stage) == (TaskState.RUNNING, "upscaling")
    sim.set_task_status(task_id, "processing", upstream="video_upsampling")
    st = await provider.status(task_id, "veo3")
    assert (st.state, st.stage) == (TaskState.RUNNING, "video_upsampling")


async def test_completed_without_video_url_is_retryable(
    sim: YelinaiSimulator, provider: YelinaiProvider
) -> None:
    task_id = await provider.submit(text())
    sim.set_task_status(task_id, "completed")
    sim.omit_video_url = True
    with pytest.raises(ProviderUnavailable) as info:
        await provider.status(task_id, "veo3")
    assert info.value.code == "no_video_url"
    sim.omit_video_url = False
    assert (await provider.status(task_id, "veo3")).state is TaskState.SUCCEEDED


@pytest.mark.parametrize(
    "body",
    [
        *UNREADABLE_STATUS,
        '{"success": true}',
        '{"success": true, "data": "processing"}',
        '{"success": true, "data": {"taskId": "veo3:x"}}',
        '{"success": true, "data": {"status": {"nested": true}}}',
    ],
)
async def test_garbage_status_body_is_unavailable(
    sim: YelinaiSimulator, provider: YelinaiProvider, body: str | bytes
) -> None:
    task_id = await provider.submit(text())
    sim.queue_status_error(200, body if body else b"")
    with pytest.raises(ProviderUnavailable) as info:
        await provider.status(task_id, "veo3")
    assert info.value.code == "bad_answer"
    assert (await provider.status(task_id, "veo3")).state is TaskState.PENDING


async def test_odd_nested_objects_are_tolerated(
    sim: YelinaiSimulator, provider: YelinaiProvider
) -> None:
    sim.queue_status_error(
        200,
        {
            "success": True,
            "data": {"taskId": "veo3:x", "status": "processing", "upstreamData": "?", "new": 1},
        },
    )
    st = await provider.status("veo3:x", "veo3")
    assert (st.state, st.stage) == (TaskState.PENDING, "queued")


async def test_status_errors_then_recovery(
    sim: YelinaiSimulator, provider: YelinaiProvider
) -> None:
    task_id = await provider.submit(text())
    sim.queue_status_error(500)
    sim.queue_status_error(429, retry_after=3)
    sim.queue_status_error(200, {"success": False, "message": "upstream busy", "error_code": "X"})
    with pytest.raises(ProviderUnavailable) as first:
        await provider.status(task_id, "veo3")
    assert first.value.retry_after is None
    with pytest.raises(ProviderUnavailable) as second:
        await provider.status(task_id, "veo3")
    assert second.value.retry_after == 3.0
    with pytest.raises(ProviderUnavailable):
        await provider.status(task_id, "veo3")
    assert (await provider.status(task_id, "veo3")).state is TaskState.PENDING


async def test_status_timeout(sim: YelinaiSimulator, make_provider: MakeProvider) -> None:
    p = make_provider(request_timeout=0.2)
    task_id = await p.submit(text())
    sim.delay_status = 2.0
    with pytest.raises(ProviderTimeout):
        await p.status(task_id, "veo3")


# -- fetch ----------------------------------------------------------------------------------


async def test_fetch_streams_the_bytes_without_the_key(
    sim: YelinaiSimulator, provider: YelinaiProvider, tmp_path: Path
) -> None:
    sim.video_bytes = default_video(300_000)
    task_id, st = await completed(sim, provider)
    dest = tmp_path / "out" / "video.mp4"
    got = await provider.fetch(task_id, "veo3", st, dest, 10**6)
    assert got.path == dest and got.size == 300_000
    assert got.url == sim.video_url(task_id) and got.url_expires_at is None
    assert dest.read_bytes() == sim.video_bytes
    (req,) = sim.file_gets()
    assert "Authorization" not in req.headers


async def test_fetch_without_a_stored_url_asks_again(
    sim: YelinaiSimulator, provider: YelinaiProvider, tmp_path: Path
) -> None:
    task_id, _ = await completed(sim, provider)
    got = await provider.fetch(
        task_id, "veo3", TaskStatus(TaskState.SUCCEEDED), tmp_path / "v.mp4", 10**6
    )
    assert got.url == sim.video_url(task_id) and got.size == len(sim.video_bytes)
    assert len(sim.status_gets()) == 2


@pytest.mark.parametrize("chunked", [False, True])
async def test_fetch_over_cap_gives_the_link(
    sim: YelinaiSimulator, provider: YelinaiProvider, tmp_path: Path, chunked: bool
) -> None:
    sim.video_bytes = default_video(200_000)
    sim.send_content_length = not chunked
    task_id, st = await completed(sim, provider)
    with pytest.raises(ResultTooLarge) as info:
        await provider.fetch(task_id, "veo3", st, tmp_path / "v.mp4", 100_000)
    assert info.value.url == sim.video_url(task_id)
    assert list(tmp_path.iterdir()) == []


async def test_fetch_exactly_at_cap(
    sim: YelinaiSimulator, provider: YelinaiProvider, tmp_path: Path
) -> None:
    sim.send_content_length = False
    task_id, st = await completed(sim, provider)
    got = await provider.fetch(task_id, "veo3", st, tmp_path / "v.mp4", len(sim.video_bytes))
    assert got.size == len(sim.video_bytes)


async def test_fetch_broken_mid_stream(
    sim: YelinaiSimulator, provider: YelinaiProvider, tmp_path: Path
) -> None:
    sim.video_bytes = default_video(200_000)
    sim.break_content_after = 50_000
    task_id, st = await completed(sim, provider)
    with pytest.raises(ProviderTimeout):
        await provider.fetch(task_id, "veo3", st, tmp_path / "v.mp4", 10**6)
    assert not (tmp_path / "v.mp4").exists()


@pytest.mark.parametrize(
    ("status", "error", "code"),
    [
        (404, ResultNotReady, "not_ready"),
        (403, TaskNotFound, "video_gone"),
        (410, TaskNotFound, "video_gone"),
        (429, ProviderUnavailable, "rate_limited"),
        (500, ProviderUnavailable, "cdn_error"),
        (503, ProviderUnavailable, "cdn_error"),
    ],
)
async def test_fetch_errors(
    sim: YelinaiSimulator,
    provider: YelinaiProvider,
    tmp_path: Path,
    status: int,
    error: type[ProviderError],
    code: str,
) -> None:
    task_id, st = await completed(sim, provider)
    sim.queue_file_error(status, retry_after=5 if status == 429 else None)
    with pytest.raises(error) as info:
        await provider.fetch(task_id, "veo3", st, tmp_path / "v.mp4", 10**6)
    assert info.value.code == code
    if status == 429:
        assert info.value.retry_after == 5.0
    if code == "video_gone":
        gone = "The finished video is no longer available from the video service."
        assert error_text(info.value) == gone
    assert not (tmp_path / "v.mp4").exists()


async def test_fetch_json_with_200_is_not_saved(
    sim: YelinaiSimulator, provider: YelinaiProvider, tmp_path: Path
) -> None:
    task_id, st = await completed(sim, provider)
    sim.queue_file_error(200, {"success": False, "message": "expired"})
    with pytest.raises(ProviderUnavailable):
        await provider.fetch(task_id, "veo3", st, tmp_path / "v.mp4", 10**6)
    assert not (tmp_path / "v.mp4").exists()


async def test_full_flow_with_images(
    sim: YelinaiSimulator, provider: YelinaiProvider, host: ImageHost, tmp_path: Path
) -> None:
    sim.queued_for = sim.running_for = 0.0
    image = host.add("first.jpg", JPEG, "image/jpeg")
    task_id = await provider.submit(
        SubmitRequest(
            model=FRAMES, prompt="p", mode=Mode.FIRST_FRAME, images=(image,), enhance_prompt=True
        )
    )
    await sim.wait_downloaded(task_id)
    st = await provider.status(task_id, FRAMES)
    assert st.state is TaskState.SUCCEEDED
    got = await provider.fetch(task_id, FRAMES, st, tmp_path / "v.mp4", 10**6)
    assert got.path is not None and got.path.read_bytes() == sim.video_bytes
    assert sim.tasks[task_id].images == [JPEG]
    await provider.close()  # the session is the caller's: still usable afterwards
    assert not provider._http.session.closed


# -- the simulator enforces the documented API (so the tests above can fail) ---------------


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"model": "veo3"}, "INVALID_PROMPT"),
        ({"model": "veo3", "prompt": "  "}, "INVALID_PROMPT"),
        ({"model": "veo3", "prompt": 5}, "INVALID_PROMPT"),
        ({"model": "veo3.1", "prompt": "p"}, "INVALID_MODEL"),
        ({"model": ["veo3"], "prompt": "p"}, "INVALID_MODEL"),
        ({"prompt": "p", "images": "https://x.example/a.png"}, "INVALID_REQUEST"),
        ({"prompt": "p", "images": [1]}, "INVALID_REQUEST"),
        ({"prompt": "p", "images": ["https://x.example/a.png"] * 6}, "INVALID_REQUEST"),
        ({"prompt": "p", "images": ["data:image/png;base64,AAAA"]}, "INVALID_REQUEST"),
        ({"prompt": "p", "enhance_prompt": "true"}, "INVALID_REQUEST"),
        ([1, 2], "INVALID_REQUEST"),
    ],
)
async def test_simulator_rejects(
    sim: YelinaiSimulator, session: aiohttp.ClientSession, body: object, code: str
) -> None:
    async with session.post(
        sim.base_url + SUBMIT_PATH, json=body, headers={"Authorization": f"Bearer {KEY}"}
    ) as resp:
        assert resp.status == 400
        answer = await resp.json()
    assert answer["success"] is False and answer["error_code"] == code
    assert set(answer) == {"success", "message", "error_code", "details"}
    assert set(answer["details"]) == {"field", "reason"}
    assert sim.tasks == {}


async def test_simulator_wants_json(sim: YelinaiSimulator, session: aiohttp.ClientSession) -> None:
    async with session.post(
        sim.base_url + SUBMIT_PATH, data={"prompt": "p"}, headers={"Authorization": f"Bearer {KEY}"}
    ) as resp:
        assert resp.status == 400


@pytest.mark.parametrize("auth", [None, KEY, f"Bearer {KEY}x", f"bearer {KEY}", f"Token {KEY}"])
async def test_simulator_requires_bearer(
    sim: YelinaiSimulator, session: aiohttp.ClientSession, auth: str | None
) -> None:
    headers = {"Authorization": auth} if auth else {}
    async with session.post(
        sim.base_url + SUBMIT_PATH, json={"prompt": "p"}, headers=headers
    ) as resp:
        assert resp.status == 401
        assert (await resp.json())["success"] is False


async def test_simulator_answers_like_the_vendor_documents(
    sim: YelinaiSimulator, session: aiohttp.ClientSession
) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    async with session.post(sim.base_url + SUBMIT_PATH, json={"prompt": "p"}, headers=headers) as r:
        body = await r.json()
    data = body["data"]
    assert body["success"] is True and data["taskId"].startswith("veo3:")  # default model
    assert data["status"] == "processing" and data["pollingUrl"].endswith(data["taskId"])
    task_id = data["taskId"]
    shapes = {}
    for status in ("image_downloading", "video_generating", "completed"):
        sim.set_task_status(task_id, status)
        async with session.get(sim.base_url + STATUS_PREFIX + task_id, headers=headers) as r:
            shapes[status] = (await r.json())["data"]
    assert shapes["image_downloading"]["upstreamData"]["status"] == "image_downloading"
    assert shapes["image_downloading"]["progress"]["maxRetries"] == 3
    assert shapes["video_generating"]["upstreamData"]["status"] == "video_generating"
    assert shapes["completed"]["result"]["video_url"] == sim.video_url(task_id)


# -- wire parsing never crashes -------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message", "code", "reason"),
    [
        (
            b'{"success": false, "message": "m", "error_code": "C", "details": {"reason": "r"}}',
            "m",
            "C",
            "r",
        ),
        (b'{"success": false, "message": "m", "error_code": 500}', "m", "500", None),
        (b'{"success": false, "message": "m", "details": "flat"}', "m", None, None),
        (b'{"error": "plain"}', "plain", None, None),
        (b'{"error": {"message": "inner", "code": "X"}}', "inner", "X", None),
        (b'"just a string"', "just a string", None, None),
        *[(raw, None, None, None) for raw in UNREADABLE_ERRORS],
    ],
)
def test_parse_error_is_total(
    raw: bytes, message: str | None, code: str | None, reason: str | None
) -> None:
    err = parse_error(raw)
    assert (err.message, err.code, err.reason) == (message, code, reason)


def test_parse_task_tolerates_extras_and_numbers() -> None:
    ok, task = parse_task(
        b'{"success": true, "data": {"taskId": 12, "status": "processing", "progress": 5,'
        b' "result": [], "extra": {"x": 1}}}'
    )
    assert ok is True and isinstance(task, YelinaiTask)
    assert task.task_id == "12" and task.progress is None and task.result is None
    assert parse_task(b"<html>") == (None, None)
    assert parse_task(b'{"success": false}') == (False, None)
