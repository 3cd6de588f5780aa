"""Work after an ack: failures reach the one error handler, shutdown lets answers finish."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.work import BackgroundWork


async def test_a_failure_goes_to_its_error_handler() -> None:
    work, told = BackgroundWork(), []

    async def fails() -> None:
        raise ValueError("boom")

    async def on_error(exc: Exception) -> None:
        told.append(exc)

    await work.start(fails, on_error)
    assert [str(e) for e in told] == ["boom"] and len(work) == 0


async def test_a_failing_error_handler_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    async def fails() -> None:
        raise ValueError("boom")

    async def also_fails(exc: Exception) -> None:
        raise RuntimeError("the chat is gone too")

    await BackgroundWork().start(fails, also_fails)
    assert "the error handler failed" in caplog.text and "the chat is gone too" in caplog.text


async def test_drain_waits_for_work_in_progress_and_work_it_starts() -> None:
    work, done = BackgroundWork(), []

    async def later(name: str, seconds: float) -> None:
        await asyncio.sleep(seconds)
        done.append(name)
        if name == "first":
            work.start(lambda: later("started while draining", 0.05), _unused)

    work.start(lambda: later("first", 0.05), _unused)
    await work.drain(timeout=5)
    assert done == ["first", "started while draining"]


async def test_drain_stops_what_is_left_after_its_timeout(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    work = BackgroundWork()
    stuck = work.start(lambda: asyncio.sleep(60), _unused)
    await work.drain(timeout=0.1)
    assert stuck.cancelled() and "letting 1 answers finish" in caplog.text  # cut, so it can close itself
    assert "stopping 1 answers" in caplog.text and len(work) == 0


async def _unused(exc: Exception) -> None:
    raise AssertionError(f"unexpected failure: {exc!r}")
