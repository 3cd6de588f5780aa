"""A Redis store outlives its server going away: it fails fast while Redis is down, and the
same store object works again once Redis is back, without being reopened.

The test runs its own ``redis-server`` (``own_redis``: no persistence, a free loopback
port), so it can kill and restart it without touching the session's Redis.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from core.conversation import Turn
from core.errors import Unavailable
from core.janken import Opponent, new_game
from core.store import PlayerKey
from core.store.redis import RedisStore
from core.store.redis_connection import MAX_CONNECTIONS
from tests.redis_server import RedisServer

GUARD = 30.0
"""Seconds after which a call counts as hung; the test asserts what is raised, not how fast."""

ALICE = PlayerKey("slack", "T1", "alice")


@pytest.fixture
async def store(own_redis: RedisServer) -> AsyncIterator[RedisStore]:
    opened = await RedisStore.open(own_redis.url)
    yield opened
    await opened.close()


async def _everything_works(store: RedisStore) -> None:
    """One of each kind of call: a command, a script, a transaction, a pipeline."""
    await store.ping()
    assert await store.claim("event:e1", 60)
    assert await store.take_unit("draw:alice", 3, 60) == 1
    game = new_game("g1", Opponent("Bot", "a robot", "img-1"), 3)
    assert await store.ensure_game(ALICE, game) == game
    await store.append_history("c1", [Turn("user", "hi")], keep=10, ttl=60)
    assert await store.load_history("c1") == [Turn("user", "hi")]


async def test_a_store_fails_while_redis_is_down_and_recovers_when_it_is_back(
    own_redis: RedisServer, store: RedisStore
) -> None:
    async with asyncio.timeout(GUARD):
        await _everything_works(store)
        own_redis.kill()
        with pytest.raises(Unavailable):
            await store.ping()
        with pytest.raises(Unavailable):
            await store.claim("event:e2", 60)
        with pytest.raises(Unavailable):
            await store.take_unit("draw:alice", 3, 60)
        with pytest.raises(Unavailable):
            await store.get_game(ALICE)
        # more failures than the pool has connections: each failed one went back to the pool
        failures = await asyncio.gather(
            *(store.claim(f"event:{i}", 60) for i in range(2 * MAX_CONNECTIONS)), return_exceptions=True
        )
        assert all(isinstance(failure, Unavailable) for failure in failures)
        own_redis.start()  # an empty database: the server kept nothing
        await _everything_works(store)
