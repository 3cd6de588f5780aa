"""Acknowledge first, then work: under a burst, slow work waits until Slack has its acks.

Slack wants every command answered within 3 seconds. Under a burst (two hundred
``/ask`` at once), work that starts right after one ack competes on the event
loop with the acks still being made, and they slip. So the HTTP front door
counts requests in and acks out, and a listener's work starts once every ack is
out and no request has come in for a moment, never later than ``longest``
after its own ack.
"""

from __future__ import annotations

import asyncio
import contextlib

AFTER_ACK = "after_ack"
"""Bolt context key: the request's :class:`AckTurn`, set by the HTTP front door."""


class AckFirst:
    """Counts requests in and acks out at the front door; one per server."""

    def __init__(self, *, quiet: float = 0.02, longest: float = 0.25) -> None:
        self.quiet = quiet
        self.longest = longest
        self.last_arrival = 0.0
        self.pending = 0
        self.all_sent = asyncio.Event()

    def arrived(self) -> AckTurn:
        """Note a request as it comes in; call ``sent()`` on the returned turn once it is answered."""
        self.last_arrival = asyncio.get_running_loop().time()
        self.pending += 1
        self.all_sent.clear()
        return AckTurn(self)

    def _answered(self) -> None:
        self.pending -= 1
        if not self.pending:
            self.all_sent.set()


class AckTurn:
    """One request's place in line: :meth:`sent` once its ack is out, :meth:`wait` before slow work."""

    def __init__(self, gate: AckFirst) -> None:
        self._gate = gate
        self._sent = asyncio.Event()

    def sent(self) -> None:
        if not self._sent.is_set():
            self._sent.set()
            self._gate._answered()

    async def wait(self) -> None:
        await self._sent.wait()
        gate, loop = self._gate, asyncio.get_running_loop()
        deadline = loop.time() + gate.longest
        while (remaining := deadline - loop.time()) > 0:
            if gate.pending:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(gate.all_sent.wait(), remaining)
                continue
            idle = loop.time() - gate.last_arrival
            if idle >= gate.quiet:
                return
            await asyncio.sleep(min(gate.quiet - idle, remaining))
