"""Two bot processes serving one workspace: Slack's limits are per workspace, so they share one budget.

Two Slack apps, each built by ``bot.slack_app.build`` with a Redis client of its
own (as two processes would be), answer asks from one fake Slack workspace that
enforces Slack's tiers. Answers are long enough that the live edits the two want
together pass ``chat.appendStream``'s Tier 4 (100 a minute) while each one's
stay within it: with a budget per process, the fake would answer 429s.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import aiohttp
import openai
import pytest
from redis.asyncio import Redis

from bot import http_guard, slack_app
from bot.shared_rate_budget import SharedRateBudget
from bot.slack_app import server
from bot.slack_app.limits import SLACK_LIMITS, budget_scope
from core.ai import AIService
from core.store.memory import MemoryStore
from handlers.port import Services
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.slack_client import SIGNING_SECRET, SlackSender, until

TOKEN = "xoxb-test"
ASKERS = 20
ANSWER = [f"word{i} " for i in range(80)]  # about eight seconds: seven or eight edits each
WHOLE = "".join(ANSWER)


@dataclass
class Workspace:
    slack: FakeSlackAPI
    openai: FakeOpenAI
    senders: list[SlackSender]  # one per process

    def answer_in(self, channel: str) -> str:
        """The bot's finished thread messages in ``channel``, joined."""
        return "".join(
            m.text for m in self.slack.messages.values()
            if m.channel == channel and m.thread_ts and m.user == "UBOT" and not m.deleted and not m.streaming
        )  # fmt: skip

    def statuses(self, method: str) -> list[int]:
        return [c.status for c in self.slack.calls_to(method)]

    def limited(self) -> list[str]:
        return [c.method for c in self.slack.calls if c.status == 429]


@contextlib.asynccontextmanager
async def process(
    slack: FakeSlackAPI, fake_ai: FakeOpenAI, redis: Redis | None
) -> AsyncIterator[SlackSender]:
    """One bot process's Slack app, serving HTTP on a free port: its own session, store and Redis client."""
    async with (
        aiohttp.ClientSession() as session,
        openai.AsyncOpenAI(api_key="sk-test", base_url=fake_ai.url, max_retries=0) as oai,
    ):
        ai = AIService(oai, chat_model="m", image_model="i", system_prompt="s")
        built = await slack_app.build(
            Services(ai=ai, store=MemoryStore()), session, token=TOKEN, signing_secret=SIGNING_SECRET,
            api_url=slack.api_url, redis=redis,
        )  # fmt: skip
        guard = http_guard.DEFAULT_LIMITS
        runner = await http_guard.start_runner(
            server.web_app(built.app, signing_secret=SIGNING_SECRET), guard
        )
        listener = await http_guard.listen(runner, "127.0.0.1", 0, guard)
        base = f"http://127.0.0.1:{listener.sockets[0].getsockname()[1]}"
        try:
            yield SlackSender(f"{base}/slack/events", f"{slack.url}/response/", session)
        finally:
            listener.close()
            await runner.cleanup()


@contextlib.asynccontextmanager
async def workspace(redis_clients: Sequence[Redis | None]) -> AsyncIterator[Workspace]:
    """A fake workspace with Slack's tiers enforced, served by one process per client given."""
    async with FakeSlackAPI() as slack, FakeOpenAI() as fake_ai, contextlib.AsyncExitStack() as stack:
        senders = [await stack.enter_async_context(process(slack, fake_ai, r)) for r in redis_clients]
        yield Workspace(slack, fake_ai, senders)


@pytest.fixture
async def redis_clients(redis_db: str) -> AsyncIterator[list[Redis]]:
    """Two processes' clients of one emptied Redis database."""
    clients = [Redis.from_url(redis_db), Redis.from_url(redis_db)]
    try:
        yield clients
    finally:
        for client in clients:
            await client.aclose()


async def ask_everywhere(space: Workspace, channels: Sequence[str]) -> None:
    """One ``/ask`` per channel, all at once, spread over the processes in turn."""
    senders = space.senders
    asks = [
        senders[i % len(senders)].slash("/ask", "hi", user=f"U{i}", channel_id=channel)
        for i, channel in enumerate(channels)
    ]
    assert {status for status, _ in await asyncio.gather(*asks)} == {200}


async def test_two_processes_share_the_workspaces_budget_and_meet_no_429(redis_clients: list[Redis]) -> None:
    async with workspace(redis_clients) as space:
        space.openai.chunks, space.openai.chunk_delay = ANSWER, 0.1
        channels = [f"C{i}" for i in range(ASKERS)]
        await ask_everywhere(space, channels)

        await until(lambda: all(space.answer_in(c) == WHOLE for c in channels), timeout=60)
        assert space.limited() == []
        assert space.statuses("chat.startStream") == [200] * ASKERS  # every answer streamed
        appended = len(space.statuses("chat.appendStream"))
        assert 0 < appended <= SLACK_LIMITS["chat.appendStream"].calls  # fewer, larger edits
        assert not [m for m in space.slack.messages.values() if m.streaming]


async def test_with_no_stream_turn_left_in_the_workspace_an_answer_is_posted_and_edited(
    redis_clients: list[Redis],
) -> None:
    """Another process spent the minute's ``chat.startStream`` turns: this one finds none free at once."""
    start = SLACK_LIMITS["chat.startStream"]
    elsewhere = SharedRateBudget(redis_clients[1], f"{budget_scope(TOKEN)}:chat.startStream", start.calls, 60)
    for _ in range(start.calls):
        await elsewhere.acquire(None)
    async with workspace(redis_clients[:1]) as space:
        space.openai.chunks, space.openai.chunk_delay = ANSWER[:10], 0.05
        await ask_everywhere(space, ["C1"])

        await until(lambda: space.answer_in("C1") == "".join(ANSWER[:10]), timeout=30)
        assert space.slack.calls_to("chat.startStream") == []
        assert space.limited() == []
