"""The Discord platform end to end: the real DiscordApp (discord.py) against the fake Discord and OpenAI."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio

from bot.discord_app.app import DiscordApp
from core.store.memory import MemoryStore
from tests.discord_harness import openai_services, running
from tests.fakes.discord_api import FakeDiscordAPI
from tests.fakes.discord_state import (
    CALLBACK,
    CHANNEL_ID,
    CREATE_MESSAGE,
    EDIT_ORIGINAL,
    FOLLOWUP,
    GUILD_ID,
    PUT_GUILD_COMMANDS,
)
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_client import until

OTHER_USER = "1180000000000000999"


@dataclass
class Running:
    app: DiscordApp
    discord: FakeDiscordAPI
    openai: FakeOpenAI
    store: MemoryStore

    def visible(self) -> list[str]:
        """What the channel shows now, oldest first (deleted and ephemeral messages left out)."""
        return [m.content for m in self.discord.channel_messages(CHANNEL_ID) if not m.ephemeral]


@pytest_asyncio.fixture
async def bot(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Running]:
    async with FakeDiscordAPI() as fake_discord, FakeOpenAI() as fake_ai:
        fake_discord.patch_discord(monkeypatch)
        store = MemoryStore()
        async with openai_services(fake_ai, store) as services, running(fake_discord, services) as app:
            yield Running(app, fake_discord, fake_ai, store)


async def test_the_commands_are_synced_with_their_options_installs_and_contexts(bot: Running) -> None:
    synced = {c["name"]: c for c in bot.discord.calls_to(PUT_GUILD_COMMANDS)[-1].json}
    assert set(synced) == {"ask", "draw", "janken", "usage", "history", "Transcribe"}
    for command in synced.values():
        assert sorted(command["integration_types"]) == [0, 1] and sorted(command["contexts"]) == [0, 1, 2]
    draw = {o["name"]: o for o in synced["draw"]["options"]}
    assert [c["value"] for c in draw["size"]["choices"]] == ["square", "landscape", "portrait"]
    assert synced["ask"]["options"][0]["max_length"] == 4000


async def test_ask_is_deferred_then_streamed_by_editing_the_response(bot: Running) -> None:
    bot.openai.chunks, bot.openai.chunk_delay = [f"word{i} " for i in range(30)], 0.02
    whole = "".join(bot.openai.chunks)
    await bot.discord.dispatch("INTERACTION_CREATE", bot.discord.slash_command("ask", {"question": "hi?"}))
    await until(lambda: bot.visible() and bot.visible()[-1] == whole, timeout=10)
    assert bot.discord.calls_to(CALLBACK)[0].json["type"] == 5  # deferred before any OpenAI call
    edits = [c.json["content"] for c in bot.discord.calls_to(EDIT_ORIGINAL)]
    assert len(edits) >= 2 and edits[-1] == whole and whole.startswith(edits[0]) and edits[0] != whole
    assert all(c.json["allowed_mentions"]["parse"] == [] for c in bot.discord.calls_to(EDIT_ORIGINAL))


async def test_a_long_answer_continues_in_follow_ups_with_valid_fences(bot: Running) -> None:
    code = "".join(f"print({i})  # one line of a long program\n" for i in range(150))
    bot.openai.chunks = ["Here:\n\n```python\n", code, "```\nThat is all."]
    await bot.discord.dispatch("INTERACTION_CREATE", bot.discord.slash_command("ask", {"question": "code"}))
    await until(lambda: bot.visible() and bot.visible()[-1].endswith("That is all."), timeout=10)
    parts = bot.visible()
    assert len(parts) >= 3 and all(len(p) <= 2000 for p in parts)
    assert all(p.count("```") % 2 == 0 for p in parts)  # every part opens and closes its fences
    assert sum(p.count("print(") for p in parts) == 150
    assert len(bot.discord.calls_to(FOLLOWUP)) >= 2


async def test_bad_options_get_a_private_usage_message_and_no_openai_call(bot: Running) -> None:
    payload = bot.discord.slash_command("ask", {"question": "   "})
    await bot.discord.dispatch("INTERACTION_CREATE", payload)
    await until(lambda: [m for m in bot.discord.channel_messages(CHANNEL_ID) if m.ephemeral], timeout=5)
    [private] = [m for m in bot.discord.channel_messages(CHANNEL_ID) if m.ephemeral]
    assert "Usage: /ask" in private.content and bot.openai.requests == []
    assert bot.visible() == []  # the "thinking…" response is gone, nothing half-done is left


async def test_draw_attaches_the_image_bytes_with_the_prompt_as_caption(bot: Running) -> None:
    await bot.discord.dispatch(
        "INTERACTION_CREATE", bot.discord.slash_command("draw", {"prompt": "a red fox"})
    )
    await until(lambda: [m for m in bot.discord.channel_messages(CHANNEL_ID) if m.attachments], timeout=10)
    [picture] = [m for m in bot.discord.channel_messages(CHANNEL_ID) if m.attachments]
    assert picture.content == "a red fox" and [a.data for a in picture.attachments] == [bot.openai.image]
    assert not [m for m in bot.discord.channel_messages(CHANNEL_ID) if m.content.startswith("⏳")]


async def test_a_janken_game_plays_to_the_end_by_clicks_and_refuses_another_player(bot: Running) -> None:
    await bot.discord.dispatch("INTERACTION_CREATE", bot.discord.slash_command("janken", {}))
    await until(lambda: [m for m in bot.discord.channel_messages(CHANNEL_ID) if m.components], timeout=5)
    [board] = [m for m in bot.discord.channel_messages(CHANNEL_ID) if m.components]
    rock = board.components[0]["components"][0]["custom_id"]

    before = bot.discord.message(board.id).embeds
    await bot.discord.dispatch(
        "INTERACTION_CREATE", bot.discord.button_click(rock, board.id, user_id=OTHER_USER)
    )
    await until(lambda: [m for m in bot.discord.channel_messages(CHANNEL_ID) if m.ephemeral], timeout=5)
    [refused] = [m for m in bot.discord.channel_messages(CHANNEL_ID) if m.ephemeral]
    assert "belongs to someone else" in refused.content and bot.discord.message(board.id).embeds == before

    for _ in range(40):  # every click plays one round and edits the board, until the game ends
        board = bot.discord.message(board.id)
        buttons = [c["custom_id"] for row in board.components for c in row["components"]]
        if not any(":rock:" in b for b in buttons):
            break
        edits, board_id = board.edits, board.id
        move = next(b for b in buttons if ":rock:" in b)
        await bot.discord.dispatch("INTERACTION_CREATE", bot.discord.button_click(move, board_id))
        await until(lambda: bot.discord.message(board_id).edits > edits, timeout=5)  # noqa: B023
    else:
        pytest.fail("the game never ended")
    assert any(":again:" in b for b in buttons)  # a finished board offers to play again


async def test_an_answer_still_running_when_the_token_expires_continues_in_the_channel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    later = {"by": 0.0}
    async with FakeDiscordAPI() as fake_discord, FakeOpenAI() as fake_ai:
        fake_discord.patch_discord(monkeypatch)
        clock = {"clock": lambda: time.time() + later["by"]}
        async with (
            openai_services(fake_ai, MemoryStore()) as services,
            running(fake_discord, services, **clock),
        ):
            fake_ai.chunks, fake_ai.chunk_delay = [f"part{i} " for i in range(40)], 0.03
            whole = "".join(fake_ai.chunks)
            payload = fake_discord.slash_command("ask", {"question": "a long one"})
            await fake_discord.dispatch("INTERACTION_CREATE", payload)
            await until(lambda: fake_discord.calls_to(EDIT_ORIGINAL), timeout=5)
            fake_discord.advance(15 * 60)  # the interaction's token is now too old
            later["by"] = 15 * 60
            await until(
                lambda: any(m.content == whole for m in fake_discord.channel_messages(CHANNEL_ID)), timeout=10
            )
            assert [c for c in fake_discord.calls_to(CREATE_MESSAGE) if c.status == 200]
            assert not [c for c in fake_discord.calls if c.status == 401]


async def test_python_m_bot_discord_runs_the_commands_and_stops_cleanly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bot import __main__ as entry

    async with FakeDiscordAPI() as fake_discord:
        fake_discord.patch_discord(monkeypatch)
        monkeypatch.setenv("STORE_URL", "memory://")
        monkeypatch.setenv("DISCORD_TOKEN", "not-the-token")
        with pytest.raises(entry.ConfigError, match="DISCORD_TOKEN was refused by Discord"):
            await entry.serve(entry.Settings.from_env(), ["discord"], entry.parse_args(["discord"]))

        monkeypatch.setenv("DISCORD_TOKEN", fake_discord.token)
        monkeypatch.setenv("DISCORD_GUILD_ID", GUILD_ID)
        settings = entry.Settings.from_env()
        serving = asyncio.create_task(entry.serve(settings, ["discord"], entry.parse_args(["discord"])))
        try:
            await fake_discord.wait_for_ready(timeout=10)
            await until(lambda: fake_discord.calls_to(PUT_GUILD_COMMANDS), timeout=5)
            await fake_discord.dispatch(
                "INTERACTION_CREATE", fake_discord.slash_command("janken", {"move": "rock"})
            )
            await until(lambda: [m for m in fake_discord.channel_messages(CHANNEL_ID) if m.embeds], timeout=5)
        finally:
            serving.cancel()
            await asyncio.gather(serving, return_exceptions=True)
        assert serving.cancelled() or serving.exception() is None


async def test_a_private_answer_after_a_deferral_stays_private(bot: Running) -> None:
    payload = bot.discord.slash_command("janken", {"action": "stats"})
    await bot.discord.dispatch("INTERACTION_CREATE", payload)
    await until(lambda: [m for m in bot.discord.channel_messages(CHANNEL_ID) if m.ephemeral], timeout=5)
    [record] = [m for m in bot.discord.channel_messages(CHANNEL_ID) if m.ephemeral]
    assert record.content.startswith("Your record") and bot.visible() == []


async def test_an_upload_refused_leaves_no_progress_line_and_tells_the_asker(bot: Running) -> None:
    bot.openai.delay = 0.5  # the image comes after the progress line is up and the fault is set
    await bot.discord.dispatch(
        "INTERACTION_CREATE", bot.discord.slash_command("draw", {"prompt": "a red fox"})
    )
    await until(
        lambda: any(m.content.startswith("⏳") for m in bot.discord.channel_messages(CHANNEL_ID)), timeout=5
    )
    bot.discord.fail(EDIT_ORIGINAL, 403, code=50013, message="Missing Permissions", times=None)
    await until(lambda: [m for m in bot.discord.channel_messages(CHANNEL_ID) if m.ephemeral], timeout=10)
    assert bot.visible() == []  # the "Drawing…" line is gone with the failed upload
    [told] = [m for m in bot.discord.channel_messages(CHANNEL_ID) if m.ephemeral]
    assert "went wrong" in told.content or "refused" in told.content
