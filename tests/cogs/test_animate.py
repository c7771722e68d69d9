"""The "Animate with Veo" message context menu, driven through discord.py's own tree and
modal dispatch from raw payloads, against the Discord simulator and the vendor simulators.
Assertions are on what the member sees, and on what was (not) spent."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import discord
import pytest

from bot.chat.i18n import text
from bot.chat.messages import ready_marker
from bot.client import VeoBot
from bot.jobs.days import day_key
from bot.jobs.requests import Draft, RequestInvalid, resolve_mode, stored_request
from bot.providers.apixo import catalog as apixo
from bot.providers.apiyi import catalog as apiyi
from bot.providers.base import Mode
from bot.providers.yelinai import catalog as yelinai
from bot.settings import Settings
from cogs.animate import MENU_NAME, is_image
from cogs.animate_images import choices_for, image_readings, map_images, parse_mode
from storage import JobStatus
from tests.conftest import BotFactory, wait_for_job
from tests.media.test_input_hardening import jpeg, png, webp_lossy
from tests.providers.harness import running, vendor_env
from tests.sim.apixo_sim import ApixoSimulator
from tests.sim.apiyi_sim import ApiyiSimulator
from tests.sim.discord_payloads import (
    CHANNEL_ID,
    COMMAND_ID,
    GUILD_ID,
    USER_ID,
    next_id,
    slash_command,
    user,
)
from tests.sim.discord_sim import FLAG_EPHEMERAL, FLAG_LOADING, DiscordSim
from tests.sim.yelinai_sim import YelinaiSimulator

PNG = png(64, 64)  # real headers: check_image reads the pixel size
JPEG = jpeg(64, 64)
VIDEO = b"\0\0\0\x20ftypisom" + b"y" * 4000

APIYI_FAST = apiyi.MODELS["veo-3.1-fast-generate-preview"]
APIXO_FAST = apixo.MODELS[apixo.FAST]
APIXO_QUALITY = apixo.MODELS[apixo.QUALITY]
YELINAI_VEO3 = yelinai.MODELS["veo3"]
OTHER_MEMBER = USER_ID + 1

# What the menu answers at once, word for word (the catalogue's `animate.*`).
OWN_ONLY = "On this server you can animate your own messages only."
NO_IMAGES = (
    "That message has no images to animate. Use **Animate with Veo** on a message with a "
    "JPEG, PNG or WebP picture attached, or make a video from a prompt with `/veo generate`."
)


# -- vendor simulators not in conftest ----------------------------------------------------


apixo_sim = running(ApixoSimulator)


@pytest.fixture
def apixo_settings(make_settings: Callable[..., Settings], apixo_sim: ApixoSimulator) -> Settings:
    return make_settings(**vendor_env("APIXO", apixo_sim))


yelinai_sim = running(YelinaiSimulator, api_key="yl-bot-test-key", video_bytes=VIDEO)


@pytest.fixture
def yelinai_settings(
    make_settings: Callable[..., Settings], yelinai_sim: YelinaiSimulator
) -> Settings:
    return make_settings(**vendor_env("YELINAI", yelinai_sim))


# -- payloads and dispatch ----------------------------------------------------------------


def posted(
    sim: DiscordSim, *files: tuple[str, bytes, str | None], author: int = USER_ID
) -> dict[str, Any]:
    """A message in the channel with these (filename, bytes, content type) files, by the
    member using the menu unless `author` says whose."""
    attachments = [
        sim.add_attachment(name, data, content_type, ephemeral=False)
        for name, data, content_type in files
    ]
    return sim.add_message(
        CHANNEL_ID, content="look!", author=user(author), attachments=attachments
    )


def message_command(message: dict[str, Any], **kw: Any) -> dict[str, Any]:
    """A MESSAGE context-menu interaction (application command type 3) on `message`."""
    payload = slash_command(name=MENU_NAME, **kw)
    payload["data"] = {
        "id": str(COMMAND_ID + 1),
        "name": MENU_NAME,
        "type": 3,
        "target_id": message["id"],
        "resolved": {"messages": {message["id"]: message}},
    }
    return payload


def modal_inputs(callback: dict[str, Any]) -> list[dict[str, Any]]:
    """The text inputs of a modal callback (type 9), in order, inside labels or rows."""
    inputs = []
    for top in callback["data"]["components"]:
        inner = [top["component"]] if top["type"] == 18 else top.get("components", [])
        inputs += [c for c in inner if c["type"] == 4]
    return inputs


def modal_select(callback: dict[str, Any]) -> dict[str, Any] | None:
    """The modal's select, inside its label (the label's text and description added)."""
    for top in callback["data"]["components"]:
        if top["type"] == 18 and top["component"]["type"] == 3:
            return {**top["component"], "label": top["label"], "hint": top.get("description")}
    return None


def modal_notices(callback: dict[str, Any]) -> list[str]:
    """The text displays (type 10) of a modal."""
    return [str(c["content"]) for c in callback["data"]["components"] if c["type"] == 10]


def option(callback: dict[str, Any], label: str) -> str:
    """The value of the modal select's option shown as `label`."""
    select = modal_select(callback)
    assert select is not None
    [value] = [o["value"] for o in select["options"] if o["label"] == label]
    return str(value)


def modal_submit(
    callback: dict[str, Any], values: list[str], pick: str | None = None, **kw: Any
) -> dict[str, Any]:
    """A MODAL_SUBMIT interaction (type 5) answering the modal with `values`, in order,
    and `pick` in its select (its default option when None), shaped like the modal
    (Discord echoes labels as type 18 around each input, text displays by id)."""
    payload = slash_command(name=MENU_NAME, **kw)
    payload["type"] = 5
    texts = iter(values)
    components: list[dict[str, Any]] = []
    for top in callback["data"]["components"]:
        if top["type"] == 10:
            components.append({"type": 10, "id": next_id() % 1000})
            continue
        field = top["component"] if top["type"] == 18 else top["components"][0]
        if field["type"] == 4:
            answer = {"type": 4, "custom_id": field["custom_id"], "value": next(texts)}
        else:
            chosen = pick or next(o["value"] for o in field["options"] if o.get("default"))
            answer = {"type": 3, "custom_id": field["custom_id"], "values": [chosen]}
        components.append({"type": 18, "id": next_id() % 1000, "component": answer})
    assert next(texts, None) is None, "more values than the form has text inputs"
    payload["data"] = {"custom_id": callback["data"]["custom_id"], "components": components}
    return payload


async def open_menu(
    bot: VeoBot, sim: DiscordSim, message: dict[str, Any], **kw: Any
) -> dict[str, Any]:
    """Use the menu on `message`; return the bot's one immediate answer (a callback)."""
    payload = sim.register_interaction(message_command(message, **kw))
    await bot.tree._call(discord.Interaction(data=payload, state=bot._connection))
    [callback] = sim.interaction(int(payload["id"])).callbacks
    assert sim.errors == [] and sim.unhandled == []
    return callback


async def submit(
    bot: VeoBot, sim: DiscordSim, modal: dict[str, Any], *values: str, pick: str | None = None
) -> str:
    """Send the form the way the gateway does; return the private answer once settled."""
    payload = sim.register_interaction(modal_submit(modal, list(values), pick))
    bot._connection.parse_interaction_create(payload)  # type: ignore[arg-type]
    record = sim.interaction(int(payload["id"]))
    for _ in range(500):
        if record.original_message_id is not None:
            answer = sim.message(record.original_message_id)
            if not answer["flags"] & FLAG_LOADING:
                assert record.callback_type == 5 and record.callback_flags & FLAG_EPHEMERAL
                assert sim.errors == [] and sim.unhandled == []
                return str(answer["content"])
        await asyncio.sleep(0.02)
    raise AssertionError("the form was never answered")


async def job_count(bot: VeoBot) -> int:
    row = await bot.db.fetchone("SELECT COUNT(*) FROM jobs")
    assert row is not None
    return int(row[0])


async def used(bot: VeoBot) -> int:
    return await bot.store.usage(USER_ID, day_key(bot.service.clock()), GUILD_ID)


def refusal(callback: dict[str, Any]) -> str:
    assert callback["type"] == 4 and callback["data"]["flags"] & FLAG_EPHEMERAL
    return str(callback["data"]["content"])


# -- end to end ---------------------------------------------------------------------------


async def test_a_message_without_images_is_refused_at_once(
    start_bot: BotFactory, make_settings, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(make_settings())
    for message in (
        posted(discord_sim),
        posted(discord_sim, ("notes.pdf", b"%PDF-1.4", "application/pdf")),
        posted(discord_sim, ("clip.mp4", VIDEO, None)),
    ):
        assert refusal(await open_menu(bot, discord_sim, message)) == NO_IMAGES
    assert await job_count(bot) == 0 and await used(bot) == 0
    assert discord_sim.find_requests("GET", "/attachments/") == []


async def test_one_image_becomes_the_first_frame_and_is_delivered(
    start_bot: BotFactory, make_settings, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(make_settings())
    message = posted(discord_sim, ("cat.png", PNG, "image/png"))
    modal = await open_menu(bot, discord_sim, message)
    assert modal["type"] == 9
    assert modal["data"]["title"] == "Animate 1 image with Veo"
    [prompt] = modal_inputs(modal)  # demo has one reading of one image: no question asked
    assert prompt["required"] and prompt["max_length"] == 2000 and prompt["style"] == 2

    text = await submit(bot, discord_sim, modal, "the cat yawns")
    assert "Queued as **job #1**" in text and "/channels/" in text
    done = await wait_for_job(bot, 1)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    request = stored_request(done)
    assert (request.mode, request.image_count) == (Mode.FIRST_FRAME, 1)
    assert request.prompt == "the cat yawns"
    [video] = [m for m in discord_sim.messages(CHANNEL_ID) if ready_marker(1) in str(m["content"])]
    assert video["attachments"] and await used(bot) == 1


async def test_a_spanish_client_gets_the_form_in_spanish(
    start_bot: BotFactory, make_settings, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(make_settings())
    message = posted(discord_sim, ("cat.png", PNG, "image/png"))
    modal = await open_menu(bot, discord_sim, message, locale="es-ES")
    assert modal["type"] == 9
    assert modal["data"]["title"] == "Animar 1 imagen con Veo"
    assert modal["data"]["title"] == text("animate.title", "es-ES", images="1 imagen")
    [label] = [c for c in modal["data"]["components"] if c["type"] == 18]
    assert label["label"] == "Prompt" and label["description"].startswith("Qué debe pasar")
    # The answers before the form follow the member's client as well.
    empty = posted(discord_sim)
    said = refusal(await open_menu(bot, discord_sim, empty, locale="es-ES"))
    assert said == text("animate.no_images", "es-ES") and "**Animar con Veo**" in said


async def test_a_file_that_lies_about_being_a_png_is_refused_by_its_bytes(
    start_bot: BotFactory, apiyi_settings, apiyi_sim: ApiyiSimulator, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(apiyi_settings)
    message = posted(discord_sim, ("cat.png", b"<html>not an image</html>", "image/png"))
    modal = await open_menu(bot, discord_sim, message)
    text = await submit(bot, discord_sim, modal, "animate it")
    assert text == "⚠️ `image` (cat.png) is not an image. Use JPEG, PNG, WEBP."
    assert await job_count(bot) == 0 and await used(bot) == 0
    assert apiyi_sim.submits() == []


async def test_an_empty_prompt_is_refused_politely(
    start_bot: BotFactory, make_settings, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(make_settings())
    modal = await open_menu(bot, discord_sim, posted(discord_sim, ("cat.png", PNG, None)))
    assert "prompt is empty" in await submit(bot, discord_sim, modal, "   ")
    assert await job_count(bot) == 0


async def test_two_images_on_apixo_ask_how_and_default_to_first_and_last(
    start_bot: BotFactory, apixo_settings, apixo_sim: ApixoSimulator, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(apixo_settings.model_copy(update={"max_active_per_user": 5}))
    message = posted(discord_sim, ("a.png", PNG, "image/png"), ("b.jpg", JPEG, "image/jpeg"))
    modal = await open_menu(bot, discord_sim, message)
    prompt, how = modal_inputs(modal)
    assert not how.get("required", True)
    assert how["placeholder"] == "first+last (the default if left empty) or reference"
    [hint] = [c["description"] for c in modal["data"]["components"] if c["component"] is how]

    assert hint == (
        "first+last: 1st image opens the video, 2nd ends it; "
        "reference: they guide subjects and style"
    )

    async def animate(how: str) -> str:
        # Each use of the menu opens a new form; a sent form is closed for good.
        form = await open_menu(bot, discord_sim, message)
        return await submit(bot, discord_sim, form, "a door opens", how)

    assert "job #1" in await submit(bot, discord_sim, modal, "a door opens", "")
    first = await wait_for_job(bot, 1)
    assert first.status is JobStatus.DELIVERED, (first.error_code, first.error_params)
    assert (stored_request(first).mode, stored_request(first).image_count) == (Mode.FIRST_LAST, 2)

    assert "job #2" in await animate(" References ")
    second = await wait_for_job(bot, 2)
    assert second.status is JobStatus.DELIVERED, (second.error_code, second.error_params)
    assert stored_request(second).mode is Mode.REFERENCE
    bodies = [r.json["input"] for r in apixo_sim.submits()]
    assert [b["generationType"] for b in bodies] == [
        "FIRST_AND_LAST_FRAMES_2_VIDEO",
        "REFERENCE_2_VIDEO",
    ]
    assert all(len(b["image_urls"]) == 2 for b in bodies)

    assert await animate("banana") == (
        "⚠️ I did not understand “banana” as a way to use the images. "
        "Write `first+last` or `reference`, or leave it empty."
    )
    assert await animate("first frame") == (
        "⚠️ With 2 images, **Veo 3.1 Fast (apixo)** can use them as first + last frame "
        "or reference images, not as first frame."
    )
    assert await job_count(bot) == 2 and await used(bot) == 2


async def test_five_images_on_yelinai_are_five_references(
    start_bot: BotFactory,
    yelinai_settings,
    yelinai_sim: YelinaiSimulator,
    discord_sim: DiscordSim,
) -> None:
    bot = await start_bot(yelinai_settings)
    files = [(f"p{i}.png", PNG + bytes([i]), "image/png") for i in range(5)]
    modal = await open_menu(bot, discord_sim, posted(discord_sim, *files))
    assert len(modal_inputs(modal)) == 1  # only one reading of 5 images: nothing to ask
    assert "job #1" in await submit(bot, discord_sim, modal, "a collage comes alive")
    done = await wait_for_job(bot, 1)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    assert (stored_request(done).mode, stored_request(done).image_count) == (Mode.REFERENCE, 5)
    [sent] = yelinai_sim.submits()
    assert len(sent.json["images"]) == 5

    six = [*files, ("p5.png", PNG, "image/png")]
    form = await open_menu(bot, discord_sim, posted(discord_sim, *six))
    assert modal_notices(form) == [
        "This message has 6 images, but **Veo 3 (yelinai)** takes only 5 and no model here "
        "takes all 6, so only the first image will be animated."
    ]
    assert modal_select(form) is None and await job_count(bot) == 1


async def test_no_videos_left_is_said_before_the_form(
    start_bot: BotFactory, make_settings, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(make_settings(VEO_DAILY_QUOTA=1))
    message = posted(discord_sim, ("cat.webp", webp_lossy(64, 64), "image/webp"))
    modal = await open_menu(bot, discord_sim, message)
    await submit(bot, discord_sim, modal, "the cat yawns")
    await wait_for_job(bot, 1)
    text = refusal(await open_menu(bot, discord_sim, message))
    assert "You have used all 1 of today's videos" in text and "<t:" in text
    assert await job_count(bot) == 1


async def test_the_menu_is_synced_as_a_message_command_and_unloads(
    start_bot: BotFactory, make_settings, discord_sim: DiscordSim
) -> None:
    bot = await start_bot(make_settings(VEO_GUILD_IDS="42"))
    await bot.sync_commands()
    assert any(c["name"] == MENU_NAME and c["type"] == 3 for c in discord_sim.commands[42])
    menu_type = discord.AppCommandType.message
    assert bot.tree.get_command(MENU_NAME, type=menu_type) is not None
    await bot.unload_extension("cogs.animate")
    assert bot.tree.get_command(MENU_NAME, type=menu_type) is None


async def test_unexpected_failures_are_apologised_for_with_a_reference(
    start_bot: BotFactory,
    make_settings,
    discord_sim: DiscordSim,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bot = await start_bot(make_settings())
    message = posted(discord_sim, ("cat.png", PNG, "image/png"))
    modal = await open_menu(bot, discord_sim, message)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    async def broken_async(*args: object, **kwargs: object) -> None:
        broken()

    # In the form (its own net) ...
    monkeypatch.setattr(bot.service, "validate", broken)
    text = await submit(bot, discord_sim, modal, "the cat yawns")
    assert re.fullmatch(
        r"⚠️ Something went wrong on my side \(reference `[0-9a-f]{8}`\)\. "
        r"Nothing was charged for a job that was not queued\.",
        text,
    )
    # ... and in the menu itself (the tree's last net).
    monkeypatch.setattr(bot.service, "quota", broken_async)
    assert "reference `" in refusal(await open_menu(bot, discord_sim, message))
    assert await job_count(bot) == 0


# -- more images than the default model takes ---------------------------------------------


@pytest.fixture
def two_vendors(
    make_settings: Callable[..., Settings], apiyi_sim: ApiyiSimulator, apixo_sim: ApixoSimulator
) -> Settings:
    """apiyi (whose models take one image) is the default; apixo's take two or three."""
    return make_settings(
        APIYI_API_KEY=apiyi_sim.api_key,
        APIYI_BASE_URL=apiyi_sim.base_url,
        **vendor_env("APIXO", apixo_sim),
    )


TWO = (("a.png", PNG, "image/png"), ("b.jpg", JPEG, "image/jpeg"))
ONLY_FIRST = "Only the first image (Veo 3.1 Fast)"


async def test_two_images_on_a_one_image_default_offer_a_model_that_takes_both(
    start_bot: BotFactory,
    two_vendors: Settings,
    apiyi_sim: ApiyiSimulator,
    apixo_sim: ApixoSimulator,
    discord_sim: DiscordSim,
) -> None:
    bot = await start_bot(two_vendors)
    # Not apiyi's earlier channel, whose frame-to-video models take two images as well.
    await bot.service.guilds.set(GUILD_ID, allowed_models=[f"apiyi/{APIYI_FAST.name}", "apixo"])
    message = posted(discord_sim, *TWO)
    form = await open_menu(bot, discord_sim, message)
    assert form["type"] == 9 and form["data"]["title"] == "Animate 2 images with Veo"
    [prompt] = modal_inputs(form)
    assert prompt["max_length"] == 2000  # VEO_MAX_PROMPT: below both models' own limits
    select = modal_select(form)
    assert select is not None and select["required"] and modal_notices(form) == []
    assert select["label"] == "How to use the images"
    assert select["hint"] == "Veo 3.1 Fast takes 1 image; this message has 2."
    assert [(o["label"], o.get("default", False)) for o in select["options"]] == [
        ("Veo 3.1 Fast (apixo): first + last frame", True),
        ("Veo 3.1 Fast (apixo): reference images", False),
        ("Veo 3.1 Quality (apixo): first + last frame", False),
        (ONLY_FIRST, False),
    ]
    assert select["options"][-1]["description"] == "it opens the video; the other image is not used"

    # Only the first image: a first-frame job on the default model, with that one image.
    text = await submit(bot, discord_sim, form, "a door opens", pick=option(form, ONLY_FIRST))
    assert "job #1" in text
    first = await wait_for_job(bot, 1)
    assert first.status is JobStatus.DELIVERED, (first.error_code, first.error_params)
    assert (first.provider, first.model) == ("apiyi", APIYI_FAST.name)
    request = stored_request(first)
    assert (request.mode, request.image_count) == (Mode.FIRST_FRAME, 1)
    [sent] = apiyi_sim.submits()
    assert [f.data for f in sent.files["input_reference"]] == [PNG]

    # The offered default: both images, as first + last frame on apixo.
    form = await open_menu(bot, discord_sim, message)
    assert "job #2" in await submit(bot, discord_sim, form, "a door opens")
    second = await wait_for_job(bot, 2)
    assert second.status is JobStatus.DELIVERED, (second.error_code, second.error_params)
    assert (second.provider, second.model) == ("apixo", APIXO_FAST.name)
    request = stored_request(second)
    assert (request.mode, request.image_count) == (Mode.FIRST_LAST, 2)
    [body] = [r.json["input"] for r in apixo_sim.submits()]
    assert body["generationType"] == "FIRST_AND_LAST_FRAMES_2_VIDEO"
    assert len(body["image_urls"]) == 2
    assert len(apiyi_sim.submits()) == 1 and await used(bot) == 2


async def test_a_server_that_allows_no_model_for_all_images_animates_only_the_first(
    start_bot: BotFactory,
    two_vendors: Settings,
    apiyi_sim: ApiyiSimulator,
    apixo_sim: ApixoSimulator,
    discord_sim: DiscordSim,
) -> None:
    bot = await start_bot(two_vendors)
    # apiyi's current channel (one image) and not apixo or apiyi's earlier channel (two).
    await bot.service.guilds.set(GUILD_ID, allowed_models=[f"apiyi/{APIYI_FAST.name}"])
    form = await open_menu(bot, discord_sim, posted(discord_sim, *TWO))
    assert form["type"] == 9 and modal_select(form) is None
    assert modal_notices(form) == [
        "This message has 2 images, but **Veo 3.1 Fast** takes only 1 and no model here "
        "takes all 2, so only the first image will be animated."
    ]
    assert len(modal_inputs(form)) == 1
    assert "job #1" in await submit(bot, discord_sim, form, "a door opens")
    done = await wait_for_job(bot, 1)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)
    assert (done.provider, stored_request(done).mode, stored_request(done).image_count) == (
        "apiyi",
        Mode.FIRST_FRAME,
        1,
    )
    assert apixo_sim.submits() == []


async def test_the_prompt_limit_is_the_smallest_offered_and_the_chosen_one_is_checked(
    start_bot: BotFactory,
    make_settings: Callable[..., Settings],
    apixo_sim: ApixoSimulator,
    discord_sim: DiscordSim,
) -> None:
    # The demo model (2,000 characters, one image) is the default; apixo takes 10,000.
    settings = make_settings(
        VEO_DEMO=True,
        VEO_DEFAULT_PROVIDER="demo",
        VEO_MAX_PROMPT=10000,
        **vendor_env("APIXO", apixo_sim),
    )
    bot = await start_bot(settings)
    form = await open_menu(bot, discord_sim, posted(discord_sim, *TWO))
    [prompt] = modal_inputs(form)
    assert prompt["max_length"] == 2000
    only_first = option(form, "Only the first image (Demo clip)")
    text = await submit(bot, discord_sim, form, "x" * 2500, pick=only_first)
    assert text == "⚠️ The prompt is 2,500 characters long; the limit is 2,000. Please shorten it."
    assert await job_count(bot) == 0 and await used(bot) == 0
    assert apixo_sim.submits() == []
    assert discord_sim.find_requests("GET", "/attachments/") == []


# -- animating one's own messages only ----------------------------------------------------


async def test_a_server_can_keep_animate_to_members_own_messages(
    start_bot: BotFactory,
    apiyi_settings: Settings,
    apiyi_sim: ApiyiSimulator,
    discord_sim: DiscordSim,
) -> None:
    bot = await start_bot(apiyi_settings.model_copy(update={"allow_dms": True}))
    await bot.service.guilds.set(GUILD_ID, animate_own_only=True)
    theirs = posted(discord_sim, ("cat.png", PNG, "image/png"), author=OTHER_MEMBER)
    assert refusal(await open_menu(bot, discord_sim, theirs)) == OWN_ONLY
    assert await job_count(bot) == 0 and await used(bot) == 0
    assert apiyi_sim.submits() == []
    assert discord_sim.find_requests("GET", "/attachments/") == []
    assert discord_sim.messages(CHANNEL_ID) == [theirs]

    # One's own message is animated as ever ...
    mine = posted(discord_sim, ("cat.png", PNG, "image/png"))
    form = await open_menu(bot, discord_sim, mine)
    assert "job #1" in await submit(bot, discord_sim, form, "the cat yawns")
    done = await wait_for_job(bot, 1)
    assert done.status is JobStatus.DELIVERED, (done.error_code, done.error_params)

    # ... and a DM has no such rule.
    assert (await open_menu(bot, discord_sim, theirs, guild_id=None))["type"] == 9


async def test_other_members_messages_are_animated_where_the_option_is_off(
    start_bot: BotFactory, make_settings: Callable[..., Settings], discord_sim: DiscordSim
) -> None:
    bot = await start_bot(make_settings())
    theirs = posted(discord_sim, ("cat.png", PNG, "image/png"), author=OTHER_MEMBER)
    assert (await open_menu(bot, discord_sim, theirs))["type"] == 9


# -- the mapping, as a unit ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "spec", "mode", "slots", "expected_mode"),
    [
        (1, APIYI_FAST, None, ("image",), Mode.FIRST_FRAME),
        (1, APIXO_FAST, None, ("image",), Mode.FIRST_FRAME),
        (1, APIXO_FAST, Mode.REFERENCE, ("image",), Mode.REFERENCE),
        (1, YELINAI_VEO3, None, ("image",), Mode.REFERENCE),
        (2, APIXO_FAST, None, ("image", "last_frame"), Mode.FIRST_LAST),
        (2, APIXO_QUALITY, None, ("image", "last_frame"), Mode.FIRST_LAST),
        (2, APIXO_FAST, Mode.REFERENCE, ("image", "image2"), Mode.REFERENCE),
        (2, YELINAI_VEO3, None, ("image", "image2"), Mode.REFERENCE),
        (3, APIXO_FAST, None, ("image", "image2", "image3"), Mode.REFERENCE),
        (4, YELINAI_VEO3, None, ("image", "image2", "image3", "image4"), Mode.REFERENCE),
        (5, YELINAI_VEO3, None, ("image", "image2", "image3", "image4", "image5"), Mode.REFERENCE),
    ],
)
def test_images_map_to_slots_that_validation_accepts(
    count: int, spec: Any, mode: Mode | None, slots: tuple[str, ...], expected_mode: Mode
) -> None:
    fields, got = map_images(count, spec, mode)
    assert got == slots
    draft = Draft(prompt="x", **fields)
    assert int(draft.has_image) + int(draft.has_last_frame) + draft.extra_images == count
    assert resolve_mode(draft, spec) is expected_mode


@pytest.mark.parametrize(
    ("count", "spec", "mode", "words"),
    [
        (2, APIYI_FAST, None, "2 images, but **Veo 3.1 Fast** can use at most 1."),
        (3, APIXO_QUALITY, None, "3 images, but **Veo 3.1 Quality (apixo)** can use at most 2."),
        (4, APIXO_FAST, None, "4 images, but **Veo 3.1 Fast (apixo)** can use at most 3."),
        (6, YELINAI_VEO3, None, "can use at most 5."),
        (2, APIXO_QUALITY, Mode.REFERENCE, "can use them as first + last frame, not as reference"),
        (1, YELINAI_VEO3, Mode.FIRST_FRAME, "can use them as reference images, not as first"),
    ],
)
def test_what_a_model_cannot_take_is_one_clear_sentence(
    count: int, spec: Any, mode: Mode | None, words: str
) -> None:
    with pytest.raises(RequestInvalid) as caught:
        map_images(count, spec, mode)
    assert words in str(caught.value)


def test_a_text_only_model_cannot_animate() -> None:
    text_only = dataclasses.replace(APIYI_FAST, modes=frozenset({Mode.TEXT}))
    with pytest.raises(RequestInvalid, match="makes videos from text only"):
        map_images(1, text_only)


def test_choices_list_every_way_to_take_them_all_then_the_first_image() -> None:
    allowed = [("apiyi", APIYI_FAST, 1), ("apixo", APIXO_FAST, 1), ("yelinai", YELINAI_VEO3, 1)]
    choices = choices_for(3, ("apiyi", APIYI_FAST), allowed)
    assert [(c.provider, c.spec.name, c.mode, c.count) for c in choices] == [
        ("apixo", APIXO_FAST.name, Mode.REFERENCE, 3),
        ("yelinai", YELINAI_VEO3.name, Mode.REFERENCE, 3),
        ("apiyi", APIYI_FAST.name, Mode.FIRST_FRAME, 1),
    ]
    assert [c.description() for c in choices] == [
        "all 3 guide subjects and style",
        "all 3 guide subjects and style",
        "it opens the video; the other 2 images are not used",
    ]
    # The default takes them all: nothing to choose (the form may still ask how).
    assert choices_for(2, ("apixo", APIXO_FAST), allowed) == []
    # A text-only default, and nothing allowed that takes the image: its own refusal.
    text_only = dataclasses.replace(APIYI_FAST, modes=frozenset({Mode.TEXT}))
    with pytest.raises(RequestInvalid, match="makes videos from text only"):
        choices_for(1, ("apiyi", text_only), [("apiyi", text_only, 1)])
    [only] = choices_for(1, ("apiyi", text_only), [("apixo", APIXO_QUALITY, 1)])
    assert (only.spec, only.mode, only.first_only) == (APIXO_QUALITY, Mode.FIRST_FRAME, False)


def test_readings_offer_a_choice_only_where_it_matters() -> None:
    assert image_readings(1, APIYI_FAST) == [Mode.FIRST_FRAME]
    assert image_readings(1, APIXO_FAST) == [Mode.FIRST_FRAME, Mode.REFERENCE]
    assert image_readings(2, APIXO_FAST) == [Mode.FIRST_LAST, Mode.REFERENCE]
    assert image_readings(2, APIXO_QUALITY) == [Mode.FIRST_LAST]
    assert image_readings(3, APIXO_FAST) == [Mode.REFERENCE]
    assert image_readings(2, APIYI_FAST) == []


@pytest.mark.parametrize(
    ("text", "mode"),
    [
        ("", None),
        ("   ", None),
        ("first", Mode.FIRST_FRAME),
        ("First frame", Mode.FIRST_FRAME),
        ("first_frame", Mode.FIRST_FRAME),
        ("first+last", Mode.FIRST_LAST),
        ("First + last frames", Mode.FIRST_LAST),
        ("first and last", Mode.FIRST_LAST),
        ("first_last", Mode.FIRST_LAST),
        ("start-end", Mode.FIRST_LAST),
        ("Reference", Mode.REFERENCE),
        ("refs", Mode.REFERENCE),
        ("reference images", Mode.REFERENCE),
    ],
)
def test_how_to_use_the_images_accepts_plain_words(text: str, mode: Mode | None) -> None:
    assert parse_mode(text, [Mode.FIRST_LAST, Mode.REFERENCE]) is mode


def test_an_unknown_word_names_the_accepted_ones() -> None:
    with pytest.raises(RequestInvalid) as caught:
        parse_mode("**sideways**", [Mode.FIRST_FRAME, Mode.REFERENCE])
    text = str(caught.value)
    assert "`first` or `reference`" in text and "\\*\\*sideways\\*\\*" in text


@pytest.mark.parametrize(
    ("filename", "content_type", "image"),
    [
        ("a.png", "image/png", True),
        ("a.bin", "image/jpeg", True),
        ("a.png", "application/pdf", False),
        ("a.JPG", None, True),
        ("a.webp", None, True),
        ("a.gif", None, True),
        ("a.mp4", None, False),
        ("png", None, False),
    ],
)
def test_image_attachments_by_type_or_name(
    filename: str, content_type: str | None, image: bool
) -> None:
    data: dict[str, Any] = {
        "id": "1",
        "filename": filename,
        "size": 1,
        "url": "https://cdn.example/a",
        "proxy_url": "https://cdn.example/a",
    }
    if content_type is not None:
        data["content_type"] = content_type
    state = SimpleNamespace(http=None)  # all an Attachment takes from the connection
    attachment = discord.Attachment(data=data, state=state)  # type: ignore[arg-type]
    assert is_image(attachment) is image
