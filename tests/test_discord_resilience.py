"""The Discord bot when things go wrong: oversized images, a restart mid-game, 429s, pings in answers.

The real DiscordApp (discord.py) runs against the fake Discord and OpenAI, as in
tests/test_discord_app.py; each test builds the fakes it needs (an attachment limit,
a store that outlives one client).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from core.store.base import PlayerKey
from core.store.memory import MemoryStore
from core.store.sqlite import SQLiteStore
from tests.discord_harness import openai_services, running
from tests.fakes.discord_api import FakeDiscordAPI
from tests.fakes.discord_state import (
    CHANNEL_ID,
    CREATE_MESSAGE,
    EDIT_FOLLOWUP,
    EDIT_MESSAGE,
    EDIT_ORIGINAL,
    FOLLOWUP,
    GUILD_ID,
    USER_ID,
    Message,
)
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_client import until
from tests.test_imaging import noisy_png

PINGS = "@everyone <@123> <@&456>"


def posted(fake: FakeDiscordAPI, has: str) -> list[Message]:
    """The channel's visible messages that have ``has`` (attachments, components, ...)."""
    return [m for m in fake.channel_messages(CHANNEL_ID) if getattr(m, has) and not m.ephemeral]


def shown(fake: FakeDiscordAPI) -> list[str]:
    """What the channel shows, oldest first."""
    return [m.content for m in fake.channel_messages(CHANNEL_ID) if not m.ephemeral]


def private(fake: FakeDiscordAPI) -> list[Message]:
    return [m for m in fake.channel_messages(CHANNEL_ID) if m.ephemeral]


# ----- /draw and the upload limit ------------------------------------------------------------------


async def test_an_image_over_the_attachment_limit_is_uploaded_re_encoded_under_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    limit = 64 * 1024
    async with FakeDiscordAPI(attachment_size_limit=limit) as fake, FakeOpenAI() as fake_ai:
        fake.patch_discord(monkeypatch)
        fake_ai.image = noisy_png(512, 384)
        assert len(fake_ai.image) > limit  # as OpenAI sent it, the fake would refuse it (413)
        async with openai_services(fake_ai, MemoryStore()) as services, running(fake, services):
            await fake.dispatch("INTERACTION_CREATE", fake.slash_command("draw", {"prompt": "a red fox"}))
            await until(lambda: posted(fake, "attachments"), timeout=10)
        [picture] = posted(fake, "attachments")
        [attachment] = picture.attachments
        image = Image.open(io.BytesIO(attachment.data))
        assert picture.content == "a red fox" and len(attachment.data) <= limit
        assert attachment.filename == "a-red-fox.jpeg" and image.format == "JPEG"
        assert image.width / image.height == pytest.approx(512 / 384, rel=0.02)
        assert not [c for c in fake.calls if c.status == 413] and not private(fake)
        assert not [m for m in fake.channel_messages(CHANNEL_ID) if m.content.startswith("⏳")]


async def test_an_image_that_cannot_fit_is_told_privately_and_leaves_no_progress_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with FakeDiscordAPI(attachment_size_limit=100) as fake, FakeOpenAI() as fake_ai:
        fake.patch_discord(monkeypatch)
        fake_ai.image = noisy_png(128, 128)
        async with openai_services(fake_ai, MemoryStore()) as services, running(fake, services):
            await fake.dispatch("INTERACTION_CREATE", fake.slash_command("draw", {"prompt": "a red fox"}))
            await until(lambda: private(fake), timeout=10)
        [told] = private(fake)
        assert "too large to upload here (100 bytes at most)" in told.content
        assert fake.channel_messages(CHANNEL_ID) == [told]  # no image, no "⏳ Drawing…" left behind


# ----- janken across a restart ---------------------------------------------------------------------


def buttons(fake: FakeDiscordAPI, board_id: str) -> list[str]:
    return [c["custom_id"] for row in fake.message(board_id).components for c in row["components"]]


async def click_rock(fake: FakeDiscordAPI, board_id: str) -> None:
    """Click the board's rock button and wait until the board is edited with the round."""
    edits = fake.message(board_id).edits
    rock = next(b for b in buttons(fake, board_id) if b.startswith("jk:rock:"))
    await fake.dispatch("INTERACTION_CREATE", fake.button_click(rock, board_id))
    await until(lambda: fake.message(board_id).edits > edits, timeout=5)


async def test_a_janken_game_plays_to_the_end_by_clicks_across_a_client_restart(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    database = tmp_path / "bot.db"
    async with FakeDiscordAPI() as fake, FakeOpenAI() as fake_ai:
        fake.patch_discord(monkeypatch)
        fake.identify_interval = 0  # the second client identifies at once, as after a quick restart
        store = await SQLiteStore.open(database)
        try:
            async with openai_services(fake_ai, store) as services, running(fake, services):
                await fake.dispatch("INTERACTION_CREATE", fake.slash_command("janken", {}))
                await until(lambda: posted(fake, "components"), timeout=5)
                [board] = posted(fake, "components")
                await click_rock(fake, board.id)
                first_round = buttons(fake, board.id)
        finally:
            await store.close()
        assert all(":2:" in b for b in first_round), first_round  # one round played, round 2 offered

        store = await SQLiteStore.open(database)  # a new process: nothing but the database survives
        try:
            async with openai_services(fake_ai, store) as services, running(fake, services):
                clicks = 1
                while any(b.startswith("jk:rock:") for b in buttons(fake, board.id)) and clicks < 40:
                    await click_rock(fake, board.id)  # the old board's buttons, routed by the new client
                    clicks += 1
            stats = await store.get_stats(PlayerKey("discord", GUILD_ID, USER_ID))
        finally:
            await store.close()
    assert clicks > 1 and any(b.startswith("jk:again:") for b in buttons(fake, board.id))
    assert stats.games_won + stats.games_lost == 1
    assert stats.wins + stats.losses + stats.draws == clicks  # every click one round, none lost or doubled
    assert not private(fake)  # no "out of date" or "someone else's" note on the way


# ----- rate limits and mentions while streaming ----------------------------------------------------


async def test_a_429_during_edits_still_ends_with_the_whole_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    async with FakeDiscordAPI() as fake, FakeOpenAI() as fake_ai:
        fake.patch_discord(monkeypatch)
        fake_ai.chunks, fake_ai.chunk_delay = [f"word{i} " for i in range(20)], 0.03
        whole = "".join(fake_ai.chunks)
        async with openai_services(fake_ai, MemoryStore()) as services, running(fake, services):
            await fake.dispatch("INTERACTION_CREATE", fake.slash_command("ask", {"question": "hi?"}))
            await until(lambda: [c for c in fake.calls_to(EDIT_ORIGINAL) if c.status == 200], timeout=5)
            fake.fail(EDIT_ORIGINAL, 429, retry_after=0.5, times=2)  # mid-answer
            await until(lambda: shown(fake) == [whole], timeout=10)
        statuses = [c.status for c in fake.calls_to(EDIT_ORIGINAL)]
        assert statuses.count(429) == 2 and statuses[-1] == 200
        assert statuses.index(429) > 0  # the limit hit while the answer was being written
        assert shown(fake) == [whole]


async def test_mentions_in_an_answer_never_ping_on_any_write(monkeypatch: pytest.MonkeyPatch) -> None:
    async with FakeDiscordAPI() as fake, FakeOpenAI() as fake_ai:
        fake.patch_discord(monkeypatch)
        filler = "".join(f"Sentence {i} of a long answer that goes on for a while. " for i in range(20))
        fake_ai.chunks = [f"{PINGS} hello. {filler}", filler, f"\n\nAnd again {PINGS} at the end."]
        fake_ai.chunk_delay = 0.1  # edits while it is written, then a follow-up past 2,000 characters
        async with openai_services(fake_ai, MemoryStore()) as services, running(fake, services):
            await fake.dispatch("INTERACTION_CREATE", fake.slash_command("ask", {"question": "ping?"}))
            await until(lambda: "".join(shown(fake)).endswith("at the end."), timeout=10)
        parts = shown(fake)
        assert len(parts) >= 2 and parts[0].startswith(PINGS) and PINGS in parts[-1]  # shown, as written
        writes = [c for route in (EDIT_ORIGINAL, FOLLOWUP, EDIT_FOLLOWUP, CREATE_MESSAGE, EDIT_MESSAGE)
                  for c in fake.calls_to(route) if c.status == 200]  # fmt: skip
        assert len(fake.calls_to(EDIT_ORIGINAL)) >= 2 and fake.calls_to(FOLLOWUP)
        for call in writes:
            mentions = call.json["allowed_mentions"]
            assert mentions["parse"] == [] and not mentions.get("users") and not mentions.get("roles")
        assert all(m.allowed_mentions == {"parse": []} for m in fake.channel_messages(CHANNEL_ID))
