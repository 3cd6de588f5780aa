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

SCHEMA = """
CREATE TABLE IF NOT EXISTS games (player TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS stats (player TEXT PRIMARY KEY, data TEXT NOT NULL);
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
"""
"""Every table and index. ``expires`` columns hold wall-clock epoch seconds (``time.time()``),
the one clock every process sharing the file agrees on; a row past it reads as absent.
``conversations`` holds a row only for a conversation given a lifetime; the others keep for ever.
A claim's ``holder`` is ``''`` when it was made without one."""

ADDED_COLUMNS = (
    ("boards", "opponent", "TEXT"),
    ("claims", "holder", "TEXT NOT NULL DEFAULT ''"),
)
"""Columns :data:`SCHEMA` has that a table made by an older build lacks: (table, column, declaration).
A board linked before opponents were kept has none (not recorded); a claim made before claims
knew their holder reads as one made without a holder."""

SWEEP_BATCH = 20
"""Other expired rows (claims, counters, conversations) a write deletes at most: a write adds
at most one row that expires, so the backlog shrinks while each write stays short."""

WAL_ATTEMPTS = 100
"""Tries to switch a database to WAL while another process is doing the same (0.05 s apart)."""


def prepare(conn: sqlite3.Connection) -> None:
    """Make a new or older database ready for this build: WAL, every table, every migration."""
    _use_wal(conn)
    conn.executescript(SCHEMA)
    _add_columns(conn)


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
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def sweep(conn: sqlite3.Connection, table: str, key: str, now: float) -> None:
    """Delete ``key``'s row of ``table`` (claims or counters) if it has expired, so it reads as
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
