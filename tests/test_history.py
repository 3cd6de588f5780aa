"""/history: paging newest first, one entry in full, clearing after a confirmation, retention."""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from core import errors
from core.ai import AIService
from core.messages import text
from core.store import Store
from core.store.activity import ENTRY_CHARS, HistoryEntry, Usage, month_of
from core.store.memory import MemoryStore
from handlers import history
from handlers.port import Accounting, Command, PageButton, Services
from handlers.registry import HISTORY_CLICK
from tests.discord_harness import openai_services, running
from tests.fakes.discord_api import FakeDiscordAPI
from tests.fakes.discord_state import CHANNEL_ID, GUILD_ID, USER_ID
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.recording_reply import RecordingReply, cmd, run
from tests.fakes.slack_client import until
from tests.slack_harness import SlackBot, start_bot
from tests.test_console import console

DAY = 24 * 3600.0


@pytest.fixture
def services(ai: AIService) -> Services:
    return Services(
        ai=ai, store=MemoryStore(), rng=random.Random(3), accounting=Accounting(history_keep=2 * DAY)
    )


async def logged(services: Services, count: int, *, user: str = "alice", age: float = 0.0) -> None:
    now = time.time() - age
    for n in range(count):
        entry = HistoryEntry(now + n, "ask", f"question {n}", f"answer {n}", "test-chat", Usage(10, n))
        await services.store.log_entry(
            cmd("", user=user).player, entry, keep=services.accounting.history_keep
        )


async def shown(text: str, services: Services, user: str = "alice") -> str:
    reply = await run("history", cmd(text, user=user), services)
    assert reply.kinds() == ["private"] and not any(reply.buttons)
    return str(reply.values("private")[0])


@pytest.mark.parametrize(
    ("text", "request_"),
    [
        ("", history.HistoryRequest("page")),
        ("page 3", history.HistoryRequest("page", 3)),
        ("2", history.HistoryRequest("entry", 2)),
        ("clear", history.HistoryRequest("clear")),
        ("CLEAR confirm", history.HistoryRequest("confirm")),
    ],
)
def test_parse(text: str, request_: history.HistoryRequest) -> None:
    assert history.parse(cmd(text)) == request_


@pytest.mark.parametrize("text", ["page", "page 0", "-1", "page two", "clear now", "１", "9" * 30])
def test_bad_words_get_the_usage(text: str) -> None:
    with pytest.raises(errors.UserInputError) as caught:
        history.parse(cmd(text))
    assert caught.value.key == "usage_history"


async def page(text: str, services: Services, user: str = "alice") -> tuple[str, list[PageButton]]:
    reply = await run("history", cmd(text, user=user), services)
    assert reply.kinds() == ["private"] and len(reply.buttons) == 1
    return str(reply.values("private")[0]), reply.buttons[0]


async def clicked(code: str, services: Services, user: str = "alice") -> RecordingReply:
    reply = RecordingReply()
    await HISTORY_CLICK(code, cmd("", user=user), reply, services)
    return reply


async def test_pages_are_newest_first_with_older_and_newer_buttons(services: Services) -> None:
    await logged(services, 12)
    first, [older] = await page("", services)
    assert first.startswith("Your history, newest first (page 1 of 3)")
    assert first.index("question 11") < first.index("question 7") and "question 6" not in first
    assert (older.label, older.typed) == ("Older ▶", "/history page 2")
    second = await clicked(older.code, services)
    assert "question 6" in str(second.values("private")) and "question 1 " not in str(
        second.values("private")
    )
    [[newer, older]] = second.buttons
    assert (newer.typed, older.typed) == ("/history page 1", "/history page 3")
    last, [newer] = await page("page 99", services)  # past the end: the last page
    assert "page 3 of 3" in last and "question 0" in last and newer.typed == "/history page 2"


async def test_a_button_works_for_its_owner_only(services: Services) -> None:
    await logged(services, 7)
    _, [older] = await page("", services)
    with pytest.raises(errors.UserInputError) as caught:
        await clicked(older.code, services, user="mallory")
    assert caught.value.key == "not_your_history"
    for forged in ("hs:page:x:alice", "jk:rock:1:1:alice", "hs:drop:1:alice", None):
        with pytest.raises(errors.UserInputError):
            await history.click(forged, cmd(""), RecordingReply(), services)  # type: ignore[arg-type]


async def test_one_entry_in_full_and_a_missing_one(services: Services) -> None:
    await logged(services, 3)
    full = await shown("2", services)
    assert "#2" in full and "question 1" in full and "answer 1" in full and "test-chat" in full
    assert "Tokens: 10 in, 1 out" in full
    with pytest.raises(errors.UserInputError) as caught:
        await run("history", cmd("4"), services)
    assert caught.value.key == "history_no_entry"


async def test_a_long_entry_in_full_fits_a_discord_message_in_every_language(services: Services) -> None:
    """Prompt and answer as long as the store keeps them, and a long model name: the entry still fits
    Discord's 2,000 characters, the cuts marked; a short prompt leaves its room to the answer."""
    player, keep = cmd("").player, services.accounting.history_keep
    long_entry = HistoryEntry(
        time.time(), "ask", "p" * ENTRY_CHARS, "a" * ENTRY_CHARS, "m" * 500, Usage(1, 2)
    )
    await services.store.log_entry(player, long_entry, keep=keep)
    for locale in ("en", "ja"):
        reply = await run("history", Command("slack", "T1", "C1", "alice", "1", locale=locale), services)
        [full] = reply.values("private")
        assert isinstance(full, str) and len(full) <= history.FULL_CHARS < 2000
        assert full.count("p" * 500 + "…") == 1 and full.count("a" * 500 + "…") == 1
        assert full.count("…") == 3 and full.endswith(("images: 0", "画像: 0"))
    short_question = HistoryEntry(time.time() + 1, "ask", "why?", "b" * ENTRY_CHARS, "m", Usage(1, 2))
    await services.store.log_entry(player, short_question, keep=keep)
    full = await shown("1", services)
    assert "Prompt: why?\n" in full and full.count("b") > history.FULL_CHARS - 200
    assert len(full) <= history.FULL_CHARS
    fits = HistoryEntry(time.time() + 2, "ask", "q" * 800, "r" * 900, "m", Usage(1, 2))
    await services.store.log_entry(player, fits, keep=keep)
    assert "…" not in await shown("1", services)  # what fits is shown whole


async def test_a_malformed_history_button_is_from_an_older_version(services: Services) -> None:
    for forged in ("hs:page:x:alice", "hs:drop:1:alice", "jk:rock:1:1:alice", None):
        with pytest.raises(errors.UserInputError) as caught:
            await history.click(forged, cmd(""), RecordingReply(), services)  # type: ignore[arg-type]
        assert caught.value.key == "old_history_buttons"
    for locale in ("en", "ja"):
        said = text(caught.value.key, locale)
        assert "/history" in said and "janken" not in said


async def test_clear_asks_first_then_deletes_only_that_users_log(services: Services) -> None:
    await logged(services, 3)
    await logged(services, 2, user="bob")
    asked, [delete] = await page("clear", services)
    assert "(3 entries)" in asked and delete.typed == "/history clear confirm"
    assert await services.store.count_entries(cmd("").player, keep=DAY) == 3
    with pytest.raises(errors.UserInputError):
        await clicked(delete.code, services, user="bob")
    assert (await clicked(delete.code, services)).values("private") == ["Deleted your history (3 entries)."]
    assert await shown("", services) == "Your history is empty."
    assert await shown("clear", services) == "Your history is empty."
    typed_too = (await page("", services, user="bob"))[0]
    assert "page 1 of 1" in typed_too
    assert "(2 entries)" in await shown("clear confirm", services, user="bob")


async def test_entries_older_than_history_days_are_gone(services: Services) -> None:
    await logged(services, 2, age=3 * DAY)
    await logged(services, 1)
    shown_page, buttons = await page("", services)
    assert "page 1 of 1" in shown_page and "question 0" in shown_page and "question 1" not in shown_page
    assert buttons == []


async def test_commands_appear_in_history(services: Services, fake_openai: FakeOpenAI) -> None:
    await run("ask", cmd("what is a fox"), services)
    await run("draw", cmd("a red fox"), services)
    listed, _ = await page("", services)
    assert listed.index("/draw: a red fox → image-1") < listed.index("/ask: what is a fox")
    japanese = await run("history", Command("slack", "T1", "C1", "alice", "1", locale="ja"), services)
    assert "質問: a red fox" in str(japanese.values("private")[0])


async def test_history_and_janken_top_through_discord(monkeypatch: pytest.MonkeyPatch) -> None:
    async with FakeDiscordAPI() as fake_discord, FakeOpenAI() as fake_ai:
        fake_discord.patch_discord(monkeypatch)
        store = MemoryStore()
        async with openai_services(fake_ai, store) as services, running(fake_discord, services):
            player = Command("discord", GUILD_ID, CHANNEL_ID, USER_ID, "").player
            entry = HistoryEntry(time.time(), "ask", "what is a fox", "a small canid", "m", Usage(3, 4))
            await store.log_entry(player, entry, keep=services.accounting.history_keep)
            for options in ({"entry": 1}, {"action": "top"}):
                name = "janken" if "action" in options else "history"
                await fake_discord.dispatch("INTERACTION_CREATE", fake_discord.slash_command(name, options))
            private = await until(lambda: [m.content for m in fake_discord.channel_messages(CHANNEL_ID)
                                           if m.ephemeral][1:] or None, timeout=5)  # fmt: skip
    shown = [m.content for m in fake_discord.channel_messages(CHANNEL_ID) if m.ephemeral]
    assert private and any("#1" in t and "a small canid" in t and "Tokens: 3 in, 4 out" in t for t in shown)
    assert any(t.startswith("🏆 Most games won") for t in shown)


async def test_a_long_entry_in_full_through_discord(monkeypatch: pytest.MonkeyPatch) -> None:
    """Discord refuses content over 2,000 characters (400): the entry is cut to fit instead."""
    async with FakeDiscordAPI() as fake_discord, FakeOpenAI() as fake_ai:
        fake_discord.patch_discord(monkeypatch)
        store = MemoryStore()
        async with openai_services(fake_ai, store) as services, running(fake_discord, services):
            player = Command("discord", GUILD_ID, CHANNEL_ID, USER_ID, "").player
            entry = HistoryEntry(time.time(), "ask", "why " * 1000, "because " * 500, "m", Usage(3, 4))
            await store.log_entry(player, entry, keep=services.accounting.history_keep)
            await fake_discord.dispatch(
                "INTERACTION_CREATE", fake_discord.slash_command("history", {"entry": 1})
            )
            [full] = await until(lambda: [m.content for m in fake_discord.channel_messages(CHANNEL_ID)
                                          if m.ephemeral], timeout=5)  # fmt: skip
    assert full.startswith("#1") and "why why" in full and "because because" in full
    assert len(full) <= 2000 and full.count("…") == 2 and "Tokens: 3 in, 4 out" in full


async def test_history_buttons_through_discord(monkeypatch: pytest.MonkeyPatch) -> None:
    async with FakeDiscordAPI() as fake_discord, FakeOpenAI() as fake_ai:
        fake_discord.patch_discord(monkeypatch)
        store = MemoryStore()
        async with openai_services(fake_ai, store) as services, running(fake_discord, services):
            player = Command("discord", GUILD_ID, CHANNEL_ID, USER_ID, "").player
            for n in range(6):
                entry = HistoryEntry(time.time() + n, "ask", f"q{n}", f"a{n}", "m", Usage(1, 1))
                await store.log_entry(player, entry, keep=services.accounting.history_keep)

            def private() -> list[Any]:
                return [m for m in fake_discord.channel_messages(CHANNEL_ID) if m.ephemeral]

            await fake_discord.dispatch("INTERACTION_CREATE", fake_discord.slash_command("history", {}))
            [first] = await until(private, timeout=5)
            assert "page 1 of 2" in first.content
            [row] = first.components
            [older] = row["components"]
            click = fake_discord.button_click(older["custom_id"], first.id)
            await fake_discord.dispatch("INTERACTION_CREATE", click)
            pages = await until(lambda: [m for m in private() if "page 2 of 2" in m.content], timeout=5)
    assert "q0" in pages[0].content


@pytest.fixture
async def slack_bot() -> AsyncIterator[SlackBot]:
    async for running_bot in start_bot():
        yield running_bot


async def test_history_pages_and_clearing_through_slack(slack_bot: SlackBot) -> None:
    bot = slack_bot
    player = Command("slack", bot.send.team, "C1", "U1", "").player
    for n in range(7):
        entry = HistoryEntry(time.time() + n, "draw", f"fox {n}", f"F{n}", "i", Usage(images=1))
        await bot.store.log_entry(player, entry, keep=bot.services.accounting.history_keep)
    await bot.send.slash("/history", "")
    [first] = await until(lambda: bot.private_messages())
    assert "page 1 of 2" in first.args["text"] and "fox 6" in first.args["text"]
    shown = {"channel": "C1", "ts": "1.000001", "blocks": first.args["blocks"]}
    await bot.send.click(shown, "history_page_0")
    second = (await until(lambda: bot.private_messages()[1:]))[0]
    assert "page 2 of 2" in second.args["text"] and "fox 0" in second.args["text"]
    await bot.send.slash("/history", "clear")
    asked = (await until(lambda: bot.private_messages()[2:]))[0]
    await bot.send.click(
        {"channel": "C1", "ts": "1.000002", "blocks": asked.args["blocks"]}, "history_page_0"
    )
    done = (await until(lambda: bot.private_messages()[3:]))[0]
    assert done.args["text"] == "Deleted your history (7 entries)."
    assert await bot.store.count_entries(player, keep=3600) == 0


async def test_history_usage_and_top_in_the_console(tmp_path: Path) -> None:
    lines = ["/janken rock"] * 6 + ["/history", "/history page 2", "/history 6", "/janken top", "/usage"]
    code, out, err = await console(lines, tmp_path, JANKEN_HP="1", JANKEN_MERCY="1")
    assert code == 0 and "Traceback" not in out + err
    assert "page 1 of 2" in out and "[Older ▶] /history page 2" in out
    assert "page 2 of 2" in out and "[◀ Newer] /history page 1" in out
    assert "#6" in out and "/janken" in out and "Won (1 to 0)" in out
    assert "🏆 Most games won" in out and ": 6" in out
    assert "This month" in out


async def test_logging_paging_and_retention_on_every_backend(ai: AIService, store: Store) -> None:
    services = Services(ai=ai, store=store, accounting=Accounting(history_keep=2 * DAY))
    await logged(services, 2, age=3 * DAY)  # older than HISTORY_DAYS: never shown
    await logged(services, 6, age=100)
    await run("draw", cmd("a red fox"), services)
    listed, [older] = await page("", services)
    assert "page 1 of 2" in listed and "/draw: a red fox" in listed
    assert "question 0" in str((await clicked(older.code, services)).values("private"))
    used = await store.usage(cmd("").player, month_of(time.time()))
    assert used == {"test-image": Usage(images=1)}
