"""What a command passes before it spends OpenAI money, in this order:

1. one at a time: a user has at most one ``/draw`` and one character drawing in flight
   (a lock in the store, so it holds across processes; its expiry frees it if a process dies);
2. moderation (``MODERATION``): flagged input is refused politely and privately, costing no quota;
3. the user's daily quota (``QUOTA_*_PER_DAY``), counted in the store; a request that then
   fails upstream gives its unit back;
4. a place among this process's ``OPENAI_MAX_CONCURRENCY`` OpenAI calls; a request that has
   to wait is told privately that it is queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Literal

from core import quota
from core.errors import ContentBlocked, QuotaExceeded, UpstreamError
from core.messages import text
from core.slots import Hold
from handlers.port import Command, Reply, Services

Spend = Literal["ask", "draw"]
"""What a request spends: a chat answer, or an image (``/draw`` or a drawn janken opponent)."""

QUOTA_COMMANDS: dict[Spend, str] = {"ask": "/ask", "draw": "/draw"}

UNLIMITED = 2**31
"""The counter's limit when a quota is 0 (unlimited): uses are still counted for ``/usage``."""

LOCK_TTL = 300.0
"""Seconds a drawing's lock outlives a process that died holding it: longer than a drawing takes
(OpenAI's timeout and retries), short enough that a crash does not lock the user out for long."""

Clock = Callable[[], dt.datetime]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@contextlib.asynccontextmanager
async def one_at_a_time(name: str, command: Command, services: Services) -> AsyncIterator[None]:
    """Hold the user's ``name`` lock (e.g. ``draw``) for the block; refuse if it is held already."""
    key = f"inflight:{name}:{quota.spender(command.player)}"
    holder = secrets.token_hex(8)  # so a lock that outlived its TTL and was taken again is not freed by us
    if not await services.store.claim(key, LOCK_TTL, holder=holder):
        raise QuotaExceeded("draw_in_flight")
    try:
        yield
    finally:
        await services.store.release(key, holder=holder)


@contextlib.asynccontextmanager
async def spending(
    spend: Spend,
    prompt: str,
    command: Command,
    reply: Reply,
    services: Services,
    *,
    clock: Clock = _utc_now,
) -> AsyncIterator[Hold]:
    """Moderate ``prompt``, count one unit of the user's ``spend`` quota, then hold an OpenAI slot.

    The block gets the slot's :class:`~core.slots.Hold`, to give it back as soon as OpenAI is
    done (a streamed answer may take longer to show than to generate). A unit is given back
    if the block fails upstream (an outage, a rate limit, a refusal by the provider's safety
    system, a stream cut off) or is cancelled (the bot stopping): the user did not get what
    they asked for.
    """
    services.ai.check()
    await _moderate(spend, prompt, services)
    async with _counted(spend, command, services, clock()), queued(command, reply, services) as hold:
        yield hold


async def _moderate(spend: Spend, prompt: str, services: Services) -> None:
    mode = services.limits.moderation
    if mode == "all" or (mode == "draw" and spend == "draw"):
        async with services.openai_slots.held():
            flagged = await services.ai.flagged(prompt)
        if flagged:
            raise ContentBlocked("moderation_flagged")


@contextlib.asynccontextmanager
async def _counted(spend: Spend, command: Command, services: Services, now: dt.datetime) -> AsyncIterator[None]:
    """Count the use on today's counter (kept even without a quota: ``/usage`` shows it)."""
    limits = services.limits
    limit = limits.quota_ask_per_day if spend == "ask" else limits.quota_draw_per_day
    key = quota.counter_key(spend, quota.spender(command.player), now)
    if await services.store.take_unit(key, limit or UNLIMITED, limits.quota_ttl) is None:
        reset = quota.next_reset(now)
        hours, minutes = divmod(max(1, int((reset - now).total_seconds() + 59) // 60), 60)
        raise QuotaExceeded(
            "quota_exceeded",
            limit=limit,
            command=QUOTA_COMMANDS[spend],
            resets=f"{reset:%H:%M}",
            hours=hours,
            minutes=minutes,
        )
    try:
        yield
    except (UpstreamError, ContentBlocked, asyncio.CancelledError):
        await services.store.give_unit(key)
        raise


@contextlib.asynccontextmanager
async def queued(command: Command, reply: Reply, services: Services) -> AsyncIterator[Hold]:
    """Hold one of this process's OpenAI slots; tell the user privately if they must wait for one."""
    slots = services.openai_slots
    if slots.would_wait():
        await reply.send_private(text("queued", command.locale, position=slots.waiting + 1))
    async with slots.held() as hold:
        yield hold
