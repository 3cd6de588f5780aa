"""Acknowledge first, then work: under a burst, slow work waits until Slack has its acks.

Slack wants every command answered within 3 seconds. Under a burst (two hundred
``/ask`` at once), work that starts right after one ack competes on the event
loop with the requests still arriving, and their acks slip. So the HTTP front
door notes each arrival, and a listener starts its slow work once its own ack
is on the wire and no request has arrived for a moment, never later than
``longest`` after its ack.
"""

from __future__ import annotations

import asyncio

AFTER_ACK = "after_ack"
"""Bolt context key: the request's :class:`AckTurn`, set by the HTTP front door."""


class AckFirst:
    """Tracks arrivals at the front door; one per server."""

    def __init__(self, *, quiet: float = 0.02, longest: float = 0.25) -> None:
        self.quiet = quiet
        self.longest = longest
        self.last_arrival = 0.0

    def arrived(self) -> AckTurn:
        """Note a request as it comes in; its listener waits on the returned turn."""
        self.last_arrival = asyncio.get_running_loop().time()
        return AckTurn(self)


class AckTurn:
    """One request's place in line: :meth:`sent` once its ack is out, :meth:`wait` before slow work."""

    def __init__(self, gate: AckFirst) -> None:
        self._gate = gate
        self._sent = asyncio.Event()

    def sent(self) -> None:
        self._sent.set()

    async def wait(self) -> None:
        await self._sent.wait()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._gate.longest
        while (idle := loop.time() - self._gate.last_arrival) < self._gate.quiet and loop.time() < deadline:
            await asyncio.sleep(self._gate.quiet - idle)
