"""The streamer against the fake Slack API (Slack's limits on), with budgets set to make turns scarce."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping

import aiohttp
import pytest

from bot.slack_app.limits import SLACK_LIMITS, Limit, PacedWebClient, SlackPacer
from bot.slack_app.live_message import StreamTarget
from bot.slack_app.stream import SlackStreamer
from core.errors import RateLimited
from tests.fakes.slack_api import FakeSlackAPI

PARTS = [f"part {i} of the answer. " for i in range(5)]
WHOLE = "".join(PARTS)
TARGET = StreamTarget(team="T1", channel="C1", thread_ts="1.000001", user="U1")
EDITS = {True: "chat.appendStream", False: "chat.update"}


async def deltas(delay: float) -> AsyncIterator[str]:
    for part in PARTS:
        await asyncio.sleep(delay)
        yield part


async def stream(
    slack: FakeSlackAPI,
    native: bool = True,
    limits: Mapping[str, Limit] | None = None,
    *,
    delay: float = 0.02,
    taken: tuple[str, ...] = (),
) -> None:
    """Stream PARTS into TARGET's thread; ``taken`` uses up one turn of each of those methods first."""
    async with aiohttp.ClientSession() as session:
        pacer = SlackPacer({**SLACK_LIMITS, **(limits or {})}, min_interval=0)
        client = PacedWebClient(pacer=pacer, token="xoxb-test", base_url=slack.api_url, session=session)
        for method in taken:
            await pacer.turn(method, TARGET.channel)
        await asyncio.wait_for(SlackStreamer(client, pacer, native=native).stream(TARGET, deltas(delay)), 10)


def thread(slack: FakeSlackAPI) -> list[str]:
    return [m.text for m in slack.messages.values() if m.thread_ts == TARGET.thread_ts and not m.deleted]


@pytest.mark.parametrize("native", [True, False])
async def test_an_answer_complete_by_its_post_turn_is_posted_whole(native: bool) -> None:
    busy = {"chat.postMessage": Limit(1, 0.5, per_channel=True), "chat.startStream": Limit(1, 60)}
    async with FakeSlackAPI() as slack:
        await stream(slack, native, busy, taken=("chat.postMessage", "chat.startStream"))
        assert slack.calls_to("chat.postMessage")[0].args["markdown_text"] == WHOLE  # waited 0.5 s, then whole
        assert slack.calls_to("chat.update") == slack.calls_to("chat.startStream") == []
        assert thread(slack) == [WHOLE]


async def test_with_no_stream_turn_free_an_answer_streams_by_post_and_update() -> None:
    async with FakeSlackAPI() as slack:
        await stream(slack, limits={"chat.startStream": Limit(1, 60)}, taken=("chat.startStream",))
        assert slack.calls_to("chat.startStream") == []
        first = slack.calls_to("chat.postMessage")[0].args["markdown_text"]
        assert first and WHOLE.startswith(first) and first != WHOLE  # shown in part before the whole
        assert thread(slack) == [WHOLE]


async def test_a_posted_and_edited_answer_keeps_markdown_bold_next_to_japanese() -> None:
    """Old mrkdwn shows ``*太字*`` with its asterisks; ``markdown_text`` renders ``**太字**`` bold."""
    parts = ["これは", "**太字**", "です。<!here> ", "**終わり**"]

    async def japanese() -> AsyncIterator[str]:
        for part in parts:
            await asyncio.sleep(0.3)
            yield part

    async with FakeSlackAPI() as slack, aiohttp.ClientSession() as session:
        pacer = SlackPacer(SLACK_LIMITS, min_interval=0)
        client = PacedWebClient(pacer=pacer, token="xoxb-test", base_url=slack.api_url, session=session)
        await SlackStreamer(client, pacer, native=False).stream(TARGET, japanese())
        calls = slack.calls_to("chat.postMessage") + slack.calls_to("chat.update")
        assert len(calls) >= 2 and all("text" not in c.args and c.args["markdown_text"] for c in calls)
        [answer] = thread(slack)
        assert answer.startswith("これは**太字**です。") and answer.endswith("**終わり**")
        assert "<!here>" not in answer  # still no ping


async def test_without_room_to_stop_a_stream_none_is_started() -> None:
    async with FakeSlackAPI() as slack:
        await stream(slack, limits={"chat.stopStream": Limit(1, 60)}, taken=("chat.stopStream",))
        assert slack.calls_to("chat.startStream") == [] and thread(slack) == [WHOLE]


async def test_a_finished_native_stream_stops_without_waiting_for_an_append_turn() -> None:
    async with FakeSlackAPI() as slack:
        await stream(slack, limits={"chat.appendStream": Limit(1, 60)}, delay=0.1)
        [message] = [m for m in slack.messages.values() if m.thread_ts == TARGET.thread_ts]
        assert message.text == WHOLE and not message.streaming
        assert len(slack.calls_to("chat.appendStream")) <= 1


async def test_a_stream_slack_will_not_stop_still_shows_the_whole_answer() -> None:
    async with FakeSlackAPI() as slack:
        slack.fail("chat.stopStream", "internal_error", status=200, retry_after=None, times=None)
        await stream(slack, delay=0.05)
        assert "".join(thread(slack)) == WHOLE  # the rest came as a message of its own
        assert len(thread(slack)) == 2


async def test_a_429_is_waited_out_and_the_call_made_again() -> None:
    async with FakeSlackAPI() as slack, aiohttp.ClientSession() as session:
        slack.fail("chat.postMessage", retry_after=1, times=2)
        client = PacedWebClient(
            pacer=SlackPacer(), token="xoxb-test", base_url=slack.api_url, session=session
        )
        posted = await client.chat_postMessage(channel="C1", text="hello")
        assert posted["ok"] and [c.failed for c in slack.calls_to("chat.postMessage")] == [True, True, False]
        times = [c.time for c in slack.calls_to("chat.postMessage")]
        assert times[2] - times[0] >= 2  # Retry-After was obeyed each time


async def test_a_429_past_the_deadline_becomes_our_rate_limited_error() -> None:
    async with FakeSlackAPI() as slack, aiohttp.ClientSession() as session:
        slack.fail("chat.update", retry_after=30, times=None)
        client = PacedWebClient(
            pacer=SlackPacer(give_up_after=5), token="xoxb-test", base_url=slack.api_url, session=session
        )
        with pytest.raises(RateLimited, match="too busy"):
            await asyncio.wait_for(client.chat_update(channel="C1", ts="1.1", text="x"), 2)
        assert len(slack.calls_to("chat.update")) == 1


@pytest.mark.parametrize(
    ("native", "answer"),
    [(True, "x <@U1> " * 1600), (False, "a <b> & c " * 500)],  # escaped, each is far over its limit
)
async def test_text_that_grows_when_escaped_is_cut_into_messages_slack_accepts(
    native: bool, answer: str
) -> None:
    async with FakeSlackAPI() as slack, aiohttp.ClientSession() as session:
        pacer = SlackPacer(min_interval=0)
        client = PacedWebClient(pacer=pacer, token="xoxb-test", base_url=slack.api_url, session=session)

        async def arriving() -> AsyncIterator[str]:  # natively in one big piece, else in small ones
            for start in range(0, len(answer), len(answer) if native else 500):
                yield answer[start : start + (len(answer) if native else 500)]
                await asyncio.sleep(0.02)
            yield "the end"

        await asyncio.wait_for(SlackStreamer(client, pacer, native=native).stream(TARGET, arriving()), 30)
    assert [c for c in slack.calls if c.failed] == []
    assert len(thread(slack)) >= 2
    shown = "".join(thread(slack)).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    assert "".join(shown.replace("\u2060", "").split()) == "".join((answer + "the end").split())


async def test_a_turn_that_does_not_come_in_time_gives_up_and_frees_its_slot() -> None:
    pacer = SlackPacer({"chat.update": Limit(1, 60)}, give_up_after=0.2)
    await pacer.turn("chat.update")
    with pytest.raises(RateLimited, match="too busy"):
        await pacer.turn("chat.update")  # the next turn is a minute away
    assert pacer.budget("chat.update").reserve(None) == pytest.approx(60.6, abs=1)  # not two minutes


async def test_an_absurd_retry_after_holds_a_method_no_longer_than_the_deadline() -> None:
    async with FakeSlackAPI() as slack, aiohttp.ClientSession() as session:
        slack.fail("chat.update", retry_after=10**9, times=None)
        pacer = SlackPacer(give_up_after=3)
        client = PacedWebClient(pacer=pacer, token="xoxb-test", base_url=slack.api_url, session=session)
        with pytest.raises(RateLimited):
            await asyncio.wait_for(client.chat_update(channel="C1", ts="1.1", text="x"), 2)
        assert pacer.budget("chat.update").reserve(None) <= 3  # held for the deadline, not 31 years


async def test_a_stream_slack_keeps_rate_limiting_at_its_stop_still_shows_the_whole_answer() -> None:
    async with FakeSlackAPI() as slack, aiohttp.ClientSession() as session:
        slack.fail("chat.stopStream", retry_after=30, times=None)
        pacer = SlackPacer(min_interval=0, give_up_after=1)
        client = PacedWebClient(pacer=pacer, token="xoxb-test", base_url=slack.api_url, session=session)
        await asyncio.wait_for(SlackStreamer(client, pacer).stream(TARGET, deltas(0.05)), 10)
    assert "".join(thread(slack)) == WHOLE and len(thread(slack)) == 2
