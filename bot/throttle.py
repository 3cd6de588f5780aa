"""The shared edit budget that every live stream draws from.

Slack counts rate limits per method per workspace (``chat.update`` is Tier 3,
about 50 a minute); Discord per route bucket. Each live message asks the
budget before each edit, so with many streams at once each waits longer and
sends fewer, larger edits, instead of all of them meeting a 429.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Hashable


class EditBudget:
    """A per-key rate (``per_minute``) with a burst allowance, shared by all streams.

    Waiters are served in arrival order; ``pause`` (after a 429) holds every key
    back until the platform's ``Retry-After`` has passed.
    """

    def __init__(
        self,
        per_minute: float,
        burst: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("per_minute must be positive and burst at least 1")
        self.interval = 60.0 / per_minute
        self._burst = burst
        self._clock = clock
        self._sleep = sleep
        self._next: dict[Hashable, float] = {}
        self._held_until = -math.inf

    def reserve(self, key: Hashable) -> float:
        """Book the next slot for ``key`` and return how long to wait for it."""
        now = self._clock()
        slot = max(self._next.get(key, -math.inf), now - (self._burst - 1) * self.interval, self._held_until)
        self._next[key] = slot + self.interval
        return max(0.0, slot - now)

    async def acquire(self, key: Hashable) -> None:
        """Wait for this caller's turn to use ``key``."""
        wait = self.reserve(key)
        while wait > 0:
            await self._sleep(wait)
            wait = self._held_until - self._clock()  # a Retry-After that came while we waited

    def pause(self, seconds: float) -> None:
        """Hold every key for ``seconds`` (the platform said Retry-After)."""
        self._held_until = max(self._held_until, self._clock() + seconds)
