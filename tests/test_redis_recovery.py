"""A Redis store outlives its server going away: it fails fast while Redis is down, and the
same store object works again once Redis is back, without being reopened.

The test runs its own ``redis-server`` (no persistence) on a free loopback port, so it can
kill and restart it without touching the session's Redis.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator

import pytest
import redis

from core.conversation import Turn
from core.errors import Unavailable
from core.janken import Opponent, new_game
from core.store import PlayerKey
from core.store.redis import MAX_CONNECTIONS, RedisStore

START_TIMEOUT = 10.0
"""Seconds a started ``redis-server`` has to answer PING."""

GUARD = 30.0
"""Seconds after which a call counts as hung; the test asserts what is raised, not how fast."""

ALICE = PlayerKey("slack", "T1", "alice")


class Server:
    """A ``redis-server`` on one port that can be killed and started again on it."""

    def __init__(self, executable: str, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self._executable = executable
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [self._executable, "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers(self.url):
            if self._process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)

    def kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


@pytest.fixture
def server() -> Iterator[Server]:
    executable = shutil.which("redis-server")
    if executable is None:
        pytest.skip("the recovery test needs redis-server on PATH")
    own = Server(executable, _free_port())
    own.start()
    yield own
    own.kill()


@pytest.fixture
async def store(server: Server) -> AsyncIterator[RedisStore]:
    opened = await RedisStore.open(server.url)
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
    server: Server, store: RedisStore
) -> None:
    async with asyncio.timeout(GUARD):
        await _everything_works(store)
        server.kill()
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
        server.start()  # an empty database: the server kept nothing
        await _everything_works(store)
