"""The rate budget shared through Redis, as two processes see it: two clients, one real Redis.

Grants are read back from Redis itself (each turn's score is Redis's own time), so
the window check depends on no process's timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import pytest
from redis.asyncio import Redis

from bot.shared_rate_budget import SharedRateBudget, open_budget_redis, shared_budgets

NAME = "test:method"


@pytest.fixture
async def clients(redis_db: str) -> AsyncIterator[tuple[Redis, Redis, Redis]]:
    """Two processes' clients and an observer's, on an emptied database."""
    opened = [Redis.from_url(redis_db) for _ in range(3)]
    try:
        yield opened[0], opened[1], opened[2]
    finally:
        for client in opened:
            await client.aclose()


async def turns(observer: Redis, budget: SharedRateBudget, key: str | None = None) -> dict[bytes, float]:
    """The turns in ``key``'s window now: member -> Redis time (ms) it was given."""
    return dict(await observer.zrange(budget.calls_key(key), 0, -1, withscores=True))


def most_in_any_window(scores: list[float], window_ms: float) -> int:
    ordered = sorted(scores)
    return max(sum(start <= s < start + window_ms for s in ordered[i:]) for i, start in enumerate(ordered))


async def test_two_processes_together_never_exceed_the_budget_in_any_window(
    clients: tuple[Redis, Redis, Redis],
) -> None:
    first_client, second_client, observer = clients
    calls, window, takers = 5, 1.0, 20
    budgets = [SharedRateBudget(c, NAME, calls, window) for c in (first_client, second_client)]
    granted: dict[bytes, float] = {}

    async def taker(budget: SharedRateBudget) -> None:
        await budget.acquire(None)
        granted.update(await turns(observer, budget))  # this turn stays in the window for a second

    await asyncio.wait_for(asyncio.gather(*(taker(budgets[i % 2]) for i in range(takers))), 30)
    assert len(granted) == takers
    assert most_in_any_window(list(granted.values()), window * 1000) == calls


async def test_a_retry_after_through_one_process_holds_the_other(clients: tuple[Redis, Redis, Redis]) -> None:
    observer = clients[2]
    told, later, other = (SharedRateBudget(c, NAME, 10, 60) for c in clients)
    await told.hold(30)
    await later.hold(1)  # a shorter Retry-After, later, does not cut the first one short
    assert await other.try_take(None) > 25
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(other.acquire(None), 0.3)
    assert not await other.free_now(None) and not await other.take_now(None)  # Redis holds it
    assert await turns(observer, other) == {}


async def test_a_waiter_cancelled_while_it_waits_takes_no_turn(clients: tuple[Redis, Redis, Redis]) -> None:
    first_client, second_client, observer = clients
    parked = asyncio.Event()

    async def park(_: float) -> None:  # waits until cancelled, once it has been told to wait
        parked.set()
        await asyncio.Event().wait()

    first = SharedRateBudget(first_client, NAME, 1, 60)
    second = SharedRateBudget(second_client, NAME, 1, 60, sleep=park)
    await first.acquire(None)
    waiting = asyncio.ensure_future(second.acquire(None))
    queued = asyncio.ensure_future(second.acquire(None))  # behind it, in the same process
    await asyncio.wait_for(parked.wait(), 10)
    for task in (waiting, queued):
        task.cancel()
    await asyncio.gather(waiting, queued, return_exceptions=True)
    assert len(await turns(observer, first)) == 1
    assert await second.free_now(None) is False  # the window is still full ...
    assert second._waiting == {}  # ... but nobody of this process is still in line


class HeldReplies:
    """A relay to Redis that can hold Redis's replies back, so a take stays in flight."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 6379)
        self._parts = parts
        self.flowing = asyncio.Event()
        self.flowing.set()
        self._server: asyncio.Server | None = None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[str]:
        """Serve on a free loopback port and yield a Redis URL that goes through the relay."""
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        try:
            yield urlunsplit(self._parts._replace(netloc=f"127.0.0.1:{port}"))
        finally:
            self.flowing.set()
            self._server.close()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        await asyncio.gather(
            self._pipe(reader, up_writer, None), self._pipe(up_reader, writer, self.flowing),
            return_exceptions=True,
        )  # fmt: skip

    @staticmethod
    async def _pipe(
        source: asyncio.StreamReader, sink: asyncio.StreamWriter, gate: asyncio.Event | None
    ) -> None:
        try:
            while data := await source.read(65536):
                if gate is not None:
                    await gate.wait()
                sink.write(data)
                await sink.drain()
        finally:
            sink.close()


async def test_a_waiter_cancelled_while_its_take_is_in_flight_gives_the_turn_back(
    redis_db: str, clients: tuple[Redis, Redis, Redis]
) -> None:
    _, _, observer = clients
    relay = HeldReplies(redis_db)
    async with relay.running() as relayed_url:
        client = Redis.from_url(relayed_url)
        try:
            budget = SharedRateBudget(client, NAME, 1, 60)
            await budget.try_take("warm-up")  # the script is loaded and a connection is open
            relay.flowing.clear()
            waiting = asyncio.ensure_future(budget.acquire(None))
            while not await turns(observer, budget):  # Redis gave the turn; the reply is held
                await asyncio.sleep(0.01)
            waiting.cancel()
            relay.flowing.set()
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(waiting, 10)
            assert await turns(observer, budget) == {}
        finally:
            await client.aclose()


async def test_a_turn_another_process_took_is_not_free_at_once_for_this_one(
    clients: tuple[Redis, Redis, Redis],
) -> None:
    first_client, second_client, observer = clients
    first, second = (SharedRateBudget(c, NAME, 2, 60) for c in (first_client, second_client))
    assert await first.free_now("C1") and await first.take_now("C1")
    await first.acquire("C1")
    assert not await second.free_now("C1")  # its first word with Redis: the other process's turns count
    assert not await second.take_now("C1")
    assert await second.take_now("C2")  # keys apart, as channels are
    assert len(await turns(observer, second, "C1")) == 2  # free_now took none, the refused take none
    assert len(await turns(observer, second, "C2")) == 1


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_without_redis_the_budget_is_kept_in_this_process(caplog: pytest.LogCaptureFixture) -> None:
    client = Redis.from_url(f"redis://127.0.0.1:{_closed_port()}/0", socket_connect_timeout=1)
    try:
        budget = shared_budgets(client, "test")("chat.update", 2, 60)
        with caplog.at_level(logging.WARNING, logger="bot.shared_rate_budget"):
            await budget.acquire(None)
            assert await budget.take_now(None)
            assert not await budget.take_now(None)  # two turns, as in one process
            await budget.hold(1)
        assert [r.getMessage() for r in caplog.records] == [
            "Redis is unreachable: test:chat.update is paced in this process alone"
        ]
    finally:
        await client.aclose()


async def test_budgets_are_shared_only_with_a_redis_store(redis_db: str) -> None:
    async with open_budget_redis("sqlite:///bot.db") as none:
        assert none is None
    async with open_budget_redis(redis_db) as client:
        assert client is not None and await client.ping()
