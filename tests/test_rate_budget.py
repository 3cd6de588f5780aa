"""The sliding-window rate budget, on a fake clock: no sleeping, no fakes of platforms."""

from __future__ import annotations

import asyncio

import pytest

from bot.rate_budget import RateBudget


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def budget(calls: int = 3, window: float = 60.0) -> tuple[RateBudget, FakeClock]:
    clock = FakeClock()
    return RateBudget(calls, window, clock=clock, sleep=clock.sleep), clock


def test_a_burst_up_to_the_limit_goes_at_once_then_waits_for_the_window() -> None:
    calls, _ = budget(calls=3, window=60)
    assert [calls.reserve("k") for _ in range(7)] == [0, 0, 0, 60, 60, 60, 120]


def test_no_window_ever_holds_more_than_the_limit() -> None:
    calls, clock = budget(calls=20, window=60)
    slots = []
    for step in range(200):
        clock.now = 1000 + step * 0.7  # callers arriving steadily, faster than the limit
        slots.append(clock.now + calls.reserve("k"))
    for i, start in enumerate(slots):
        assert sum(start <= s < start + 60 for s in slots[i:]) <= 20


def test_keys_are_independent() -> None:
    calls, _ = budget(calls=1)
    assert calls.reserve("C1") == 0
    assert calls.reserve("C2") == 0
    assert calls.reserve("C1") == 60


def test_unused_time_does_not_allow_more_than_the_limit_later() -> None:
    calls, clock = budget(calls=2, window=10)
    calls.reserve("k")
    clock.now += 3600
    assert [calls.reserve("k") for _ in range(4)] == [0, 0, 10, 10]


async def test_take_now_books_only_a_free_turn() -> None:
    calls, clock = budget(calls=2, window=10)
    assert await calls.take_now("k") and await calls.take_now("k")
    assert not await calls.free_now("k") and not await calls.take_now("k")
    assert calls.reserve("k") == 10  # the refused take booked nothing
    clock.now += 10
    assert await calls.take_now("k")  # the window now holds the waiter above and this one
    assert not await calls.take_now("k")


async def test_pause_holds_every_key_until_retry_after() -> None:
    calls, clock = budget(calls=10)
    calls.pause(7)
    assert calls.reserve("k") == 7 and calls.reserve("other") == 7
    assert not await calls.free_now("third")
    clock.now += 7
    assert await calls.free_now("third")


async def test_many_waiters_are_served_in_order() -> None:
    calls, clock = budget(calls=2, window=1)
    order: list[int] = []

    async def waiter(i: int) -> None:
        await calls.acquire("k")
        order.append(i)

    await asyncio.gather(*(waiter(i) for i in range(10)))
    assert order == list(range(10))
    assert clock.now == pytest.approx(1000 + 4)


async def test_a_pause_during_a_wait_holds_that_waiter_too() -> None:
    clock = FakeClock()

    async def sleep(seconds: float) -> None:
        if not clock.slept:
            calls.pause(30)  # a 429 arrives while this caller waits its turn
        await clock.sleep(seconds)

    calls = RateBudget(1, 1, clock=clock, sleep=sleep)
    calls.reserve("k")
    await calls.acquire("k")
    assert clock.now >= 1000 + 30


@pytest.mark.parametrize(("calls", "window"), [(0, 1), (-5, 1), (10, 0)])
def test_nonsense_budgets_are_refused(calls: int, window: float) -> None:
    with pytest.raises(ValueError):
        RateBudget(calls, window)


async def test_a_caller_that_stops_waiting_gives_its_turn_back() -> None:
    clock = FakeClock()
    calls = RateBudget(1, 10, clock=clock, sleep=lambda _: asyncio.Event().wait())  # waits until cancelled
    calls.reserve("k")  # the window's one call
    waiting = asyncio.ensure_future(calls.acquire("k"))  # booked for t+10
    await asyncio.sleep(0)
    assert not waiting.done()
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    assert calls.reserve("k") == 10  # its slot is free again: not pushed back to t+20


def test_old_bookings_and_idle_keys_are_forgotten() -> None:
    calls, clock = budget(calls=2, window=10)
    for channel in range(3000):
        calls.reserve(f"C{channel}")
    clock.now += 11
    calls.reserve("new")
    assert len(calls._booked) == 1
