"""Plant raw records in a backend, as an older build or a damaged database would leave them.

The public store API only writes good records, so these reach under it; each
backend keeps the same encoded text, which is what makes one helper enough.
"""

from __future__ import annotations

import bisect

from core.store import PlayerKey, Store
from core.store.memory import MemoryStore
from core.store.redis import PREFIX, RedisStore
from core.store.redis_values import entry_text
from core.store.sqlite import SQLiteStore


async def plant(store: Store, table: str, player: PlayerKey, text: str, *, move_id: str = "") -> None:
    """Store ``text`` as ``player``'s record in ``table`` ("games", "stats" or "moves")."""
    if isinstance(store, MemoryStore):
        if table == "moves":
            store._moves[player][move_id] = text
        else:
            getattr(store, f"_{table}")[player] = text
    elif isinstance(store, SQLiteStore):
        if table == "moves":  # the move must have been applied: its row is rewritten
            sql, args = "UPDATE moves SET result = ? WHERE player = ? AND move_id = ?", (move_id,)
        else:
            sql, args = f"INSERT OR REPLACE INTO {table} (data, player) VALUES (?, ?)", ()
        await store._run(lambda conn: conn.execute(sql, (text, str(player), *args)), write=True)
    elif isinstance(store, RedisStore):
        if table == "moves":
            await store._redis.hset(f"{PREFIX}moves:{player}", move_id, text)
        else:
            kind = {"games": "game", "stats": "stats"}[table]
            await store._redis.set(f"{PREFIX}{kind}:{player}", text)
    else:
        raise TypeError(f"no way to plant records in {type(store).__name__}")


async def plant_board_opponent(store: Store, ref: str, text: str) -> None:
    """Store ``text`` as the encoded opponent of the board linked as ``ref``."""
    if isinstance(store, MemoryStore):
        player, game_id, _ = store._boards[ref]
        store._boards[ref] = (player, game_id, text)
    elif isinstance(store, SQLiteStore):
        sql = "UPDATE boards SET opponent = ? WHERE ref = ?"
        await store._run(lambda conn: conn.execute(sql, (text, ref)), write=True)
    elif isinstance(store, RedisStore):
        await store._redis.hset(f"{PREFIX}board:{ref}", "opponent", text)
    else:
        raise TypeError(f"no way to plant records in {type(store).__name__}")


async def plant_entry(store: Store, player: PlayerKey, time: float, text: str) -> None:
    """Store ``text`` as an entry of ``player``'s log, logged at ``time``."""
    if isinstance(store, MemoryStore):
        store._entries_logged += 1
        bisect.insort(store._entries[player], (time, store._entries_logged, text))
    elif isinstance(store, SQLiteStore):
        sql = "INSERT INTO entries (player, time, data) VALUES (?, ?, ?)"
        await store._run(lambda conn: conn.execute(sql, (str(player), time, text)), write=True)
    elif isinstance(store, RedisStore):
        number = await store._redis.incr(f"{PREFIX}entries_logged")
        await store._redis.zadd(f"{PREFIX}entries:{player}", {f"{number:016x}:{text}": time})
    else:
        raise TypeError(f"no way to plant records in {type(store).__name__}")


async def stored_entries(store: Store, player: PlayerKey) -> list[str]:
    """Every record ``player``'s log still holds, however old: what the backend has not deleted."""
    if isinstance(store, MemoryStore):
        return [text for _, _, text in store._entries.get(player, [])]
    if isinstance(store, SQLiteStore):
        sql = "SELECT data FROM entries WHERE player = ?"
        rows = await store._run(lambda conn: conn.execute(sql, (str(player),)).fetchall())
        return [row[0] for row in rows]
    if isinstance(store, RedisStore):
        members: list[str] = await store._redis.zrange(f"{PREFIX}entries:{player}", 0, -1)  # type: ignore[assignment]
        return [entry_text(member) for member in members]
    raise TypeError(f"no way to read records in {type(store).__name__}")
