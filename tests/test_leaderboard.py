"""/janken top: the workspace's best players by games won and by best streak."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import pytest

from bot.slack_app.render import JOINER
from core.ai import AIService
from core.catalogues import en, ja
from core.store.memory import MemoryStore
from handlers import janken
from handlers.port import Command, JankenRules, Services
from tests.discord_harness import openai_services
from tests.discord_harness import running as discord_running
from tests.fakes.discord_api import FakeDiscordAPI
from tests.fakes.discord_state import CHANNEL_ID, USER_ID
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.recording_reply import cmd, run
from tests.fakes.slack_client import until
from tests.slack_harness import SlackBot, start_bot

PINGING_NAME = "<!here> @everyone <@U999>"
"""A display name that would ping if it reached a chat as markup."""


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
    assert streak.splitlines()[0] == "🔥 Most rounds won in a row" and "dave" not in str(shown)


async def test_top_shows_each_players_latest_name_in_order(ai: AIService) -> None:
    services = Services(
        ai=ai, store=MemoryStore(), rng=random.Random(3), janken=JankenRules(hp=1, mercy=True)
    )
    plays = [("U1", "Carol"), ("U2", "Bob"), ("U2", "Bob"), ("U3", "Alice"), ("U3", "Alice")]
    plays += [("U3", "Alice\nLiddell " + "x" * 200), ("U4", "")]  # renamed (a long name, on 2 lines); no name
    for n, (user, name) in enumerate(plays):
        await run(
            "janken", Command("slack", "T1", "C1", user, "rock", user_name=name, request_id=f"r{n}"), services
        )
    [shown] = (
        await run("janken", Command("slack", "T1", "C1", "U9", "top", user_name="Dave"), services)
    ).values("private")
    won = str(shown).split("\n\n")[0].splitlines()
    alice = janken.shown("Alice Liddell " + "x" * 200, janken.NAME_CHARS)
    assert won == ["🏆 Most games won", f"1. {alice}: 3", "2. Bob: 2", "3. Carol: 1", "4. U4: 1"]
    assert len(alice) == janken.NAME_CHARS


@pytest.mark.parametrize("locale", ["en", "ja"])
async def test_top_in_a_dm_says_the_leaderboard_is_per_server(ai: AIService, locale: str) -> None:
    services = Services(
        ai=ai, store=MemoryStore(), rng=random.Random(3), janken=JankenRules(hp=1, mercy=True)
    )
    stranger = Command("discord", "dm", "D1", "stranger", "rock", user_name="Stranger", request_id="s")
    await run("janken", stranger, services)  # another DM player of the bot
    asked = await run("janken", Command("discord", "dm", "D2", "me", "top", locale=locale), services)
    catalogue = {"en": en.MESSAGES, "ja": ja.MESSAGES}[locale]
    assert asked.events == [("private", catalogue["top_dm"])]
    assert "/janken stats" in catalogue["top_dm"]


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


async def test_top_through_slack_shows_names_that_cannot_ping(slack_bot: SlackBot) -> None:
    bot = slack_bot
    bot.services.janken = JankenRules(hp=1, mercy=True)  # every round wins, and ends the game
    for user, name in (("U1", PINGING_NAME), ("U1", PINGING_NAME), ("U2", "Bob")):
        await bot.send.slash("/janken", "rock", user=user, user_name=name)
    await until(lambda: len(bot.store._stats) == 2)
    await bot.send.slash("/janken", "top", user="U3", user_name="Carol")
    texts = await until(
        lambda: [str(c.args["text"]) for c in bot.private_messages() if "games won" in str(c.args["text"])]
    )
    ranking = texts[0].split("\n\n")[0].splitlines()
    assert ranking[1:] == [f"1. &lt;!here&gt; @{JOINER}everyone &lt;@U999&gt;: 2", "2. Bob: 1"]
    assert not any(ping in texts[0] for ping in ("<!here>", "@everyone", "<@U999>"))


async def test_top_through_discord_shows_names_that_cannot_ping_and_not_in_a_dm(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with FakeDiscordAPI() as fake, FakeOpenAI() as fake_ai:
        fake.patch_discord(monkeypatch)
        async with openai_services(fake_ai, MemoryStore()) as services, discord_running(fake, services):
            services.janken = JankenRules(hp=1, mercy=True)
            services.rng = random.Random(3)
            move = fake.slash_command("janken", {"move": "rock"})
            move["member"]["nick"] = "@everyone"
            await fake.dispatch("INTERACTION_CREATE", move)
            await until(lambda: [m for m in fake.channel_messages(CHANNEL_ID) if m.embeds])
            await fake.dispatch(
                "INTERACTION_CREATE",
                fake.slash_command("janken", {"action": "top"}, user_id=str(int(USER_ID) + 1)),
            )
            [top] = await until(
                lambda: [
                    m for m in fake.channel_messages(CHANNEL_ID) if m.ephemeral and "games won" in m.content
                ]
            )
            assert "1. @everyone: 1" in top.content and top.allowed_mentions == {"parse": []}
            dm = fake.slash_command(
                "janken", {"action": "top"}, guild_id=None, strict=False
            )  # synced to the guild here; global in use
            await fake.dispatch("INTERACTION_CREATE", dm)
            [note] = await until(
                lambda: [m for m in fake.messages.values() if m.channel_id == dm["channel_id"] and m.content]
            )
    assert note.ephemeral and note.content == en.MESSAGES["top_dm"]
