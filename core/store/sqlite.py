"""SQLite store (the default): one file, safe for several processes.

Every operation runs as one transaction on a dedicated worker thread, so the
event loop never blocks and each change is atomic within the process; writes
take SQLite's write lock up front (``BEGIN IMMEDIATE``), so they are atomic
across processes sharing the file too. A record this build cannot read is
dropped by whichever transaction finds it first, so it is logged once.
Claims, counters, blobs and conversations given a lifetime expire by the wall clock
(every process agrees on it): a row past its time reads as absent, and writes
sweep such rows away (:mod:`core.store.sqlite_schema`). The command log, monthly
usage and leaderboard are :mod:`core.store.sqlite_activity`'s, the blobs
:mod:`core.store.sqlite_blobs`'s.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from core.conversation import Turn
from core.errors import Unavailable
from core.janken import Game, Opponent, Stats
from core.store import codec
from core.store.activity import ENTRIES_REMEMBERED
from core.store.base import (
    ANSWERS_REMEMBERED,
    BOARDS_REMEMBERED,
    MOVES_REMEMBERED,
    BoardLink,
    Decide,
    Played,
    PlayerKey,
    resolve,
)
from core.store.sqlite_activity import SQLiteActivity, write_stats
from core.store.sqlite_blobs import SQLiteBlobs
from core.store.sqlite_schema import prepare, sweep, sweep_conversations

_T = TypeVar("_T")


class SQLiteStore(SQLiteActivity, SQLiteBlobs):
    """A store in one SQLite file; open it with :meth:`open`."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        executor: ThreadPoolExecutor,
        *,
        answers_remembered: int = ANSWERS_REMEMBERED,
        entries_remembered: int = ENTRIES_REMEMBERED,
    ) -> None:
        self._conn = conn
        self._executor = executor
        self._answers_remembered = answers_remembered
        self._entries_remembered = entries_remembered

    @classmethod
    async def open(
        cls,
        path: str | Path,
        *,
        answers_remembered: int = ANSWERS_REMEMBERED,
        entries_remembered: int = ENTRIES_REMEMBERED,
    ) -> SQLiteStore:
        """Open (creating if needed) the database at ``path``."""
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")

        def connect() -> sqlite3.Connection:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
            prepare(conn)
            return conn

        loop = asyncio.get_running_loop()
        try:
            conn = await loop.run_in_executor(executor, connect)
        except (sqlite3.Error, OSError) as exc:
            executor.shutdown()
            raise Unavailable("store_unavailable") from exc
        return cls(
            conn, executor, answers_remembered=answers_remembered, entries_remembered=entries_remembered
        )

    async def _run(self, work: Callable[[sqlite3.Connection], _T], *, write: bool = False) -> _T:
        def transaction() -> _T:
            self._conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                result = work(self._conn)
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            return result

        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, transaction)
        except sqlite3.Error as exc:
            raise Unavailable("store_unavailable") from exc

    async def _readable(
        self, table: str, what: str, player: PlayerKey, load: Callable[[str], _T]
    ) -> _T | None:
        """``player``'s record in ``table``, decoded; an unreadable one is dropped and counts as none.

        Reads do not take the write lock; the drop does, and only deletes the record if it is
        still the unreadable one, so a concurrent reader or writer never loses a good record.
        """
        key = str(player)
        text = await self._run(lambda conn: _data(conn, table, key))
        if text is None:
            return None
        try:
            return load(text)
        except codec.UndecodableRecord as exc:
            dropped = await self._run(
                lambda conn: (
                    conn.execute(f"DELETE FROM {table} WHERE player = ? AND data = ?", (key, text)).rowcount
                ),
                write=True,
            )
            if dropped:
                codec.log_discarded(key, what, exc)
            return None

    async def get_game(self, player: PlayerKey) -> Game | None:
        return await self._readable("games", "game", player, codec.load_game)

    async def start_game(self, player: PlayerKey, game: Game) -> None:
        await self._run(lambda conn: _write_game(conn, str(player), game), write=True)

    async def ensure_game(self, player: PlayerKey, game: Game) -> Game:
        def work(conn: sqlite3.Connection) -> Game:
            running = _take_game(conn, str(player))
            if running is not None:
                return running
            _write_game(conn, str(player), game)
            return game

        return await self._run(work, write=True)

    async def end_game(self, player: PlayerKey) -> Game | None:
        def work(conn: sqlite3.Connection) -> Game | None:
            game = _take_game(conn, str(player))
            conn.execute("DELETE FROM games WHERE player = ?", (str(player),))
            return game

        return await self._run(work, write=True)

    async def apply_round(
        self, player: PlayerKey, move_id: str, decide: Decide, *, start: Game | None = None, name: str = ""
    ) -> Played | None:
        key = str(player)

        def work(conn: sqlite3.Connection) -> Played | None:
            seen = conn.execute(
                "SELECT result FROM moves WHERE player = ? AND move_id = ?", (key, move_id)
            ).fetchone()
            if seen:
                return _repeat(conn, key, move_id, seen[0])
            game = _take_game(conn, key) or start
            if game is None:
                return None
            played = resolve(game, _take_stats(conn, key), decide)
            if played.game.over:
                conn.execute("DELETE FROM games WHERE player = ?", (key,))
            else:
                _write_game(conn, key, played.game)
            write_stats(conn, player, played.stats, name)
            _remember_move(conn, key, move_id, played)
            return played

        return await self._run(work, write=True)

    async def get_stats(self, player: PlayerKey) -> Stats:
        stats = await self._readable("stats", "stats", player, codec.load_stats)
        return Stats() if stats is None else stats

    async def link_board(
        self, ref: str, player: PlayerKey, game_id: str, opponent: Opponent | None = None
    ) -> None:
        owner = (player.platform, player.workspace, player.user)
        encoded = None if opponent is None else codec.dump_opponent(opponent)

        def work(conn: sqlite3.Connection) -> None:
            # REPLACE deletes a ref's old row and inserts a new one, so a relinked board is the newest
            conn.execute(
                "INSERT OR REPLACE INTO boards (ref, platform, workspace, user_id, game_id, opponent) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (ref, *owner, game_id, encoded),
            )
            conn.execute(
                "DELETE FROM boards WHERE platform = ? AND workspace = ? AND user_id = ? AND seq NOT IN "
                "(SELECT seq FROM boards WHERE platform = ? AND workspace = ? AND user_id = ? "
                "ORDER BY seq DESC LIMIT ?)",
                (*owner, *owner, BOARDS_REMEMBERED),
            )

        await self._run(work, write=True)

    async def board_of(self, ref: str) -> BoardLink | None:
        row = await self._run(
            lambda conn: conn.execute(
                "SELECT platform, workspace, user_id, game_id, opponent FROM boards WHERE ref = ?", (ref,)
            ).fetchone()
        )
        if row is None:
            return None
        player, game_id, opponent = PlayerKey(*row[:3]), row[3], row[4]
        if opponent is None:
            return BoardLink(player, game_id)
        try:
            return BoardLink(player, game_id, codec.load_opponent(opponent))
        except codec.UndecodableRecord as exc:
            dropped = await self._run(
                lambda conn: (
                    conn.execute(
                        "UPDATE boards SET opponent = NULL WHERE ref = ? AND opponent = ?", (ref, opponent)
                    ).rowcount
                ),
                write=True,
            )
            if dropped:
                codec.log_discarded(str(player), f"opponent of board {ref!r}", exc)
            return BoardLink(player, game_id)

    async def link_answer(self, ref: str, conversation: str) -> None:
        def work(conn: sqlite3.Connection) -> None:
            # REPLACE deletes a ref's old row and inserts one with the next seq: a relinked answer is renewed
            link = conn.execute(
                "INSERT OR REPLACE INTO answers (ref, conversation) VALUES (?, ?)", (ref, conversation)
            ).lastrowid
            # seq counts links (AUTOINCREMENT never reuses one), so this is a range on the primary key
            conn.execute("DELETE FROM answers WHERE seq <= ?", ((link or 0) - self._answers_remembered,))

        await self._run(work, write=True)

    async def conversation_of(self, ref: str) -> str | None:
        row = await self._run(
            lambda conn: conn.execute("SELECT conversation FROM answers WHERE ref = ?", (ref,)).fetchone()
        )
        return None if row is None else str(row[0])

    async def load_history(self, conversation: str) -> list[Turn]:
        rows = await self._run(
            lambda conn: conn.execute(
                "SELECT role, content FROM history WHERE conversation = ? AND NOT EXISTS "
                "(SELECT 1 FROM conversations WHERE conversation = ? AND expires <= ?) ORDER BY seq",
                (conversation, conversation, time.time()),
            ).fetchall()
        )
        return [Turn(role=role, content=content) for role, content in rows]

    async def append_history(
        self, conversation: str, turns: Sequence[Turn], *, keep: int, ttl: float | None = None
    ) -> None:
        def work(conn: sqlite3.Connection) -> None:
            now = time.time()
            sweep_conversations(conn, conversation, now)
            conn.executemany(
                "INSERT INTO history (conversation, role, content) VALUES (?, ?, ?)",
                [(conversation, turn.role, turn.content) for turn in turns],
            )
            conn.execute(
                "DELETE FROM history WHERE conversation = ? AND seq NOT IN "
                "(SELECT seq FROM history WHERE conversation = ? ORDER BY seq DESC LIMIT ?)",
                (conversation, conversation, keep),
            )
            if ttl is None:
                conn.execute("DELETE FROM conversations WHERE conversation = ?", (conversation,))
            else:
                conn.execute(
                    "INSERT OR REPLACE INTO conversations (conversation, expires) VALUES (?, ?)",
                    (conversation, now + ttl),
                )

        await self._run(work, write=True)

    async def claim(self, key: str, ttl: float, *, holder: str = "") -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            now = time.time()
            sweep(conn, "claims", key, now)
            return bool(
                conn.execute(
                    "INSERT OR IGNORE INTO claims (key, expires, holder) VALUES (?, ?, ?)",
                    (key, now + ttl, holder),
                ).rowcount
            )

        return await self._run(work, write=True)

    async def release(self, key: str, *, holder: str = "") -> None:
        await self._run(
            lambda conn: conn.execute("DELETE FROM claims WHERE key = ? AND holder = ?", (key, holder)),
            write=True,
        )

    async def take_unit(self, key: str, limit: int, ttl: float) -> int | None:
        def work(conn: sqlite3.Connection) -> int | None:
            now = time.time()
            sweep(conn, "counters", key, now)
            row = conn.execute("SELECT count FROM counters WHERE key = ?", (key,)).fetchone()
            count = 0 if row is None else int(row[0])
            if count >= limit:
                return None
            # a new counter gets its expiry; a running one keeps the one its first use set
            conn.execute(
                "INSERT INTO counters (key, count, expires) VALUES (?, 1, ?) "
                "ON CONFLICT (key) DO UPDATE SET count = count + 1",
                (key, now + ttl),
            )
            return count + 1

        return await self._run(work, write=True)

    async def give_unit(self, key: str) -> None:
        await self._run(
            lambda conn: conn.execute(
                "UPDATE counters SET count = count - 1 WHERE key = ? AND count > 0 AND expires > ?",
                (key, time.time()),
            ),
            write=True,
        )

    async def ping(self) -> None:
        """Read the file's schema: it is there and readable (not only the connection object)."""
        await self._run(lambda conn: conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall())

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._conn.close)
        self._executor.shutdown()


def _data(conn: sqlite3.Connection, table: str, key: str) -> str | None:
    row = conn.execute(f"SELECT data FROM {table} WHERE player = ?", (key,)).fetchone()
    return row[0] if row else None


def _take_game(conn: sqlite3.Connection, key: str) -> Game | None:
    """The running game, inside a write; an unreadable one is logged, deleted, and counts as none."""
    text = _data(conn, "games", key)
    if text is None:
        return None
    try:
        return codec.load_game(text)
    except codec.UndecodableRecord as exc:
        conn.execute("DELETE FROM games WHERE player = ?", (key,))
        codec.log_discarded(key, "game", exc)
        return None


def _write_game(conn: sqlite3.Connection, key: str, game: Game) -> None:
    conn.execute("INSERT OR REPLACE INTO games (player, data) VALUES (?, ?)", (key, codec.dump_game(game)))


def _take_stats(conn: sqlite3.Connection, key: str) -> Stats:
    """The record, inside a write that replaces it; an unreadable one is logged and counts as fresh."""
    try:
        return codec.load_stats(_data(conn, "stats", key))
    except codec.UndecodableRecord as exc:
        codec.log_discarded(key, "stats", exc)
        return Stats()


def _repeat(conn: sqlite3.Connection, key: str, move_id: str, result: str) -> Played | None:
    """A seen move's first result; ``None`` once it proved unreadable (logged when found)."""
    if result == codec.FORGOTTEN:
        return None
    try:
        return codec.load_played(result)
    except codec.UndecodableRecord as exc:
        conn.execute(
            "UPDATE moves SET result = ? WHERE player = ? AND move_id = ?", (codec.FORGOTTEN, key, move_id)
        )
        codec.log_discarded(key, f"result of move {move_id!r}", exc)
        return None


def _remember_move(conn: sqlite3.Connection, key: str, move_id: str, played: Played) -> None:
    conn.execute(
        "INSERT INTO moves (player, move_id, result) VALUES (?, ?, ?)",
        (key, move_id, codec.dump_played(played)),
    )
    conn.execute(
        "DELETE FROM moves WHERE player = ? AND seq NOT IN "
        "(SELECT seq FROM moves WHERE player = ? ORDER BY seq DESC LIMIT ?)",
        (key, key, MOVES_REMEMBERED),
    )
