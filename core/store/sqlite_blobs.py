"""The SQLite store's blobs (see :meth:`core.store.base.Store.keep_blob`): small expiring pictures,
one row of the ``blobs`` table each; each call is one transaction, as in :mod:`core.store.sqlite`.
A blob past its ``expires`` (wall clock) reads as absent, and writes sweep such rows away.
"""

from __future__ import annotations

import abc
import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

from core.store.base import Store, check_blob
from core.store.sqlite_schema import sweep

_T = TypeVar("_T")


class SQLiteBlobs(Store):
    """What :class:`core.store.sqlite.SQLiteStore` keeps of :meth:`keep_blob`."""

    @abc.abstractmethod
    async def _run(self, work: Callable[[sqlite3.Connection], _T], *, write: bool = False) -> _T:
        """Run ``work`` as one transaction (a write takes the write lock up front)."""

    async def keep_blob(self, key: str, data: bytes, ttl: float) -> None:
        check_blob(data, ttl)
        kept = bytes(data)

        def work(conn: sqlite3.Connection) -> None:
            now = time.time()
            sweep(conn, "blobs", key, now)
            conn.execute(
                "INSERT OR REPLACE INTO blobs (key, data, expires) VALUES (?, ?, ?)", (key, kept, now + ttl)
            )

        await self._run(work, write=True)

    async def blob(self, key: str) -> bytes | None:
        row = await self._run(
            lambda conn: conn.execute(
                "SELECT data FROM blobs WHERE key = ? AND expires > ?", (key, time.time())
            ).fetchone()
        )
        return None if row is None else bytes(row[0])
