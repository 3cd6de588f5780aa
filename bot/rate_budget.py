"""A platform's rate limit, kept on our side so calls wait their turn instead of meeting a 429.

Slack publishes its limits as "so many calls a minute" per method and workspace;
a burst is fine as long as no window of that length holds more. A
:class:`RateBudget` books each call a slot so that no window of ``window``
seconds holds more than ``calls`` of them, per key, and a 429's ``Retry-After``
holds every key back until it has passed.
"""

from __future__ import annotations

import asyncio
import collections
import math
import time
from collections.abc import Awaitable, Callable, Hashable


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

    def _next_slot(self, key: Hashable) -> float:
        booked = self._booked.get(key)
        slot = max(self._clock(), self._held_until)
        if booked:
            slot = max(slot, booked[-1])  # never ahead of someone already waiting
            if len(booked) == self.calls:
                slot = max(slot, booked[0] + self.window)
        return slot

    def free_now(self, key: Hashable) -> bool:
        """Whether a call for ``key`` could go at once."""
        return self._next_slot(key) <= self._clock()

    def reserve(self, key: Hashable) -> float:
        """Book the next slot for ``key`` and return how long to wait for it."""
        slot = self._next_slot(key)
        booked = self._booked.get(key)
        if booked is None:
            booked = self._booked[key] = collections.deque(maxlen=self.calls)
        booked.append(slot)
        return max(0.0, slot - self._clock())

    def take_now(self, key: Hashable) -> bool:
        """Book a slot for ``key`` only if it is free at once."""
        return self.free_now(key) and self.reserve(key) == 0.0

    async def acquire(self, key: Hashable) -> None:
        """Wait for this caller's turn to use ``key``."""
        wait = self.reserve(key)
        while wait > 0:
            await self._sleep(wait)
            wait = self._held_until - self._clock()  # a Retry-After that came while we waited

    def pause(self, seconds: float) -> None:
        """Hold every key for ``seconds`` (the platform said Retry-After)."""
        self._held_until = max(self._held_until, self._clock() + seconds)
