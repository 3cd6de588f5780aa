"""A platform's rate limit, kept on our side so calls wait their turn instead of meeting a 429.

Slack publishes its limits as "so many calls a minute" per method and workspace;
a burst is fine as long as no window of that length holds more. A
:class:`RateBudget` books each call a slot so that no window of ``window``
seconds holds more than ``calls`` of them, per key, and a 429's ``Retry-After``
holds every key back until it has passed. A caller that stops waiting gives its
slot back.

A pacer sees a budget through :class:`Budget`, so the same pacer can use one kept
in this process or one shared by several (:mod:`bot.shared_rate_budget`).
"""

from __future__ import annotations

import asyncio
import collections
import math
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Protocol

SWEEP_KEYS = 1024
"""With more keys than this, each booking first forgets the keys idle for a window."""


class Budget(Protocol):
    """A rate budget as a pacer uses it: at most so many calls per key in any window.

    ``free_now`` and ``take_now`` answer without waiting for a turn; they are
    awaited because a budget shared by several processes must ask Redis.
    """

    async def free_now(self, key: str | None) -> bool:
        """Whether a call for ``key`` could go at once."""

    async def take_now(self, key: str | None) -> bool:
        """Take a turn for ``key`` only if one is free at once."""

    async def acquire(self, key: str | None) -> None:
        """Wait for a turn for ``key``; a caller cancelled while waiting leaves no turn taken."""

    async def hold(self, seconds: float) -> None:
        """Hold every key for ``seconds`` (the platform said Retry-After)."""


BudgetFactory = Callable[[str, int, float], Budget]
"""Makes the budget named ``name`` (a method) of ``calls`` per ``window`` seconds."""


def local_budget(name: str, calls: int, window: float) -> Budget:
    """A budget kept in this process: right when it is the only one calling."""
    return RateBudget(calls, window)


class RateBudget:
    """At most ``calls`` per key in any ``window`` seconds; waiters are served in arrival order."""

    def __init__(
        self,
        calls: int,
        window: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if calls < 1 or window <= 0:
            raise ValueError("calls must be at least 1 and window positive")
        self.calls = calls
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._booked: dict[Hashable, collections.deque[float]] = {}
        self._held_until = -math.inf

    def _bookings(self, key: Hashable) -> collections.deque[float]:
        """The slots booked for ``key`` that can still matter: none older than one window."""
        booked = self._booked.get(key)
        if booked is None:
            return collections.deque()
        horizon = self._clock() - self.window
        while booked and booked[0] <= horizon:
            booked.popleft()
        if not booked:
            del self._booked[key]
        return booked

    def _next_slot(self, booked: collections.deque[float]) -> float:
        slot = max(self._clock(), self._held_until)
        if booked:
            slot = max(slot, booked[-1])  # never ahead of someone already waiting
            if len(booked) >= self.calls:
                slot = max(slot, booked[-self.calls] + self.window)
        return slot

    def _free(self, key: Hashable) -> bool:
        return self._next_slot(self._bookings(key)) <= self._clock()

    async def free_now(self, key: Hashable) -> bool:
        """Whether a call for ``key`` could go at once."""
        return self._free(key)

    def reserve(self, key: Hashable) -> float:
        """Book the next slot for ``key`` and return how long to wait for it."""
        return max(0.0, self._book(key) - self._clock())

    def _book(self, key: Hashable) -> float:
        booked = self._bookings(key)
        slot = self._next_slot(booked)
        booked.append(slot)
        self._booked[key] = booked
        if len(self._booked) > SWEEP_KEYS:
            for idle in list(self._booked):
                self._bookings(idle)
        return slot

    async def take_now(self, key: Hashable) -> bool:
        """Book a slot for ``key`` only if it is free at once."""
        return self._free(key) and self.reserve(key) == 0.0

    async def acquire(self, key: Hashable) -> None:
        """Wait for this caller's turn to use ``key``; cancelled, it gives the turn back."""
        slot = self._book(key)
        wait = slot - self._clock()
        try:
            while wait > 0:
                await self._sleep(wait)
                wait = self._held_until - self._clock()  # a Retry-After that came while we waited
        except asyncio.CancelledError:
            self._release(key, slot)
            raise

    def _release(self, key: Hashable, slot: float) -> None:
        booked = self._booked.get(key)
        if booked is not None and slot > self._clock() and slot in booked:
            booked.remove(slot)

    def pause(self, seconds: float) -> None:
        """Hold every key for ``seconds`` (the platform said Retry-After)."""
        self._held_until = max(self._held_until, self._clock() + seconds)

    async def hold(self, seconds: float) -> None:
        """:meth:`pause`, as :class:`Budget` asks for it."""
        self.pause(seconds)
