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


async def test_a_429_is_waited_out_and_the_answer_still_lands_complete(bot: SlackBot) -> None:
    bot.openai.chunks, bot.openai.chunk_delay = ANSWER, 0.01
    bot.slack.fail("chat.postMessage", retry_after=1, times=2)  # the question's post meets two 429s
    await bot.send.slash("/ask", "hi")
    await until(lambda: answer_in(bot, "C1") == WHOLE, timeout=15)
    assert bot.private_messages() == []


async def test_slack_refusing_for_longer_than_the_deadline_tells_the_asker_privately() -> None:
    async for bot in start_bot(give_up_after=2):
        bot.slack.fail("chat.postMessage", retry_after=5, times=None)
        await bot.send.slash("/ask", "hi")
        [told] = await until(bot.private_messages)
        assert "too busy" in told.args["text"] and told.args["response_type"] == "ephemeral"
        assert not [
            c for c in bot.slack.calls if c.method.startswith("chat.") and not c.failed
        ]  # no half-post


def test_the_bots_limits_agree_with_the_fakes_reading_of_slacks_docs() -> None:
    """Two tables written apart (the bot's pacer, the fake's enforcement) must say the same."""
    from bot.slack_app.limits import SLACK_LIMITS
    from tests.fakes.slack_limits import RATE_LIMITS

    assert set(RATE_LIMITS) <= set(SLACK_LIMITS)
    for method, limit in RATE_LIMITS.items():
        ours = SLACK_LIMITS[method]
        assert (ours.calls, ours.seconds, ours.per_channel) == (limit.calls, limit.seconds, limit.per_channel)
