"""The SQLite store's tables: how a file from an older build is brought up to them, and
how the tables whose rows expire are kept from growing for ever.

:func:`prepare` runs once per connection when the store opens. Everything in it is
safe while another process opens the same file at the same moment: tables are made
with ``IF NOT EXISTS`` and each migration checks and changes in one write transaction.
The sweeps run inside the store's write transactions.
"""

from __future__ import annotations

import sqlite3
import time

from core.janken import Stats
from core.store import codec

SCHEMA = """
CREATE TABLE IF NOT EXISTS games (player TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS stats (
    player TEXT PRIMARY KEY, data TEXT NOT NULL,
    platform TEXT, workspace TEXT, user_id TEXT,
    games_won INTEGER NOT NULL DEFAULT 0, best_streak INTEGER NOT NULL DEFAULT 0,
    name TEXT
);
CREATE TABLE IF NOT EXISTS moves (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    player TEXT NOT NULL, move_id TEXT NOT NULL, result TEXT NOT NULL,
    UNIQUE (player, move_id)
);
CREATE TABLE IF NOT EXISTS history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation TEXT NOT NULL, role TEXT NOT NULL, content TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS history_by_conversation ON history (conversation, seq);
CREATE TABLE IF NOT EXISTS conversations (conversation TEXT PRIMARY KEY, expires REAL NOT NULL);
CREATE INDEX IF NOT EXISTS conversations_by_expiry ON conversations (expires);
CREATE TABLE IF NOT EXISTS boards (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ref TEXT NOT NULL UNIQUE,
    platform TEXT NOT NULL, workspace TEXT NOT NULL, user_id TEXT NOT NULL,
    game_id TEXT NOT NULL,
    opponent TEXT
);
CREATE INDEX IF NOT EXISTS boards_by_player ON boards (platform, workspace, user_id, seq);
CREATE TABLE IF NOT EXISTS answers (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ref TEXT NOT NULL UNIQUE,
    conversation TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS claims (
    key TEXT PRIMARY KEY, expires REAL NOT NULL, holder TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS claims_by_expiry ON claims (expires);
CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, count INTEGER NOT NULL, expires REAL NOT NULL);
CREATE INDEX IF NOT EXISTS counters_by_expiry ON counters (expires);
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    player TEXT NOT NULL, time REAL NOT NULL, data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_by_player ON entries (player, time, seq);
CREATE INDEX IF NOT EXISTS entries_by_time ON entries (time);
CREATE TABLE IF NOT EXISTS monthly_usage (
    player TEXT NOT NULL, month TEXT NOT NULL,
    tokens_in INTEGER NOT NULL, tokens_out INTEGER NOT NULL, images INTEGER NOT NULL,
    expires REAL NOT NULL,
    PRIMARY KEY (player, month)
);
CREATE INDEX IF NOT EXISTS monthly_usage_by_expiry ON monthly_usage (expires);
CREATE TABLE IF NOT EXISTS model_usage (
    player TEXT NOT NULL, month TEXT NOT NULL, model TEXT NOT NULL,
    tokens_in INTEGER NOT NULL, tokens_out INTEGER NOT NULL, images INTEGER NOT NULL,
    expires REAL NOT NULL,
    PRIMARY KEY (player, month, model)
);
CREATE INDEX IF NOT EXISTS model_usage_by_expiry ON model_usage (expires);
CREATE TABLE IF NOT EXISTS blobs (key TEXT PRIMARY KEY, data BLOB NOT NULL, expires REAL NOT NULL);
CREATE INDEX IF NOT EXISTS blobs_by_expiry ON blobs (expires);
"""
"""Every table and index. ``expires`` columns hold wall-clock epoch seconds (``time.time()``),
the one clock every process sharing the file agrees on; a row past it reads as absent.
``conversations`` holds a row only for a conversation given a lifetime; the others keep for ever.
A claim's ``holder`` is ``''`` when it was made without one. ``stats`` repeats, beside each record,
its player's parts and the two measures the leaderboard ranks by (:data:`RANKING`), written with it,
and the name the player last played under (``NULL`` when none is known: the leaderboard shows the user id).
``entries`` is each player's command log; an entry's ``time`` is its own (epoch seconds).
``blobs`` holds :meth:`core.store.base.Store.keep_blob`'s bytes as they were given.
``model_usage`` is each player's monthly totals per model; ``monthly_usage`` holds those an older
build added, one row per player and month with no model: they are read as model ``''``
(:data:`core.store.activity.UNRECORDED_MODEL`), nothing adds to them any more, and they expire and are
swept as before. So a file from before per-model usage needs no migration, and an older build
still running beside this one keeps working (its additions read as model ``''``).
A table added by a later build (``claims``, ``counters``, ``blobs``...) is made in an older file
by the same ``IF NOT EXISTS``."""

RANKING = """
CREATE INDEX IF NOT EXISTS stats_by_games_won
    ON stats (platform, workspace, games_won DESC, best_streak DESC, user_id);
CREATE INDEX IF NOT EXISTS stats_by_best_streak
    ON stats (platform, workspace, best_streak DESC, games_won DESC, user_id);
"""
"""The leaderboard's indexes, one per measure, in its order: made once the columns exist."""

ADDED_COLUMNS = (
    ("boards", "opponent", "TEXT"),
    ("claims", "holder", "TEXT NOT NULL DEFAULT ''"),
    ("stats", "platform", "TEXT"),
    ("stats", "workspace", "TEXT"),
    ("stats", "user_id", "TEXT"),
    ("stats", "games_won", "INTEGER NOT NULL DEFAULT 0"),
    ("stats", "best_streak", "INTEGER NOT NULL DEFAULT 0"),
    ("stats", "name", "TEXT"),
)
"""Columns :data:`SCHEMA` has that a table made by an older build lacks: (table, column, declaration).
A board linked before opponents were kept has none (not recorded); a claim made before claims
knew their holder reads as one made without a holder. Stats written before the leaderboard are
ranked by :func:`_rank_old_stats` in the same step. A player's record kept before names has none
(``NULL``) until their next round that gives one."""

USAGE_TABLES = ("model_usage", "monthly_usage")
"""The tables of monthly totals: per model, and those added before models were kept."""

SWEEP_BATCH = 20
"""Other expired rows (claims, counters, blobs, conversations, log entries, monthly totals) a write deletes
at most: a write adds at most one row that expires, so the backlog shrinks while each write stays short."""

WAL_ATTEMPTS = 100
"""Tries to switch a database to WAL while another process is doing the same (0.05 s apart)."""


def prepare(conn: sqlite3.Connection) -> None:
    """Make a new or older database ready for this build: WAL, every table, every migration."""
    _use_wal(conn)
    conn.executescript(SCHEMA)
    _add_columns(conn)
    conn.executescript(RANKING)


def _use_wal(conn: sqlite3.Connection) -> None:
    """Switch to write-ahead logging; SQLite refuses at once, without waiting, while another
    connection holds the database (two processes opening a new file together), so try again."""
    for attempt in range(WAL_ATTEMPTS):
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == WAL_ATTEMPTS - 1:
                raise
            time.sleep(0.05)


def _add_columns(conn: sqlite3.Connection) -> None:
    """Give a database made by an older build each of :data:`ADDED_COLUMNS` it lacks.

    Check and change are one write transaction, so two processes opening the file at once
    add each once.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        for table, column, declaration in ADDED_COLUMNS:
            columns = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
            if column not in columns:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
        _rank_old_stats(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _rank_old_stats(conn: sqlite3.Connection) -> None:
    """Fill the ranking columns of stats written before them (their ``platform`` is NULL).

    The player's parts come from its key, ``platform:workspace:user``: no platform or workspace id
    has a colon (team and guild ids, ``dm``, ``local``), so the first two colons split it. A record
    that cannot be read ranks with zeros, off the board, until its next round rewrites it.
    """
    rows = conn.execute("SELECT player, data FROM stats WHERE platform IS NULL").fetchall()
    for player, data in rows:
        parts = str(player).split(":", 2)
        if len(parts) != 3:
            continue
        try:
            stats = codec.load_stats(data)
        except codec.UndecodableRecord:
            stats = Stats()
        conn.execute(
            "UPDATE stats SET platform = ?, workspace = ?, user_id = ?, games_won = ?, best_streak = ? "
            "WHERE player = ?",
            (*parts, stats.games_won, stats.best_streak, player),
        )


def sweep(conn: sqlite3.Connection, table: str, key: str, now: float) -> None:
    """Delete ``key``'s row of ``table`` (claims, counters or blobs) if it has expired, so it reads as
    absent to the write that follows, and up to :data:`SWEEP_BATCH` other expired rows."""
    conn.execute(f"DELETE FROM {table} WHERE key = ? AND expires <= ?", (key, now))
    conn.execute(
        f"DELETE FROM {table} WHERE key IN (SELECT key FROM {table} WHERE expires <= ? LIMIT ?)",
        (now, SWEEP_BATCH),
    )


def sweep_conversations(conn: sqlite3.Connection, conversation: str, now: float) -> None:
    """Forget ``conversation``'s turns if it has expired (the append that follows starts afresh),
    and the turns of up to :data:`SWEEP_BATCH` other expired conversations."""
    rows = conn.execute(
        "SELECT conversation FROM conversations WHERE expires <= ? LIMIT ?", (now, SWEEP_BATCH)
    ).fetchall()
    expired = {row[0] for row in rows}
    if conn.execute(
        "SELECT 1 FROM conversations WHERE conversation = ? AND expires <= ?", (conversation, now)
    ).fetchone():
        expired.add(conversation)
    conn.executemany("DELETE FROM history WHERE conversation = ?", [(c,) for c in expired])
    conn.executemany("DELETE FROM conversations WHERE conversation = ?", [(c,) for c in expired])


def sweep_entries(conn: sqlite3.Connection, player: str, cutoff: float, remembered: int) -> None:
    """Delete ``player``'s entries older than ``cutoff`` (epoch seconds) and beyond the newest
    ``remembered``, and up to :data:`SWEEP_BATCH` other players' entries older than ``cutoff``."""
    conn.execute("DELETE FROM entries WHERE player = ? AND time < ?", (player, cutoff))
    conn.execute(
        "DELETE FROM entries WHERE seq IN (SELECT seq FROM entries WHERE player = ? "
        "ORDER BY time DESC, seq DESC LIMIT -1 OFFSET ?)",
        (player, remembered),
    )
    conn.execute(
        "DELETE FROM entries WHERE seq IN (SELECT seq FROM entries WHERE time < ? LIMIT ?)",
        (cutoff, SWEEP_BATCH),
    )


def sweep_usage(conn: sqlite3.Connection, player: str, month: str, now: float) -> None:
    """Delete ``player``'s totals for ``month`` if they have expired (the addition that follows
    starts afresh), and up to :data:`SWEEP_BATCH` other expired totals, in each usage table."""
    for table in USAGE_TABLES:
        conn.execute(
            f"DELETE FROM {table} WHERE player = ? AND month = ? AND expires <= ?", (player, month, now)
        )
        conn.execute(
            f"DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} WHERE expires <= ? LIMIT ?)",
            (now, SWEEP_BATCH),
        )
