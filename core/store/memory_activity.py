"""The in-process store's command log and monthly usage (see :class:`core.store.base.Store`)."""

from __future__ import annotations

import bisect
import time
from collections import defaultdict

from core.store import codec
from core.store.activity import USAGE_TTL, HistoryEntry, Usage, UsageByModel, by_model
from core.store.base import PlayerKey, Store

_Row = tuple[float, int, str]
"""A logged entry: its time, its number in logging order, and its encoded record."""


class MemoryActivity(Store):
    """Each player's log as a list kept sorted oldest first; no method awaits mid-change."""

    def __init__(self, *, entries_remembered: int) -> None:
        self._entries: defaultdict[PlayerKey, list[_Row]] = defaultdict(list)
        self._entries_logged = 0
        self._entries_remembered = entries_remembered
        self._usage: dict[tuple[PlayerKey, str], tuple[dict[str, Usage], float]] = {}
        """Each player's totals per month by model, and when the month's expire (``time.monotonic()``)."""

    async def log_entry(self, player: PlayerKey, entry: HistoryEntry, *, keep: float) -> None:
        self._entries_logged += 1
        log = self._entries[player]
        bisect.insort(log, (entry.time, self._entries_logged, codec.dump_entry(entry)))
        del log[: _first_live(log, keep)]
        del log[: max(0, len(log) - self._entries_remembered)]

    async def entries(self, player: PlayerKey, *, offset: int, limit: int, keep: float) -> list[HistoryEntry]:
        start = max(0, offset)

        async def fetch() -> list[tuple[_Row, str]]:
            newest = self._live(player, keep)[::-1][start : start + max(0, limit)]
            return [(row, row[2]) for row in newest]

        async def drop(row: _Row, text: str) -> bool:
            log = self._entries.get(player, [])
            if row not in log:
                return False
            log.remove(row)
            return True

        return await codec.readable_entries(str(player), fetch, drop)

    async def count_entries(self, player: PlayerKey, *, keep: float) -> int:
        return len(self._live(player, keep))

    async def clear_entries(self, player: PlayerKey, *, keep: float) -> int:
        held = len(self._live(player, keep))
        self._entries.pop(player, None)
        return held

    def _live(self, player: PlayerKey, keep: float) -> list[_Row]:
        """``player``'s entries no older than ``keep``, oldest first."""
        log = self._entries.get(player, [])
        return log[_first_live(log, keep) :]

    async def add_usage(self, player: PlayerKey, month: str, model: str, used: Usage) -> None:
        totals = dict(self._usage_of(player, month))
        totals[model] = totals.get(model, Usage()).plus(used)
        self._usage[player, month] = (totals, time.monotonic() + USAGE_TTL)

    async def usage(self, player: PlayerKey, month: str) -> UsageByModel:
        return by_model(self._usage_of(player, month).items())

    def _usage_of(self, player: PlayerKey, month: str) -> dict[str, Usage]:
        totals, expiry = self._usage.get((player, month), ({}, 0.0))
        return totals if expiry > time.monotonic() else {}


def _first_live(log: list[_Row], keep: float) -> int:
    """Where the entries no older than ``keep`` start in ``log`` (sorted oldest first)."""
    return bisect.bisect_left(log, (time.time() - keep,))
