"""DiscordSim driven by discord.py's real objects; also the usage example for other tests.

Pattern: start the simulator, point ``discord.http.Route.BASE`` at it, ``bot.login`` (no gateway),
build ``discord.Interaction`` objects from raw payloads registered with the simulator, then
assert on what discord.py actually sent (``sim.requests``) and on the simulator's state.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from .discord_payloads import (
    APPLICATION_ID,
    CHANNEL_ID,
    GUILD_ID,
    PERMS_FULL,
    PERMS_NO_SEND,
    autocomplete,
    component_click,
    slash_command,
)
from .discord_sim import DiscordSim

with warnings.catch_warnings():
    # discord.py imports the stdlib ``audioop`` (deprecated in 3.11, gone in 3.13); the project
    # runs with warnings as errors. Redundant once pytest's filterwarnings ignores it.
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord
    from discord import app_commands
    from discord.ext import commands


@pytest.fixture
async def sim() -> AsyncIterator[DiscordSim]:
    async with DiscordSim() as sim:
        yield sim
        assert not sim.errors, sim.errors  # a handler crashed: a simulator bug, not the bot's


@pytest.fixture
async def bot(sim: DiscordSim, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[commands.Bot]:
    """A real, logged-in commands.Bot whose every REST call goes to the simulator."""
    monkeypatch.setattr(discord.http.Route, "BASE", sim.api_base)
    bot = commands.Bot(command_prefix="!", intents=discord.Intents.none())
    try:
        await bot.login("test-token")
        yield bot
    finally:
        await bot.close()  # closes discord.py's aiohttp session before the sim stops


def make_interaction(
    bot: commands.Bot, sim: DiscordSim, payload: dict[str, Any]
) -> discord.Interaction:
    """Register the payload with the sim and build discord.py's real Interaction from it."""
    return discord.Interaction(data=sim.register_interaction(payload), state=bot._connection)


def video_file(tmp_path: Path, size: int, name: str = "clip.mp4") -> Path:
    path = tmp_path / name
    path.write_bytes(bytes(range(256)) * (size // 256) + b"x" * (size % 256))
    return path


async def test_login_against_sim(bot: commands.Bot, sim: DiscordSim) -> None:
    assert bot.user is not None and bot.user.id == sim.bot_user_id
    assert bot.application_id == sim.application_id == APPLICATION_ID
    me = sim.find_requests("GET", "^/users/@me$")[0]
    assert me.headers["Authorization"] == "Bot test-token"
    assert sim.guild_id == GUILD_ID  # payload builders' defaults match the sim's


async def test_wrong_token_is_login_failure(
    sim: DiscordSim, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(discord.http.Route, "BASE", sim.api_base)
    sim.token = "right"
    client = discord.Client(intents=discord.Intents.none())
    try:
        with pytest.raises(discord.LoginFailure):
            await client.login("wrong")
    finally:
        await client.close()


async def test_defer_ephemeral_then_edit_original(bot: commands.Bot, sim: DiscordSim) -> None:
    payload = slash_command(name="veo", subcommand="status", options={"job": 7})
    interaction = make_interaction(bot, sim, payload)
    assert interaction.filesize_limit == 10 * 1024 * 1024
    assert interaction.app_permissions.attach_files

    await interaction.response.defer(ephemeral=True, thinking=True)
    message = await interaction.edit_original_response(content="hi")

    record = sim.interaction(interaction.id)
    assert record.callback_type == discord.InteractionResponseType.deferred_channel_message.value
    assert record.callback_flags == 64
    assert message.content == "hi" and message.flags.ephemeral
    assert sim.message(message.id)["content"] == "hi"
    assert sim.messages(CHANNEL_ID) == []  # ephemeral: not in channel history
    edit = sim.find_requests("PATCH", r"/messages/@original$")[0]
    assert edit.json["content"] == "hi" and "Authorization" not in edit.headers


async def test_callback_errors_match_discord(bot: commands.Bot, sim: DiscordSim) -> None:
    payload = sim.register_interaction(slash_command(name="veo", subcommand="status"))
    first = discord.Interaction(data=payload, state=bot._connection)
    await first.response.send_message("done")
    # A second Interaction object for the same payload bypasses discord.py's local guard.
    second = discord.Interaction(data=payload, state=bot._connection)
    with pytest.raises(discord.HTTPException) as acked:
        await second.response.defer()
    assert (acked.value.status, acked.value.code) == (400, 40060)

    unknown = discord.Interaction(data=slash_command(name="veo"), state=bot._connection)
    with pytest.raises(discord.NotFound) as missing:
        await unknown.response.defer()
    assert missing.value.code == 10062

    sim.expire_interaction(first.id)
    with pytest.raises(discord.HTTPException) as expired:
        await first.followup.send("late")
    assert (expired.value.status, expired.value.code) == (401, 50027)
    assert [m["content"] for m in sim.messages(CHANNEL_ID)] == ["done"]


async def test_followup_after_defer_fills_thinking_message(
    bot: commands.Bot, sim: DiscordSim
) -> None:
    interaction = make_interaction(bot, sim, slash_command(name="veo"))
    await interaction.response.defer(thinking=True)
    filled = await interaction.followup.send("result", wait=True)
    extra = await interaction.followup.send("private", ephemeral=True, wait=True)

    record = sim.interaction(interaction.id)
    assert filled.id == record.original_message_id
    assert [m["content"] for m in sim.messages(CHANNEL_ID)] == ["result"]
    assert sim.message(extra.id)["flags"] & 64


async def test_interaction_reply_with_file(
    bot: commands.Bot, sim: DiscordSim, tmp_path: Path
) -> None:
    interaction = make_interaction(bot, sim, slash_command(name="veo"))
    file = discord.File(video_file(tmp_path, 5000))
    try:
        await interaction.response.send_message("here", file=file)
        # discord.py quirk: InteractionResponse.send_message/edit_message leave the File open
        # (Messageable.send, followups and edit_original_response close it). Close it yourself.
        assert not file.fp.closed
    finally:
        file.close()
    callback = sim.find_requests("POST", r"/callback$")[0]
    assert callback.json["type"] == 4 and callback.files[0].size == 5000
    assert sim.messages(CHANNEL_ID)[0]["attachments"][0]["size"] == 5000


async def test_channel_send_file_edit_history(
    bot: commands.Bot, sim: DiscordSim, tmp_path: Path
) -> None:
    path = video_file(tmp_path, 300_000)
    channel = bot.get_partial_messageable(CHANNEL_ID)

    msg = await channel.send("x", file=discord.File(path))
    assert msg.attachments[0].size == 300_000
    stored = sim.messages(CHANNEL_ID)[0]
    assert stored["author"]["id"] == str(sim.bot_user_id)
    assert stored["attachments"][0]["content_type"] == "video/mp4"
    upload = sim.find_requests("POST", r"^/channels/\d+/messages$")[0]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert upload.files == [("clip.mp4", 300_000, digest)]
    assert await msg.attachments[0].read() == path.read_bytes()  # served by the sim's CDN

    edited = await channel.get_partial_message(msg.id).edit(content="y")
    assert edited.content == "y" and edited.attachments  # a JSON edit keeps attachments
    reply = await msg.reply("done")
    assert reply.reference is not None and reply.reference.message_id == msg.id

    history = [m async for m in channel.history(limit=10)]
    assert [m.id for m in history] == [reply.id, msg.id]
    assert history[1].content == "y" and history[1].edited_at is not None


async def test_upload_over_limit_is_413(bot: commands.Bot, sim: DiscordSim, tmp_path: Path) -> None:
    sim.upload_limit = 100_000
    channel = bot.get_partial_messageable(CHANNEL_ID)
    with pytest.raises(discord.HTTPException) as exc:
        await channel.send(file=discord.File(video_file(tmp_path, 100_001)))
    assert (exc.value.status, exc.value.code) == (413, 40005)
    assert sim.messages(CHANNEL_ID) == []


async def test_forbidden_and_deleted_channels(bot: commands.Bot, sim: DiscordSim) -> None:
    sim.forbid_channel(CHANNEL_ID)
    with pytest.raises(discord.Forbidden) as forbidden:
        await bot.get_partial_messageable(CHANNEL_ID).send("x")
    assert forbidden.value.code == 50013

    sim.delete_channel(CHANNEL_ID + 1)
    with pytest.raises(discord.NotFound) as gone:
        await bot.get_partial_messageable(CHANNEL_ID + 1).send("x")
    assert gone.value.code == 10003


async def test_fail_next_and_validation(bot: commands.Bot, sim: DiscordSim) -> None:
    channel = bot.get_partial_messageable(CHANNEL_ID)
    sim.fail_next("POST", r"/messages$", 429, retry_after=0.01)  # discord.py retries it
    assert (await channel.send("after rate limit")).content == "after rate limit"
    sim.fail_next("POST", r"/messages$", 400, 50035, "Invalid Form Body")
    with pytest.raises(discord.HTTPException) as scripted:
        await channel.send("x")
    assert scripted.value.code == 50035
    with pytest.raises(discord.HTTPException) as too_long:
        await channel.send("x" * 2001)
    assert too_long.value.code == 50035
    assert len(sim.messages(CHANNEL_ID)) == 1


async def test_attachment_option_downloads_from_sim(bot: commands.Bot, sim: DiscordSim) -> None:
    image = sim.add_attachment("cat.png", b"\x89PNG fake", "image/png")
    payload = slash_command(name="veo", subcommand="animate", options={"image": image})
    interaction = make_interaction(bot, sim, payload)

    resolved = interaction.data["resolved"]["attachments"][image["id"]]  # type: ignore[index]
    attachment = discord.Attachment(data=resolved, state=bot._connection)
    async with aiohttp.ClientSession() as session, session.get(attachment.url) as resp:
        assert resp.status == 200 and await resp.read() == b"\x89PNG fake"
        assert resp.content_type == "image/png"

    sim.expire_attachment(image["id"])
    with pytest.raises(discord.NotFound):
        await attachment.read()


async def test_app_command_through_real_tree(bot: commands.Bot, sim: DiscordSim) -> None:
    received: dict[str, Any] = {}
    group = app_commands.Group(name="veo", description="Video generation")

    @group.command(name="animate", description="Animate an image")
    async def animate(
        interaction: discord.Interaction, image: discord.Attachment, prompt: str
    ) -> None:
        received.update(image=image, prompt=prompt, data=await image.read())
        await interaction.response.send_message(f"queued {image.filename}", ephemeral=True)

    bot.tree.add_command(group)
    synced = await bot.tree.sync()
    assert [c.name for c in synced] == ["veo"] and sim.commands[None][0]["options"]

    image = sim.add_attachment("cat.png", b"png-bytes", "image/png")
    payload = slash_command(
        name="veo",
        subcommand="animate",
        options={"image": image, "prompt": "a cat"},
        command_id=synced[0].id,
    )
    interaction = make_interaction(bot, sim, payload)
    await bot.tree._call(interaction)  # what CommandTree._from_interaction schedules

    assert isinstance(received["image"], discord.Attachment)
    assert (received["prompt"], received["data"]) == ("a cat", b"png-bytes")
    record = sim.interaction(interaction.id)
    assert record.callback_type == 4 and record.callback_flags == 64

    # The gateway path: the state parses the event and the tree runs it in a task.
    payload = sim.register_interaction(
        slash_command(name="veo", subcommand="animate", options={"image": image, "prompt": "b"})
    )
    bot._connection.parse_interaction_create(payload)  # type: ignore[arg-type]
    await sim.wait_for_request("POST", rf"^/interactions/{payload['id']}/")
    assert received["prompt"] == "b"


async def test_autocomplete_and_component(bot: commands.Bot, sim: DiscordSim) -> None:
    @app_commands.command(name="model", description="Pick a model")
    async def model(interaction: discord.Interaction, name: str) -> None:
        await interaction.response.send_message(name)

    @model.autocomplete("name")
    async def model_names(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=n, value=n) for n in ("veo-3", "veo-2") if current in n]

    bot.tree.add_command(model)
    typing = make_interaction(
        bot, sim, autocomplete(name="model", focused="name", options={"name": "3"})
    )
    await bot.tree._call(typing)
    callback = sim.interaction(typing.id).callbacks[0]
    assert callback["type"] == 8 and callback["data"]["choices"] == [
        {"name": "veo-3", "value": "veo-3"}
    ]

    posted = await bot.get_partial_messageable(CHANNEL_ID).send("job 1 running")
    click = make_interaction(bot, sim, component_click("veo:cancel:1", sim.message(posted.id)))
    assert click.message is not None and click.message.id == posted.id
    await click.response.edit_message(content="job 1 cancelled")
    assert sim.messages(CHANNEL_ID)[0]["content"] == "job 1 cancelled"


def test_permission_constants() -> None:
    full = discord.Permissions(PERMS_FULL)
    assert full.view_channel and full.send_messages and full.send_messages_in_threads
    assert full.attach_files and full.embed_links and full.read_message_history
    assert discord.Permissions(PERMS_NO_SEND) == discord.Permissions(view_channel=True)
