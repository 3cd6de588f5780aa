"""One interaction delivered to two Discord processes is answered once.

During a rolling restart two processes can run the same shard, and Discord then
sends each interaction to both. Two real DiscordApps (discord.py) share one
store and the fake Discord; every dispatch below reaches both sessions, and the
claim in the store lets exactly one of them respond: one callback, one OpenAI
call, one round. The store is one MemoryStore shared in this process, and two
RedisStores on one Redis, as two processes would have.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio

from bot.discord_app.live import answer_ref
from core.errors import Unavailable
from core.store.base import PlayerKey, Store
from core.store.memory import MemoryStore
from core.store.redis import RedisStore
from tests.discord_harness import openai_services, running
from tests.fakes.discord_api import FakeDiscordAPI
from tests.fakes.discord_state import CALLBACK, CHANNEL_ID, GUILD_ID, USER_ID, Message
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_client import until

PLAYER = PlayerKey("discord", GUILD_ID, USER_ID)
LOSER_LOG = "is answered by another process"


@dataclass
class TwoProcesses:
    discord: FakeDiscordAPI
    openai: FakeOpenAI
    store: Store  # the first process's view of the shared store
    caplog: pytest.LogCaptureFixture

    def callbacks(self, interaction_id: str) -> int:
        """How many responses (of any kind: defer, message, update) the interaction got."""
        return sum(c.params["webhook_id"] == interaction_id for c in self.discord.calls_to(CALLBACK))

    async def deliver_to_both(self, payload: dict[str, object]) -> None:
        """Dispatch ``payload`` to both sessions and wait until the loser has stood down."""
        losers = self.caplog.text.count(LOSER_LOG)
        assert await self.discord.dispatch("INTERACTION_CREATE", payload) == 2
        await until(lambda: self.caplog.text.count(LOSER_LOG) == losers + 1, timeout=5)

    async def rounds(self) -> int:
        stats = await self.store.get_stats(PLAYER)
        return stats.wins + stats.losses + stats.draws


def boards(fake: FakeDiscordAPI) -> list[Message]:
    return [m for m in fake.channel_messages(CHANNEL_ID) if m.components and not m.ephemeral]


@contextlib.asynccontextmanager
async def shared_stores(backend: str, request: pytest.FixtureRequest) -> AsyncIterator[tuple[Store, Store]]:
    """Two processes' stores: one MemoryStore for both, or two clients of one Redis database."""
    if backend == "memory":
        store = MemoryStore()
        yield store, store
        return
    url = request.getfixturevalue("redis_db")
    first, second = await RedisStore.open(url), await RedisStore.open(url)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


@pytest_asyncio.fixture(params=["memory", "redis"])
async def both(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[TwoProcesses]:
    caplog.set_level(logging.INFO, logger="bot.discord_app.app")
    async with FakeDiscordAPI() as fake, FakeOpenAI() as fake_ai, contextlib.AsyncExitStack() as stack:
        fake.patch_discord(monkeypatch)
        fake.identify_interval = 0  # the second process identifies the same shard at once
        stores = await stack.enter_async_context(shared_stores(request.param, request))
        for store in stores:
            services = await stack.enter_async_context(openai_services(fake_ai, store))
            await stack.enter_async_context(running(fake, services))
        yield TwoProcesses(fake, fake_ai, stores[0], caplog)


async def test_a_question_delivered_to_both_is_answered_once(both: TwoProcesses) -> None:
    payload = both.discord.slash_command("ask", {"question": "hi?"})
    await both.deliver_to_both(payload)
    whole = "".join(both.openai.chunks)
    await until(lambda: [m for m in both.discord.channel_messages(CHANNEL_ID) if m.content == whole])
    assert both.callbacks(payload["id"]) == 1
    assert len(both.openai.calls("chat")) == 1
    assert [m.content for m in both.discord.channel_messages(CHANNEL_ID)] == [whole]


async def test_a_move_and_a_click_delivered_to_both_play_one_round_each(both: TwoProcesses) -> None:
    command = both.discord.slash_command("janken", {"move": "rock"})
    await both.deliver_to_both(command)
    [board] = await until(lambda: boards(both.discord))
    assert both.callbacks(command["id"]) == 1 and await both.rounds() == 1

    ids = [c["custom_id"] for row in board.components for c in row["components"]]
    rock = next(i for i in ids if i.startswith("jk:rock:"))
    edits = both.discord.message(board.id).edits
    click = both.discord.button_click(rock, board.id)
    await both.deliver_to_both(click)
    await until(lambda: both.discord.message(board.id).edits > edits, timeout=5)
    assert both.discord.message(board.id).edits == edits + 1  # the loser stood down before any call
    assert both.callbacks(click["id"]) == 1 and await both.rounds() == 2
    assert len(boards(both.discord)) == 1
    assert not [m for m in both.discord.channel_messages(CHANNEL_ID) if m.ephemeral]  # no "stale board" note


class ClaimsFail(MemoryStore):
    """A store that is down exactly where the claim is made."""

    async def claim(self, key: str, ttl: float, *, holder: str = "") -> bool:
        raise Unavailable("store_unavailable")


async def test_a_store_failure_at_the_claim_is_told_privately_and_nothing_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with FakeDiscordAPI() as fake, FakeOpenAI() as fake_ai:
        fake.patch_discord(monkeypatch)
        async with openai_services(fake_ai, ClaimsFail()) as services, running(fake, services):
            payload = fake.slash_command("ask", {"question": "hi?"})
            await fake.dispatch("INTERACTION_CREATE", payload)
            [told] = await until(lambda: fake.channel_messages(CHANNEL_ID), timeout=5)
        assert told.ephemeral and told.content
        assert [c.json["type"] for c in fake.calls_to(CALLBACK)] == [4]  # the message itself; no defer
        assert fake_ai.requests == []


async def test_a_reply_to_an_answer_delivered_to_both_is_answered_once(both: TwoProcesses) -> None:
    both.caplog.set_level(logging.INFO, logger="bot.discord_app.messages")
    payload = both.discord.slash_command("ask", {"question": "hi?"})
    await both.deliver_to_both(payload)
    answer = await until(lambda: both.discord.interaction(payload["id"]).original_id)
    await until(lambda: len(both.openai.calls("chat")) == 1)
    async with asyncio.timeout(10):  # the answer's link to its conversation is stored once it ends
        while await both.store.conversation_of(answer_ref(int(CHANNEL_ID), int(answer))) is None:
            await asyncio.sleep(0.02)
    data = both.discord.user_message("and then?", reply_to=answer)
    assert await both.discord.dispatch("MESSAGE_CREATE", data) == 2
    await until(lambda: both.caplog.text.count(f"reply {data['id']} is answered by another process") == 1)
    replies = await until(
        lambda: [
            m for m in both.discord.channel_messages(CHANNEL_ID)
            if (m.message_reference or {}).get("message_id") == data["id"]
        ]
    )  # fmt: skip
    await asyncio.sleep(0.2)
    assert len(both.openai.calls("chat")) == 2 and len(replies) == 1
