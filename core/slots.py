"""Slots: at most N holders at once in this process, the rest wait in arrival order.

The OpenAI calls of one process go through one :class:`Slots` (``OPENAI_MAX_CONCURRENCY``),
so a burst queues here instead of opening hundreds of connections at once. A handler
asks whether it would wait (:meth:`Slots.would_wait`) to tell the user they are queued.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator, Callable


class Slots:
    """A first-come, first-served counting lock; ``size`` 0 means no limit."""

    def __init__(self, size: int = 0) -> None:
        if size < 0:
            raise ValueError("size must be 0 (no limit) or more")
        self.size = size
        self._busy = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    @property
    def busy(self) -> int:
        """How many hold a slot now."""
        return self._busy

    @property
    def waiting(self) -> int:
        """How many wait for a slot now."""
        return sum(1 for waiter in self._waiters if not waiter.done())

    def would_wait(self) -> bool:
        """Whether a caller arriving now would have to wait."""
        return bool(self.size) and (self._busy >= self.size or self.waiting > 0)

    @contextlib.asynccontextmanager
    async def held(self) -> AsyncIterator[Hold]:
        """Hold a slot for the block (or until :meth:`Hold.release`), waiting in turn for one;
        a cancelled wait takes none."""
        await self._acquire()
        hold = Hold(self._release)
        try:
            yield hold
        finally:
            hold.release()

    async def _acquire(self) -> None:
        if not self.would_wait():
            self._busy += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter  # the releaser counted us in before waking us
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release()  # woken and cancelled at once: pass the slot on
            raise
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)

    def _release(self) -> None:
        self._busy -= 1
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._busy += 1
                waiter.set_result(None)
                return


class Hold:
    """One held slot; :meth:`release` gives it back early (e.g. once a stream has ended), once."""

    def __init__(self, release: Callable[[], None]) -> None:
        self._release: Callable[[], None] | None = release

    def release(self) -> None:
        if self._release is not None:
            release, self._release = self._release, None
            release()
