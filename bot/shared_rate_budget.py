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

``free_now`` and ``take_now`` must answer at once, without Redis: they read what
the last replies said, and a turn ``take_now`` gave is confirmed with
:meth:`SharedRateBudget.settle` just before its call. While Redis cannot be
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
if held > 0 then return {0, 0, held} end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count, granted = redis.call('ZCARD', KEYS[1]), 0
if count < calls then
    redis.call('ZADD', KEYS[1], now, ARGV[3])
    redis.call('PEXPIRE', KEYS[1], window)
    count, granted = count + 1, 1
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {granted, calls - count, tonumber(oldest[2]) + window - now}
"""
"""Take a turn if the window has room: {granted 0|1, turns left, ms until the oldest leaves (or the hold ends)}.

Milliseconds keep every number within the 14 digits Lua passes to Redis exactly."""

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
    left: int
    """Turns the window still has room for."""
    frees_in: float
    """Seconds until the oldest turn leaves the window (or a Retry-After ends)."""

    @classmethod
    def of(cls, reply: Sequence[int]) -> Take:
        granted, left, frees_ms = (int(value) for value in reply)
        return cls(bool(granted), left, frees_ms / 1000)


@dataclass
class _Seen:
    """What this process last heard of a key, less the turns ``take_now`` gave since."""

    left: int
    until: float
    """Monotonic time from which it is out of date: a turn leaves the window then."""


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
        if calls < 1 or window <= 0:
            raise ValueError("calls must be at least 1 and window positive")
        self.calls, self.window, self.name = calls, window, name
        self._redis = redis
        self._window_ms = math.ceil(window * 1000)
        self._take = redis.register_script(_TAKE)
        self._hold = redis.register_script(_HOLD)
        self._clock, self._sleep = clock, sleep
        self._lines: dict[str | None, asyncio.Lock] = {}
        self._waiting: collections.Counter[str | None] = collections.Counter()
        self._seen: dict[str | None, _Seen] = {}
        self._unsettled: collections.Counter[str | None] = collections.Counter()
        self._held_until = -math.inf
        self._taker = uuid.uuid4().hex[:12]
        """Names this budget's turns in Redis, so a turn can be given back."""
        self._serial = itertools.count()
        self._local = RateBudget(calls, window, clock=clock, sleep=sleep)
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
        self._seen[key] = _Seen(take.left - self._unsettled[key], self._clock() + take.frees_in)
        return 0.0 if take.granted else max(take.frees_in, MIN_WAIT)

    async def _give_back(self, calls_key: str, member: str) -> None:
        """Remove a turn whose taker stopped waiting before it heard it had one."""
        try:
            await self._redis.zrem(calls_key, member)
        except RedisError:
            _log.warning("could not give back a turn of %s; it counts until its window passes", self.name)

    def free_now(self, key: str | None) -> bool:
        """Whether a call for ``key`` could go at once, as far as this process last heard."""
        if not self._redis_ok():
            return self._local.free_now(key)
        now = self._clock()
        if self._waiting[key] or now < self._held_until:
            return False
        seen = self._seen.get(key)
        return seen is None or seen.until <= now or seen.left > 0

    def take_now(self, key: str | None) -> bool:
        """Take a turn for ``key`` if it looks free; the caller must :meth:`settle` it before its call."""
        if not self._redis_ok():
            return self._local.take_now(key)
        if not self.free_now(key):
            return False
        now, seen = self._clock(), self._seen.get(key)
        if seen is None or seen.until <= now:
            seen = self._seen[key] = _Seen(self.calls, now + self.window)
        seen.left -= 1
        self._unsettled[key] += 1
        return True

    async def settle(self, key: str | None) -> bool:
        """Take in Redis the turn :meth:`take_now` gave; False if another process had it first."""
        self._unsettled[key] -= 1
        if self._unsettled[key] <= 0:
            del self._unsettled[key]
        if not self._redis_ok():
            return True  # take_now took it from the budget in this process
        try:
            return await self.try_take(key) == 0
        except RedisError:
            self._fall_back()
            return self._local.take_now(key)

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
