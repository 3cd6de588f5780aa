"""/usage and the logging behind it: each command's tokens and images, the quotas, the price table."""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator

import openai
import pytest

from bot.config import ConfigError, Settings
from core.ai import TRANSCRIBE_MODEL, AIService
from core.messages import text
from core.pricing import Estimate, Price, cost, parse_prices
from core.store.activity import UNRECORDED_MODEL, Usage, month_of
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
    assert month == {"test-chat": entry.usage}


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
    assert set(used) == {"test-chat", "test-image"} and used["test-image"] == Usage(images=1)
    total = Usage.total(used.values())
    assert total.images == 1 and total.tokens_out == 2 * len(fake_openai.chunks)
    assert "/ask 2 of 5, images 1 of 2" in str(shown)
    assert f"{total.tokens_in} tokens in, {total.tokens_out} tokens out, 1 images" in str(shown)
    estimate = cost(used, PRICES, chat_model="test-chat", image_model="test-image")
    assert not estimate.unpriced and f"${estimate.dollars:.2f}" in str(shown)


async def transcribed(services: Services, fake_openai: FakeOpenAI, said: str = "one two three") -> None:
    """Transcribe two seconds of audio: the fake bills 20 tokens in, one out a word."""

    async def fetch(limit: int) -> bytes:
        return wav_bytes(2.0)

    fake_openai.transcript = said
    await TRANSCRIBE(
        TranscribeRequest("memo.wav", "audio/wav", None, fetch), cmd(""), RecordingReply(), services
    )


async def test_each_models_usage_is_priced_at_its_own_price(
    services: Services, fake_openai: FakeOpenAI
) -> None:
    """An /ask at the chat model's price, a /draw at the image model's, a transcription at the
    transcription model's: not all tokens at the chat model's."""
    await run("ask", cmd("What is two plus two?"), services)
    await run("draw", cmd("a red fox"), services)
    await transcribed(services, fake_openai)
    used = await services.store.usage(cmd("").player, month_of(time.time()))
    # the fake counts a request's words as its tokens in ("Be brief." and the question), a chunk as one out
    asked = Usage(tokens_in=2 + 5, tokens_out=len(fake_openai.chunks))
    assert used == {
        "test-chat": asked,
        "test-image": Usage(images=1),
        TRANSCRIBE_MODEL: Usage(tokens_in=20, tokens_out=3),
    }
    prices = {
        "test-chat": Price(10_000.0, 20_000.0),  # a cent a token in, two out
        "test-image": Price(per_image=0.5),
        TRANSCRIBE_MODEL: Price(100_000.0, 200_000.0),  # ten cents a token in, twenty out
    }
    expected = (asked.tokens_in * 0.01 + asked.tokens_out * 0.02) + 0.5 + (20 * 0.10 + 3 * 0.20)
    assert expected == pytest.approx(3.25)  # all tokens at the chat model's price would be $0.91
    services.accounting = Accounting(prices=prices)
    [shown] = (await run("usage", cmd(""), services)).values("private")
    assert "27 tokens in, 7 tokens out, 1 images" in str(shown)  # the month's totals over the models
    assert text("usage_cost", cost=expected) in str(shown) and "$3.25" in str(shown)

    del prices[TRANSCRIBE_MODEL]  # the transcription model unpriced: the report names it
    [shown] = (await run("usage", cmd(""), services)).values("private")
    assert text("usage_cost_unpriced", models=repr(TRANSCRIBE_MODEL)) in str(shown)
    assert "$" not in str(shown)


async def test_usage_from_before_models_were_kept_is_priced_at_the_chat_and_image_models(
    services: Services,
) -> None:
    player, month = cmd("").player, month_of(time.time())
    await services.store.add_usage(player, month, UNRECORDED_MODEL, Usage(tokens_in=30, tokens_out=10, images=2))
    await services.store.add_usage(player, month, "old-chat", Usage(tokens_in=100))  # before a model change
    services.accounting = Accounting(
        prices={
            "test-chat": Price(10_000.0, 20_000.0),
            "test-image": Price(per_image=0.5),
            "old-chat": Price(1_000.0, 0.0),
        }
    )
    [shown] = (await run("usage", cmd(""), services)).values("private")
    assert "130 tokens in, 10 tokens out, 2 images" in str(shown)
    assert "$1.60" in str(shown)  # 30 x 1¢ + 10 x 2¢ + 2 x 50¢, and 100 x 0.1¢ at the old model's price
    services.accounting = Accounting(
        prices={"test-chat": Price(10_000.0, 20_000.0), "old-chat": Price(1_000.0, 0.0)}
    )
    [shown] = (await run("usage", cmd(""), services)).values("private")
    assert text("usage_cost_unpriced", models="'test-image'") in str(shown)  # the old images' model


async def test_unlimited_quotas_and_unpriced_models_say_so(ai: AIService, fake_openai: FakeOpenAI) -> None:
    services = Services(ai=ai, store=MemoryStore())
    await run("ask", cmd("hello"), services)
    [shown] = (await run("usage", cmd(""), services)).values("private")
    assert "of unlimited" in str(shown) and text("usage_cost_unpriced", models="'test-chat'") in str(shown)
    assert "1 of unlimited" in str(shown)  # today's questions are counted without a quota too


async def test_a_transcription_counts_in_usage_but_not_in_history(
    services: Services, fake_openai: FakeOpenAI
) -> None:
    """Transcription tokens go into the month's totals (and so the estimate), as the transcription
    model's; a duration-billed model reports no tokens, so adds none; the log keeps /ask, /draw and
    janken only."""
    await transcribed(services, fake_openai)
    player = cmd("").player
    used = await services.store.usage(player, month_of(time.time()))
    assert used == {TRANSCRIBE_MODEL: Usage(tokens_in=20, tokens_out=3)}  # 10 audio tokens a second
    services.accounting = Accounting(prices={TRANSCRIBE_MODEL: Price(50_000.0, 100_000.0)})
    [shown] = (await run("usage", cmd(""), services)).values("private")
    assert "20 tokens in, 3 tokens out, 0 images" in str(shown) and "$1.30" in str(shown)
    assert await services.store.count_entries(player, keep=3600) == 0
    async with openai.AsyncOpenAI(api_key="k", base_url=fake_openai.url, max_retries=0) as client:
        services.ai = AIService(
            client, chat_model="c", image_model="i", system_prompt="s", transcribe_model="whisper-1"
        )
        await transcribed(services, fake_openai)
    assert await services.store.usage(player, month_of(time.time())) == used


async def test_a_finished_janken_game_is_logged(services: Services) -> None:
    for n in range(20):
        await run("janken", cmd("rock", request_id=f"r{n}"), services)
    logged = await services.store.entries(cmd("").player, offset=0, limit=50, keep=3600)
    assert logged and {entry.command for entry in logged} == {"janken"}
    assert all(entry.answer.startswith(("Won", "Lost")) for entry in logged)


def test_prices_are_read_and_bad_ones_stop_start_up() -> None:
    assert parse_prices("a=0.25/2, img=0.04/image") == {"a": Price(0.25, 2.0), "img": Price(per_image=0.04)}
    prices = parse_prices("a=1/2,i=0.5/image,b=10/20")
    million = {"a": Usage(1_000_000, 500_000), "i": Usage(images=3)}
    assert cost(million, prices, chat_model="b", image_model="b") == Estimate(3.5)
    old = {UNRECORDED_MODEL: Usage(1_000_000, 500_000, 3)}
    assert cost(old, prices, chat_model="a", image_model="i") == Estimate(3.5)
    assert cost(old | {"b": Usage(0, 100_000)}, prices, chat_model="a", image_model="i") == Estimate(5.5)
    assert cost({}, {}, chat_model="a", image_model="i") == Estimate(0.0)
    unpriced = {"x": Usage(images=1), "a": Usage(1_000_000), "w": Usage(1), "idle": Usage()}
    assert cost(unpriced, prices, chat_model="a", image_model="i") == Estimate(1.0, ("w", "x"))
    assert cost(old, {"i": Price(per_image=1)}, chat_model="c", image_model="i") == Estimate(3.0, ("c",))
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
