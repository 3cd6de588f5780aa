"""Spending limits through the handlers: quotas, moderation, one drawing at a time, the OpenAI queue."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import AsyncIterator

import pytest

from core import errors, quota
from core.ai import AIService
from core.slots import Slots
from core.store import PlayerKey
from core.store.base import Store
from core.store.memory import MemoryStore
from handlers import admission
from handlers.port import Command, Limits, Services
from handlers.registry import HANDLERS
from tests.conftest import open_backend
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.recording_reply import RecordingReply, cmd, run


def services_with(ai: AIService, store: Store | None = None, **limits: object) -> Services:
    return Services(ai=ai, store=store or MemoryStore(), rng=random.Random(1), limits=Limits(**limits))  # type: ignore[arg-type]


# quotas


async def test_asks_over_the_daily_quota_are_refused_with_the_reset_time(
    ai: AIService, fake_openai: FakeOpenAI
) -> None:
    services = services_with(ai, quota_ask_per_day=2)
    await run("ask", cmd("one"), services)
    await run("ask", cmd("two"), services)
    with pytest.raises(errors.QuotaExceeded) as refused:
        await run("ask", cmd("three"), services)
    assert len(fake_openai.calls("chat")) == 2
    message = refused.value.message()
    assert "2" in message and "/ask" in message and "00:00 UTC" in message


async def test_the_quota_is_per_user_and_per_command(ai: AIService, fake_openai: FakeOpenAI) -> None:
    services = services_with(ai, quota_ask_per_day=1, quota_draw_per_day=1)
    await run("ask", cmd("mine"), services)
    await run("ask", cmd("hers", user="bob"), services)
    await run("draw", cmd("a fox"), services)  # images count apart from questions
    with pytest.raises(errors.QuotaExceeded):
        await run("draw", cmd("another fox"), services)
    assert len(fake_openai.calls("chat")) == 2 and len(fake_openai.calls("images")) == 1


async def test_zero_means_unlimited(ai: AIService, fake_openai: FakeOpenAI) -> None:
    store = MemoryStore()
    services = services_with(ai, store, quota_ask_per_day=0)
    for i in range(5):
        await run("ask", cmd(f"q{i}"), services)
    assert len(fake_openai.calls("chat")) == 5
    today = quota.counter_key("ask", quota.spender(cmd("").player), dt.datetime.now(dt.UTC))
    assert await store.count(today) == 5  # still counted, for /usage


async def test_a_request_that_fails_upstream_gives_its_unit_back(ai: AIService, fake_openai: FakeOpenAI) -> None:
    services = services_with(ai, quota_ask_per_day=1, quota_draw_per_day=1)
    fake_openai.fail("chat", "server")
    with pytest.raises(errors.Unavailable):
        await run("ask", cmd("one"), services)
    fake_openai.fail("images", "content_policy")
    with pytest.raises(errors.ContentBlocked):
        await run("draw", cmd("a fox"), services)
    await run("ask", cmd("again"), services)  # the unit came back, so this one is within quota
    reply = await run("draw", cmd("a fox"), services)
    assert reply.kinds()[-1] == "image"


async def test_a_stream_cut_midway_gives_its_unit_back(ai: AIService, fake_openai: FakeOpenAI) -> None:
    services = services_with(ai, quota_ask_per_day=1)
    fake_openai.cut_stream_after(2)
    with pytest.raises(errors.Unavailable):
        await run("ask", cmd("one"), services)
    fake_openai.cut_stream_after(99)
    await run("ask", cmd("two"), services)
    assert len(fake_openai.calls("chat")) == 2


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
async def test_a_quota_holds_across_processes_sharing_the_store(
    backend: str, ai: AIService, fake_openai: FakeOpenAI, request: pytest.FixtureRequest, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    first = await open_backend(backend, request, tmp_path)
    second = await open_backend(backend, request, tmp_path)
    try:
        one, two = services_with(ai, first, quota_ask_per_day=3), services_with(ai, second, quota_ask_per_day=3)
        results = await asyncio.gather(
            *(run("ask", cmd(f"q{i}"), one if i % 2 else two) for i in range(8)), return_exceptions=True
        )
    finally:
        await first.close()
        await second.close()
    refused = [r for r in results if isinstance(r, errors.QuotaExceeded)]
    assert len(refused) == 5 and len(fake_openai.calls("chat")) == 3


async def test_the_refusal_counts_down_to_the_next_utc_midnight(ai: AIService) -> None:
    services = services_with(ai, quota_ask_per_day=1)
    late = dt.datetime(2026, 12, 7, 21, 15, 30, tzinfo=dt.UTC)
    reply = RecordingReply()
    async with admission.spending("ask", "q", cmd("q"), reply, services, clock=lambda: late):
        pass
    with pytest.raises(errors.QuotaExceeded) as refused:
        async with admission.spending("ask", "q", cmd("q"), reply, services, clock=lambda: late):
            pass
    assert refused.value.params["hours"] == 2 and refused.value.params["minutes"] == 45
    next_day = late + dt.timedelta(hours=3)
    async with admission.spending("ask", "q", cmd("q"), reply, services, clock=lambda: next_day):
        pass  # a new day, a new counter


def test_counters_are_per_utc_day_and_reset_at_midnight() -> None:
    who = quota.spender(PlayerKey("slack", "T1", "U1"))
    tokyo = dt.timezone(dt.timedelta(hours=9))
    evening = dt.datetime(2026, 12, 7, 23, 59, tzinfo=dt.UTC)
    assert quota.counter_key("ask", who, evening) == "quota:ask:2026-12-07:slack:T1:U1"
    assert quota.counter_key("ask", who, evening.astimezone(tokyo)) == quota.counter_key("ask", who, evening)
    assert quota.next_reset(evening) == dt.datetime(2026, 12, 8, tzinfo=dt.UTC)


async def test_a_discord_user_has_one_allowance_in_every_guild_and_dm(ai: AIService) -> None:
    services = services_with(ai, quota_ask_per_day=1)
    reply = RecordingReply()
    in_guild = Command("discord", "G1", "C1", "U1", "q")
    async with admission.spending("ask", "q", in_guild, reply, services):
        pass
    for elsewhere in ("G2", "dm"):  # user ids are global on Discord, and the bot can be user-installed
        with pytest.raises(errors.QuotaExceeded):
            async with admission.spending("ask", "q", Command("discord", elsewhere, "C9", "U1", "q"), reply, services):
                pass
    other_workspace = Command("slack", "T2", "C1", "U1", "q")  # a Slack user id belongs to its workspace
    async with admission.spending("ask", "q", Command("slack", "T1", "C1", "U1", "q"), reply, services):
        pass
    async with admission.spending("ask", "q", other_workspace, reply, services):
        pass


async def test_a_request_cancelled_by_a_shutdown_gives_its_unit_back(ai: AIService) -> None:
    services = services_with(ai, quota_ask_per_day=1)
    started = asyncio.Event()

    async def interrupted() -> None:
        async with admission.spending("ask", "q", cmd("q"), RecordingReply(), services):
            started.set()
            await asyncio.sleep(10)

    task = asyncio.create_task(interrupted())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with admission.spending("ask", "q", cmd("q"), RecordingReply(), services):
        pass  # the unit came back


# moderation


async def test_a_flagged_drawing_is_refused_politely_without_spending_quota(
    ai: AIService, fake_openai: FakeOpenAI
) -> None:
    services = services_with(ai, moderation="draw", quota_draw_per_day=1)
    with pytest.raises(errors.ContentBlocked) as refused:
        await run("draw", cmd("something forbidden"), services)
    assert refused.value.key == "moderation_flagged"
    assert fake_openai.calls("images") == []
    assert fake_openai.calls("moderations")[0].body["input"] == "something forbidden"
    await run("draw", cmd("a fox"), services)  # the quota was not spent
    assert len(fake_openai.calls("images")) == 1


async def test_a_flagged_janken_character_is_refused_before_it_is_drawn(
    ai: AIService, fake_openai: FakeOpenAI
) -> None:
    services = services_with(ai, moderation="draw")
    with pytest.raises(errors.ContentBlocked):
        await run("janken", cmd("a forbidden wizard"), services)
    assert fake_openai.calls("images") == []
    assert await services.store.get_game(cmd("").player) is None


@pytest.mark.parametrize(("mode", "moderated"), [("off", False), ("draw", False), ("all", True)])
async def test_asks_are_moderated_only_when_moderation_is_all(
    mode: str, moderated: bool, ai: AIService, fake_openai: FakeOpenAI
) -> None:
    services = services_with(ai, moderation=mode)
    if moderated:
        with pytest.raises(errors.ContentBlocked):
            await run("ask", cmd("a forbidden question"), services)
        assert fake_openai.calls("chat") == []
    else:
        await run("ask", cmd("a forbidden question"), services)
        assert len(fake_openai.calls("chat")) == 1
    assert len(fake_openai.calls("moderations")) == int(moderated)


async def test_moderation_off_never_calls_the_endpoint_for_drawings(ai: AIService, fake_openai: FakeOpenAI) -> None:
    await run("draw", cmd("something forbidden"), services_with(ai, moderation="off"))
    assert fake_openai.calls("moderations") == [] and len(fake_openai.calls("images")) == 1


async def test_a_moderation_outage_is_an_outage_not_a_pass(ai: AIService, fake_openai: FakeOpenAI) -> None:
    fake_openai.fail("moderations", "server")
    with pytest.raises(errors.Unavailable):
        await run("draw", cmd("a fox"), services_with(ai, moderation="draw"))
    assert fake_openai.calls("images") == []


async def test_a_server_without_moderation_tells_the_operators_setting(ai: AIService, fake_openai: FakeOpenAI) -> None:
    fake_openai.fail("moderations", "not_found")
    with pytest.raises(errors.NotConfigured) as refused:
        await run("draw", cmd("a fox"), services_with(ai, moderation="draw"))
    assert "MODERATION=off" in refused.value.message() and fake_openai.calls("images") == []


# one drawing at a time


async def test_one_drawing_per_user_at_a_time(ai: AIService, fake_openai: FakeOpenAI) -> None:
    services = services_with(ai)
    fake_openai.delay = 0.3
    results = await asyncio.gather(
        *(run("draw", cmd(f"fox {i}", user="alice"), services) for i in range(5)),
        run("draw", cmd("owl", user="bob"), services),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, errors.QuotaExceeded)]
    assert len(refused) == 4 and {r.key for r in refused} == {"draw_in_flight"}
    assert len(fake_openai.calls("images")) == 2  # one for alice, one for bob
    fake_openai.delay = 0
    await run("draw", cmd("fox again"), services)  # the lock went with the drawing


async def test_a_drawing_that_outlived_its_lock_does_not_free_the_next_ones(
    ai: AIService, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(admission, "LOCK_TTL", 0.2)
    services = services_with(ai)
    fake_openai.delay = 0.8
    slow = asyncio.create_task(run("draw", cmd("a slow fox"), services))
    await asyncio.sleep(0.5)  # its lock has expired; a second drawing takes it
    monkeypatch.setattr(admission, "LOCK_TTL", 60.0)
    second = asyncio.create_task(run("draw", cmd("an owl"), services))
    await slow  # the first ends and releases: not the second's lock
    with pytest.raises(errors.QuotaExceeded):
        await run("draw", cmd("a third"), services)
    await second
    assert len(fake_openai.calls("images")) == 2


async def test_a_failed_drawing_frees_the_lock(ai: AIService, fake_openai: FakeOpenAI) -> None:
    services = services_with(ai)
    fake_openai.fail("images", "server")
    with pytest.raises(errors.Unavailable):
        await run("draw", cmd("a fox"), services)
    reply = await run("draw", cmd("a fox"), services)
    assert reply.kinds()[-1] == "image"


async def test_a_drawing_and_a_character_drawing_may_run_side_by_side(
    ai: AIService, fake_openai: FakeOpenAI
) -> None:
    services = services_with(ai)
    fake_openai.delay = 0.2
    await asyncio.gather(run("draw", cmd("a fox"), services), run("janken", cmd("a grumpy wizard"), services))
    assert len(fake_openai.calls("images")) == 2


# the OpenAI queue


async def test_requests_beyond_the_concurrency_limit_wait_and_are_told_they_are_queued(
    ai: AIService, fake_openai: FakeOpenAI
) -> None:
    services = services_with(ai)
    services.openai_slots = Slots(1)
    fake_openai.chunk_delay = 0.05
    first, second, third = RecordingReply(), RecordingReply(), RecordingReply()
    await asyncio.gather(
        HANDLERS["ask"](cmd("one"), first, services),
        HANDLERS["ask"](cmd("two", user="bob"), second, services),
        HANDLERS["ask"](cmd("three", user="carol"), third, services),
    )
    assert "private" not in first.kinds()
    assert [v for v in second.values("private")] == [
        "The bot is busy: you are number 1 in the queue. Your request starts as soon as it can."
    ]
    assert "number 2 in the queue" in str(third.values("private"))
    for reply in (first, second, third):
        assert reply.values("stream")[0][1] == fake_openai.chunks  # every one completes
    assert services.openai_slots.busy == 0


class PacedReply(RecordingReply):
    """Takes every delta as it comes, then needs a while more to show the answer (as Slack's pacing does)."""

    def __init__(self) -> None:
        super().__init__()
        self.generated = asyncio.Event()

    async def stream_text(self, thread: str, deltas: AsyncIterator[str]) -> list[str]:
        async def watched() -> AsyncIterator[str]:
            async for delta in deltas:
                yield delta
            self.generated.set()

        refs = await super().stream_text(thread, watched())
        await asyncio.sleep(0.5)
        return refs


async def test_an_answer_gives_its_openai_slot_back_once_generated_not_once_shown(
    ai: AIService, fake_openai: FakeOpenAI
) -> None:
    services = services_with(ai)
    services.openai_slots = Slots(1)
    first = PacedReply()
    showing = asyncio.create_task(HANDLERS["ask"](cmd("one"), first, services))
    await first.generated.wait()
    second = await run("ask", cmd("two", user="bob"), services)
    assert "private" not in second.kinds() and not showing.done()  # not queued behind a slow display
    await showing


async def test_slots_serve_waiters_in_order_and_a_cancelled_waiter_takes_none() -> None:
    slots = Slots(1)
    order: list[int] = []

    async def use(i: int) -> None:
        async with slots.held():
            order.append(i)
            await asyncio.sleep(0.01)

    holder = asyncio.create_task(use(0))
    await asyncio.sleep(0)
    waiters = [asyncio.create_task(use(i)) for i in range(1, 5)]
    await asyncio.sleep(0)
    waiters[1].cancel()
    await asyncio.gather(holder, *waiters, return_exceptions=True)
    assert order == [0, 1, 3, 4]
    assert slots.busy == 0 and slots.waiting == 0 and not slots.would_wait()


# conversation expiry


async def test_a_conversation_expires_after_its_ttl(ai: AIService, fake_openai: FakeOpenAI) -> None:
    services = services_with(ai, conversation_ttl=0.2)
    await run("ask", cmd("I am Ada.", thread="t"), services)
    await run("ask", cmd("Who am I?", thread="t"), services)
    assert len(fake_openai.calls("chat")[1].body["messages"]) == 4  # system, earlier turn pair, question
    await asyncio.sleep(0.3)
    await run("ask", cmd("Who am I now?", thread="t"), services)
    assert len(fake_openai.calls("chat")[2].body["messages"]) == 2  # system and question: forgotten
