"""A rate budget kept in Redis, so every process serving one workspace spends the same one.

Slack counts calls per workspace, not per process: two processes each pacing to
the whole budget would together spend twice it. A :class:`SharedRateBudget` keeps
each key's window as a sorted set of the turns given, scored by Redis's own clock
(``TIME``), so the processes' clocks do not matter, and takes a turn with one Lua
script: drop the turns older than a window; if fewer than ``calls`` remain, add
one; else say how long until the oldest leaves. A ``Retry-After`` is a key that
expires when it has passed, and every process's script honours it. Keys live
under ``bot:rate:``.

Waiters of one process queue in arrival order in front of the script, so only the
first of them asks Redis, and it sleeps for the wait the script returned. A waiter
cancelled while its take is in flight removes its member, so it leaves no turn
taken; should the removal overtake the take, the turn merely counts until its
window passes (the budget errs towards fewer calls, never more).

``free_now`` and ``take_now`` never wait for a turn, but they too ask Redis, with
one script call each that honours a ``Retry-After`` as the take script does, so
a turn taken at once is taken for every process alike. While Redis cannot be
reached, a budget kept in this process stands in (Redis is tried again every few
seconds), and the log says so once.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.rate_budget import Budget, BudgetFactory, RateBudget

_log = logging.getLogger(__name__)

PREFIX = "bot:rate:"
"""Every key a shared budget writes starts with it."""
MIN_WAIT = 0.005
"""Seconds a waiter sleeps at least before asking Redis again."""
REDIS_TIMEOUT = 5.0
"""Seconds a budget's Redis command may take before the budget in this process stands in."""
RETRY_REDIS_AFTER = 5.0
"""Seconds the budget in this process stands in after Redis failed, before Redis is tried again."""

_TAKE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local calls, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local held = redis.call('PTTL', KEYS[2])
if held > 0 then return {0, held} end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < calls then
    redis.call('ZADD', KEYS[1], now, ARGV[3])
    redis.call('PEXPIRE', KEYS[1], window)
    return {1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, tonumber(oldest[2]) + window - now}
"""
"""Take a turn if the window has room: {granted 0|1, ms until the oldest leaves (or the hold ends)}.

Milliseconds keep every number within the 14 digits Lua passes to Redis exactly."""

_FREE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
if redis.call('PTTL', KEYS[2]) > 0 then return 0 end
local count = redis.call('ZCOUNT', KEYS[1], '(' .. (now - tonumber(ARGV[2])), '+inf')
if count < tonumber(ARGV[1]) then return 1 end
return 0
"""
"""1 if the take script would grant a turn now, else 0; it takes none."""

_HOLD = """
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
    redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 0
"""
"""Hold every key for ARGV[1] ms, unless an earlier Retry-After holds them longer."""


@dataclass(frozen=True)
class Take:
    """One reply of the take script."""

    granted: bool
    frees_in: float
    """Seconds until the oldest turn leaves the window (or a Retry-After ends); 0 when granted."""

    @classmethod
    def of(cls, reply: Sequence[int]) -> Take:
        granted, frees_ms = (int(value) for value in reply)
        return cls(bool(granted), frees_ms / 1000)


class SharedRateBudget:
    """At most ``calls`` per key in any ``window`` seconds, counted in Redis for every process alike."""

    def __init__(
        self,
        redis: Redis,
        name: str,
        calls: int,
        window: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._local = RateBudget(calls, window, clock=clock, sleep=sleep)  # checks calls and window
        self.calls, self.window, self.name = calls, window, name
        self._redis = redis
        self._window_ms = math.ceil(window * 1000)
        self._take = redis.register_script(_TAKE)
        self._free = redis.register_script(_FREE)
        self._hold = redis.register_script(_HOLD)
        self._clock, self._sleep = clock, sleep
        self._lines: dict[str | None, asyncio.Lock] = {}
        self._waiting: collections.Counter[str | None] = collections.Counter()
        self._held_until = -math.inf
        self._taker = uuid.uuid4().hex[:12]
        """Names this budget's turns in Redis, so a turn can be given back."""
        self._serial = itertools.count()
        self._unreachable = False
        self._retry_redis_at = -math.inf

    def calls_key(self, key: str | None) -> str:
        """The sorted set of ``key``'s turns (member: who took it, score: Redis time in ms)."""
        return f"{PREFIX}{self.name}:calls" + (f":{key}" if key else "")

    @property
    def hold_key(self) -> str:
        return f"{PREFIX}{self.name}:held"

    async def acquire(self, key: str | None) -> None:
        """Wait for a turn for ``key`` behind this process's earlier waiters; cancelled, take none."""
        async with self._in_line(key):
            if self._redis_ok():
                try:
                    while (wait := await self.try_take(key)) > 0:
                        await self._sleep(wait)
                    return
                except RedisError:
                    self._fall_back()
            await self._local.acquire(key)

    @contextlib.asynccontextmanager
    async def _in_line(self, key: str | None) -> AsyncIterator[None]:
        """This process's waiters for ``key`` go in arrival order; only the first asks Redis."""
        line = self._lines.setdefault(key, asyncio.Lock())
        self._waiting[key] += 1
        try:
            async with line:
                yield
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:
                del self._waiting[key], self._lines[key]

    async def try_take(self, key: str | None) -> float:
        """Take a turn for ``key`` if the window has room and return 0, else the seconds to wait.

        :raises RedisError: Redis could not be asked.
        """
        held = self._held_until - self._clock()
        if held > 0:
            return held
        calls_key, member = self.calls_key(key), f"{self._taker}:{next(self._serial)}"
        try:
            reply = await self._take(
                keys=[calls_key, self.hold_key], args=[self.calls, self._window_ms, member]
            )
        except asyncio.CancelledError:
            await asyncio.shield(self._give_back(calls_key, member))
            raise
        self._reachable()
        take = Take.of(reply)
        return 0.0 if take.granted else max(take.frees_in, MIN_WAIT)

    async def _give_back(self, calls_key: str, member: str) -> None:
        """Remove a turn whose taker stopped waiting before it heard it had one."""
        try:
            await self._redis.zrem(calls_key, member)
        except RedisError:
            _log.warning("could not give back a turn of %s; it counts until its window passes", self.name)

    async def free_now(self, key: str | None) -> bool:
        """Whether a call for ``key`` could go at once, counting every process's turns; takes none."""
        if self._behind_this_process(key):
            return False
        if self._redis_ok():
            try:
                free = await self._free(
                    keys=[self.calls_key(key), self.hold_key], args=[self.calls, self._window_ms]
                )
            except RedisError:
                self._fall_back()
            else:
                self._reachable()
                return bool(free)
        return await self._local.free_now(key)

    async def take_now(self, key: str | None) -> bool:
        """Take a turn for ``key`` only if one is free at once, counting every process's turns."""
        if self._behind_this_process(key):
            return False
        if self._redis_ok():
            try:
                return await self.try_take(key) == 0
            except RedisError:
                self._fall_back()
        return await self._local.take_now(key)

    def _behind_this_process(self, key: str | None) -> bool:
        """Whether a call for ``key`` must let this process's own waiters, or a Retry-After, go first."""
        return bool(self._waiting[key]) or self._clock() < self._held_until

    async def hold(self, seconds: float) -> None:
        """Hold every key, in every process, for ``seconds`` (the platform said Retry-After)."""
        self._held_until = max(self._held_until, self._clock() + seconds)
        self._local.pause(seconds)
        if (held_ms := math.ceil(seconds * 1000)) > 0 and self._redis_ok():
            try:
                await self._hold(keys=[self.hold_key], args=[held_ms])
            except RedisError:
                self._fall_back()

    def _redis_ok(self) -> bool:
        """False for a while after Redis failed, so that calls do not each wait on it."""
        return self._clock() >= self._retry_redis_at

    def _fall_back(self) -> None:
        self._retry_redis_at = self._clock() + RETRY_REDIS_AFTER
        if not self._unreachable:
            self._unreachable = True
            _log.warning("Redis is unreachable: %s is paced in this process alone", self.name, exc_info=True)

    def _reachable(self) -> None:
        if self._unreachable:
            self._unreachable = False
            _log.info("Redis is back: %s is paced with the other processes again", self.name)


def shared_budgets(redis: Redis, scope: str) -> BudgetFactory:
    """Budgets named ``<scope>:<method>``, the same for every process that gives the same ``scope``."""

    def make(name: str, calls: int, window: float) -> Budget:
        return SharedRateBudget(redis, f"{scope}:{name}", calls, window)

    return make


@contextlib.asynccontextmanager
async def open_budget_redis(url: str) -> AsyncIterator[Redis | None]:
    """A client for shared budgets when ``url`` is a Redis one (closed on the way out), else None.

    Budgets are shared through the store's Redis: the processes that share a store
    are the ones that serve the same workspace.
    """
    if not url.startswith(("redis://", "rediss://")):
        yield None
        return
    client = Redis.from_url(url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT)
    try:
        yield client
    finally:
        await client.aclose()
