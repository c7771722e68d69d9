"""ApixoProvider against a real HTTP simulator of apixo's documented API: assertions are on
the wire."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot.chat.failures import error_text, failure_text
from bot.providers.apixo.adapter import ApixoProvider
from bot.providers.apixo.catalog import FAST, QUALITY, URL_LIFETIME, fail_kind
from bot.providers.apixo.wire import (
    ApixoTask,
    envelope_code,
    parse_callback_task_id,
    parse_error,
    parse_task,
    parse_task_id,
)
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
    JPEG,
    PNG,
    TINY,
    UNREADABLE_ERRORS,
    UNREADABLE_STATUS,
    WEBP,
    ImageHost,
    Vendor,
    assert_no_key,
    serve,
    text_requests,
)
from tests.sim.apixo_sim import SUBMIT_PATH, ApixoSimulator, default_video

KEY = "apixo-test-0123456789abcdefSECRET"
VENDOR = Vendor(ApixoSimulator, ApixoProvider, KEY)
MakeProvider = Callable[..., ApixoProvider]


def told(status: TaskStatus) -> str:
    """What a member reads of a failed task, as the chat side words it."""
    if status.error_say is None:
        return ""
    return failure_text(
        status.error_code, status.error_say.failure(status.error_code or "x").params
    )


text = text_requests(FAST)


def img(
    data: bytes = PNG, url: str | None = "https://img.example/a.png", mime: str = "image/png"
) -> InputImage:
    return InputImage(data=data, mime=mime, filename="a.png", url=url)


def with_images(mode: Mode, images: list[InputImage], **kw: object) -> SubmitRequest:
    return SubmitRequest(
        model=kw.pop("model", FAST),  # type: ignore[arg-type]
        prompt="the lighthouse comes alive",
        mode=mode,
        images=tuple(images),
        **kw,  # type: ignore[arg-type]
    )


async def complete(sim: ApixoSimulator, provider: ApixoProvider) -> tuple[str, TaskStatus]:
    task_id = await provider.submit(text())
    sim.set_task_status(task_id, "success")
    status = await provider.status(task_id, FAST)
    assert status.state is TaskState.SUCCEEDED
    return task_id, status


# -- the model table ------------------------------------------------------------------------


def test_models_and_protocol(session: aiohttp.ClientSession) -> None:
    p = ApixoProvider(api_key=KEY, session=session)
    assert isinstance(p, Provider)
    assert (p.name, p.label) == ("apixo", "APIXO")
    assert list(p.models) == [FAST, QUALITY] == ["veo-3.1-fast", "veo-3.1-quality"]
    fast, quality = p.models[FAST], p.models[QUALITY]
    assert fast.modes == frozenset({Mode.TEXT, Mode.FIRST_FRAME, Mode.FIRST_LAST, Mode.REFERENCE})
    assert quality.modes == frozenset({Mode.TEXT, Mode.FIRST_FRAME, Mode.FIRST_LAST})
    assert (fast.max_reference_images, quality.max_reference_images) == (3, 0)
    assert fast.label != quality.label and "apixo" in fast.label and "Quality" in quality.label
    assert (fast.price_usd, quality.price_usd) == (0.20, 1.50)
    for spec in (fast, quality):
        assert spec.aspect_ratios == ("16:9", "9:16", "auto")
        assert spec.durations == (8,) and spec.default_duration == 8
        assert spec.resolutions == ("720p",)
        assert spec.seed and not spec.negative_prompt and not spec.enhance_prompt
        assert spec.max_prompt == 10_000
        assert spec.image_formats == frozenset({"jpeg", "png", "webp"})
        assert spec.max_image_bytes == 10 * 1024 * 1024
        assert spec.gives_url and spec.image_transport == "url" and spec.callbacks
        assert spec.timing.initial_wait == 90 and spec.timing.poll_interval == 5
        assert spec.timing.deadline >= 600


def test_timing_override_applies_everywhere(provider: ApixoProvider) -> None:
    for spec in provider.models.values():
        assert spec.timing_for(None) == TINY and spec.timing_for("720p") == TINY


def test_key_not_in_repr(provider: ApixoProvider) -> None:
    assert KEY not in repr(provider) and KEY not in str(provider)


def test_routing_is_checked(session: aiohttp.ClientSession) -> None:
    with pytest.raises(ValueError, match="routing"):
        ApixoProvider(api_key=KEY, session=session, routing="cheapest")


# -- submit ---------------------------------------------------------------------------------


async def test_text_submit_wire(sim: ApixoSimulator, provider: ApixoProvider) -> None:
    task_id = await provider.submit(text())
    assert task_id in sim.tasks
    (req,) = sim.submits()
    assert req.path == SUBMIT_PATH
    assert req.headers["Authorization"] == f"Bearer {KEY}"
    assert req.content_type == "application/json"
    assert req.json == {
        "request_type": "async",
        "provider": "auto",
        "input": {
            "mode": "fast",
            "prompt": "a lighthouse at dusk",
            "generationType": "TEXT_2_VIDEO",
            "aspect_ratio": "16:9",
        },
    }


async def test_quality_portrait_seed_and_routing(
    sim: ApixoSimulator, make_provider: MakeProvider
) -> None:
    p = make_provider(routing="official")
    task_id = await p.submit(text(model=QUALITY, aspect_ratio="9:16", seed=4_000_000_000))
    body = sim.submits()[0].json
    assert body["provider"] == "official"
    assert body["input"]["mode"] == "quality"
    assert body["input"]["aspect_ratio"] == "9:16"
    assert body["input"]["seed"] == 4_000_000_000 and isinstance(body["input"]["seed"], int)
    assert sim.tasks[task_id].mode == "quality"


async def test_base_url_with_api_v1_suffix(
    sim: ApixoSimulator, make_provider: MakeProvider
) -> None:
    p = make_provider(base_url=sim.base_url + "/api/v1/")
    await p.submit(text())
    assert sim.submits()[0].path == SUBMIT_PATH


async def test_first_frame_sends_one_url_and_the_vendor_gets_the_bytes(
    sim: ApixoSimulator, provider: ApixoProvider, host: ImageHost
) -> None:
    url = host.put("first.png", PNG)
    task_id = await provider.submit(with_images(Mode.FIRST_FRAME, [img(PNG, url)]))
    inp = sim.submits()[0].json["input"]
    assert inp["generationType"] == "FIRST_AND_LAST_FRAMES_2_VIDEO"
    assert inp["image_urls"] == [url]
    assert sim.tasks[task_id].images == [PNG]


async def test_first_and_last_keep_their_order(
    sim: ApixoSimulator, provider: ApixoProvider, host: ImageHost
) -> None:
    first, last = host.put("first.jpg", JPEG), host.put("last.webp", WEBP)
    task_id = await provider.submit(
        with_images(
            Mode.FIRST_LAST,
            [img(JPEG, first, "image/jpeg"), img(WEBP, last, "image/webp")],
            model=QUALITY,
        )
    )
    inp = sim.submits()[0].json["input"]
    assert inp["generationType"] == "FIRST_AND_LAST_FRAMES_2_VIDEO"
    assert inp["image_urls"] == [first, last]
    assert sim.tasks[task_id].images == [JPEG, WEBP]


async def test_reference_images(
    sim: ApixoSimulator, provider: ApixoProvider, host: ImageHost
) -> None:
    urls = [host.put(f"r{i}.png", PNG + bytes([i])) for i in range(3)]
    task_id = await provider.submit(
        with_images(Mode.REFERENCE, [img(PNG + bytes([i]), u) for i, u in enumerate(urls)])
    )
    inp = sim.submits()[0].json["input"]
    assert inp["generationType"] == "REFERENCE_2_VIDEO"
    assert inp["mode"] == "fast" and inp["aspect_ratio"] == "16:9"
    assert inp["image_urls"] == urls
    assert sim.tasks[task_id].images == [PNG + bytes([i]) for i in range(3)]


async def test_callback_mode_on_the_wire(sim: ApixoSimulator, provider: ApixoProvider) -> None:
    sim.callbacks_enabled = False
    await provider.submit(text(callback_url="https://bot.example/callbacks/apixo/tok"))
    body = sim.submits()[0].json
    assert body["request_type"] == "callback"
    assert body["callback_url"] == "https://bot.example/callbacks/apixo/tok"


async def test_a_non_http_callback_address_falls_back_to_polling(
    sim: ApixoSimulator, provider: ApixoProvider
) -> None:
    await provider.submit(text(callback_url="ftp://bot.example/cb"))
    body = sim.submits()[0].json
    assert body["request_type"] == "async" and "callback_url" not in body


@pytest.mark.parametrize(
    "request_",
    [
        text(model="veo-9"),
        text(model=QUALITY, mode=Mode.REFERENCE, images=(img(),)),
        with_images(Mode.REFERENCE, [img()], aspect_ratio="9:16"),
        with_images(Mode.REFERENCE, [img()], aspect_ratio="auto"),
        with_images(Mode.REFERENCE, [img(), img(), img(), img()]),
        with_images(Mode.REFERENCE, []),
        with_images(Mode.FIRST_FRAME, []),
        with_images(Mode.FIRST_FRAME, [img(), img()]),
        with_images(Mode.FIRST_LAST, [img()]),
        with_images(Mode.FIRST_LAST, [img(), img(), img()]),
        with_images(Mode.TEXT, [img()]),
        with_images(Mode.FIRST_FRAME, [img(b"GIF89a....", mime="image/gif")]),
        with_images(Mode.FIRST_FRAME, [img(PNG + b"\0" * (10 * 1024 * 1024))]),
        with_images(Mode.FIRST_FRAME, [img(url=None)]),
        with_images(Mode.FIRST_FRAME, [img(url="file:///etc/passwd")]),
        SubmitRequest(model=FAST, prompt="x" * 10_001),
        SubmitRequest(model=FAST, prompt="   "),
        text(aspect_ratio="1:1"),
        text(resolution="1080p"),
        text(duration=4),
    ],
)
async def test_refused_before_sending(
    sim: ApixoSimulator, provider: ApixoProvider, request_: SubmitRequest
) -> None:
    with pytest.raises(ProviderRejected) as info:
        await provider.submit(request_)
    assert sim.submits() == []
    message = error_text(info.value)
    assert message and "{" not in message


async def test_a_reference_request_in_portrait_says_why(provider: ApixoProvider) -> None:
    with pytest.raises(ProviderRejected) as info:
        await provider.submit(with_images(Mode.REFERENCE, [img()], aspect_ratio="9:16"))
    assert "16:9" in error_text(info.value)


async def test_prompt_of_exactly_10000_chars_is_sent(
    sim: ApixoSimulator, provider: ApixoProvider
) -> None:
    await provider.submit(SubmitRequest(model=FAST, prompt="y" * 10_000))
    assert len(sim.submits()[0].json["input"]["prompt"]) == 10_000


async def test_429_with_retry_after(sim: ApixoSimulator, provider: ApixoProvider) -> None:
    sim.fail_next_submit_with(429, retry_after=7)
    with pytest.raises(ProviderUnavailable) as info:
        await provider.submit(text())
    assert info.value.code == "rate_limited" and info.value.retry_after == 7.0
    assert info.value.retryable
    assert await provider.submit(text())  # and then it works


async def test_concurrency_limit_is_a_429(sim: ApixoSimulator, provider: ApixoProvider) -> None:
    sim.max_concurrent = 1
    first = await provider.submit(text())
    with pytest.raises(ProviderUnavailable) as info:
        await provider.submit(text())
    assert info.value.code == "rate_limited"
    sim.set_task_status(first, "success")
    assert await provider.submit(text())


@pytest.mark.parametrize("status", [500, 503])
async def test_server_errors_are_retryable(
    sim: ApixoSimulator, provider: ApixoProvider, status: int
) -> None:
    sim.fail_next_submit_with(status)
    with pytest.raises(ProviderUnavailable) as info:
        await provider.submit(text())
    assert info.value.code == "server_error"


async def test_html_502_is_retryable(sim: ApixoSimulator, provider: ApixoProvider) -> None:
    sim.fail_next_submit_with(502, "<html><body>502 Bad Gateway</body></html>")
    with pytest.raises(ProviderUnavailable):
        await provider.submit(text())


async def test_400_shows_a_plain_reason(sim: ApixoSimulator, provider: ApixoProvider) -> None:
    sim.fail_next_submit_with(
        400, {"code": 400, "message": "Invalid request", "data": {"error": "Prompt is empty"}}
    )
    with pytest.raises(ProviderRejected) as info:
        await provider.submit(text())
    assert (
        error_text(info.value) == "The video service did not accept this request: Prompt is empty."
    )
    assert "HTTP 400" in (info.value.detail or "")


async def test_400_with_a_technical_reason_stays_generic(
    sim: ApixoSimulator, provider: ApixoProvider
) -> None:
    sim.fail_next_submit_with(
        400, {"code": 400, "message": "x", "data": {"error": "json: cannot unmarshal number"}}
    )
    with pytest.raises(ProviderRejected) as info:
        await provider.submit(text())
    assert "unmarshal" not in error_text(info.value)


async def test_404_on_submit_is_not_found(sim: ApixoSimulator, make_provider: MakeProvider) -> None:
    """The vendor documents 404 as "Task or model not found"; on submit, nothing to retry."""
    p = make_provider()
    sim.fail_next_submit_with(
        404, {"code": 404, "message": "Not Found", "data": {"error": "model"}}
    )
    with pytest.raises(ProviderRejected) as info:
        await p.submit(text())
    assert info.value.code == "not_found"


async def test_wrong_key_is_auth_and_never_leaked(
    sim: ApixoSimulator, make_provider: MakeProvider
) -> None:
    wrong = "apixo-WRONG-key-SECRET"
    p = make_provider(api_key=wrong)
    with pytest.raises(ProviderAuthError) as info:
        await p.submit(text())
    assert info.value.code == "auth" and not info.value.retryable
    assert_no_key(info.value, wrong)
    assert "***" in (info.value.detail or "")  # the echoed key was scrubbed, not dropped
    with pytest.raises(ProviderAuthError) as polled:
        await p.status("apx_1", FAST)
    assert_no_key(polled.value, wrong)


@pytest.mark.parametrize(
    ("status", "body", "error", "code"),
    [
        (402, None, ProviderAuthError, "quota"),
        (
            400,
            {"code": 400, "message": "x", "data": {"failCode": "INSUFFICIENT_CREDITS"}},
            ProviderAuthError,
            "quota",
        ),
        (
            403,
            {"code": 403, "message": "Forbidden", "data": {"error": "API key lacks permission"}},
            ProviderAuthError,
            "auth",
        ),
        (
            403,
            {"code": 403, "message": "Forbidden", "data": {"error": "Content violates policy"}},
            ProviderRejected,
            "content_policy",
        ),
        (
            400,
            {"code": 400, "message": "x", "data": {"failCode": "NSFW_DETECTED"}},
            ProviderRejected,
            "nsfw",
        ),
    ],
)
async def test_account_and_policy_answers(
    sim: ApixoSimulator,
    provider: ApixoProvider,
    status: int,
    body: dict[str, object] | None,
    error: type[ProviderError],
    code: str,
) -> None:
    sim.fail_next_submit_with(status, body)
    with pytest.raises(error) as info:
        await provider.submit(text())
    assert info.value.code == code
    if code == "quota":
        assert "operator" in error_text(info.value)


async def test_error_envelope_inside_a_200(sim: ApixoSimulator, provider: ApixoProvider) -> None:
    sim.fail_next_submit_with(
        200, {"code": 401, "message": "Unauthorized", "data": {"error": "Invalid API Key"}}
    )
    with pytest.raises(ProviderAuthError):
        await provider.submit(text())


@pytest.mark.parametrize(
    "body",
    [
        {"code": 200, "message": "success", "data": {}},
        {"code": 200, "message": "success"},
        "not json",
        "",
    ],
)
async def test_200_without_task_id_is_uncertain(
    sim: ApixoSimulator, provider: ApixoProvider, body: dict[str, object] | str
) -> None:
    sim.fail_next_submit_with(200, body)
    with pytest.raises(ProviderTimeout) as info:
        await provider.submit(text())
    assert info.value.code == "no_task_id"


async def test_omitted_task_id_from_the_simulator(
    sim: ApixoSimulator, provider: ApixoProvider
) -> None:
    sim.omit_task_id = True
    with pytest.raises(ProviderTimeout):
        await provider.submit(text())


async def test_connection_refused_is_unavailable(session: aiohttp.ClientSession) -> None:
    p = ApixoProvider(api_key=KEY, base_url=f"http://127.0.0.1:{free_port()}", session=session)
    with pytest.raises(ProviderUnavailable) as info:
        await p.submit(text())
    assert info.value.code == "connect_failed"
    assert_no_key(info.value, KEY)


async def test_submit_timeout_is_uncertain(
    sim: ApixoSimulator, make_provider: MakeProvider
) -> None:
    sim.delay_submit = 2.0
    p = make_provider(request_timeout=0.2)
    with pytest.raises(ProviderTimeout) as info:
        await p.submit(text())
    assert_no_key(info.value, KEY)


# -- status ---------------------------------------------------------------------------------


async def test_status_progression_with_the_clock(session: aiohttp.ClientSession) -> None:
    async with ApixoSimulator(api_key=KEY, queued_for=0.05, running_for=0.05) as sim:
        p = ApixoProvider(api_key=KEY, base_url=sim.base_url, session=session)
        task_id = await p.submit(text())
        seen: list[TaskState] = []
        final: TaskStatus | None = None
        for _ in range(200):
            final = await p.status(task_id, FAST)
            if not seen or seen[-1] is not final.state:
                seen.append(final.state)
            if final.state is TaskState.SUCCEEDED:
                break
            await asyncio.sleep(0.01)
        assert seen == [TaskState.PENDING, TaskState.RUNNING, TaskState.SUCCEEDED]
        assert final is not None and final.progress is None


async def test_status_query_and_success(sim: ApixoSimulator, provider: ApixoProvider) -> None:
    task_id = await provider.submit(text())
    pending = await provider.status(task_id, FAST)
    assert (pending.state, pending.stage, pending.progress) == (TaskState.PENDING, "queued", None)
    sim.set_task_status(task_id, "processing")
    assert (await provider.status(task_id, FAST)).state is TaskState.RUNNING
    sim.set_task_status(task_id, "success")
    before = time.time()
    done = await provider.status(task_id, FAST)
    assert done.state is TaskState.SUCCEEDED
    assert done.result_url == sim.file_url(task_id)
    assert done.url_expires_at is not None
    assert before + URL_LIFETIME - 60 <= done.url_expires_at <= time.time() + URL_LIFETIME
    polls = sim.status_polls()
    assert polls[0].path.startswith("/api/v1/statusTask/veo-3-1?")
    assert polls[0].query == {"taskId": task_id}
    assert polls[0].headers["Authorization"] == f"Bearer {KEY}"


async def test_task_id_needing_quotes(sim: ApixoSimulator, provider: ApixoProvider) -> None:
    odd = "veo:a/b c?d#e&f=g%ü"
    sim.next_task_ids.append(odd)
    assert await provider.submit(text()) == odd
    assert (await provider.status(odd, FAST)).state is TaskState.PENDING
    assert sim.status_polls()[0].query == {"taskId": odd}


CODE_WORDS = {
    "CONTENT_VIOLATION": "content review",
    "NSFW_DETECTED": "adult or unsafe",
    "PROMPT_TOO_LONG": "10,000 characters",
    "INVALID_PROMPT": "rephrase",
    "INVALID_IMAGE_URL": "could not open your image",
    "IMAGE_TOO_LARGE": "10 MB",
    "UNSUPPORTED_FORMAT": "JPEG, PNG or WebP",
    "IMAGE_DOWNLOAD_FAILED": "could not download your image",
    "PROCESSING_TIMEOUT": "too long",
    "MODEL_UNAVAILABLE": "temporarily unavailable",
    "GENERATION_FAILED": "could not make this video",
    "INSUFFICIENT_CREDITS": "operator",
    "SensitiveContentDetected": "content review",
    "InputImageSensitiveContentDetected": "refused your image",
    "PromptLengthExceeded": "10,000 characters",
}


@pytest.mark.parametrize(("code", "words"), sorted(CODE_WORDS.items()))
async def test_each_fail_code_gets_a_member_sentence(
    sim: ApixoSimulator, provider: ApixoProvider, code: str, words: str
) -> None:
    task_id = await provider.submit(text())
    sim.make_task_fail(code, "upstream said https://x.example/?key=" + KEY, task_id=task_id)
    sim.set_task_status(task_id, "failed")
    st = await provider.status(task_id, FAST)
    assert st.state is TaskState.FAILED
    assert st.error_code == code
    message = told(st)
    assert words in message and "not charged" in message
    assert "http" not in message and KEY not in message and "{" not in message


async def test_unknown_fail_code_is_generic(sim: ApixoSimulator, provider: ApixoProvider) -> None:
    task_id = await provider.submit(text())
    sim.set_task_status(task_id, "failed", fail_code="<b>weird code with spaces</b>")
    st = await provider.status(task_id, FAST)
    assert st.state is TaskState.FAILED
    assert st.error_code == "generation_failed"
    assert "could not make this video" in told(st)


async def test_failed_is_http_200_code_200(
    sim: ApixoSimulator, session: aiohttp.ClientSession, make_provider: MakeProvider
) -> None:
    """The documented shape, checked on the simulator so the adapter tests mean something."""
    sim.make_task_fail("CONTENT_VIOLATION")
    p = make_provider()
    task_id = await p.submit(text())
    sim.set_task_status(task_id, "failed")
    async with session.get(
        f"{sim.base_url}/api/v1/statusTask/veo-3-1",
        params={"taskId": task_id},
        headers={"Authorization": f"Bearer {KEY}"},
    ) as resp:
        assert resp.status == 200
        body = await resp.json()
    assert body["code"] == 200
    assert body["data"]["state"] == "failed" and body["data"]["failCode"] == "CONTENT_VIOLATION"
    assert body["data"]["failMsg"]


async def test_an_image_url_that_does_not_download_fails_the_task(
    sim: ApixoSimulator, provider: ApixoProvider, host: ImageHost
) -> None:
    task_id = await provider.submit(with_images(Mode.FIRST_FRAME, [img(PNG, host.url("x.png"))]))
    assert sim.tasks[task_id].images == []
    sim.set_task_status(task_id, "failed")
    st = await provider.status(task_id, FAST)
    assert (st.state, st.error_code) == (TaskState.FAILED, "INVALID_IMAGE_URL")
    assert "image" in told(st)


async def test_unknown_state_is_running(sim: ApixoSimulator, provider: ApixoProvider) -> None:
    task_id = await provider.submit(text())
    sim.set_task_status(task_id, "upscaling")
    st = await provider.status(task_id, FAST)
    assert st.state is TaskState.RUNNING and st.stage == "upscaling"


async def test_status_404_is_task_not_found(provider: ApixoProvider) -> None:
    with pytest.raises(TaskNotFound):
        await provider.status("apx_nope", FAST)


@pytest.mark.parametrize(
    "body",
    [
        *UNREADABLE_STATUS,
        {"code": 200, "message": "success"},
        {"code": 200, "message": "success", "data": {"taskId": "x"}},
        {"code": 200, "message": "success", "data": {"state": {"nested": True}}},
        {"code": 200, "message": "success", "data": "pending"},
        {"code": 200, "data": {"state": "success", "resultJson": "{not json"}},
        {"code": 200, "data": {"state": "success", "resultJson": '{"resultUrls": []}'}},
        {"code": 200, "data": {"state": "success", "resultJson": '{"resultUrls": ["ftp://x"]}'}},
        {"code": 200, "data": {"state": "success"}},
    ],
)
async def test_garbage_status_body_is_unavailable(
    sim: ApixoSimulator, provider: ApixoProvider, body: str | bytes | dict[str, object]
) -> None:
    task_id = await provider.submit(text())
    sim.queue_status_error(200, body if body else b"")
    with pytest.raises(ProviderUnavailable) as info:
        await provider.status(task_id, FAST)
    assert info.value.code == "bad_answer"
    assert (await provider.status(task_id, FAST)).state is TaskState.PENDING


async def test_result_json_already_decoded_is_read_too(
    sim: ApixoSimulator, provider: ApixoProvider
) -> None:
    sim.queue_status_error(
        200,
        {
            "code": 200,
            "data": {
                "taskId": "t",
                "state": "success",
                "resultJson": {"resultUrls": ["https://cdn.example/v.mp4"]},
            },
        },
    )
    st = await provider.status("t", FAST)
    assert st.result_url == "https://cdn.example/v.mp4"


async def test_status_errors_then_recovery(sim: ApixoSimulator, provider: ApixoProvider) -> None:
    task_id = await provider.submit(text())
    sim.queue_status_error(500)
    sim.queue_status_error(429, retry_after=3)
    sim.queue_status_error(
        200, {"code": 503, "message": "Service Unavailable", "data": {"error": "busy"}}
    )
    with pytest.raises(ProviderUnavailable) as first:
        await provider.status(task_id, FAST)
    assert first.value.retry_after is None
    with pytest.raises(ProviderUnavailable) as second:
        await provider.status(task_id, FAST)
    assert second.value.retry_after == 3.0
    with pytest.raises(ProviderUnavailable):
        await provider.status(task_id, FAST)
    assert (await provider.status(task_id, FAST)).state is TaskState.PENDING


async def test_status_timeout(sim: ApixoSimulator, make_provider: MakeProvider) -> None:
    p = make_provider(request_timeout=0.2)
    task_id = await p.submit(text())
    sim.delay_status = 2.0
    with pytest.raises(ProviderTimeout):
        await p.status(task_id, FAST)


# -- fetch ----------------------------------------------------------------------------------


async def test_fetch_streams_the_bytes_without_the_key(
    sim: ApixoSimulator, provider: ApixoProvider, tmp_path: Path
) -> None:
    sim.video_bytes = default_video(300_000)
    task_id, done = await complete(sim, provider)
    dest = tmp_path / "out" / "video.mp4"
    got = await provider.fetch(task_id, FAST, done, dest, 10**6)
    assert got.path == dest and got.size == 300_000
    assert got.url == sim.file_url(task_id) and got.url_expires_at == done.url_expires_at
    assert dest.read_bytes() == sim.video_bytes
    (req,) = sim.file_gets()
    assert "Authorization" not in req.headers


async def test_fetch_without_a_stored_link_asks_again(
    sim: ApixoSimulator, provider: ApixoProvider, tmp_path: Path
) -> None:
    task_id, _ = await complete(sim, provider)
    got = await provider.fetch(
        task_id, FAST, TaskStatus(TaskState.SUCCEEDED), tmp_path / "v.mp4", 10**6
    )
    assert got.url == sim.file_url(task_id)
    assert got.url_expires_at is not None and got.url_expires_at > time.time() + URL_LIFETIME - 60
    assert (tmp_path / "v.mp4").read_bytes() == sim.video_bytes


@pytest.mark.parametrize("chunked", [False, True])
async def test_fetch_over_cap_carries_the_link(
    sim: ApixoSimulator, provider: ApixoProvider, tmp_path: Path, chunked: bool
) -> None:
    sim.video_bytes = default_video(200_000)
    sim.send_content_length = not chunked
    task_id, done = await complete(sim, provider)
    with pytest.raises(ResultTooLarge) as info:
        await provider.fetch(task_id, FAST, done, tmp_path / "v.mp4", 100_000)
    assert info.value.url == sim.file_url(task_id)
    assert list(tmp_path.iterdir()) == []


async def test_fetch_broken_mid_stream(
    sim: ApixoSimulator, provider: ApixoProvider, tmp_path: Path
) -> None:
    sim.video_bytes = default_video(200_000)
    sim.break_content_after = 50_000
    task_id, done = await complete(sim, provider)
    with pytest.raises(ProviderTimeout):
        await provider.fetch(task_id, FAST, done, tmp_path / "v.mp4", 10**6)
    assert not (tmp_path / "v.mp4").exists()


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (404, ResultNotReady),
        (403, TaskNotFound),
        (410, TaskNotFound),
        (429, ProviderUnavailable),
        (500, ProviderUnavailable),
    ],
)
async def test_fetch_errors(
    sim: ApixoSimulator,
    provider: ApixoProvider,
    tmp_path: Path,
    status: int,
    error: type[ProviderError],
) -> None:
    task_id, done = await complete(sim, provider)
    sim.queue_file_error(status, retry_after=5 if status == 429 else None)
    with pytest.raises(error) as info:
        await provider.fetch(task_id, FAST, done, tmp_path / "v.mp4", 10**6)
    if status == 429:
        assert info.value.retry_after == 5.0
    assert not (tmp_path / "v.mp4").exists()
    got = await provider.fetch(task_id, FAST, done, tmp_path / "v.mp4", 10**6)
    assert got.size == len(sim.video_bytes)


async def test_fetch_an_error_page_with_200_is_not_saved(
    sim: ApixoSimulator, provider: ApixoProvider, tmp_path: Path
) -> None:
    task_id, done = await complete(sim, provider)
    sim.queue_file_error(200, "<html>AccessDenied</html>")
    with pytest.raises(ProviderUnavailable):
        await provider.fetch(task_id, FAST, done, tmp_path / "v.mp4", 10**6)
    assert not (tmp_path / "v.mp4").exists()


# -- callbacks (the simulator POSTs; a small receiver stands in for the bot) ----------------


class Receiver:
    def __init__(self, answers: list[int] | None = None) -> None:
        self.answers = list(answers or [])
        self.bodies: list[bytes] = []
        self.url = ""
        self.got = asyncio.Event()
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/callbacks/apixo/{token}", self._post)
        self._runner, origin = await serve(app)
        self.url = f"{origin}/callbacks/apixo/tok123"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _post(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.read())
        status = self.answers.pop(0) if self.answers else 200
        if status == 200:
            self.got.set()
        return web.Response(status=status, text="ok")


async def test_callback_posts_the_status_body(sim: ApixoSimulator, provider: ApixoProvider) -> None:
    async with Receiver() as rx:
        task_id = await provider.submit(text(callback_url=rx.url))
        await asyncio.sleep(0.05)
        assert rx.bodies == []  # nothing before the task ends
        sim.set_task_status(task_id, "success")
        await asyncio.wait_for(rx.got.wait(), 5)
    (raw,) = rx.bodies
    assert parse_callback_task_id(raw) == task_id
    body = json.loads(raw)
    assert body["code"] == 200 and body["data"]["state"] == "success"
    assert json.loads(body["data"]["resultJson"])["resultUrls"] == [sim.file_url(task_id)]
    # A callback is only a hint: polling gives the same answer.
    assert (await provider.status(task_id, FAST)).result_url == sim.file_url(task_id)


async def test_callback_for_a_failed_task_and_retries(
    sim: ApixoSimulator, provider: ApixoProvider
) -> None:
    sim.callback_retry_delay = 0.01
    async with Receiver(answers=[500, 503]) as rx:
        task_id = await provider.submit(text(callback_url=rx.url))
        sim.make_task_fail("NSFW_DETECTED", task_id=task_id)
        sim.set_task_status(task_id, "failed")
        await asyncio.wait_for(rx.got.wait(), 5)
    assert [a.status for a in sim.callbacks] == [500, 503, 200]
    assert json.loads(rx.bodies[-1])["data"]["failCode"] == "NSFW_DETECTED"


async def test_callback_gives_up_after_three_retries(
    sim: ApixoSimulator, provider: ApixoProvider
) -> None:
    sim.callback_retry_delay = 0.01
    async with Receiver(answers=[500] * 10) as rx:
        task_id = await provider.submit(text(callback_url=rx.url))
        sim.set_task_status(task_id, "success")
        for _ in range(200):
            if len(sim.callbacks) >= 4:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
    assert [a.status for a in sim.callbacks] == [500, 500, 500, 500]
    assert len(rx.bodies) == 4


async def test_callbacks_can_be_disabled_or_delayed(
    sim: ApixoSimulator, provider: ApixoProvider
) -> None:
    async with Receiver() as rx:
        sim.callbacks_enabled = False
        quiet = await provider.submit(text(callback_url=rx.url))
        sim.set_task_status(quiet, "success")
        await asyncio.sleep(0.1)
        assert rx.bodies == []
        sim.callbacks_enabled = True
        sim.callback_delay = 0.2
        late = await provider.submit(text(callback_url=rx.url))
        sim.set_task_status(late, "success")
        await asyncio.sleep(0.08)
        assert rx.bodies == []
        await asyncio.wait_for(rx.got.wait(), 5)
    assert [parse_callback_task_id(b) for b in rx.bodies] == [late]


async def test_no_callback_in_async_mode(sim: ApixoSimulator, provider: ApixoProvider) -> None:
    task_id = await provider.submit(text())
    sim.set_task_status(task_id, "success")
    await asyncio.sleep(0.05)
    assert sim.callbacks == []


# -- the simulator enforces the documented API (so the tests above can fail) ---------------


def _body(**inp: object) -> dict[str, object]:
    base: dict[str, object] = {"mode": "fast", "prompt": "p", "generationType": "TEXT_2_VIDEO"}
    base.update(inp)
    return {"request_type": "async", "input": {k: v for k, v in base.items() if v is not None}}


IMG = "https://img.example/a.png"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (_body(mode=None), "mode"),
        (_body(mode="turbo"), "mode"),
        (_body(generationType=None), "generationType"),
        (_body(generationType="IMAGE_2_VIDEO"), "generationType"),
        (_body(generation_type="REFERENCE_2_VIDEO"), "generationType"),
        (_body(prompt=None), "prompt"),
        (_body(prompt=""), "prompt"),
        (_body(aspect_ratio="1:1"), "aspect_ratio"),
        (_body(seed="12"), "seed"),
        (_body(seed=True), "seed"),
        (_body(image_urls=[IMG]), "TEXT_2_VIDEO"),
        (_body(generationType="FIRST_AND_LAST_FRAMES_2_VIDEO"), "max 2"),
        (_body(generationType="FIRST_AND_LAST_FRAMES_2_VIDEO", image_urls=[IMG] * 3), "max 2"),
        (_body(generationType="REFERENCE_2_VIDEO", image_urls=[IMG] * 4), "max 3"),
        (_body(generationType="REFERENCE_2_VIDEO", image_urls=[IMG], mode="quality"), "fast"),
        (
            _body(generationType="REFERENCE_2_VIDEO", image_urls=[IMG], aspect_ratio="9:16"),
            "16:9",
        ),
        (_body(generationType="REFERENCE_2_VIDEO", image_urls=[IMG], aspect_ratio="auto"), "16:9"),
        (
            _body(generationType="FIRST_AND_LAST_FRAMES_2_VIDEO", image_urls=["/a.png"]),
            "image_urls",
        ),
        ({"request_type": "callback", "input": _body()["input"]}, "callback_url"),
        ({"request_type": "webhook", "input": _body()["input"]}, "request_type"),
        ({"provider": "cheapest", "input": _body()["input"]}, "provider"),
        ({"request_type": "async"}, "input"),
    ],
)
async def test_simulator_rejects(
    sim: ApixoSimulator, session: aiohttp.ClientSession, body: dict[str, object], needle: str
) -> None:
    async with session.post(
        sim.base_url + SUBMIT_PATH, json=body, headers={"Authorization": f"Bearer {KEY}"}
    ) as resp:
        assert resp.status == 400
        answer = await resp.json()
    assert answer["code"] == 400 and needle in answer["data"]["error"]
    assert sim.tasks == {}


async def test_simulator_accepts_the_prose_spelling_and_defaults(
    sim: ApixoSimulator, session: aiohttp.ClientSession
) -> None:
    body = {"input": {"mode": "quality", "prompt": "p", "generation_type": "TEXT_2_VIDEO"}}
    async with session.post(
        sim.base_url + SUBMIT_PATH, json=body, headers={"Authorization": f"Bearer {KEY}"}
    ) as resp:
        assert resp.status == 200
        answer = await resp.json()
    task = sim.tasks[answer["data"]["taskId"]]
    assert (task.request_type, task.routing, task.aspect_ratio) == ("async", "auto", "16:9")


async def test_simulator_fails_an_overlong_prompt_as_documented(
    sim: ApixoSimulator, session: aiohttp.ClientSession
) -> None:
    async with session.post(
        sim.base_url + SUBMIT_PATH,
        json=_body(prompt="x" * 10_001),
        headers={"Authorization": f"Bearer {KEY}"},
    ) as resp:
        task_id = (await resp.json())["data"]["taskId"]
    sim.set_task_status(task_id, "failed")
    assert sim._task_body(sim.tasks[task_id])["data"]["failCode"] == "PROMPT_TOO_LONG"


@pytest.mark.parametrize("auth", [None, KEY, f"Bearer {KEY}x", f"bearer {KEY}", f"Token {KEY}"])
async def test_simulator_requires_bearer(
    sim: ApixoSimulator, session: aiohttp.ClientSession, auth: str | None
) -> None:
    headers = {"Authorization": auth} if auth else {}
    async with session.post(sim.base_url + SUBMIT_PATH, json=_body(), headers=headers) as resp:
        assert resp.status == 401
        assert (await resp.json())["code"] == 401


# -- wire parsing never crashes -------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "code", "message", "error", "fail_code"),
    [
        (
            b'{"code": 400, "message": "Invalid request", "data": {"error": "bad"}}',
            400,
            "Invalid request",
            "bad",
            None,
        ),
        (b'{"code": "400", "message": "m"}', 400, "m", None, None),
        (b'{"code": 403, "data": {"failCode": "NSFW", "failMsg": "no"}}', 403, None, "no", "NSFW"),
        (b'{"code": "TASKID_ERROR", "msg": "bad id"}', None, "bad id", None, "TASKID_ERROR"),
        (b'{"error": "plain"}', None, None, "plain", None),
        (b'"just a string"', None, "just a string", None, None),
        *[(raw, None, None, None, None) for raw in UNREADABLE_ERRORS],
        (b'{"data": {"error": {"deep": 1}}}', None, None, None, None),
    ],
)
def test_parse_error_is_total(
    raw: bytes, code: int | None, message: str | None, error: str | None, fail_code: str | None
) -> None:
    err = parse_error(raw)
    assert (err.code, err.message, err.error, err.fail_code) == (code, message, error, fail_code)


def test_parse_task_tolerates_extras_and_numbers() -> None:
    assert parse_task_id(b'{"code": 200, "data": {"taskId": 12}}') == "12"
    assert parse_task_id(b'{"code": 200, "data": {"taskId": ""}}') is None
    assert parse_task_id(b'{"code": 200, "data": {"taskId": true}}') is None
    assert parse_task_id(b"<html>") is None
    task = parse_task(b'{"code": 200, "data": {"taskId": 7, "state": "pending", "new": [1]}}')
    assert isinstance(task, ApixoTask) and task.task_id == "7" and task.state == "pending"
    assert parse_task(b"[]") is None and parse_task(b'{"data": []}') is None
    assert ApixoTask(resultJson='{"resultUrls": "https://a/b.mp4"}').result_urls() == [
        "https://a/b.mp4"
    ]
    assert ApixoTask(resultJson='["x"]').result_urls() == []
    assert ApixoTask(resultJson='{"resultUrls": [1, " ", "u"]}').result_urls() == ["u"]
    assert parse_callback_task_id(b"nonsense") is None


def test_fail_kind_reads_both_code_styles() -> None:
    assert fail_kind("CONTENT_VIOLATION") == fail_kind("SensitiveContent") == "policy"
    assert fail_kind("nsfw_detected") == "nsfw"
    assert fail_kind("InsufficientBalance") == "credits"
    assert fail_kind("SOMETHING_ELSE") is None and fail_kind(None) is None


@pytest.mark.parametrize("code", ["¹", "²³", "1²"])
def test_a_code_of_digit_like_characters_is_no_code_rather_than_a_crash(code: str) -> None:
    # str.isdigit() accepts superscripts, which int() refuses: the reading must stay total.
    body = json.dumps({"code": code, "msg": "x"}).encode()
    assert envelope_code(body) is None
    assert parse_error(body).code is None
