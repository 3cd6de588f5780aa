"""Daily quotas: which counter a use goes on, and when it resets (UTC midnight).

Pure functions; the counting itself is the store's (:meth:`core.store.Store.take_unit`),
so a quota holds across every process sharing the store.
"""

from __future__ import annotations

import datetime as dt

from core.store import PlayerKey

GLOBAL_USER_IDS = frozenset({"discord"})
"""Platforms whose user ids are one person everywhere: a Discord user is the same in every guild,
in DMs and through a user install, so their allowance must not multiply by the guilds they are in."""


def spender(player: PlayerKey) -> str:
    """Whose allowance a request spends: the user, across workspaces where the platform's ids are global."""
    if player.platform in GLOBAL_USER_IDS:
        return f"{player.platform}:{player.user}"
    return str(player)


def counter_key(kind: str, who: str, now: dt.datetime) -> str:
    """The store counter of ``who``'s (a :func:`spender`) ``kind`` uses on ``now``'s UTC day."""
    return f"quota:{kind}:{now.astimezone(dt.UTC):%Y-%m-%d}:{who}"


def next_reset(now: dt.datetime) -> dt.datetime:
    """The next UTC midnight after ``now``: when today's counters stop counting."""
    today = now.astimezone(dt.UTC).date()
    return dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)

