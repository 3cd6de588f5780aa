"""Daily quotas: which counter a use goes on, and when it resets (UTC midnight).

Pure functions; the counting itself is the store's (:meth:`core.store.Store.take_unit`),
so a quota holds across every process sharing the store.
"""

from __future__ import annotations

import datetime as dt

from core.store import PlayerKey


def counter_key(kind: str, player: PlayerKey, now: dt.datetime) -> str:
    """The store counter of ``player``'s ``kind`` uses on ``now``'s UTC day."""
    return f"quota:{kind}:{now.astimezone(dt.UTC):%Y-%m-%d}:{player}"


def next_reset(now: dt.datetime) -> dt.datetime:
    """The next UTC midnight after ``now``: when today's counters stop counting."""
    today = now.astimezone(dt.UTC).date()
    return dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)

