"""The battle card on every platform: each round played shows a new card in the game message
(Discord: the board's attachment; Slack: an uploaded file its image block shows; the console:
a file saved per round)."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from PIL import Image
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import console as console_platform
from core import battle_card
from core.ai import DisabledAI
from core.janken import Move, Opponent, Outcome, Round, advance, new_game
from core.messages import text
from core.store import PlayerKey
from core.store.memory import MemoryStore
from core.store.sqlite import SQLiteStore
from handlers import janken_card
from handlers.port import GameView, Services
from tests.discord_harness import openai_services, running
from tests.fakes.discord_api import FakeDiscordAPI
from tests.fakes.discord_state import CHANNEL_ID
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.slack_client import until
from tests.slack_harness import SlackBot, start_bot

PNG = b"\x89PNG\r\n\x1a\n"


# --- the platform-neutral step ---


def test_the_card_follows_the_round_in_the_readers_language() -> None:
    game = new_game("g1", Opponent("ボブ"), 3)
    round_ = Round(1, Move.ROCK, Move.SCISSORS, Outcome.WIN, 3, 2)
    view = GameView("アリス", advance(game, round_), played=round_)
    card = janken_card.card_of(view, "ja")
    assert (card.player_name, card.opponent_name, card.player_hp, card.opponent_hp) == (
        "アリス",
        "ボブ",
        3,
        2,
    )
    assert card.last_round == ("グー", "チョキ") and card.tone is Outcome.WIN and card.banner
    assert card.banner == "ラウンド 1：あなたの勝ち！"  # the round's number: no two rounds' cards alike
    fresh = janken_card.card_of(GameView("alice", game), "en")
    assert fresh.last_round is None and fresh.tone is None and fresh.banner == "Round 1: your move"


@pytest.mark.parametrize("locale", ["en", "ja"])
def test_every_move_and_outcome_has_its_card_words(locale: str) -> None:
    assert all(janken_card.move_label(move.value, locale) for move in Move)
    assert all(text(f"card_round_{outcome.value}", locale, round=1) for outcome in Outcome)


def _art(colour: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (1024, 1024), colour).save(out, "PNG")
    return out.getvalue()


def _art_pixel(card: bytes) -> tuple[int, ...]:
    """A pixel in the middle of the card's art box."""
    left, top, right, bottom = battle_card.ART_BOX
    return Image.open(io.BytesIO(card)).convert("RGB").getpixel(((left + right) // 2, (top + bottom) // 2))


async def test_a_drawn_opponents_art_is_kept_in_the_store_for_every_later_card(tmp_path: Path) -> None:
    """Kept in the store, not in the process: a card drawn after a restart still shows the art."""
    view = GameView("alice", new_game("g1", Opponent("Bob", image_ref="F1"), 3))
    store = await SQLiteStore.open(tmp_path / "bot.db")
    await janken_card.keep_art(store, "F1", _art("#ff0000"))
    await store.close()
    reopened = await SQLiteStore.open(tmp_path / "bot.db")  # a new process
    shown = await janken_card.with_card(view, "en", reopened)
    assert shown.card is not None and shown.card.startswith(PNG) and dataclasses.replace(shown, card=None) == view
    red, green, blue = _art_pixel(shown.card)
    assert red > 200 and green < 60 and blue < 60  # the art, not the grey placeholder
    kept = await reopened.blob(janken_card._art_key("F1"))
    assert kept is not None and len(kept) < 60_000  # a thumbnail, not the 1024x1024 drawing
    unknown = GameView("alice", new_game("g2", Opponent("Eve", image_ref="F2"), 3))
    placeholder = _art_pixel((await janken_card.with_card(unknown, "en", reopened)).card or b"")
    assert placeholder == _art_pixel(battle_card.render(janken_card.card_of(unknown, "en")))
    await reopened.close()


async def test_art_that_cannot_be_read_or_has_no_ref_is_not_kept() -> None:
    store = MemoryStore()
    await janken_card.keep_art(store, "F1", b"not a picture")
    await janken_card.keep_art(store, "", _art("#00ff00"))
    assert await store.blob(janken_card._art_key("F1")) is None
    assert await store.blob(janken_card._art_key("")) is None


# --- Discord ---


@pytest_asyncio.fixture
async def discord(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscordAPI]:
    async with FakeDiscordAPI() as fake_discord, FakeOpenAI() as fake_ai:
        fake_discord.patch_discord(monkeypatch)
        async with openai_services(fake_ai, MemoryStore()) as services, running(fake_discord, services):
            yield fake_discord


async def test_discord_each_click_replaces_the_boards_card(discord: FakeDiscordAPI) -> None:
    await discord.dispatch("INTERACTION_CREATE", discord.slash_command("janken", {}))
    await until(lambda: [m for m in discord.channel_messages(CHANNEL_ID) if m.components], timeout=5)
    [board] = [m for m in discord.channel_messages(CHANNEL_ID) if m.components]
    [card] = board.attachments
    assert card.filename == "card.png" and card.data.startswith(PNG)
    assert board.embeds[0]["image"]["url"] == "attachment://card.png"
    cards = [card.data]
    for _ in range(2):
        board = discord.message(board.id)
        buttons = [c["custom_id"] for row in board.components for c in row["components"]]
        rock = next(b for b in buttons if ":rock:" in b)
        edits, board_id = board.edits, board.id
        await discord.dispatch("INTERACTION_CREATE", discord.button_click(rock, board_id))
        await until(lambda: discord.message(board_id).edits > edits, timeout=5)  # noqa: B023
        old = card.id  # the click's deferral edits the board first; the new card comes with the round
        await until(lambda: discord.message(board_id).attachments[0].id != old, timeout=5)  # noqa: B023
        [card] = discord.message(board_id).attachments  # the new card replaced the old one
        assert card.data.startswith(PNG) and card.data != cards[-1]
        cards.append(card.data)


# --- Slack ---


@pytest_asyncio.fixture
async def slack() -> AsyncIterator[SlackBot]:
    async for bot in start_bot():
        yield bot


def _card_file(blocks: list[dict[str, Any]] | None) -> str:
    assert blocks
    [image] = [b for b in blocks if b["type"] == "image"]
    assert image["alt_text"] and blocks[0] is image
    return str(image["slack_file"]["id"])


async def test_slack_each_click_uploads_a_card_the_board_shows(slack: SlackBot) -> None:
    await slack.send.slash("/janken", "")
    [board] = await until(lambda: [m for m in slack.slack.messages.values() if m.blocks and not m.deleted])
    shown = [_card_file(board.blocks)]
    assert slack.slack.uploaded[shown[0]].data.startswith(PNG)
    for _ in range(2):
        updates = len(slack.slack.calls_to("chat.update"))
        payload = {"channel": board.channel, "ts": board.ts, "blocks": board.blocks, "text": board.text}
        status, _ = await slack.send.click(payload, "janken_rock")
        assert status == 200
        await until(lambda: len(slack.slack.calls_to("chat.update")) > updates)  # noqa: B023
        board = slack.slack.messages[(board.channel, board.ts)]
        file_id = _card_file(board.blocks)
        assert (await slack.store.get_game(PlayerKey("slack", "T1", "U1"))).rounds_played == len(shown)  # type: ignore[union-attr]
        upload = slack.slack.uploaded[file_id]
        assert file_id not in shown and upload.completed and upload.channel_id is None
        assert upload.data.startswith(PNG) and upload.data != slack.slack.uploaded[shown[-1]].data
        shown.append(file_id)
        await until(lambda: slack.slack.uploaded[shown[-2]].deleted)  # noqa: B023
    # The board's card is the one file left: a game does not leave a file per round in the workspace.
    assert [f for f in shown if not slack.slack.uploaded[f].deleted] == [shown[-1]]
    assert all(c.args["file"] in shown[:-1] for c in slack.slack.calls_to("files.delete"))


async def test_the_fake_slack_refuses_image_blocks_slack_would() -> None:
    async with FakeSlackAPI() as fake:
        client = AsyncWebClient(token="xoxb-test", base_url=fake.api_url)
        uploaded = await client.files_upload_v2(content=PNG, filename="card.png")
        file_id = uploaded["files"][0]["id"]
        webp = await client.files_upload_v2(content=b"RIFF\0\0\0\0WEBP", filename="card.webp")
        webp_id = webp["files"][0]["id"]
        good = {"type": "image", "slack_file": {"id": file_id}, "alt_text": "a card"}
        await client.chat_postMessage(channel="C1", text="board", blocks=[good])
        by_url = {
            "type": "image",
            "slack_file": {"url": uploaded["files"][0]["url_private"]},
            "alt_text": "x",
        }
        await client.chat_postMessage(channel="C2", text="board", blocks=[by_url])
        for n, bad in enumerate(
            (
                {"type": "image", "slack_file": {"id": file_id}},
                {"type": "image", "slack_file": {"id": "F_NONE"}, "alt_text": "a card"},
                {"type": "image", "slack_file": {"id": webp_id}, "alt_text": "a WebP Slack will not show"},
                {"type": "image", "slack_file": {"url": "https://example.com/x.png"}, "alt_text": "a card"},
                {
                    "type": "image",
                    "slack_file": {"id": file_id},
                    "image_url": "https://x/y.png",
                    "alt_text": "x",
                },
            )
        ):  # one channel each: chat.postMessage is about 1 a second per channel
            with pytest.raises(SlackApiError, match="invalid_blocks"):
                await client.chat_postMessage(channel=f"CBAD{n}", text="board", blocks=[bad])


# --- console ---


async def test_the_console_saves_a_card_per_round(tmp_path: Path) -> None:
    services = Services(ai=DisabledAI(), store=MemoryStore(), rng=random.Random(3))
    stdin = io.StringIO("/janken rock\n/janken paper\n")
    out = io.StringIO()
    await asyncio.wait_for(console_platform.run(services, stdin, out, images_dir=tmp_path), timeout=10)  # type: ignore[arg-type]
    saved = sorted(tmp_path.glob("janken-*.png"))
    assert [p.name.rsplit("-", 1)[1] for p in saved] == ["1.png", "2.png"]
    assert all(p.read_bytes().startswith(PNG) for p in saved)
    assert all(str(p) in out.getvalue() for p in saved)
    assert battle_card.SIZE == (800, 440)


async def test_slack_shows_the_board_without_its_card_when_slack_refuses_the_card(slack: SlackBot) -> None:
    slack.slack.fail("chat.postMessage", "invalid_blocks", 200, None)  # e.g. a file not processed yet
    await slack.send.slash("/janken", "")
    [board] = await until(lambda: [m for m in slack.slack.messages.values() if m.blocks and not m.deleted])
    assert board.blocks and [b["type"] for b in board.blocks] == ["markdown", "actions"]
    assert not slack.private_messages()
    [refused] = slack.slack.uploaded.values()
    assert refused.deleted  # the card no board shows is not left behind


async def test_slack_shows_the_board_without_its_card_when_the_upload_fails(slack: SlackBot) -> None:
    slack.slack.fail("files.getUploadURLExternal", "internal_error", 200, None)
    await slack.send.slash("/janken", "")
    [board] = await until(lambda: [m for m in slack.slack.messages.values() if m.blocks and not m.deleted])
    assert board.blocks and [b["type"] for b in board.blocks] == ["markdown", "actions"]
