"""Work started after an acknowledgement: tracked, its failure reported, drained on shutdown.

Every platform answers its user's request at once (Slack's ack, Discord's defer)
and does the slow part afterwards, in a task of its own. :class:`BackgroundWork`
owns those tasks: a failure goes to the handler given with the work (the
adapter's one place that turns errors into chat messages), and on shutdown
:meth:`BackgroundWork.drain` lets answers in progress finish.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

_log = logging.getLogger(__name__)

Work = Callable[[], Awaitable[None]]
OnError = Callable[[Exception], Awaitable[None]]


class BackgroundWork:
    """The tasks doing work after an ack, for one platform."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def start(self, work: Work, on_error: OnError) -> asyncio.Task[None]:
        """Run ``work`` in a task; if it fails, ``on_error`` tells the user."""

        async def run() -> None:
            try:
                await work()
            except Exception as exc:  # noqa: BLE001 - every failure goes to the adapter's one error handler
                try:
                    await on_error(exc)
                except Exception:  # noqa: BLE001 - nothing is left to tell the user with: log it
                    _log.exception("the error handler failed")

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self, timeout: float = 20.0) -> None:
        """Give work in progress (and any started meanwhile) up to ``timeout`` seconds to finish."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if self._tasks:
            _log.info("letting %d answers finish before stopping", len(self._tasks))
        while self._tasks and (remaining := deadline - loop.time()) > 0:
            await asyncio.wait(set(self._tasks), timeout=remaining)
        if self._tasks:  # out of time: stop them now, so each closes its message with a note
            _log.warning("stopping %d answers that did not finish in time", len(self._tasks))
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
