"""Two languages end to end: the user's locale (Discord's ``interaction.locale``, Slack's
``users.info``), else ``BOT_LOCALE``, reaches every handler and every adapter's own words;
Discord's command list is localized; Slack boards stay formatted next to Japanese."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import discord
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot import console as console_platform
from bot.config import ConfigError, Settings
from bot.discord_app.app import DiscordApp
from bot.discord_app.languages import guild_language, interaction_language, message_language
from bot.slack_app import render
from bot.slack_app.user_locales import UserLocales
from core import janken
from core.ai import DisabledAI
from core.catalogues import en, ja
from core.errors import UserInputError
from core.janken import Move, Opponent
from core.store.memory import MemoryStore
from handlers.failures import user_message
from handlers.port import Command, GameView, Services
from tests.discord_harness import openai_services, running
from tests.fakes.discord_api import FakeDiscordAPI
from tests.fakes.discord_state import CHANNEL_ID, PUT_GUILD_COMMANDS
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.recording_reply import run
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.slack_client import until
from tests.slack_harness import SlackBot, start_bot
from tests.test_console import console

ROOT = Path(__file__).resolve().parent.parent


# --- BOT_LOCALE ---


def test_bot_locale_defaults_to_english_and_takes_en_or_ja() -> None:
    assert Settings.from_env({}, dotenv_path=None).bot_locale == "en"
    assert Settings.from_env({"BOT_LOCALE": "ja"}, dotenv_path=None).bot_locale == "ja"
    assert Settings.from_env({"BOT_LOCALE": " JA "}, dotenv_path=None).bot_locale == "ja"
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({"BOT_LOCALE": "fr"}, dotenv_path=None)
    assert str(refused.value) == "BOT_LOCALE='fr' is not valid: expected one of en, ja"
    assert "\nBOT_LOCALE=en\n" in (ROOT / ".env.example").read_text(encoding="utf-8")


# --- handlers: Command.locale decides ---


def ja_command(text: str) -> Command:
    return Command("slack", "T1", "C1", "alice", text, locale="ja", request_id="r1")


async def test_handlers_answer_in_the_commands_language() -> None:
    services = Services(ai=DisabledAI(), store=MemoryStore())
    helped = await run("help", ja_command(""), services)
    assert helped.values("private") == [ja.MESSAGES["usage_help"]]
    played = await run("janken", ja_command("rock"), services)  # moves in either language, whatever the locale
    [view] = played.values("game")
    assert isinstance(view, GameView) and view.game.opponent.name == "じゃんけんボット"
    stats = await run("janken", ja_command("stats"), services)
    assert str(stats.values("private")[0]).startswith("あなたの成績: ゲーム 0 勝 0 敗、ラウンド ")
    with pytest.raises(UserInputError) as bad:
        await run("janken", ja_command("dance"), services)
    assert user_message(bad.value, "ja").startswith("'dance' はじゃんけんの手でもコマンドでもありません。")


# --- the console: BOT_LOCALE ---


async def test_the_console_speaks_bot_locale(tmp_path: Path) -> None:
    services = Services(ai=DisabledAI(), store=MemoryStore(), locale="ja")
    out = io.StringIO()
    stdin = io.StringIO("/janken グー\n/nope\n/ask hello\n")
    await console_platform.run(services, stdin, out, images_dir=tmp_path)
    printed = out.getvalue()
    assert "じゃんけんボット" in printed and "第 2 ラウンド: グー、チョキ、パーから選んでください。" in printed
    assert "/nope というコマンドはありません。/help をお試しください。" in printed
    assert ja.MESSAGES["no_openai_key"] in printed and "Round" not in printed


async def test_python_m_bot_console_reads_bot_locale(tmp_path: Path) -> None:
    code, out, err = await console(["/janken paper"], tmp_path, BOT_LOCALE="ja")
    assert code == 0, err
    assert "あなたは✋ パー" in out or "どちらも✋ パーであいこ" in out
    code, out, err = await console(["/janken paper"], tmp_path, BOT_LOCALE="fr")
    assert code == 2 and out == ""
    assert err.strip().splitlines() == ["configuration error: BOT_LOCALE='fr' is not valid: expected one of en, ja"]


# --- Slack: the user's locale from users.info, after the ack ---


@pytest.fixture
async def slack_bot() -> AsyncIterator[SlackBot]:
    async for running_bot in start_bot():
        yield running_bot


def private_texts(bot: SlackBot) -> list[str]:
    return [str(c.args["text"]) for c in bot.private_messages()]


def slack_boards(bot: SlackBot) -> list[Any]:
    return [m for m in bot.slack.messages.values() if m.blocks and not m.deleted]


async def test_a_japanese_slack_user_is_answered_in_japanese(slack_bot: SlackBot) -> None:
    bot = slack_bot
    bot.slack.set_user("U1", locale="ja-JP")
    await bot.send.slash("/janken", "グー")
    [board] = await until(lambda: slack_boards(bot))
    [shown] = [b for b in board.blocks if b["type"] == "markdown"]
    assert shown["text"].startswith(("**あなたは✊ グー", "**どちらも✊ グー")) and "第 2 ラウンド" in shown["text"]
    assert [e["text"]["text"] for e in board.blocks[-1]["elements"]] == ["✊ グー", "✋ パー", "✌️ チョキ"]
    await bot.send.slash("/draw", "   ")  # an error, told privately, in the user's language too
    await until(lambda: private_texts(bot))
    assert private_texts(bot)[0].startswith("使い方: /draw")
    [asked] = bot.slack.calls_to("users.info")  # once: the answer is kept
    assert asked.args["user"] == "U1" and str(asked.args["include_locale"]).lower() in ("1", "true")


async def test_the_ack_never_waits_for_the_lookup_and_later_acks_use_it(slack_bot: SlackBot) -> None:
    bot = slack_bot
    bot.slack.set_user("U1", locale="ja-JP")
    bot.openai.chunks = ["答え"]
    status, body = await bot.send.slash("/ask", "元気？")
    assert status == 200 and json.loads(body)["text"] == "Thinking…"  # nothing known yet, nothing asked
    root = await until(lambda: [m for m in bot.slack.messages.values() if "元気？" in m.text])
    assert root[0].text.startswith("<@U1> さんの質問:")
    status, body = await bot.send.slash("/ask", "もう一度")
    assert json.loads(body)["text"] == "考えています…"
    assert len(bot.slack.calls_to("users.info")) == 1


async def test_a_locale_the_bot_lacks_gets_bot_locale(slack_bot: SlackBot) -> None:
    bot = slack_bot
    bot.services.locale = "ja"
    bot.slack.set_user("U1", locale="fr-FR")
    bot.slack.set_user("U2", locale="en-GB")
    await bot.send.slash("/help", "")
    await bot.send.slash("/help", "", user="U2")
    await until(lambda: len(private_texts(bot)) == 2)
    helps = [render.escape_mrkdwn(en.MESSAGES["usage_help"]), render.escape_mrkdwn(ja.MESSAGES["usage_help"])]
    assert sorted(private_texts(bot)) == sorted(helps)


async def test_a_failed_lookup_answers_in_bot_locale_and_is_not_repeated(slack_bot: SlackBot) -> None:
    bot = slack_bot
    bot.services.locale = "ja"
    bot.slack.fail("users.info", "missing_scope", status=200, retry_after=None, times=None)
    await bot.send.slash("/help", "")
    await bot.send.slash("/janken", "stats")
    await until(lambda: len(private_texts(bot)) == 2)
    assert render.escape_mrkdwn(ja.MESSAGES["usage_help"]) in private_texts(bot)
    assert len(bot.slack.calls_to("users.info")) == 1


# --- Slack: the locale cache on its own ---


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@contextlib.asynccontextmanager
async def slack_client() -> AsyncIterator[tuple[FakeSlackAPI, AsyncWebClient]]:
    async with FakeSlackAPI() as slack:
        yield slack, AsyncWebClient(token="xoxb-test", base_url=slack.api_url)


async def test_locales_are_kept_for_an_hour_for_a_bounded_number_of_users() -> None:
    async with slack_client() as (slack, client):
        slack.set_user("U1", locale="ja-JP")
        clock = Clock()
        locales = UserLocales(client, max_users=2, clock=clock)
        assert locales.known("T1", "U1") is None
        assert await locales.of("T1", "U1") == "ja" and await locales.of("T1", "U1") == "ja"
        assert locales.known("T1", "U1") == "ja" and len(slack.calls_to("users.info")) == 1
        clock.now += 3601
        assert locales.known("T1", "U1") is None
        assert await locales.of("T1", "U1") == "ja" and len(slack.calls_to("users.info")) == 2
        assert await locales.of("T1", "U2") == "en" and await locales.of("T1", "U3") == "en"
        assert locales.known("T1", "U1") is None  # the least recently asked went first


async def test_users_asking_at_once_share_one_call_and_a_slow_answer_is_not_waited_for() -> None:
    async with slack_client() as (slack, client):
        slack.set_user("U1", locale="ja-JP")
        locales = UserLocales(client)
        assert await asyncio.gather(*(locales.of("T1", "U1") for _ in range(5))) == ["ja"] * 5
        assert len(slack.calls_to("users.info")) == 1
        slow = UserLocales(client, wait=0.05)
        slack.delay = 0.5
        assert await slow.of("T1", "U1") is None  # the command goes ahead in BOT_LOCALE
        await until(lambda: slow.known("T1", "U1") == "ja")  # and the next one has it


# --- Slack: formatting next to Japanese ---


def test_a_japanese_board_is_a_markdown_block_so_emphasis_survives_next_to_cjk() -> None:
    game = janken.new_game("g1", Opponent(ja.MESSAGES["builtin_opponent"]), 3)
    round_ = janken.play(game, Move.ROCK, Move.SCISSORS)
    view = GameView("alice", janken.advance(game, round_), played=round_)
    blocks = render.game_blocks(view, owner="U1", locale="ja")
    assert blocks[0] == {
        "type": "markdown",
        "text": (
            "**あなたは✊ グー、じゃんけんボットは✌️ チョキ。このラウンドはあなたの勝ち！**\n\n"
            "alice ❤️❤️❤️  vs  じゃんけんボット ❤️❤️🖤\n\n"
            "HP: あなた 3/3、じゃんけんボット 2/3\n\n"
            "第 2 ラウンド: グー、チョキ、パーから選んでください。"
        ),
    }
    assert "mrkdwn" not in json.dumps(blocks)


def test_names_on_a_board_show_as_typed_and_never_ping() -> None:
    game = janken.new_game("g1", Opponent("*太字*の_魔女_ <!here> [x](https://evil.example)"), 3)
    [shown, _] = render.game_blocks(GameView("# bob", game), owner="U1", locale="ja")
    assert shown["text"].startswith("\\# bob ❤️❤️❤️  vs  \\*太字\\*の\\_魔女\\_ \\<\u2060!here\\> x (\\[evil.example\\]")
    assert "<!" not in shown["text"] and not re.search(r"(?<!\\)[\[\]]", shown["text"])  # no link forms


# --- Discord: interaction.locale, the guild's, BOT_LOCALE; the command list localized ---


@contextlib.asynccontextmanager
async def discord_bot(
    monkeypatch: pytest.MonkeyPatch, locale: str = "en"
) -> AsyncIterator[tuple[DiscordApp, FakeDiscordAPI]]:
    async with FakeDiscordAPI() as fake, FakeOpenAI() as fake_ai:
        fake.patch_discord(monkeypatch)
        async with openai_services(fake_ai, MemoryStore()) as services:
            services.locale = locale
            async with running(fake, services) as app:
                yield app, fake


async def test_the_synced_commands_carry_japanese_descriptions_and_choice_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with discord_bot(monkeypatch) as (_, fake):
        synced = {c["name"]: c for c in fake.calls_to(PUT_GUILD_COMMANDS)[-1].json}
    menu = synced.pop("Transcribe")  # a message context menu: no description, its name translated
    assert menu["type"] == 3 and menu["name_localizations"] == {"ja": ja.MESSAGES["command_transcribe"]}
    for name, command in synced.items():
        assert command["description"] == en.MESSAGES[f"command_{name}"]
        assert command["description_localizations"] == {"ja": ja.MESSAGES[f"command_{name}"]}
        assert command["name_localizations"] == {}  # /ask is typed as /ask in every language
        for option in command["options"]:
            key = f"option_{name}_{option['name']}"
            assert option["description"] == en.MESSAGES[key]
            assert option["description_localizations"] == {"ja": ja.MESSAGES[key]}
            assert "name_localizations" not in option
            for choice in option.get("choices", []):
                assert choice["name"] == choice["value"] == en.MESSAGES[f"choice_{choice['value']}"]
                assert choice["name_localizations"] == {"ja": ja.MESSAGES[f"choice_{choice['value']}"]}
    size = next(o for o in synced["draw"]["options"] if o["name"] == "size")
    assert [c["name_localizations"]["ja"] for c in size["choices"]] == ["正方形", "横長", "縦長"]


def messages_in(fake: FakeDiscordAPI) -> list[Any]:
    return list(fake.channel_messages(CHANNEL_ID))


async def test_a_japanese_discord_user_is_answered_in_japanese(monkeypatch: pytest.MonkeyPatch) -> None:
    async with discord_bot(monkeypatch) as (_, fake):
        await fake.dispatch("INTERACTION_CREATE", fake.slash_command("janken", {"move": "rock"}, locale="ja"))
        [board] = await until(lambda: [m for m in messages_in(fake) if m.components])
        assert "あなたは✊ グー" in board.embeds[0]["description"] or "どちらも✊ グー" in board.embeds[0]["description"]
        assert [b["label"] for b in board.components[0]["components"]] == ["✊ グー", "✋ パー", "✌️ チョキ"]
        await fake.dispatch("INTERACTION_CREATE", fake.slash_command("ask", {"question": "  "}, locale="ja"))
        [private] = await until(lambda: [m for m in messages_in(fake) if m.ephemeral])
        assert private.content == ja.MESSAGES["usage_ask"]


@pytest.mark.parametrize(
    ("user", "guild", "bot_locale", "expected"),
    [
        ("ja", "en-US", "en", "ja"),  # the user's own language decides
        ("en-US", "ja", "ja", "en"),
        ("fr", "ja", "en", "ja"),  # one the bot lacks: the guild's choice
        ("fr", "en-US", "ja", "ja"),  # a guild that chose nothing says en-US: BOT_LOCALE
        ("fr", "en-GB", "ja", "en"),
    ],
)
async def test_the_language_falls_back_to_the_guild_then_bot_locale(
    monkeypatch: pytest.MonkeyPatch, user: str, guild: str, bot_locale: str, expected: str
) -> None:
    async with discord_bot(monkeypatch, bot_locale) as (_, fake):
        payload = fake.slash_command("janken", {"action": "stats"}, locale=user)
        payload["guild_locale"] = guild
        await fake.dispatch("INTERACTION_CREATE", payload)
        [private] = await until(lambda: [m for m in messages_in(fake) if m.ephemeral])
    assert private.content.startswith({"en": "Your record", "ja": "あなたの成績"}[expected])


def test_a_plain_message_gets_its_guilds_chosen_language_else_bot_locale() -> None:
    assert guild_language(None) is None and guild_language(discord.Locale.american_english) is None
    assert guild_language(discord.Locale.japanese) == "ja" and guild_language(discord.Locale.french) is None
    asked = SimpleNamespace(locale=discord.Locale.french, guild_locale=None)
    assert interaction_language(asked, "ja") == "ja"  # type: ignore[arg-type]
    in_dm = SimpleNamespace(guild=None)
    in_guild = SimpleNamespace(guild=SimpleNamespace(preferred_locale=discord.Locale.japanese))
    unchosen = SimpleNamespace(guild=SimpleNamespace(preferred_locale=discord.Locale.american_english))
    assert [message_language(m, "en") for m in (in_dm, in_guild)] == ["en", "ja"]  # type: ignore[arg-type]
    assert message_language(unchosen, "ja") == "ja"  # type: ignore[arg-type]
