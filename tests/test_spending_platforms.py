"""Spending limits as users meet them on Slack and Discord: private refusals, nothing half-done."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from core.slots import Slots
from core.store.memory import MemoryStore
from handlers.port import Limits, Services
from tests.discord_harness import openai_services, running
from tests.fakes.discord_api import FakeDiscordAPI
from tests.fakes.discord_state import CHANNEL_ID
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_client import until
from tests.slack_harness import SlackBot, start_bot

RESETS = "Your quota resets at 00:00 UTC"
REFUSED = "Sorry, I can't help with that request: it goes against the content rules."


@dataclass
class Slack:
    bot: SlackBot

    def private(self) -> list[str]:
        return [str(c.args["text"]) for c in self.bot.private_messages()]


@pytest.fixture
async def slack() -> AsyncIterator[Slack]:
    async for bot in start_bot():
        yield Slack(bot)


async def test_slack_an_ask_over_quota_is_told_privately_when_the_quota_resets(slack: Slack) -> None:
    slack.bot.services.limits = Limits(quota_ask_per_day=1)
    await slack.bot.send.slash("/ask", "first", user="U1")
    await until(slack.bot.answers)
    await slack.bot.send.slash("/ask", "second", user="U1")
    refusal = await until(lambda: [t for t in slack.private() if RESETS in t])
    assert "all 1 of today's /ask requests" in refusal[0]
    assert len(slack.bot.openai.calls("chat")) == 1
    assert len([m for m in slack.bot.slack.messages.values() if not m.thread_ts]) == 1  # one question posted


async def test_slack_a_flagged_drawing_is_refused_privately_and_nothing_is_posted(slack: Slack) -> None:
    slack.bot.services.limits = Limits(moderation="draw", quota_draw_per_day=1)
    await slack.bot.send.slash("/draw", "something forbidden")
    await until(lambda: [t for t in slack.private() if REFUSED in t])
    assert slack.bot.openai.calls("images") == []
    assert slack.bot.slack.calls_to("chat.postMessage") == []  # no progress note was ever shown
    await slack.bot.send.slash("/draw", "a lighthouse")  # the refusal cost no quota
    await until(lambda: slack.bot.slack.calls_to("files.completeUploadExternal"))


async def test_slack_a_second_drawing_while_one_runs_is_refused_privately(slack: Slack) -> None:
    slack.bot.openai.delay = 0.5
    await slack.bot.send.slash("/draw", "a fox", user="U1")
    await until(lambda: slack.bot.openai.calls("images"))
    await slack.bot.send.slash("/draw", "an owl", user="U1")
    await until(lambda: [t for t in slack.private() if "already have a drawing in progress" in t])
    await until(lambda: slack.bot.slack.calls_to("files.completeUploadExternal"))
    assert len(slack.bot.openai.calls("images")) == 1


async def test_slack_asks_beyond_the_concurrency_limit_are_told_they_are_queued_and_all_complete(
    slack: Slack,
) -> None:
    slack.bot.services.openai_slots = Slots(1)
    slack.bot.openai.chunk_delay = 0.1
    for i in range(3):
        await slack.bot.send.slash("/ask", f"question {i}", user=f"U{i}", channel_id=f"C{i}")
    await until(lambda: len(slack.bot.answers()) == 3, timeout=20)
    queued = [t for t in slack.private() if "in the queue" in t]
    assert len(queued) == 2 and all(a.text == "Hello, world!" for a in slack.bot.answers())


# --- Discord ---


@pytest.fixture
async def discord(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[FakeDiscordAPI, FakeOpenAI, Services]]:
    async with FakeDiscordAPI() as fake, FakeOpenAI() as fake_ai:
        fake.patch_discord(monkeypatch)
        async with openai_services(fake_ai, MemoryStore()) as services, running(fake, services):
            yield fake, fake_ai, services


def ephemeral(fake: FakeDiscordAPI) -> list[str]:
    return [m.content for m in fake.channel_messages(CHANNEL_ID) if m.ephemeral]


async def test_discord_a_drawing_over_quota_and_a_flagged_one_are_refused_ephemerally(
    discord: tuple[FakeDiscordAPI, FakeOpenAI, Services],
) -> None:
    fake, fake_ai, services = discord
    services.limits = Limits(quota_draw_per_day=1, moderation="draw")
    await fake.dispatch("INTERACTION_CREATE", fake.slash_command("draw", {"prompt": "something forbidden"}))
    await until(lambda: [t for t in ephemeral(fake) if REFUSED in t])
    await fake.dispatch("INTERACTION_CREATE", fake.slash_command("draw", {"prompt": "a fox"}))
    await until(lambda: fake_ai.calls("images"))
    await fake.dispatch("INTERACTION_CREATE", fake.slash_command("draw", {"prompt": "an owl"}))
    refusal = await until(lambda: [t for t in ephemeral(fake) if RESETS in t])
    assert "/draw" in refusal[0]
    await asyncio.sleep(0.2)
    assert len(fake_ai.calls("images")) == 1
