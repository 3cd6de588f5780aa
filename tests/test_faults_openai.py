"""OpenAI failing under the bot, on every platform: what the person who asked sees.

Each fault is provoked through the fake OpenAI server (or a closed port): a 429, a
5xx, a timeout, a refused connection, a stream broken or cut mid-answer. The SDK
retries a bounded number of times (the fake counts the calls), then the asker gets
one clear private sentence from the catalogue and nothing half-posted is left
without explanation. Existing cases not repeated here: a 429 with no retries on
Slack /ask and on the console (tests/test_slack_app.py, tests/test_console.py), a
refused drawing (safety system) on Slack and the console.
"""

from __future__ import annotations

import contextlib
import io
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest

from bot.slack_app.limits import SlackPacer
from core.ai import AIService
from core.messages import text
from core.store.memory import MemoryStore
from handlers.port import Services
from tests.discord_harness import running
from tests.fakes.discord_api import FakeDiscordAPI
from tests.fakes.discord_state import CHANNEL_ID, Message
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.slack_client import mention, until
from tests.slack_harness import SlackBot, serving
from tests.test_console import console, run_console

RETRIES = 1
"""The SDK's retries in these tests: one, so its backoff (about half a second) is paid once."""
TIMEOUT = 0.2
"""A short OPENAI_TIMEOUT; the fake then waits ``SLOW`` before answering."""
SLOW = 0.6

RATE_LIMITED = text("rate_limited")
UNAVAILABLE = text("ai_unavailable")
INTERRUPTED = text("answer_interrupted", reason=UNAVAILABLE)

FAULTS = ["rate_limit", "server", "timeout", "refused"]
"""429, 500, no answer within the timeout, nothing listening at OPENAI_BASE_URL."""
SAYS = {"rate_limit": RATE_LIMITED, "server": UNAVAILABLE, "timeout": UNAVAILABLE, "refused": UNAVAILABLE}


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # closed again: a connection there is refused


def provoke(fake: FakeOpenAI, fault: str, endpoint: str) -> str:
    """Make every call to ``endpoint`` fail with ``fault``; the base URL the client must use."""
    if fault == "refused":
        return f"http://127.0.0.1:{closed_port()}/v1"
    if fault == "timeout":
        fake.delay = SLOW
    else:
        fake.fail(endpoint, fault, times=1 + RETRIES)
    return fake.url


def assert_retried(fake: FakeOpenAI, fault: str, endpoint: str) -> None:
    """The SDK tried once plus its retries, and no more (a refused port has no one to count)."""
    expected = 0 if fault == "refused" else 1 + RETRIES
    assert len(fake.calls(endpoint)) == expected


@contextlib.asynccontextmanager
async def client(base_url: str) -> AsyncIterator[AIService]:
    """The real service, retrying ``RETRIES`` times, each call bounded by ``TIMEOUT``."""
    async with openai.AsyncOpenAI(
        api_key="sk-test", base_url=base_url, max_retries=RETRIES, timeout=TIMEOUT
    ) as oai:
        yield AIService(oai, chat_model="m", image_model="i", system_prompt="s")


@contextlib.asynccontextmanager
async def slack_bot(fake_ai: FakeOpenAI, base_url: str, *, native: bool = True) -> AsyncIterator[SlackBot]:
    """The Slack app over HTTP, as tests/slack_harness.py runs it, on an OpenAI client that retries."""
    async with FakeSlackAPI() as slack, aiohttp.ClientSession() as session, client(base_url) as ai:
        pacer = SlackPacer(min_interval=0.05)
        async with serving(ai, slack, fake_ai, session, pacer, native=native, drain=True) as bot:
            yield bot  # every answer settled before the fakes go


async def settled(bot: SlackBot) -> None:
    """Wait until the bot has told the asker something privately."""
    await until(bot.private_messages, timeout=10)


def visible(bot: SlackBot) -> list[str]:
    """The bot's messages still in the channel (not deleted)."""
    return [m.text for m in bot.slack.messages.values() if not m.deleted]


# ----- Slack ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", FAULTS)
async def test_slack_ask_retries_then_tells_the_asker_and_leaves_no_thread(fault: str) -> None:
    async with FakeOpenAI() as fake_ai:
        url = provoke(fake_ai, fault, "chat")
        async with slack_bot(fake_ai, url) as bot:
            status, _ = await bot.send.slash("/ask", "hello?")
            assert status == 200
            await settled(bot)
            [told] = bot.private_messages()
            assert told.args["text"] == SAYS[fault] and told.args["response_type"] == "ephemeral"
            await until(
                lambda: [c for c in bot.slack.calls_to("response_url") if c.args.get("delete_original")]
            )
        assert_retried(fake_ai, fault, "chat")
        assert visible(bot) == []  # no question posted as an empty thread's root
        assert bot.slack.calls_to("chat.postMessage") == [] and bot.slack.calls_to("chat.startStream") == []


@pytest.mark.parametrize("fault", FAULTS)
async def test_slack_draw_retries_then_tells_the_asker_and_removes_its_progress_note(fault: str) -> None:
    async with FakeOpenAI() as fake_ai:
        url = provoke(fake_ai, fault, "images")
        async with slack_bot(fake_ai, url) as bot:
            await bot.send.slash("/draw", "a lighthouse")
            await settled(bot)
            [told] = bot.private_messages()
            assert told.args["text"] == SAYS[fault] and told.args["response_type"] == "ephemeral"
            await until(lambda: bot.slack.calls_to("chat.delete"))
        assert_retried(fake_ai, fault, "images")
        [note] = [m for m in bot.slack.messages.values() if "Drawing" in m.text]
        assert note.deleted and visible(bot) == [] and bot.slack.uploaded == {}


async def test_slack_a_failed_mention_is_answered_ephemerally_in_its_thread() -> None:
    async with FakeOpenAI() as fake_ai:
        url = provoke(fake_ai, "server", "chat")
        async with slack_bot(fake_ai, url) as bot:
            await bot.send.event(mention())  # no response_url: the note goes by chat.postEphemeral
            [told] = await until(lambda: bot.slack.calls_to("chat.postEphemeral"), timeout=10)
        assert (told.args["text"], told.args["user"], told.args["thread_ts"]) == (UNAVAILABLE, "U1", "1.5")
        assert_retried(fake_ai, "server", "chat")
        assert visible(bot) == []


@pytest.mark.parametrize(("cut", "native"), [("break", True), ("cut", False)])
async def test_slack_a_stream_broken_midway_keeps_what_arrived_and_ends_with_a_note(
    cut: str, native: bool
) -> None:
    async with FakeOpenAI() as fake_ai:
        fake_ai.chunks = ["The first part. ", "The second part. ", "Never sent."]
        fake_ai.chunk_delay = 0.05
        if cut == "break":
            fake_ai.break_stream_after(2)  # an error event in the stream
        else:
            fake_ai.cut_stream_after(2)  # the connection dropped mid-event
        async with slack_bot(fake_ai, fake_ai.url, native=native) as bot:
            await bot.send.slash("/ask", "tell me")
            await settled(bot)
            [answer] = await until(bot.answers)
        assert answer.text.startswith("The first part. The second part.")
        assert INTERRUPTED in answer.text and "Never sent" not in answer.text
        assert [m.args["text"] for m in bot.private_messages()] == [UNAVAILABLE]
        assert len(fake_ai.calls("chat")) == 1  # a stream that began is not asked again


# ----- Discord -------------------------------------------------------------------------------------


def discord_private(fake: FakeDiscordAPI) -> list[Message]:
    return [m for m in fake.channel_messages(CHANNEL_ID) if m.ephemeral]


def discord_visible(fake: FakeDiscordAPI) -> list[str]:
    return [m.content for m in fake.channel_messages(CHANNEL_ID) if not m.ephemeral]


@contextlib.asynccontextmanager
async def discord_bot(monkeypatch: pytest.MonkeyPatch, base_url: str) -> AsyncIterator[FakeDiscordAPI]:
    async with FakeDiscordAPI() as fake, client(base_url) as ai:
        fake.patch_discord(monkeypatch)
        async with running(fake, Services(ai=ai, store=MemoryStore())):
            yield fake


@pytest.mark.parametrize(
    ("command", "endpoint", "fault"),
    [
        ("ask", "chat", "rate_limit"),
        ("ask", "chat", "timeout"),
        ("draw", "images", "server"),
        ("draw", "images", "refused"),
    ],
)
async def test_discord_retries_then_tells_the_asker_privately_and_leaves_nothing_visible(
    monkeypatch: pytest.MonkeyPatch, command: str, endpoint: str, fault: str
) -> None:
    options: dict[str, Any] = {"question": "hello?"} if command == "ask" else {"prompt": "a red fox"}
    async with FakeOpenAI() as fake_ai:
        url = provoke(fake_ai, fault, endpoint)
        async with discord_bot(monkeypatch, url) as fake:
            await fake.dispatch("INTERACTION_CREATE", fake.slash_command(command, options))
            [told] = await until(lambda: discord_private(fake), timeout=10)
            assert told.content == SAYS[fault]
            assert discord_visible(fake) == []  # no "thinking…", no "⏳ Drawing…" left behind
        assert_retried(fake_ai, fault, endpoint)


@pytest.mark.parametrize("cut", ["break", "cut"])
async def test_discord_a_stream_broken_midway_keeps_what_arrived_and_ends_with_a_note(
    monkeypatch: pytest.MonkeyPatch, cut: str
) -> None:
    async with FakeOpenAI() as fake_ai:
        fake_ai.chunks = ["The first part. ", "The second part. ", "Never sent."]
        fake_ai.chunk_delay = 0.05
        if cut == "break":
            fake_ai.break_stream_after(2)
        else:
            fake_ai.cut_stream_after(2)
        async with discord_bot(monkeypatch, fake_ai.url) as fake:
            await fake.dispatch("INTERACTION_CREATE", fake.slash_command("ask", {"question": "tell me"}))
            [told] = await until(lambda: discord_private(fake), timeout=10)
            [answer] = discord_visible(fake)
        assert answer.startswith("The first part. The second part.")
        assert INTERRUPTED in answer and "Never sent" not in answer
        assert told.content == UNAVAILABLE and len(fake_ai.calls("chat")) == 1


# ----- console -------------------------------------------------------------------------------------


async def test_console_retries_a_slow_openai_then_prints_one_clear_line(tmp_path: Path) -> None:
    async with FakeOpenAI() as fake_ai:
        fake_ai.delay = SLOW
        code, out, err = await console(
            ["/ask hello?", "/janken rock"],
            tmp_path,
            STORE_URL="memory://",
            OPENAI_API_KEY="sk-test",
            OPENAI_BASE_URL=fake_ai.url,
            OPENAI_TIMEOUT=str(TIMEOUT),
            OPENAI_MAX_RETRIES=str(RETRIES),
        )
    assert code == 0 and "Traceback" not in out + err
    assert out.splitlines()[0] == UNAVAILABLE  # the one line, then the session went on
    assert "rock" in out.splitlines()[1]
    assert len(fake_ai.calls("chat")) == 1 + RETRIES


async def test_console_a_refused_connection_prints_one_clear_line(tmp_path: Path) -> None:
    async with client(f"http://127.0.0.1:{closed_port()}/v1") as ai:
        out = await run_console(
            Services(ai=ai, store=MemoryStore()), io.StringIO("/draw a lighthouse\n"), tmp_path
        )
    *before, last = out.splitlines()
    assert last == UNAVAILABLE and set(before) <= {text("drawing", prompt="a lighthouse")}
    assert list(tmp_path.iterdir()) == []  # no image saved


@pytest.mark.parametrize("cut", ["break", "cut"])
async def test_console_a_stream_broken_midway_keeps_what_arrived_and_ends_with_a_note(
    tmp_path: Path, cut: str
) -> None:
    async with FakeOpenAI() as fake_ai, client(fake_ai.url) as ai:
        fake_ai.chunks = ["The first part. ", "The second part. ", "Never sent."]
        if cut == "break":
            fake_ai.break_stream_after(2)
        else:
            fake_ai.cut_stream_after(2)
        stdin = io.StringIO("/ask tell me\n/janken rock\n")
        out = await run_console(Services(ai=ai, store=MemoryStore()), stdin, tmp_path)
    lines = out.splitlines()
    assert lines[:2] == ["The first part. The second part. ", INTERRUPTED]  # said once, not twice
    assert "rock" in lines[2]  # the session went on
    assert len(fake_ai.calls("chat")) == 1
