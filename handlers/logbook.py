"""Log a finished command in the user's history and add what it used to their month's usage.

Commands the log does not keep (a transcription) still add their usage, with :func:`add_usage`.
"""

from __future__ import annotations

import time

from core.store.activity import HistoryEntry, LoggedCommand, Usage, month_of
from handlers.port import Command, Services


async def record(
    command: Command,
    services: Services,
    kind: LoggedCommand,
    *,
    prompt: str,
    answer: str,
    model: str,
    usage: Usage | None = None,
) -> None:
    """Add one entry to ``command``'s user's log (kept ``HISTORY_DAYS``) and count its usage,
    as ``model``'s (the model that answered, the one it is billed at)."""
    now = time.time()
    entry = HistoryEntry(now, kind, prompt, answer, model, usage or Usage())
    await services.store.log_entry(command.player, entry, keep=services.accounting.history_keep)
    if usage is not None:
        await add_usage(command, services, usage, model=model, now=now)


async def add_usage(
    command: Command, services: Services, usage: Usage, *, model: str, now: float | None = None
) -> None:
    """Add ``usage`` of ``model`` to the user's totals for this month (nothing for none); /usage
    prices it at ``model``'s price."""
    if usage != Usage():
        await services.store.add_usage(command.player, month_of(time.time() if now is None else now), model, usage)
