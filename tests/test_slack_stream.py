"""The streamer against the fake Slack API, with budgets set to make a turn wait."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack_ratelimit import POST, SlackPacer
from bot.slack_stream import SlackStreamer, StreamTarget
from bot.throttle import EditBudget
from tests.fakes.slack_api import FakeSlackAPI

PARTS = [f"part {i} of the answer. " for i in range(5)]
TARGET = StreamTarget(team="T1", channel="C1", thread_ts="1.000001", user="U1")
EDITS = {True: "chat.appendStream", False: "chat.update"}


async def deltas(delay: float) -> AsyncIterator[str]:
    for part in PARTS:
        await asyncio.sleep(delay)
        yield part


async def stream(
    native: bool, budgets: dict[str, float], *, delay: float, taken: str | None = None
) -> FakeSlackAPI:
    """Stream PARTS into TARGET's thread; ``taken`` uses up that budget's one turn first."""
    async with FakeSlackAPI() as slack, aiohttp.ClientSession() as session:
        per_minute = {POST: 6000.0, "chat.update": 6000.0, "chat.appendStream": 6000.0, **budgets}
        pacer = SlackPacer({m: EditBudget(rate, burst=1) for m, rate in per_minute.items()}, min_interval=0)
        client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url, session=session)
        if taken is not None:
            await pacer.budgets[taken].acquire(
                (TARGET.team, TARGET.channel) if taken == POST else TARGET.team
            )
        await asyncio.wait_for(SlackStreamer(client, pacer, native=native).stream(TARGET, deltas(delay)), 5)
    return slack


@pytest.mark.parametrize("native", [True, False])
async def test_a_message_that_waited_for_its_post_turn_opens_with_the_text_by_then(native: bool) -> None:
    slack = await stream(native, {POST: 120}, delay=0.01, taken=POST)  # the post waits 0.5 s
    [message] = [m for m in slack.messages.values() if m.thread_ts == TARGET.thread_ts]
    assert message.text == "".join(PARTS) and not message.streaming
    opened, field = ("chat.startStream", "markdown_text") if native else ("chat.postMessage", "text")
    assert slack.calls_to(opened)[0].args[field] == "".join(PARTS)  # the whole answer, in the first call
    assert slack.calls_to(EDITS[native]) == []


async def test_a_finished_native_stream_stops_without_waiting_for_an_edit_turn() -> None:
    slack = await stream(True, {"chat.appendStream": 1}, delay=0.1)  # one append, then a minute's wait
    [message] = [m for m in slack.messages.values() if m.thread_ts == TARGET.thread_ts]
    assert message.text == "".join(PARTS) and not message.streaming
    assert len(slack.calls_to("chat.appendStream")) <= 1
