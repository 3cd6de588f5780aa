"""The SQLite store's command log, monthly usage, counter reads and leaderboard
(see :class:`core.store.base.Store`); each call is one transaction, as in :mod:`core.store.sqlite`.
"""

from __future__ import annotations

import abc
import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

from core.janken import Stats
from core.store import codec
from core.store.activity import (
    UNRECORDED_MODEL,
    USAGE_TTL,
    HistoryEntry,
    Measure,
    Usage,
    UsageByModel,
    by_model,
    player_name,
    tie_breaker,
)
from core.store.base import PlayerKey, Ranked, Store, ranked
from core.store.sqlite_schema import USAGE_TABLES, sweep_entries, sweep_usage

_T = TypeVar("_T")


class SQLiteActivity(Store):
    """What :class:`core.store.sqlite.SQLiteStore` keeps besides games, boards and conversations."""

    _entries_remembered: int

    @abc.abstractmethod
    async def _run(self, work: Callable[[sqlite3.Connection], _T], *, write: bool = False) -> _T:
        """Run ``work`` as one transaction (a write takes the write lock up front)."""

    async def count(self, key: str) -> int:
        row = await self._run(
            lambda conn: conn.execute(
                "SELECT count FROM counters WHERE key = ? AND expires > ?", (key, time.time())
            ).fetchone()
        )
        return 0 if row is None else int(row[0])

    async def log_entry(self, player: PlayerKey, entry: HistoryEntry, *, keep: float) -> None:
        key, record = str(player), codec.dump_entry(entry)

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO entries (player, time, data) VALUES (?, ?, ?)", (key, entry.time, record)
            )
            sweep_entries(conn, key, time.time() - keep, self._entries_remembered)

        await self._run(work, write=True)

    async def entries(self, player: PlayerKey, *, offset: int, limit: int, keep: float) -> list[HistoryEntry]:
        key = str(player)

        async def fetch() -> list[tuple[int, str]]:
            if limit <= 0:
                return []
            return await self._run(
                lambda conn: conn.execute(
                    "SELECT seq, data FROM entries WHERE player = ? AND time >= ? "
                    "ORDER BY time DESC, seq DESC LIMIT ? OFFSET ?",
                    (key, time.time() - keep, limit, max(0, offset)),
                ).fetchall()
            )

        async def drop(seq: int, text: str) -> bool:
            return bool(
                await self._run(
                    lambda conn: (
                        conn.execute("DELETE FROM entries WHERE seq = ? AND data = ?", (seq, text)).rowcount
                    ),
                    write=True,
                )
            )

        return await codec.readable_entries(key, fetch, drop)

    async def count_entries(self, player: PlayerKey, *, keep: float) -> int:
        row = await self._run(
            lambda conn: conn.execute(
                "SELECT count(*) FROM entries WHERE player = ? AND time >= ?",
                (str(player), time.time() - keep),
            ).fetchone()
        )
        return int(row[0])

    async def clear_entries(self, player: PlayerKey, *, keep: float) -> int:
        def work(conn: sqlite3.Connection) -> int:
            held = conn.execute(
                "DELETE FROM entries WHERE player = ? AND time >= ?", (str(player), time.time() - keep)
            ).rowcount
            conn.execute("DELETE FROM entries WHERE player = ?", (str(player),))
            return int(held)

        return await self._run(work, write=True)

    async def add_usage(self, player: PlayerKey, month: str, model: str, used: Usage) -> None:
        def work(conn: sqlite3.Connection) -> None:
            now = time.time()
            sweep_usage(conn, str(player), month, now)
            conn.execute(
                "INSERT INTO model_usage (player, month, model, tokens_in, tokens_out, images, expires) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (player, month, model) DO UPDATE SET "
                "tokens_in = tokens_in + excluded.tokens_in, tokens_out = tokens_out + excluded.tokens_out, "
                "images = images + excluded.images",
                (str(player), month, model, used.tokens_in, used.tokens_out, used.images, now + USAGE_TTL),
            )
            for table in USAGE_TABLES:  # the month's totals, every model's, live on together
                conn.execute(
                    f"UPDATE {table} SET expires = ? WHERE player = ? AND month = ?",
                    (now + USAGE_TTL, str(player), month),
                )

        await self._run(work, write=True)

    async def usage(self, player: PlayerKey, month: str) -> UsageByModel:
        rows = await self._run(
            lambda conn: conn.execute(
                "SELECT model, tokens_in, tokens_out, images FROM model_usage "
                "WHERE player = :player AND month = :month AND expires > :now "
                "UNION ALL SELECT :unrecorded, tokens_in, tokens_out, images FROM monthly_usage "
                "WHERE player = :player AND month = :month AND expires > :now",
                {"player": str(player), "month": month, "now": time.time(), "unrecorded": UNRECORDED_MODEL},
            ).fetchall()
        )
        return by_model((str(model), Usage(*map(int, counts))) for model, *counts in rows)

    async def top_players(self, platform: str, workspace: str, *, by: Measure, limit: int) -> list[Ranked]:
        other = tie_breaker(by)  # checks ``by``, which names columns here
        rows = await self._run(
            lambda conn: conn.execute(
                f"SELECT user_id, data, name FROM stats WHERE platform = ? AND workspace = ? AND {by} > 0 "
                f"ORDER BY {by} DESC, {other} DESC, user_id LIMIT ?",
                (platform, workspace, max(0, limit)),
            ).fetchall()
        )
        top = []
        for user, data, name in rows:
            try:
                top.append(ranked(PlayerKey(platform, workspace, user), codec.load_stats(data), name))
            except codec.UndecodableRecord:
                continue  # left out; get_stats drops and logs it
        return top


def write_stats(conn: sqlite3.Connection, player: PlayerKey, stats: Stats, name: str = "") -> None:
    """Store ``player``'s record with the columns the leaderboard ranks it by, and ``name`` as the one
    it shows (an empty ``name`` keeps the one the row has)."""
    conn.execute(
        "INSERT INTO stats (player, data, platform, workspace, user_id, games_won, best_streak, name) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (player) DO UPDATE SET data = excluded.data, "
        "platform = excluded.platform, workspace = excluded.workspace, user_id = excluded.user_id, "
        "games_won = excluded.games_won, best_streak = excluded.best_streak, "
        "name = coalesce(excluded.name, stats.name)",
        (
            str(player),
            codec.dump_stats(stats),
            player.platform,
            player.workspace,
            player.user,
            stats.games_won,
            stats.best_streak,
            player_name(name) if name else None,
        ),
    )
