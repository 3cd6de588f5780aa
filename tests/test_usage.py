"""/usage and the logging behind it: each command's tokens and images, the quotas, the price table."""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator

import openai
import pytest

from bot.config import ConfigError, Settings
from core.ai import AIService
from core.catalogues import en
from core.pricing import Price, cost, parse_prices
from core.store.history import Usage, month_of
from core.store.memory import MemoryStore
from handlers.port import Accounting, Limits, Services
from handlers.registry import TRANSCRIBE
from handlers.transcribe import TranscribeRequest
from tests.discord_harness import openai_services, running
from tests.fakes.discord_api import FakeDiscordAPI
from tests.fakes.discord_state import CHANNEL_ID
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.recording_reply import RecordingReply, cmd, run
from tests.fakes.slack_client import until
from tests.slack_harness import SlackBot, start_bot
from tests.test_transcription import wav_bytes

PRICES = {"test-chat": Price(1.0, 2.0), "test-image": Price(per_image=0.5)}


@pytest.fixture
def services(ai: AIService) -> Services:
    return Services(
        ai=ai,
        store=MemoryStore(),
        rng=random.Random(3),
        limits=Limits(quota_ask_per_day=5, quota_draw_per_day=2),
        accounting=Accounting(prices=PRICES),
    )


async def test_an_answer_asks_for_usage_and_logs_its_tokens(
    services: Services, fake_openai: FakeOpenAI
) -> None:
    await run("ask", cmd("What is two plus two?"), services)
    [call] = fake_openai.calls("chat")
    assert call.body["stream_options"] == {"include_usage": True}
    [entry] = await services.store.entries(cmd("").player, offset=0, limit=5, keep=3600)
    assert (entry.command, entry.prompt, entry.model) == ("ask", "What is two plus two?", "test-chat")
    assert entry.answer == "".join(fake_openai.chunks)
    assert entry.usage.tokens_in > 0 and entry.usage.tokens_out == len(fake_openai.chunks)
    month = await services.store.usage(cmd("").player, month_of(entry.time))
    assert month == entry.usage


async def test_usage_after_a_few_commands(services: Services, fake_openai: FakeOpenAI) -> None:
    await run("ask", cmd("one"), services)
    await run("ask", cmd("two"), services)
    await run("draw", cmd("a red fox"), services)
    [shown] = (await run("usage", cmd(""), services)).values("private")
    player = cmd("").player
    [drawn, *_] = await services.store.entries(player, offset=0, limit=5, keep=3600)
    assert (drawn.command, drawn.answer, drawn.model, drawn.usage) == (
        "draw",
        "image-1",
        "test-image",
        Usage(images=1),
    )
    used = await services.store.usage(player, month_of(drawn.time))
    assert used.images == 1 and used.tokens_out == 2 * len(fake_openai.chunks)
    assert "/ask 2 of 5, images 1 of 2" in str(shown)
    assert f"{used.tokens_in} tokens in, {used.tokens_out} tokens out, 1 images" in str(shown)
    dollars = cost(used, PRICES, chat_model="test-chat", image_model="test-image")
    assert dollars is not None and f"${dollars:.2f}" in str(shown)


async def test_unlimited_quotas_and_unpriced_models_say_so(ai: AIService, fake_openai: FakeOpenAI) -> None:
    services = Services(ai=ai, store=MemoryStore())
    await run("ask", cmd("hello"), services)
    [shown] = (await run("usage", cmd(""), services)).values("private")
    assert "of unlimited" in str(shown) and en.MESSAGES["usage_cost_unknown"] in str(shown)
    assert "1 of unlimited" in str(shown)  # today's questions are counted without a quota too


async def test_a_transcription_counts_in_usage_but_not_in_history(
    services: Services, fake_openai: FakeOpenAI
) -> None:
    """Transcription tokens go into the month's totals (and so the estimate); a duration-billed
    model reports no tokens, so adds none; the log keeps /ask, /draw and janken only."""

    async def fetch(limit: int) -> bytes:
        return wav_bytes(2.0)

    request = TranscribeRequest("memo.wav", "audio/wav", None, fetch)
    fake_openai.transcript = "one two three"
    await TRANSCRIBE(request, cmd(""), RecordingReply(), services)
    player = cmd("").player
    used = await services.store.usage(player, month_of(time.time()))
    assert used == Usage(tokens_in=20, tokens_out=3)  # the fake's 10 audio tokens a second, one a word
    services.accounting = Accounting(prices={"test-chat": Price(50_000.0, 100_000.0)})
    [shown] = (await run("usage", cmd(""), services)).values("private")
    assert "20 tokens in, 3 tokens out, 0 images" in str(shown) and "$1.30" in str(shown)
    assert await services.store.count_entries(player, keep=3600) == 0
    async with openai.AsyncOpenAI(api_key="k", base_url=fake_openai.url, max_retries=0) as client:
        services.ai = AIService(
            client, chat_model="c", image_model="i", system_prompt="s", transcribe_model="whisper-1"
        )
        await TRANSCRIBE(request, cmd(""), RecordingReply(), services)
    assert await services.store.usage(player, month_of(time.time())) == used


async def test_a_finished_janken_game_is_logged(services: Services) -> None:
    for n in range(20):
        await run("janken", cmd("rock", request_id=f"r{n}"), services)
    logged = await services.store.entries(cmd("").player, offset=0, limit=50, keep=3600)
    assert logged and {entry.command for entry in logged} == {"janken"}
    assert all(entry.answer.startswith(("Won", "Lost")) for entry in logged)


def test_prices_are_read_and_bad_ones_stop_start_up() -> None:
    assert parse_prices("a=0.25/2, img=0.04/image") == {"a": Price(0.25, 2.0), "img": Price(per_image=0.04)}
    assert (
        cost(Usage(1_000_000, 500_000, 3), parse_prices("a=1/2,i=0.5/image"), chat_model="a", image_model="i")
        == 3.5
    )
    assert cost(Usage(images=1), {}, chat_model="a", image_model="i") is None
    assert Settings.from_env({"OPENAI_PRICES": "m=1/2"}, dotenv_path=None).openai_prices == {
        "m": Price(1.0, 2.0)
    }
    assert Settings.from_env({"HISTORY_DAYS": "7"}, dotenv_path=None).history_days == 7
    for bad in ("m=1", "m=x/2", "=1/2", "m=-1/2", "m=1/image/3"):
        with pytest.raises(ConfigError, match="OPENAI_PRICES"):
            Settings.from_env({"OPENAI_PRICES": bad}, dotenv_path=None)
    with pytest.raises(ConfigError, match="HISTORY_DAYS"):
        Settings.from_env({"HISTORY_DAYS": "0"}, dotenv_path=None)


@pytest.fixture
async def slack_bot() -> AsyncIterator[SlackBot]:
    async for running_bot in start_bot():
        yield running_bot


async def test_usage_through_slack(slack_bot: SlackBot) -> None:
    bot = slack_bot
    bot.services.accounting = Accounting(prices={"m": Price(1.0, 1.0)})
    await bot.send.slash("/ask", "hello there")
    await until(lambda: bot.answers())
    await bot.send.slash("/usage", "")
    shown = await until(lambda: [c.args["text"] for c in bot.private_messages()])
    assert "This month" in shown[-1] and "Estimated cost" in shown[-1]


async def test_usage_through_discord(monkeypatch: pytest.MonkeyPatch) -> None:
    async with FakeDiscordAPI() as fake, FakeOpenAI() as fake_ai:
        fake.patch_discord(monkeypatch)
        async with openai_services(fake_ai, MemoryStore()) as services, running(fake, services):
            services.accounting = Accounting(prices={"m": Price(1.0, 1.0)})
            await fake.dispatch("INTERACTION_CREATE", fake.slash_command("ask", {"question": "hello?"}))
            await until(lambda: fake_ai.calls("chat"))
            await fake.dispatch("INTERACTION_CREATE", fake.slash_command("usage", {}))
            shown = await until(
                lambda: [
                    m.content
                    for m in fake.channel_messages(CHANNEL_ID)
                    if m.ephemeral and "This month" in m.content
                ]
            )
    assert "Estimated cost" in shown[0] and "1 of unlimited" in shown[0]
