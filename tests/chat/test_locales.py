"""The shipped languages: every catalogue holds every key of the English one with the same
placeholders, Discord's locales read the right one, and a server in Spanish gets its
public posts in Spanish while a member's private replies follow their own client."""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from typing import Any

import pytest

from bot.chat import i18n
from bot.client import VeoBot
from storage import JobStatus
from tests.cogs.test_generate import generate, reply_text
from tests.conftest import BotFactory, wait_for_job
from tests.sim.discord_payloads import CHANNEL_ID, USER_ID
from tests.sim.discord_sim import DiscordSim


def raw(locale: str) -> dict[str, dict[str, str]]:
    return i18n.sections(locale)


def placeholders(template: str) -> list[tuple[str, str]]:
    return sorted((f, spec or "") for _, f, spec, _ in string.Formatter().parse(template) if f)


@pytest.mark.parametrize("locale", [loc for loc in i18n.SHIPPED if loc != i18n.ENGLISH])
def test_every_locale_has_every_key_with_the_same_placeholders(locale: str) -> None:
    english, other = raw("en"), raw(locale)
    # [command] has no English part: the cogs' own strings are the English (its keys are
    # checked against the command tree below).
    assert other.keys() - {"command"} == english.keys()
    for section, table in english.items():
        assert other[section].keys() == table.keys(), section
        for key, template in table.items():
            translated = other[section][key]
            assert translated.strip(), (section, key)
            assert placeholders(translated) == placeholders(template), (section, key)
            # Discord markup the member relies on survives translation.
            for mark in ("**", "<t:", "<@", "](<"):
                assert translated.count(mark) == template.count(mark), (section, key, mark)


def test_discord_locales_read_a_shipped_catalogue() -> None:
    assert i18n.shipped("es-419") == "es-ES" == i18n.shipped("es-ES")
    assert i18n.shipped("zh-CN") == "zh-CN"
    assert i18n.shipped("zh-TW") == "en"  # not the other script
    assert i18n.shipped("fr") == i18n.shipped(None) == i18n.shipped("en-US") == "en"
    # A key no translation has yet reads in English, never blank.
    assert i18n.text("job.cancelled", "fr") == i18n.text("job.cancelled")


async def test_public_posts_follow_the_server_and_replies_the_member(
    start_bot: BotFactory, make_settings, discord_sim: DiscordSim
) -> None:
    bot: VeoBot = await start_bot(make_settings())
    iid = await generate(
        bot, discord_sim, prompt="un barco de papel", guild_locale="es-ES", locale="zh-CN"
    )
    done = await wait_for_job(bot, 1)
    assert done.status is JobStatus.DELIVERED and done.locale == "es-ES"
    # The member's own reply: their client's language.
    assert reply_text(discord_sim, iid).startswith("✅ 已加入队列")
    posts = discord_sim.messages(CHANNEL_ID)
    job_message = next(m for m in posts if "**Trabajo #1**" in str(m["content"]))
    assert f"<@{USER_ID}>" in job_message["content"]
    [video] = [m for m in posts if m.get("attachments")]
    assert str(video["content"]).startswith("✅ ¡El trabajo #1 está listo")
    fields = [f["name"] for f in video["embeds"][0]["fields"]]
    assert fields[0] == "Modelo"
    labels = [c["label"] for row in video["components"] for c in row["components"]]
    assert labels[-1] == i18n.text("button.delete", "es-ES") != "Delete"


# Discord's rule for slash-command and option names (a context menu's may hold spaces).
NAME = re.compile(r"^[-_\w]{1,32}$")


def _options(node: dict[str, Any]) -> list[dict[str, Any]]:
    return list(node.get("options") or [])


def _walk(node: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, node
    for option in _options(node):
        yield from _walk(option, f"{path}.{option['name']}")


async def test_every_command_and_option_is_sent_in_every_language(
    start_bot: BotFactory, make_settings, discord_sim: DiscordSim
) -> None:
    bot: VeoBot = await start_bot(make_settings())
    await bot.tree.sync()
    synced = discord_sim.commands[None]
    assert {c["name"] for c in synced} >= {"veo", "veo-admin", "Animate with Veo"}
    for locale in ("zh-CN", "es-ES", "es-419"):
        for command in synced:
            for path, node in _walk(command, command["name"]):
                name = node.get("name_localizations", {}).get(locale)
                assert name, (locale, path)
                if node.get("type") != 3 or path != command["name"]:  # not a context menu
                    assert NAME.match(name) and name == name.lower(), (locale, path, name)
                if node.get("description"):
                    described = node.get("description_localizations", {}).get(locale)
                    assert described and len(described) <= 100, (locale, path)
                siblings = [o["name_localizations"][locale] for o in _options(node)]
                assert len(siblings) == len(set(siblings)), (locale, path, siblings)
    assert synced[0]["name_localizations"]["zh-CN"] != "" and "en-US" not in (
        synced[0].get("name_localizations") or {}
    )
