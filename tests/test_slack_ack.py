"""The ack-first gate: slow work starts after its ack, and after a burst of arrivals settles."""

from __future__ import annotations

import asyncio

from bot.slack_app.ack import AckFirst


async def test_work_waits_for_its_own_ack() -> None:
    gate = AckFirst(quiet=0.001)
    turn = gate.arrived()
    waiting = asyncio.create_task(turn.wait())
    await asyncio.sleep(0.05)
    assert not waiting.done()
    turn.sent()
    await asyncio.wait_for(waiting, timeout=1)


async def test_work_waits_while_requests_keep_arriving_then_starts() -> None:
    gate = AckFirst(quiet=0.05, longest=5)
    turn = gate.arrived()
    turn.sent()
    waiting = asyncio.create_task(turn.wait())
    for _ in range(10):
        await asyncio.sleep(0.01)
        gate.arrived().sent()
        assert not waiting.done()
    await asyncio.wait_for(waiting, timeout=1)


async def test_work_waits_until_every_ack_is_out() -> None:
    gate = AckFirst(quiet=0.001, longest=5)
    mine, other = gate.arrived(), gate.arrived()
    mine.sent()
    waiting = asyncio.create_task(mine.wait())
    await asyncio.sleep(0.05)
    assert not waiting.done()  # another request is still waiting for its ack
    other.sent()
    await asyncio.wait_for(waiting, timeout=1)


async def test_an_endless_burst_holds_work_back_no_longer_than_longest() -> None:
    gate = AckFirst(quiet=0.05, longest=0.1)
    turn = gate.arrived()
    turn.sent()
    waiting = asyncio.create_task(turn.wait())
    for _ in range(300):  # three seconds of arrivals, if the gate never opened
        if waiting.done():
            break
        await asyncio.sleep(0.01)
        gate.arrived().sent()
    assert waiting.done()
