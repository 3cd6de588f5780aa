"""A running Slack bot for tests: the real Bolt app on a local port, with fake Slack and OpenAI."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import aiohttp
import openai
from slack_bolt.async_app import AsyncApp

from bot import http_guard, slack_app
from bot.slack_app import server
from bot.slack_app.limits import GIVE_UP_AFTER, SLACK_LIMITS, Limit, SlackPacer
from bot.slack_app.stream import SlackStreamer
from core.ai import AIService
from core.store.memory import MemoryStore
from handlers.port import Services
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_api import Call, FakeSlackAPI, Message
from tests.fakes.slack_client import SIGNING_SECRET, SlackSender


@dataclass
class SlackBot:
    slack: FakeSlackAPI
    openai: FakeOpenAI
    send: SlackSender
    streamer: SlackStreamer
    store: MemoryStore
    base_url: str
    app: AsyncApp
    services: Services
    """What the app runs on: tests may change its ``limits`` or ``openai_slots`` while it runs."""

    def texts(self, method: str) -> list[str]:
        return [
            str(c.args.get("text") or c.args.get("markdown_text") or "") for c in self.slack.calls_to(method)
        ]

    def private_messages(self) -> list[Call]:
        """What reached the user through response_url (not the removal of the thinking note)."""
        return [c for c in self.slack.calls_to("response_url") if c.args.get("text")]

    def thread_messages(self) -> list[Message]:
        return [m for m in self.slack.messages.values() if m.thread_ts and not m.deleted and m.user == "UBOT"]

    def answers(self) -> list[Message]:
        """The bot's finished messages in threads: posted whole, or streamed and stopped."""
        return [m for m in self.thread_messages() if not m.streaming]


async def start_bot(
    native: bool = True,
    min_interval: float = 0.05,
    rate_limits: Mapping[str, Limit] = SLACK_LIMITS,
    give_up_after: float = GIVE_UP_AFTER,
    **limits: int,
) -> AsyncIterator[SlackBot]:
    """Yield a running bot against a fake Slack that enforces Slack's limits; short edit spacing."""
    async with FakeSlackAPI() as slack, FakeOpenAI() as fake_ai, aiohttp.ClientSession() as session:
        pacer = SlackPacer(rate_limits, min_interval=min_interval, give_up_after=give_up_after)
        async with openai.AsyncOpenAI(api_key="sk-test", base_url=fake_ai.url, max_retries=0) as oai:
            ai = AIService(oai, chat_model="m", image_model="i", system_prompt="s")
            async with serving(ai, slack, fake_ai, session, pacer, native=native, limits=limits) as bot:
                yield bot


@contextlib.asynccontextmanager
async def serving(
    ai: AIService,
    slack: FakeSlackAPI,
    fake_ai: FakeOpenAI,
    session: aiohttp.ClientSession,
    pacer: SlackPacer,
    *,
    native: bool = True,
    drain: bool = False,
    limits: Mapping[str, int] | None = None,
) -> AsyncIterator[SlackBot]:
    """The real app on ``ai`` and a fresh memory store, served over HTTP on a free loopback port.

    ``limits`` are the streamer's message limits; with ``drain``, answers still in progress
    finish before it stops (unless the test failed).
    """
    store = MemoryStore()
    services = Services(ai=ai, store=store)
    built = await slack_app.build(
        services,
        session,
        token="xoxb-test",
        signing_secret=SIGNING_SECRET,
        api_url=slack.api_url,
        native=native,
        pacer=pacer,
        **(limits or {}),
    )
    guard = http_guard.DEFAULT_LIMITS
    runner = await http_guard.start_runner(
        server.web_app(built.app, signing_secret=SIGNING_SECRET, limits=guard), guard
    )
    listener = await http_guard.listen(runner, "127.0.0.1", 0, guard)
    base = f"http://127.0.0.1:{listener.sockets[0].getsockname()[1]}"
    sender = SlackSender(f"{base}/slack/events", f"{slack.url}/response/", session)
    try:
        yield SlackBot(slack, fake_ai, sender, built.streamer, store, base, built.app, services)
        if drain:
            await built.listeners.drain(timeout=10)
    finally:
        listener.close()
        await runner.cleanup()
