"""/janken top: the workspace's best players by games won and by best streak."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import pytest

from core.ai import AIService
from core.store.memory import MemoryStore
from handlers import janken
from handlers.port import Command, JankenRules, Services
from tests.fakes.recording_reply import cmd, run
from tests.fakes.slack_client import until
from tests.slack_harness import SlackBot, start_bot


async def test_top_lists_both_rankings_in_order_and_only_this_workspace(ai: AIService) -> None:
    services = Services(
        ai=ai, store=MemoryStore(), rng=random.Random(3), janken=JankenRules(hp=1, mercy=True)
    )
    games = {"alice": 3, "bob": 1, "carol": 2}
    for user, count in games.items():
        for n in range(count):  # on 1 HP with mercy, every round is a win and ends the game
            await run("janken", cmd("rock", user=user, request_id=f"{user}{n}"), services)
    elsewhere = Command("slack", "T2", "C1", "dave", "rock", request_id="d")
    await run("janken", elsewhere, services)
    assert janken.parse(cmd("top")).action == "top"
    [shown] = (
        await run("janken", Command("slack", "T1", "C1", "alice", "top", user_name="Alice"), services)
    ).values("private")
    won, streak = str(shown).split("\n\n")
    assert won.splitlines() == ["🏆 Most games won", "1. Alice: 3", "2. carol: 2", "3. bob: 1"]
    assert streak.splitlines()[0] == "🔥 Best win streaks" and "dave" not in str(shown)


async def test_top_with_no_games_says_so(ai: AIService) -> None:
    services = Services(ai=ai, store=MemoryStore())
    [shown] = (await run("janken", cmd("top"), services)).values("private")
    assert str(shown).count("Nobody has won a game here yet.") == 2


@pytest.fixture
async def slack_bot() -> AsyncIterator[SlackBot]:
    async for running in start_bot():
        yield running


async def test_top_through_slack(slack_bot: SlackBot) -> None:
    bot = slack_bot
    bot.services.janken = JankenRules(hp=1, mercy=True)  # every round wins, and ends the game
    for user in ("U1", "U1", "U2"):
        await bot.send.slash("/janken", "rock", user=user)
    await until(lambda: len(bot.store._stats) == 2)
    await bot.send.slash("/janken", "top", user="U2")
    texts = await until(
        lambda: [str(c.args["text"]) for c in bot.private_messages() if "games won" in str(c.args["text"])]
    )
    ranking = texts[0].split("\n\n")[0].splitlines()
    assert ranking[0].endswith("Most games won") and len(ranking) == 3
    assert ranking[1].endswith(": 2") and ranking[2].endswith(": 1")
