"""A busy workspace under Slack's real limits: the fake Slack enforces every tier, the bot paces to them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.fakes.slack_client import until
from tests.slack_harness import SlackBot, start_bot

ASKERS = 20
ANSWER = [f"word{i} " for i in range(20)]  # about one second of streaming
WHOLE = "".join(ANSWER)


def first_text_in(bot: SlackBot, channel: str) -> str:
    """The first piece of the answer that became visible in ``channel``'s thread."""
    for call in bot.slack.calls:
        if call.failed or call.args.get("channel") != channel or not call.args.get("thread_ts"):
            continue
        if call.method in ("chat.startStream", "chat.postMessage"):
            return str(call.args.get("markdown_text") or call.args.get("text") or "")
    return ""


def answer_in(bot: SlackBot, channel: str) -> str:
    return "".join(m.text for m in bot.answers() if m.channel == channel)


@pytest.fixture
async def bot() -> AsyncIterator[SlackBot]:
    async for running in start_bot(min_interval=1.0):  # edits spaced as in production
        yield running


async def test_twenty_asks_at_once_in_one_workspace_all_stream_and_complete_without_a_429(
    bot: SlackBot,
) -> None:
    bot.openai.chunks, bot.openai.chunk_delay = ANSWER, 0.05
    channels = [f"C{i}" for i in range(ASKERS)]
    asks = [bot.send.slash("/ask", "hi", user=f"U{i}", channel_id=c) for i, c in enumerate(channels)]
    assert {status for status, _ in await asyncio.gather(*asks)} == {200}

    await until(lambda: all(answer_in(bot, c) == WHOLE for c in channels), timeout=30)
    assert [c for c in bot.slack.calls if c.error == "ratelimited"] == []
    for channel in channels:
        first = first_text_in(bot, channel)
        assert first and WHOLE.startswith(first) and first != WHOLE, channel  # part before the whole
    assert not [m for m in bot.slack.messages.values() if m.streaming]
