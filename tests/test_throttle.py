"""The shared edit budget, on a fake clock: no sleeping, no fakes of platforms."""

from __future__ import annotations

import asyncio

import pytest

from bot.throttle import EditBudget


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def budget(per_minute: float = 60, burst: int = 1) -> tuple[EditBudget, FakeClock]:
    clock = FakeClock()
    return EditBudget(per_minute, burst, clock=clock, sleep=clock.sleep), clock


def test_an_idle_key_allows_a_burst_then_spaces_calls_at_the_rate() -> None:
    edits, clock = budget(per_minute=60, burst=3)
    waits = [edits.reserve("T1:chat.update") for _ in range(6)]
    assert waits == [0, 0, 0, 1.0, 2.0, 3.0]


def test_keys_are_independent() -> None:
    edits, _ = budget(per_minute=30)
    assert edits.reserve(("T1", "chat.update")) == 0
    assert edits.reserve(("T2", "chat.update")) == 0
    assert edits.reserve(("T1", "chat.appendStream")) == 0
    assert edits.reserve(("T1", "chat.update")) == 2.0


def test_unused_capacity_refills_only_up_to_the_burst() -> None:
    edits, clock = budget(per_minute=60, burst=2)
    edits.reserve("k")
    clock.now += 3600
    assert [edits.reserve("k") for _ in range(4)] == [0, 0, 1.0, 2.0]


def test_pause_holds_every_key_until_retry_after() -> None:
    edits, clock = budget(per_minute=600, burst=5)
    edits.pause(7)
    assert edits.reserve("k") == 7 and edits.reserve("other") == 7
    assert edits.reserve("k") == pytest.approx(7.1)
    clock.now += 60
    assert edits.reserve("k") == 0


async def test_many_waiters_are_served_in_order_at_the_rate() -> None:
    edits, clock = budget(per_minute=120, burst=1)
    order: list[int] = []

    async def waiter(i: int) -> None:
        await edits.acquire("k")
        order.append(i)

    await asyncio.gather(*(waiter(i) for i in range(10)))
    assert order == list(range(10))
    assert clock.now == pytest.approx(1000 + 9 * 0.5)


async def test_a_pause_during_a_wait_holds_that_waiter_too() -> None:
    clock = FakeClock()

    async def sleep(seconds: float) -> None:
        if not clock.slept:
            edits.pause(30)  # a 429 arrives while this caller waits its turn
        await clock.sleep(seconds)

    edits = EditBudget(60, 1, clock=clock, sleep=sleep)
    edits.reserve("k")
    await edits.acquire("k")
    assert clock.now >= 1000 + 30


@pytest.mark.parametrize(("per_minute", "burst"), [(0, 1), (-5, 1), (10, 0)])
def test_nonsense_budgets_are_refused(per_minute: float, burst: int) -> None:
    with pytest.raises(ValueError):
        EditBudget(per_minute, burst)
